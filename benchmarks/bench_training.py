"""Time training steps of the reference CNN: cnn_lib against the same network in PyTorch CPU.

One step is what `fit` does for each batch: forward with dropout on, cross-entropy, backward,
one Adam update (lr 2e-3), on a batch of 32 images of 28 x 28, at one thread and at two. The
images are random (the time of a step does not depend on their values), the same for both.
cnn_lib runs inside ``parallel.threads(n)``, as `fit` does; PyTorch with
``torch.set_num_threads(n)``; its first layer's input does not require a gradient, as
``reference_cnn``'s first layer does not compute one. The two are timed in turns, in one process,
so that whatever else the machine is doing slows both alike; each keeps its fastest round.
The table also gives cnn_lib's page faults per step (the system handing the process fresh
memory; counted over 50 steps after the timing). About none means that the arrays a step makes
and frees reuse the same memory from step to step; many mean that glibc's malloc hands large
freed blocks back to the system and gets them again at the next step, which happens in a
process that has not yet freed a large block (loading a dataset does; so does importing
PyTorch). ``--without-pytorch`` times cnn_lib alone, without importing PyTorch, and shows them;
``MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=67108864`` in the environment removes
those page faults. Set both: setting either one turns off malloc's own adjustment of the other,
which then stays at its small default, and the step pays more page faults than before.

Prints a table and writes it into benchmarks/RESULTS.md (between the training-benchmark
markers; ``--no-write`` only prints). PyTorch is optional (`pip install torch==2.13.0`); without
it only cnn_lib is timed.

Between two parallel regions, PyTorch's OpenMP threads (GNU OpenMP, in its Linux builds) keep
spinning on their cores for a while, so the next region starts at once; cnn_lib's threads sleep
until they are given a part, and a sleeping thread takes tens of microseconds to wake, more in
the first call of a step, after sleeping through the step's single-threaded end
(benchmarks/profile_step.py measures both). ``--pytorch-threads-sleep`` sets
``OMP_WAIT_POLICY=PASSIVE`` before PyTorch is imported, so that its threads sleep too, and
writes its table into a section of its own: the difference between the two tables is what
spinning threads are worth to PyTorch's step.

    python benchmarks/bench_training.py [--threads 1 2] [--batch-size 32] [--steps 10]
                                        [--rounds 20] [--no-write] [--without-pytorch]
                                        [--pytorch-threads-sleep]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys

import numpy as np
from common import machine_line, time_in_turns, write_section

from cnn_lib import parallel
from cnn_lib.losses import SoftmaxCrossEntropy
from cnn_lib.model import reference_cnn
from cnn_lib.optim import Adam

torch = nn = None  # PyTorch, imported by `import_pytorch` where installed (it is optional)


def import_pytorch() -> None:
    """Import PyTorch into this module's globals, if it is installed."""
    global torch, nn
    try:
        import torch as torch_module
        from torch import nn as nn_module
    except ImportError:
        return
    torch, nn = torch_module, nn_module


START, END = "<!-- training-benchmark:start -->", "<!-- training-benchmark:end -->"
SLEEP_START = "<!-- training-benchmark-threads-sleep:start -->"
SLEEP_END = "<!-- training-benchmark-threads-sleep:end -->"
BATCHES = 16  # distinct batches, visited in turn


def cnn_lib_setup(batch_size: int):
    """What a cnn_lib step needs: xs (BATCHES, batch_size, 1, 28, 28) float32 images, ys
    (BATCHES, batch_size) labels, reference_cnn, its loss and its Adam optimizer."""
    rng = np.random.default_rng(0)
    xs = rng.random((BATCHES, batch_size, 1, 28, 28), dtype=np.float32)
    ys = rng.integers(0, 10, size=(BATCHES, batch_size))
    model = reference_cnn(rng=np.random.default_rng(1))
    return xs, ys, model, SoftmaxCrossEntropy(), Adam(lr=2e-3)


def cnn_lib_step(batch_size: int):
    """A function that runs one training step of reference_cnn on the next batch."""
    xs, ys, model, loss, optimizer = cnn_lib_setup(batch_size)
    i = 0

    def step():
        nonlocal i
        i = (i + 1) % BATCHES
        logits = model.forward(xs[i], training=True)
        loss.forward(logits, ys[i])
        model.backward(loss.backward())
        optimizer.step(model.parameters())

    return step


def torch_step(batch_size: int):
    """The same step in PyTorch: the same layers, loss, optimizer and batches."""
    rng = np.random.default_rng(0)
    xs = torch.from_numpy(rng.random((BATCHES, batch_size, 1, 28, 28), dtype=np.float32))
    ys = torch.from_numpy(rng.integers(0, 10, size=(BATCHES, batch_size)))
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.25),
        nn.Linear(32 * 7 * 7, 128),
        nn.ReLU(),
        nn.Dropout(0.25),
        nn.Linear(128, 10),
    )
    net.train()
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    i = 0

    def step():
        nonlocal i
        i = (i + 1) % BATCHES
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(net(xs[i]), ys[i])
        loss.backward()
        optimizer.step()

    return step


def time_steps(steps: dict, threads: int, n_steps: int, rounds: int) -> dict[str, float]:
    """Fastest seconds per step of each step function on ``threads`` threads (timed in turns),
    and cnn_lib's page faults per step (``"faults"``)."""
    if torch is not None:
        torch.set_num_threads(threads)
    with parallel.threads(threads):
        times = time_in_turns(steps, rounds, number=n_steps)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(50):
            steps["cnn_lib"]()
        times["faults"] = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--without-pytorch", action="store_true", help="time cnn_lib alone, PyTorch not imported"
    )
    parser.add_argument(
        "--pytorch-threads-sleep",
        action="store_true",
        help="PyTorch's OpenMP threads sleep between parallel regions (OMP_WAIT_POLICY=PASSIVE), "
        "as cnn_lib's do; written to a section of its own",
    )
    args = parser.parse_args()
    if args.pytorch_threads_sleep:
        if args.without_pytorch:
            parser.error("--pytorch-threads-sleep needs PyTorch: leave out --without-pytorch")
        if "torch" in sys.modules:
            raise RuntimeError("PyTorch was imported before OMP_WAIT_POLICY could be set")
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # read once, when OpenMP starts
    if not args.without_pytorch:
        import_pytorch()
    if args.pytorch_threads_sleep and torch is None:
        parser.error("--pytorch-threads-sleep needs PyTorch, which is not installed")

    steps = {"cnn_lib": cnn_lib_step(args.batch_size)}
    if torch is not None:
        steps["PyTorch"] = torch_step(args.batch_size)
    rows = [(n, time_steps(steps, n, args.steps, args.rounds)) for n in args.threads]

    N = args.batch_size
    lines = [
        "| threads | cnn_lib (ms/step) | cnn_lib (img/s) | PyTorch (ms/step) | PyTorch (img/s) "
        "| cnn_lib / PyTorch | cnn_lib page faults per step |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, t in rows:
        torch_cells = "| | |"
        if "PyTorch" in t:
            ratio = t["cnn_lib"] / t["PyTorch"]
            torch_cells = f"| {t['PyTorch'] * 1e3:.2f} | {N / t['PyTorch']:,.0f} | {ratio:.2f}"
        lines.append(
            f"| {n} | {t['cnn_lib'] * 1e3:.2f} | {N / t['cnn_lib']:,.0f} {torch_cells} "
            f"| {t['faults']:,.0f} |"
        )
    start, end, heading, command = START, END, "## Training steps of the reference CNN", ""
    how = (
        ", cnn_lib and PyTorch timed in turns. Below 1 in the column cnn_lib / PyTorch means "
        "cnn_lib is faster."
        if torch is not None
        else ", cnn_lib alone (PyTorch not imported)."
    )
    if args.pytorch_threads_sleep:
        start, end, command = SLEEP_START, SLEEP_END, " --pytorch-threads-sleep"
        heading = "## Training steps, PyTorch's threads sleeping between parallel regions"
        how += (
            " With `OMP_WAIT_POLICY=PASSIVE`, PyTorch's OpenMP threads sleep between parallel "
            "regions instead of spinning, as cnn_lib's threads do."
        )
    elif torch is not None and os.environ.get("OMP_WAIT_POLICY"):  # set by the user
        how += f" `OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}` was set."
    text = "\n".join(
        [
            start,
            heading,
            "",
            f"Measured by `python benchmarks/bench_training.py{command}`: batch of {N}, Adam, "
            f"dropout on; the fastest of {args.rounds} rounds of {args.steps} steps" + how,
            "",
            *lines,
            "",
            machine_line(torch),
            end,
        ]
    )
    print(text)
    if not args.no_write:
        write_section(start, end, text)


if __name__ == "__main__":
    main()
