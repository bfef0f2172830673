"""Training: `fit` loops over shuffled mini-batches, `evaluate` and `predict` go through data in
batches so memory stays flat, and ``python -m cnn_lib.train`` trains the book's reference model
from the terminal.

    model = reference_cnn(rng=np.random.default_rng(0))
    history = fit(model, SoftmaxCrossEntropy(), Adam(1e-3), x_train, y_train,
                  epochs=5, batch_size=64, validation=(x_val, y_val))
    test_loss, test_accuracy = evaluate(model, x_test, y_test)
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
from tqdm.auto import tqdm

from . import parallel
from ._checks import as_int
from ._files import check_target
from .losses import SoftmaxCrossEntropy

# The terminal entry point's defaults: on Fashion-MNIST they reach a test accuracy above 0.91
# in a few minutes on two CPU cores (benchmarks/TRAINING.md has the measurements).
DEFAULTS = {"epochs": 8, "batch_size": 32, "lr": 2e-3, "final_lr_fraction": 0.05, "dropout": 0.25}


def _check_xy(x, y, what: str) -> None:
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise TypeError(
            f"{what}: expected x and y as NumPy arrays, got {type(x).__name__} and "
            f"{type(y).__name__}"
        )
    if not np.issubdtype(y.dtype, np.integer) or y.ndim != 1:
        raise ValueError(
            f"{what}: expected y as integer labels of shape (N,), got dtype {y.dtype}, "
            f"shape {y.shape}"
        )
    if x.ndim < 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{what}: x and y must hold the same number of examples, got x of shape {x.shape} "
            f"and y of shape {y.shape}"
        )


def _batches(n: int, batch_size: int):
    """Slices (start, stop) that cover range(n) in steps of batch_size; the last may be short."""
    return ((i, min(i + batch_size, n)) for i in range(0, n, batch_size))


def fit(
    model,
    loss,
    optimizer,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    rng: np.random.Generator | np.random.RandomState | int | None = None,
    progress: bool = True,
    lr_schedule: Callable[[int], float] | None = None,
    threads: int | None = None,
) -> dict[str, list[float]]:
    """Train ``model`` in place with mini-batch gradient descent.

    x : (N, ...) inputs the model takes, y : (N,) integer labels. Each epoch visits every example
    once, in an order shuffled by ``rng`` (one seed, one order, one result). For each batch:
    forward (training=True), loss, backward, ``optimizer.step(model.parameters())``.
    ``lr_schedule(epoch)`` (epoch = 0, 1, ...), if given, sets ``optimizer.lr`` before each epoch.
    ``validation=(x_val, y_val)`` is evaluated after each epoch.

    ``rng``: a numpy Generator (or RandomState) or an int seed (None: a fresh, unseeded one).
    ``validation`` is checked before the first epoch (the model must take ``x_val``, and
    ``y_val`` must lie in its classes). An epoch whose training loss is not finite (nan or inf:
    the training diverged, or the data holds nan or inf) gives a RuntimeWarning, once.

    ``threads``: how many threads the layers split each batch over, while the matrix-multiply
    library (BLAS) is held to one thread (`cnn_lib.parallel.threads`); None means
    `cnn_lib.parallel.default_threads()`, 2 on a machine with two cores or more. The results are
    the same, to the last bit, whatever the number.

    Returns the history, one entry per epoch: ``train_loss`` and ``train_acc`` (averaged over the
    epoch's batches, with dropout on, while the weights were still moving), ``val_loss`` and
    ``val_acc`` (only with ``validation``), ``lr`` and ``seconds`` (the epoch's training time).
    A progress bar (tqdm, a widget in Jupyter) shows each epoch unless ``progress=False``; in
    Jupyter each epoch's last state is also printed as text, readable where widgets are not.
    """
    _check_xy(x, y, "fit")
    epochs = as_int(epochs, "epochs", "fit", minimum=0)
    batch_size = as_int(batch_size, "batch_size", "fit")
    for what, obj, methods in (
        ("loss", loss, ("forward", "backward")),
        ("optimizer", optimizer, ("step",)),
    ):
        if isinstance(obj, type) or not all(callable(getattr(obj, m, None)) for m in methods):
            raise TypeError(
                f"fit: {what} must have {' and '.join(m + '()' for m in methods)} (such as "
                f"{'SoftmaxCrossEntropy()' if what == 'loss' else 'Adam(1e-3)'}), got {obj!r}"
            )
    if x.shape[0] == 0 and epochs > 0:
        raise ValueError("fit: expected at least one training example, got x of shape (0, ...)")
    if validation is not None:
        _check_validation(model, validation)
    threads = parallel.default_threads() if threads is None else as_int(threads, "threads", "fit")
    seed = isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)
    if not (rng is None or seed and rng >= 0 or isinstance(rng, _GENERATORS)):
        raise TypeError(
            "fit: rng must be a numpy.random.Generator (or RandomState) or an int seed >= 0, "
            f"got {rng!r}"
        )
    if not isinstance(rng, _GENERATORS):
        rng = np.random.default_rng(rng)  # None or a seed
    with parallel.threads(threads):
        return _fit_epochs(
            model, loss, optimizer, x, y, epochs, batch_size, validation, rng, progress, lr_schedule
        )


_GENERATORS = (np.random.Generator, np.random.RandomState)  # what fit takes as rng


def _check_validation(model, validation) -> None:
    """Everything `evaluate` would refuse after the first epoch, refused before it: the pair,
    the arrays, an empty set, inputs the model does not take, labels beyond its classes."""
    if not isinstance(validation, (tuple, list)) or len(validation) != 2:
        raise TypeError(f"fit: validation must be a pair (x_val, y_val), got {validation!r}")
    x_val, y_val = validation
    _check_xy(x_val, y_val, "fit: validation")
    if x_val.shape[0] == 0:
        raise ValueError(f"fit: validation holds no example (x_val of shape {x_val.shape})")
    try:
        logits = model.forward(x_val[:1], training=False)  # no dropout: changes nothing
    except TypeError as err:
        raise TypeError(f"fit: validation: {err}") from err
    except ValueError as err:
        raise ValueError(f"fit: validation: {err}") from err
    K = logits.shape[-1]
    if y_val.min() < 0 or y_val.max() >= K:
        raise ValueError(
            f"fit: validation: labels must lie in 0..{K - 1} (the model has {K} outputs), got "
            f"labels from {y_val.min()} to {y_val.max()}"
        )


def _fit_epochs(
    model, loss, optimizer, x, y, epochs, batch_size, validation, rng, progress, lr_schedule
) -> dict[str, list[float]]:
    """The loop of `fit`, its arguments checked."""
    N = x.shape[0]
    history: dict[str, list[float]] = {"train_loss": [], "train_acc": []}
    if validation is not None:
        history.update(val_loss=[], val_acc=[])
    history.update(lr=[], seconds=[])
    for epoch in range(epochs):
        if lr_schedule is not None:
            optimizer.lr = lr_schedule(epoch)
        start = time.perf_counter()
        order = rng.permutation(N)
        loss_sum, correct = 0.0, 0
        bar = tqdm(
            total=N,
            desc=f"epoch {epoch + 1}/{epochs}",
            unit="img",
            disable=not progress,
            leave=True,
            dynamic_ncols=True,
        )
        for i, j in _batches(N, batch_size):
            idx = order[i:j]
            xb, yb = x[idx], y[idx]
            logits = model.forward(xb, training=True)
            batch_loss = loss.forward(logits, yb)
            model.backward(loss.backward())
            optimizer.step(model.parameters())
            loss_sum += batch_loss * (j - i)
            correct += int((logits.argmax(axis=1) == yb).sum())
            bar.update(j - i)
            bar.set_postfix(loss=f"{loss_sum / j:.4f}", acc=f"{correct / j:.4f}", refresh=False)
        history["seconds"].append(time.perf_counter() - start)
        if not np.isfinite(loss_sum) and np.isfinite(history["train_loss"]).all():
            warnings.warn(  # once per fit: every later epoch's loss will be nan too
                f"fit: the training loss of epoch {epoch + 1} is {loss_sum / N}: the training "
                "diverged (try a smaller learning rate) or the data holds nan or inf",
                RuntimeWarning,
                stacklevel=3,
            )
        history["train_loss"].append(loss_sum / N)
        history["train_acc"].append(correct / N)
        history["lr"].append(optimizer.lr)
        if validation is not None:
            val_loss, val_acc = evaluate(model, *validation, batch_size=max(batch_size, 500))
            history["val_loss"].append(val_loss)
            history["val_acc"].append(val_acc)
            bar.set_postfix(
                loss=f"{history['train_loss'][-1]:.4f}",
                acc=f"{history['train_acc'][-1]:.4f}",
                val_loss=f"{val_loss:.4f}",
                val_acc=f"{val_acc:.4f}",
            )
        bar.close()
        if progress and hasattr(bar, "container"):  # a Jupyter widget: also leave its last state
            d = bar.format_dict  # as text, for pages and viewers that cannot load its scripts
            done = f"{d['prefix']}: {d['n']}/{d['total']} img in {history['seconds'][-1]:.0f} s"
            print(f"{done}, {d['postfix']}")
    return history


def predict(model, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """The model's output for every example, computed ``batch_size`` examples at a time.

    x : (N, ...) -> logits : (N, K), with dropout off (training=False). These are logits, not
    probabilities: ``cnn_lib.losses.softmax(logits)`` turns them into probabilities, and
    ``logits.argmax(axis=1)`` gives the predicted classes. An empty x (N = 0) gives (0, K).
    """
    batch_size = as_int(batch_size, "batch_size", "predict")
    if not isinstance(x, np.ndarray):
        raise TypeError(f"predict: expected x as a NumPy array, got {type(x).__name__}")
    if x.ndim == 0:
        raise ValueError(
            "predict: expected x of shape (N, ...), examples along the first axis, got a 0-d array"
        )
    outputs = [model.forward(x[i:j], training=False) for i, j in _batches(x.shape[0], batch_size)]
    if not outputs:  # N = 0: the model's own empty output, shaped (0, K)
        return model.forward(x, training=False)
    return np.concatenate(outputs)


def evaluate(
    model, x: np.ndarray, y: np.ndarray, batch_size: int = 500, loss=None
) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on (x, y), computed in batches with dropout off.

    x : (N, ...), y : (N,) integer labels. ``loss`` defaults to SoftmaxCrossEntropy().
    Returns (loss, accuracy), accuracy being the fraction of argmax(logits) == y.
    """
    _check_xy(x, y, "evaluate")
    batch_size = as_int(batch_size, "batch_size", "evaluate")
    if x.shape[0] == 0:
        raise ValueError(f"evaluate: expected at least one example, got x of shape {x.shape}")
    loss = SoftmaxCrossEntropy() if loss is None else loss
    loss_sum, correct = 0.0, 0
    for i, j in _batches(x.shape[0], batch_size):
        logits = model.forward(x[i:j], training=False)
        loss_sum += loss.forward(logits, y[i:j]) * (j - i)
        correct += int((logits.argmax(axis=1) == y[i:j]).sum())
    return loss_sum / x.shape[0], correct / x.shape[0]


# --------------------------------------------------------------------------------------------
# python -m cnn_lib.train
# --------------------------------------------------------------------------------------------


def _peak_memory_mb() -> float:
    """The largest resident set size of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB else


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m cnn_lib.train",
        description="Train the book's reference CNN (cnn_lib.model.reference_cnn) and test it. "
        "Progress goes to stderr; the last line on stdout is one JSON object with the results "
        "(a loss that is not finite is null there, and the exit status is then 1).",
    )
    add = parser.add_argument
    add(
        "--dataset",
        choices=["fashion-mnist", "mnist"],
        default="fashion-mnist",
        help="default: %(default)s",
    )
    add("--epochs", type=int, default=DEFAULTS["epochs"], help="default: %(default)s")
    add("--batch-size", type=int, default=DEFAULTS["batch_size"], help="default: %(default)s")
    add("--lr", type=float, default=DEFAULTS["lr"], help="Adam's initial rate: %(default)s")
    add(
        "--final-lr-fraction",
        type=float,
        default=DEFAULTS["final_lr_fraction"],
        help="the rate decays (cosine) to this fraction of --lr in the last epoch: %(default)s",
    )
    add("--dropout", type=float, default=DEFAULTS["dropout"], help="default: %(default)s")
    add("--seed", type=int, default=0, help="fixes weights, dropout and batch order: %(default)s")
    add(
        "--val-size",
        type=int,
        default=0,
        help="hold out this many training images as a validation set: %(default)s",
    )
    add(
        "--data-dir",
        metavar="DIR",
        help="a directory holding the four dataset files (otherwise: $CNN_LIB_DATA, the user "
        "cache, the Debian package's directory, then a download)",
    )
    add(
        "--threads",
        type=int,
        default=parallel.default_threads(),
        help="each batch is split into this many parts, worked on at once on as many cores; "
        "the matrix-multiply library (BLAS) stays on one thread, so that other work on the "
        "machine slows the run down without stalling it. The results do not depend on it. "
        "default: %(default)s (2 where the machine has two cores or more, else 1)",
    )
    add("--save", metavar="PATH", help="save the trained weights to PATH (.npz)")
    add("--no-progress", action="store_true", help="no progress bars or model summary")
    args = parser.parse_args(argv)
    if args.epochs < 0 or args.batch_size < 1 or not 0 < args.lr < math.inf or args.val_size < 0:
        parser.error(
            "expected --epochs >= 0, --batch-size >= 1, --lr a finite number > 0 and "
            f"--val-size >= 0, got {args.epochs}, {args.batch_size}, {args.lr} and {args.val_size}"
        )
    if args.seed < 0:
        parser.error(f"expected --seed >= 0, got {args.seed}")
    if args.save is not None:
        try:  # before the training, not after it: a run is not lost for a wrong path
            check_target(args.save, "--save")
        except (OSError, ValueError) as err:
            parser.error(str(err))
    if args.threads < 1:
        parser.error(f"expected --threads >= 1, got {args.threads}")
    if not (0 <= args.dropout < 1 and 0 < args.final_lr_fraction <= 1):
        parser.error(
            f"expected --dropout in [0, 1) and --final-lr-fraction in (0, 1], got "
            f"{args.dropout} and {args.final_lr_fraction}"
        )
    if args.lr * args.final_lr_fraction == 0:
        parser.error(
            f"--lr {args.lr} times --final-lr-fraction {args.final_lr_fraction} rounds to 0, a "
            "rate the optimizer does not take"
        )
    return args


def main(argv: list[str] | None = None) -> dict:
    """Train and test the reference model; print and return the results as one JSON object."""
    from .data import DatasetNotFoundError, load_dataset, to_float, train_val_split
    from .model import reference_cnn
    from .optim import Adam, cosine_schedule

    args = _parse_args(argv)
    start = time.perf_counter()
    progress = not args.no_progress
    try:
        train_images, train_labels = load_dataset(
            args.dataset, "train", args.data_dir, progress=progress
        )
        test_images, test_labels = load_dataset(
            args.dataset, "test", args.data_dir, progress=progress
        )
    except DatasetNotFoundError as err:
        sys.exit(f"python -m cnn_lib.train: {err}")  # the message says what to do; no traceback
    validation = None
    if args.val_size:
        if args.val_size >= len(train_labels):
            sys.exit(
                f"python -m cnn_lib.train: --val-size {args.val_size} leaves no training images "
                f"(the training set holds {len(train_labels)})"
            )
        (train_images, train_labels), (val_images, val_labels) = train_val_split(
            train_images, train_labels, n_val=args.val_size, rng=args.seed
        )
        validation = (to_float(val_images), val_labels)
    x_train, x_test = to_float(train_images), to_float(test_images)
    del train_images, test_images  # keep one copy of the data, the float32 one

    # One seed, two independent streams: weights and dropout, and the order of the batches.
    model_seed, order_seed = np.random.SeedSequence(args.seed).spawn(2)
    model = reference_cnn(rng=np.random.default_rng(model_seed), dropout=args.dropout)
    optimizer = Adam(lr=args.lr)
    if progress:
        print(model.summary(x_train.shape[1:]), file=sys.stderr)
    with parallel.threads(args.threads):  # the final test pass too
        history = fit(
            model,
            SoftmaxCrossEntropy(),
            optimizer,
            x_train,
            train_labels,
            epochs=args.epochs,
            batch_size=args.batch_size,
            validation=validation,
            rng=np.random.default_rng(order_seed),
            progress=progress,
            lr_schedule=cosine_schedule(args.lr, args.epochs, args.final_lr_fraction),
            threads=args.threads,
        )
        test_loss, test_accuracy = evaluate(model, x_test, test_labels)
    losses = {
        "train_loss": history["train_loss"][-1] if args.epochs else None,
        "val_loss": history["val_loss"][-1] if validation and args.epochs else None,
        "test_loss": test_loss,
    }
    diverged = [k for k, v in losses.items() if v is not None and not math.isfinite(v)]
    if args.save and not diverged:  # weights that are nan would overwrite a good file
        model.save(args.save)
    train_seconds = sum(history["seconds"])
    results = {
        "dataset": args.dataset,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "final_lr_fraction": args.final_lr_fraction,
        "dropout": args.dropout,
        "seed": args.seed,
        "threads": args.threads,
        "train_examples": int(x_train.shape[0]),
        "val_examples": args.val_size,
        "parameters": model.n_parameters(),
        "train_loss": losses["train_loss"],
        "train_accuracy": history["train_acc"][-1] if args.epochs else None,
        "val_loss": losses["val_loss"],
        "val_accuracy": history["val_acc"][-1] if validation and args.epochs else None,
        "test_loss": losses["test_loss"],
        "test_accuracy": test_accuracy,
        "epoch_seconds": [round(s, 2) for s in history["seconds"]],
        "train_seconds": round(train_seconds, 2),
        "seconds": round(time.perf_counter() - start, 2),
        "images_per_second": (
            round(args.epochs * x_train.shape[0] / train_seconds, 1) if train_seconds else None
        ),
        "peak_memory_mb": round(_peak_memory_mb(), 1),
        "saved": args.save if not diverged else None,
    }
    for key in diverged:  # JSON has no nan or inf: null, and a word on stderr
        results[key] = None
    print(json.dumps(results, allow_nan=False), flush=True)
    if diverged:
        sys.exit(
            f"python -m cnn_lib.train: {', '.join(diverged)} not finite (null above): the "
            "training diverged; try a smaller --lr"
            + (f". The weights were not saved to {args.save}" if args.save else "")
        )
    return results


if __name__ == "__main__":
    main()
