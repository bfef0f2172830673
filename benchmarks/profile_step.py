"""Where a training step of the reference CNN spends its time, on one thread and on two.

Three tables, printed (nothing is written to RESULTS.md):

1. Each layer's forward and backward pass, the loss and the Adam update, inside whole training
   steps (batch of 32, dropout on, as in bench_training.py): the median over the steps, on one
   thread and on two, and what the second thread gained.
2. The parallel regions on two threads: every call of `parallel.for_batch` in a step, in order
   (four forward, four backward). For each, the medians of: when the calling thread starts its
   part, how long its part takes, when the other thread starts its part (the hand-off), how
   long that part takes, and the call's whole time, all in microseconds from the call's start.
   Calls in which one thread did both parts (the other starting too late) are left out and
   counted. Half of the layer's one-thread time in table 1 is the yardstick for a part: run
   side by side, parts take longer.
3. Why parts take longer side by side: one matrix multiply and one pass over memory (the sum
   of two 8 MB arrays into a third), each alone and at the same time as the same work in a
   second thread.

    python benchmarks/profile_step.py [--steps 300]

Run it on a quiet machine: other programs change every figure. Before timing, the script frees
one array of 16 MiB, as loading a dataset does in a training run: from then on glibc's malloc
keeps the step's freed arrays for reuse instead of handing them back to the system, and a step
pays no page faults (bench_training.py's docstring says more). The page faults per timed step
are printed with table 1.
"""

from __future__ import annotations

import argparse
import resource
import threading
import time
import timeit
from collections import defaultdict

import numpy as np
from bench_training import BATCHES, cnn_lib_setup, cnn_lib_step
from common import machine_line

import cnn_lib.conv
import cnn_lib.pool
from cnn_lib import parallel

WARM_UP = 30  # steps left out of every median


def layer_times(threads: int, n_steps: int) -> tuple[list[str], np.ndarray, float]:
    """Seconds of each piece of a step: rows (forward per layer, backward per layer, loss,
    update), columns the steps after the warm-up; and the page faults per step after it."""
    xs, ys, model, loss, optimizer = cnn_lib_setup(32)  # as bench_training.py's steps
    layers = model.layers
    names = [f"{i:2d} {layer!r} forward" for i, layer in enumerate(layers)]
    names += [f"{i:2d} {layer!r} backward" for i, layer in enumerate(layers)]
    names += ["loss, forward and backward", "Adam update"]
    seconds = np.zeros((len(names), n_steps))
    clock = time.perf_counter
    with parallel.threads(threads):
        for step in range(WARM_UP + n_steps):
            if step == WARM_UP:
                faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            times = []
            x = xs[step % BATCHES]
            for layer in layers:
                start = clock()
                x = layer.forward(x, training=True)
                times.append(clock() - start)
            start = clock()
            loss.forward(x, ys[step % BATCHES])
            dy = loss.backward()
            loss_time = clock() - start
            backward = [0.0] * len(layers)
            for i in reversed(range(len(layers))):
                start = clock()
                dy = layers[i].backward(dy)
                backward[i] = clock() - start
            start = clock()
            optimizer.step(model.parameters())
            update_time = clock() - start
            if step >= WARM_UP:
                seconds[:, step - WARM_UP] = times + backward + [loss_time, update_time]
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / n_steps
    return names, seconds, faults


def region_timeline(n_steps: int) -> list[tuple[str, dict[str, float]]]:
    """Medians, in microseconds from each for_batch call's start, for every call of a step on
    two threads: main_start, main_part, other_start, other_part, total."""
    original = parallel.for_batch
    calls: list = []

    def timed_for_batch(work, N):
        t0 = time.perf_counter()
        parts = []

        def timed_work(start, stop):
            began = time.perf_counter()
            work(start, stop)
            ended = time.perf_counter()
            parts.append((threading.current_thread() is threading.main_thread(), began, ended))

        original(timed_work, N)
        calls.append((work.__qualname__.split(".")[0], t0, time.perf_counter(), parts))

    cnn_lib.conv.for_batch = cnn_lib.pool.for_batch = timed_for_batch
    try:
        step = cnn_lib_step(32)
        per_call = defaultdict(lambda: defaultdict(list))
        with parallel.threads(2):
            for i in range(WARM_UP + n_steps):
                calls.clear()
                step()
                if i < WARM_UP:
                    continue
                for k, (name, t0, t1, parts) in enumerate(calls):
                    row = per_call[(k, name)]
                    if len({in_main for in_main, _, _ in parts}) < 2:  # one thread did both
                        row["one thread did both"].append(1.0)
                        continue
                    row["total"].append(t1 - t0)
                    for in_main, began, ended in parts:
                        who = "main" if in_main else "other"
                        row[f"{who}_start"].append(began - t0)
                        row[f"{who}_part"].append(ended - began)
    finally:
        cnn_lib.conv.for_batch = cnn_lib.pool.for_batch = original
    return [
        (
            f"{k} {name}",
            {
                key: (len(v) if key == "one thread did both" else float(np.median(v)) * 1e6)
                for key, v in row.items()
            },
        )
        for (k, name), row in per_call.items()
    ]


def side_by_side(repeats: int = 300) -> list[tuple[str, float, float]]:
    """(name, microseconds alone, microseconds with the same work in a second thread)."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((144, 32)).astype(np.float32)  # the second convolution's w_mat.T
    dy = [rng.standard_normal((16, 32, 196)).astype(np.float32) for _ in range(2)]
    dcols = [np.empty((16, 144, 196), np.float32) for _ in range(2)]
    a, b = ([rng.standard_normal(2_000_000).astype(np.float32) for _ in range(2)] for _ in "ab")
    out = [np.empty_like(v) for v in a]
    work = {
        "matrix multiply (144, 32) @ (16, 32, 196)": lambda k: np.matmul(w, dy[k], out=dcols[k]),
        "sum of two 8 MB arrays into a third": lambda k: np.add(a[k], b[k], out=out[k]),
    }
    results = []
    with parallel.threads(1):  # BLAS on one thread
        for name, f in work.items():
            f(0)  # warm-up
            alone = timeit.timeit(lambda f=f: f(0), number=repeats) / repeats  # as below, alone
            seconds = [0.0, 0.0]
            barrier = threading.Barrier(2)

            def run(k, f=f, barrier=barrier, seconds=seconds):
                barrier.wait()
                start = time.perf_counter()
                for _ in range(repeats):
                    f(k)
                seconds[k] = (time.perf_counter() - start) / repeats

            other = threading.Thread(target=run, args=(1,))
            other.start()
            run(0)
            other.join()
            results.append((name, alone * 1e6, max(seconds) * 1e6))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()

    np.ones(4 * 2**20, np.float32)  # 16 MiB made and freed at once, as data loading does
    names, one, faults_one = layer_times(1, args.steps)
    _, two, faults_two = layer_times(2, args.steps)
    m1, m2 = np.median(one, axis=1) * 1e3, np.median(two, axis=1) * 1e3
    print("1. A training step, piece by piece (median ms)\n")
    print(f"{'piece':<72} {'1 thread':>9} {'2 threads':>10} {'gain':>6}")
    for name, a, b in zip(names, m1, m2, strict=True):
        print(f"{name:<72} {a:9.3f} {b:10.3f} {a / b:6.2f}")
    print(f"{'sum of the pieces':<72} {m1.sum():9.3f} {m2.sum():10.3f} {m1.sum() / m2.sum():6.2f}")
    print(f"page faults per timed step: {faults_one:.2f} on 1 thread, {faults_two:.2f} on 2")

    print("\n2. The parallel regions of a step on two threads (median microseconds)\n")
    header = ("call", "main starts", "main part", "other starts", "other part", "total")
    print(f"{header[0]:<22}" + "".join(f"{h:>14}" for h in header[1:]) + "  left out")
    for name, row in region_timeline(args.steps):
        keys = ("main_start", "main_part", "other_start", "other_part", "total")
        cells = "".join(f"{row.get(k, float('nan')):14.1f}" for k in keys)
        print(f"{name:<22}{cells}  {row.get('one thread did both', 0):8d}")
    print("(left out: calls in which one thread did both parts, the other not starting in time)")

    print("\n3. Alone and side by side (microseconds per call: the mean of 300 calls in a row;")
    print("   side by side, the slower thread's)\n")
    for name, alone, together in side_by_side():
        print(f"{name:<44} alone {alone:8.1f}   side by side {together:8.1f}")
    print()
    print(machine_line())


if __name__ == "__main__":
    main()
