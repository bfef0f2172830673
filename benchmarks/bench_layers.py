"""Time forward + backward of Conv2D and MaxPool2D: naive loops, cnn_lib, and PyTorch CPU.

Prints a table and writes it into benchmarks/RESULTS.md (between the layer-benchmark markers).
cnn_lib runs inside ``parallel.threads(n)`` and PyTorch with ``torch.set_num_threads(n)``, n being
every core of the machine unless ``--threads`` says otherwise; the two are timed in turns, and
each keeps its fastest round. PyTorch is optional (`pip install torch==2.13.0`); without it that
column is left empty.

    python benchmarks/bench_layers.py [--threads N] [--rounds 7] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import timeit

import numpy as np
from common import geomean, machine_line, time_in_turns, write_section
from threadpoolctl import threadpool_limits

from cnn_lib import naive, parallel
from cnn_lib.layers import Conv2D, MaxPool2D

try:
    import torch
    import torch.nn.functional as torch_f
except ImportError:  # optional
    torch = None

START, END = "<!-- layer-benchmark:start -->", "<!-- layer-benchmark:end -->"

# (label, N, C, H, W, F, K, stride, padding)
CONV_SUITE = [
    ("conv 64x1x28x28 -> 8, 3x3", 64, 1, 28, 28, 8, 3, 1, 0),
    ("conv 64x8x14x14 -> 16, 3x3", 64, 8, 14, 14, 16, 3, 1, 0),
    ("conv 128x32x14x14 -> 64, 5x5 pad 2", 128, 32, 14, 14, 64, 5, 1, 2),
    ("conv 64x3x32x32 -> 32, 3x3 pad 1", 64, 3, 32, 32, 32, 3, 1, 1),
    ("conv 64x16x28x28 -> 32, 3x3 stride 2 pad 1", 64, 16, 28, 28, 32, 3, 2, 1),
]
# (label, N, C, H, W, K, stride)
POOL_SUITE = [
    ("maxpool 64x16x28x28, 2x2", 64, 16, 28, 28, 2, 2),
    ("maxpool 128x64x14x14, 2x2", 128, 64, 14, 14, 2, 2),
    ("maxpool 64x32x32x32, 3x3 stride 2 (overlapping)", 64, 32, 32, 32, 3, 2),
]
NAIVE_IMAGES = 4  # beyond the first shape, the naive loops run on this many images, then scale


def matmul_peak(threads: int, rounds: int) -> float:
    """GFLOP/s of a float32 2048 x 2048 matrix multiply on ``threads`` BLAS threads."""
    n = 2048
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((n, n)).astype(np.float32)
    with threadpool_limits(limits=threads, user_api="blas"):
        seconds = time_in_turns({"matmul": lambda: a @ b}, rounds)["matmul"]
    return 2 * n**3 / seconds / 1e9


def timed(fast, torch_step, rounds):
    """Fastest seconds of cnn_lib's and PyTorch's forward + backward, timed in turns."""
    fns = {"fast": fast} if torch_step is None else {"fast": fast, "torch": torch_step}
    best = time_in_turns(fns, rounds)
    return best["fast"], best.get("torch")


def bench_conv(case, rounds, full_naive):
    label, N, C, H, W, F, K, s, p = case
    rng = np.random.default_rng(0)
    layer = Conv2D(C, F, K, stride=s, padding=p, rng=rng)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    dy = rng.standard_normal(layer.output_shape(x.shape)).astype(np.float32)
    _, _, Ho, Wo = dy.shape
    flops = 3 * 2 * N * F * Ho * Wo * C * K * K  # forward, dx and dw: one multiply-add each

    def fast():
        layer.forward(x)
        layer.backward(dy)

    n_naive = N if full_naive else NAIVE_IMAGES
    Wt, b = layer.params["w"], layer.params["b"]

    def loops():
        naive.conv2d_forward_naive(x[:n_naive], Wt, b, s, p)
        naive.conv2d_backward_naive(dy[:n_naive], x[:n_naive], Wt, s, p)

    t_naive = timeit.timeit(loops, number=1) * N / n_naive

    torch_step = None
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_(True)
        tw = torch.from_numpy(Wt.copy()).requires_grad_(True)
        tb = torch.from_numpy(b.copy()).requires_grad_(True)
        tdy = torch.from_numpy(dy)

        def torch_step():
            torch_f.conv2d(tx, tw, tb, stride=s, padding=p).backward(tdy)

    t_fast, t_torch = timed(fast, torch_step, rounds)
    return dict(
        label=label,
        naive=t_naive,
        naive_full=full_naive,
        fast=t_fast,
        torch=t_torch,
        gflops=flops / t_fast / 1e9,
    )


def bench_pool(case, rounds):
    label, N, C, H, W, K, s = case
    rng = np.random.default_rng(0)
    layer = MaxPool2D(K, s)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    dy = rng.standard_normal(layer.output_shape(x.shape)).astype(np.float32)

    def fast():
        layer.forward(x)
        layer.backward(dy)

    def loops():
        naive.maxpool2d_forward_naive(x[:NAIVE_IMAGES], K, s)
        naive.maxpool2d_backward_naive(dy[:NAIVE_IMAGES], x[:NAIVE_IMAGES], K, s)

    t_naive = timeit.timeit(loops, number=1) * N / NAIVE_IMAGES
    torch_step = None
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_(True)
        tdy = torch.from_numpy(dy)

        def torch_step():
            torch_f.max_pool2d(tx, K, s).backward(tdy)

    t_fast, t_torch = timed(fast, torch_step, rounds)
    return dict(
        label=label, naive=t_naive, naive_full=False, fast=t_fast, torch=t_torch, gflops=None
    )


def ms(t):
    return "" if t is None else f"{t * 1e3:.2f}"


def table(rows, peak):
    lines = [
        "| layer (forward + backward) | naive loops (ms) | cnn_lib (ms) | naive / cnn_lib "
        "| cnn_lib GFLOP/s (% of matmul peak) | PyTorch CPU (ms) | cnn_lib / PyTorch |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        naive_ms = ms(r["naive"]) + ("" if r["naive_full"] else " *")
        gf = "" if r["gflops"] is None else f"{r['gflops']:.1f} ({100 * r['gflops'] / peak:.0f}%)"
        ratio = "" if r["torch"] is None else f"{r['fast'] / r['torch']:.2f}"
        lines.append(
            f"| {r['label']} | {naive_ms} | {ms(r['fast'])} | {r['naive'] / r['fast']:.0f}x "
            f"| {gf} | {ms(r['torch'])} | {ratio} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    threads = args.threads
    if torch is not None:
        torch.set_num_threads(threads)

    peak = matmul_peak(threads, args.rounds)
    with parallel.threads(threads):
        rows = [bench_conv(c, args.rounds, full_naive=(i == 0)) for i, c in enumerate(CONV_SUITE)]
        rows += [bench_pool(c, args.rounds) for c in POOL_SUITE]

    torch_ratios = [r["fast"] / r["torch"] for r in rows if r["torch"] is not None]
    conv_ratios = [r["fast"] / r["torch"] for r in rows[: len(CONV_SUITE)] if r["torch"]]
    summary = [
        machine_line(torch),
        f"- float32 matrix-multiply peak (2048 x 2048) on {threads} threads: {peak:.1f} GFLOP/s",
        f"- Naive loops against cnn_lib on the first shape (all {CONV_SUITE[0][1]} images): "
        f"{rows[0]['naive'] / rows[0]['fast']:.0f}x",
    ]
    if torch_ratios:
        summary.append(
            f"- cnn_lib time / PyTorch time, geometric mean: convolutions "
            f"{geomean(conv_ratios):.2f}, "
            f"whole suite {geomean(torch_ratios):.2f} (below 1 means cnn_lib is faster)"
        )
    text = "\n".join(
        [
            START,
            "## Layers: forward + backward",
            "",
            f"Measured by `python benchmarks/bench_layers.py` on {threads} threads (cnn_lib's "
            f"`parallel.threads({threads})`, PyTorch's `set_num_threads({threads})`); float32; "
            f"the fastest of {args.rounds} rounds, cnn_lib and PyTorch timed in turns.",
            "",
            table(rows, peak),
            "",
            f"\\* naive loops timed on {NAIVE_IMAGES} images and scaled to the batch.",
            "",
            *summary,
            END,
        ]
    )
    print(text)
    if not args.no_write:
        write_section(START, END, text)


if __name__ == "__main__":
    main()
