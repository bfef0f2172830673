"""Compare training settings of the reference CNN on a validation set, never on the test set.

Holds out 5,000 of the Fashion-MNIST training images exactly as the training chapter and
``python -m cnn_lib.train --val-size 5000`` do (``train_val_split(..., rng=0)``), trains on the
other 55,000 and prints one JSON line per run with the validation accuracy and loss after every
epoch. The test images are never loaded. Each run is given as
``EPOCHS,BATCH,LR,FINAL_FRACTION,SEED``; a final fraction of 1 means a constant learning rate.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/compare_settings.py \
        8,32,2e-3,0.05,0 8,32,2e-3,0.05,1 8,32,1e-3,0.05,0 8,32,2e-3,1,0

benchmarks/TRAINING.md records the results that chose the terminal's defaults.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from cnn_lib import data
from cnn_lib.losses import SoftmaxCrossEntropy
from cnn_lib.model import reference_cnn
from cnn_lib.optim import Adam, cosine_schedule
from cnn_lib.train import DEFAULTS, fit


def parse_run(text: str) -> tuple[int, int, float, float, int]:
    """Parse "8,32,2e-3,0.05,0" into (epochs, batch_size, lr, final_fraction, seed)."""
    parts = text.split(",")
    if len(parts) != 5:
        raise argparse.ArgumentTypeError(
            f"expected EPOCHS,BATCH,LR,FINAL_FRACTION,SEED, got {text!r}"
        )
    epochs, batch, lr, fraction, seed = parts
    return int(epochs), int(batch), float(lr), float(fraction), int(seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=parse_run, metavar="E,B,LR,F,SEED")
    args = parser.parse_args()

    images, labels = data.load_fashion_mnist("train")
    (train_images, t_train), (val_images, t_val) = data.train_val_split(
        images, labels, n_val=5000, rng=0
    )
    x_train, x_val = data.to_float(train_images), data.to_float(val_images)
    del images, train_images

    for epochs, batch_size, lr, fraction, seed in args.runs:
        start = time.perf_counter()
        # The seeds are split as python -m cnn_lib.train splits them.
        model_seed, order_seed = np.random.SeedSequence(seed).spawn(2)
        model = reference_cnn(rng=np.random.default_rng(model_seed), dropout=DEFAULTS["dropout"])
        history = fit(
            model,
            SoftmaxCrossEntropy(),
            Adam(lr=lr),
            x_train,
            t_train,
            epochs=epochs,
            batch_size=batch_size,
            validation=(x_val, t_val),
            rng=np.random.default_rng(order_seed),
            progress=False,
            lr_schedule=cosine_schedule(lr, epochs, fraction),
        )
        record = {
            "epochs": epochs,
            "batch_size": batch_size,
            "lr": lr,
            "final_lr_fraction": fraction,
            "seed": seed,
            "val_acc": history["val_acc"],
            "val_loss": [round(v, 4) for v in history["val_loss"]],
            "seconds": round(time.perf_counter() - start, 1),
        }
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
