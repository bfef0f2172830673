"""cnn_lib: the NumPy library that the book *CNN from Scratch* builds chapter by chapter.

Modules, one idea each:
    layers     Conv2D, MaxPool2D, AvgPool2D, Flatten, Dropout, Dense, ReLU
    conv, pool the fast arithmetic behind them (sliding windows and matrix multiplies)
    parallel   a batch split across threads, BLAS held to one thread (threadpoolctl)
    naive      the loop-by-loop reference versions the chapters start from
    losses     softmax and SoftmaxCrossEntropy
    gradcheck  numerical gradients to check every backward pass
    data       the IDX format, Fashion-MNIST and MNIST loaders, to_float, train_val_split
    model      Sequential (save/load, summary) and reference_cnn, the book's model
    optim      SGD, Adam and a cosine learning-rate schedule
    train      fit, evaluate, predict; `python -m cnn_lib.train` trains from the terminal
    exercises  check(name, fn): the checkers of the "Your turn" exercises
"""

from .layers import AvgPool2D, Conv2D, Dense, Dropout, Flatten, Layer, MaxPool2D, ReLU
from .losses import SoftmaxCrossEntropy, log_softmax, softmax

__all__ = [
    "AvgPool2D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "MaxPool2D",
    "ReLU",
    "SoftmaxCrossEntropy",
    "log_softmax",
    "softmax",
]
__version__ = "0.1.0"
