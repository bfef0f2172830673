"""Time forward + backward of Conv2D and MaxPool2D: naive loops, cnn_lib, and PyTorch CPU.

Prints a table and writes it into benchmarks/RESULTS.md (between the layer-benchmark markers).
PyTorch is optional (`pip install torch==2.13.0`); without it that column is left empty.

    python benchmarks/bench_layers.py [--repeats 7] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from cnn_lib import naive
from cnn_lib.layers import Conv2D, MaxPool2D

try:
    import torch
    import torch.nn.functional as torch_f
except ImportError:  # optional
    torch = None

RESULTS = Path(__file__).with_name("RESULTS.md")
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


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def matmul_peak(repeats: int) -> float:
    """GFLOP/s of a float32 2048 x 2048 matrix multiply, this machine's practical peak."""
    n = 2048
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((n, n)).astype(np.float32)
    return 2 * n**3 / median_time(lambda: a @ b, repeats) / 1e9


def bench_conv(case, repeats, full_naive):
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

    t_fast = median_time(fast, repeats)

    n_naive = N if full_naive else NAIVE_IMAGES
    Wt, b = layer.params["w"], layer.params["b"]

    def loops():
        naive.conv2d_forward_naive(x[:n_naive], Wt, b, s, p)
        naive.conv2d_backward_naive(dy[:n_naive], x[:n_naive], Wt, s, p)

    t0 = time.perf_counter()
    loops()
    t_naive = (time.perf_counter() - t0) * N / n_naive

    t_torch = None
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_(True)
        tw = torch.from_numpy(Wt.copy()).requires_grad_(True)
        tb = torch.from_numpy(b.copy()).requires_grad_(True)
        tdy = torch.from_numpy(dy)

        def torch_step():
            torch_f.conv2d(tx, tw, tb, stride=s, padding=p).backward(tdy)

        t_torch = median_time(torch_step, repeats)
    return dict(
        label=label,
        naive=t_naive,
        naive_full=full_naive,
        fast=t_fast,
        torch=t_torch,
        gflops=flops / t_fast / 1e9,
    )


def bench_pool(case, repeats):
    label, N, C, H, W, K, s = case
    rng = np.random.default_rng(0)
    layer = MaxPool2D(K, s)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    dy = rng.standard_normal(layer.output_shape(x.shape)).astype(np.float32)

    def fast():
        layer.forward(x)
        layer.backward(dy)

    t_fast = median_time(fast, repeats)
    t0 = time.perf_counter()
    naive.maxpool2d_forward_naive(x[:NAIVE_IMAGES], K, s)
    naive.maxpool2d_backward_naive(dy[:NAIVE_IMAGES], x[:NAIVE_IMAGES], K, s)
    t_naive = (time.perf_counter() - t0) * N / NAIVE_IMAGES
    t_torch = None
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_(True)
        tdy = torch.from_numpy(dy)

        def torch_step():
            torch_f.max_pool2d(tx, K, s).backward(tdy)

        t_torch = median_time(torch_step, repeats)
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


def geomean(values):
    return float(np.exp(np.mean(np.log(values))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    threads = os.cpu_count()
    if torch is not None:
        torch.set_num_threads(threads)

    peak = matmul_peak(args.repeats)
    rows = [bench_conv(c, args.repeats, full_naive=(i == 0)) for i, c in enumerate(CONV_SUITE)]
    rows += [bench_pool(c, args.repeats) for c in POOL_SUITE]

    torch_ratios = [r["fast"] / r["torch"] for r in rows if r["torch"] is not None]
    conv_ratios = [r["fast"] / r["torch"] for r in rows[: len(CONV_SUITE)] if r["torch"]]
    summary = [
        f"- Machine: {platform.processor() or platform.machine()}, {threads} threads, "
        f"NumPy {np.__version__}" + (f", PyTorch {torch.__version__}" if torch else ""),
        f"- float32 matrix-multiply peak (2048 x 2048, median of {args.repeats}): "
        f"{peak:.1f} GFLOP/s",
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
            "Measured by `python benchmarks/bench_layers.py` (medians of "
            f"{args.repeats} runs; float32; PyTorch on the same number of threads).",
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
        old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n" + START + END
        if START in old and END in old:
            head, rest = old.split(START, 1)
            new = head + text + rest.split(END, 1)[1]
        else:
            new = old.rstrip() + "\n\n" + text + "\n"
        tmp = RESULTS.with_suffix(".tmp")
        tmp.write_text(new)
        tmp.replace(RESULTS)


if __name__ == "__main__":
    main()
