"""Time one epoch of `python -m cnn_lib.train` alone and beside processes that keep the CPU busy.

For each ``--threads`` value, the epoch runs once alone and once while ``--busy`` other Python
processes spin on the CPU (``python -c "while True: pass"``, started by this script and ended as
soon as the epoch is over). Each run is a fresh ``python -m cnn_lib.train --epochs 1`` on
Fashion-MNIST; the time is its ``epoch_seconds``, training only. ``--blas-default`` adds runs of
the setting the terminal run used before it held BLAS to one thread: one thread for cnn_lib
and BLAS at its own default (every core).

Prints a table and writes it into benchmarks/RESULTS.md (between the busy-machine markers).

    python benchmarks/bench_busy.py [--threads 1 2] [--busy 2] [--blas-default] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from common import machine_line, write_section

START, END = "<!-- busy-benchmark:start -->", "<!-- busy-benchmark:end -->"
SPIN = "while True: pass"
# The terminal run with `parallel.threads` made to do nothing: one thread for cnn_lib, and BLAS
# left at its default thread count.
BLAS_DEFAULT = """
import contextlib, sys
from cnn_lib import parallel, train
parallel.threads = lambda n: contextlib.nullcontext()
train.main(sys.argv[1:])
"""


def one_epoch(threads: int | None, busy: int, data_dir: str | None) -> float:
    """Seconds of one training epoch in a fresh process beside ``busy`` spinning ones;
    ``threads=None``: one cnn_lib thread and BLAS at its default."""
    options = ["--epochs", "1", "--no-progress", "--threads", str(threads or 1)]
    options += ["--data-dir", data_dir] if data_dir else []
    if threads is None:
        command = [sys.executable, "-c", BLAS_DEFAULT, *options]
    else:
        command = [sys.executable, "-m", "cnn_lib.train", *options]
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(busy)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    return json.loads(done.stdout.strip().splitlines()[-1])["epoch_seconds"][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--busy", type=int, default=2, help="spinning processes beside the run")
    parser.add_argument("--blas-default", action="store_true", help="add the old setting")
    parser.add_argument("--data-dir", help="passed on to python -m cnn_lib.train")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    settings = [(f"--threads {n}", n) for n in args.threads]
    if args.blas_default:
        settings.append(("1 thread, BLAS at its default", None))
    lines = [
        f"| setting | alone (s) | beside {args.busy} busy processes (s) | busy / alone |",
        "|---|---:|---:|---:|",
    ]
    for label, threads in settings:
        alone = one_epoch(threads, 0, args.data_dir)
        busy = one_epoch(threads, args.busy, args.data_dir)
        lines.append(f"| {label} | {alone:.1f} | {busy:.1f} | {busy / alone:.2f} |")
        print(lines[-1], flush=True)
    text = "\n".join(
        [
            START,
            "## One epoch on a busy machine",
            "",
            "Measured by `python benchmarks/bench_busy.py"
            + (" --blas-default" if args.blas_default else "")
            + "`: one epoch of `python -m cnn_lib.train` (Fashion-MNIST, batch 32), its "
            "`epoch_seconds`, alone and beside processes that spin on the CPU.",
            "",
            *lines,
            "",
            machine_line(),
            END,
        ]
    )
    print(text)
    if not args.no_write:
        write_section(START, END, text)


if __name__ == "__main__":
    main()
