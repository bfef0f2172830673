"""What the benchmark scripts share: the machine's description and writing into RESULTS.md."""

from __future__ import annotations

import os
import platform
import timeit
from collections.abc import Callable
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).with_name("RESULTS.md")


def cpu_model() -> str:
    """The processor's name as the system reports it (/proc/cpuinfo on Linux), e.g. "AMD EPYC"."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas() -> str:
    """NumPy's BLAS as threadpoolctl sees it, e.g. "OpenBLAS 0.3.31, Haswell kernels": which
    kernels OpenBLAS picked (or was told to pick, by $OPENBLAS_CORETYPE) sets the speed of every
    matrix multiply."""
    from threadpoolctl import threadpool_info

    for lib in threadpool_info():
        if lib["user_api"] == "blas" and "numpy" in lib["filepath"]:
            name = {"openblas": "OpenBLAS", "mkl": "MKL"}.get(lib["internal_api"], "BLAS")
            kernels = f", {lib['architecture']} kernels" if lib.get("architecture") else ""
            forced = " set by $OPENBLAS_CORETYPE" if os.environ.get("OPENBLAS_CORETYPE") else ""
            return f"{name} {lib['version']}{kernels}{forced}"
    return "BLAS unknown"


def machine_line(torch=None) -> str:
    """One line for RESULTS.md: processor, cores, load when measured, NumPy, BLAS, PyTorch."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    line = (
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores (load average {load} when "
        f"measured), Python {platform.python_version()}, NumPy {np.__version__} with {blas()}"
    )
    return line + (f", PyTorch {torch.__version__}" if torch is not None else "")


def time_in_turns(
    fns: dict[str, Callable[[], object]], rounds: int, number: int | None = None
) -> dict[str, float]:
    """Fastest seconds per call of each function, timed in turns with `timeit`.

    Each round times every function once, ``number`` calls in a row (by default as many as take
    about 20 ms, found from three warm-up calls); of its ``rounds`` rounds each function keeps the
    fastest. Taking turns means that other work on the machine slows every function alike, and
    the fastest round is the one least disturbed by it (other programs only ever add time).

    Each turn starts with 10 ms of calls that are not timed. The first calls after another
    function's turn pay for what that turn left behind: caches filled with the other's arrays,
    and threads still spinning on a core (PyTorch's OpenMP threads spin for a few milliseconds
    before they sleep). Measured on a 2-core machine (medians of 30 turns): the first
    two-thread training step of cnn_lib right after ten of PyTorch's took 6.9 ms, the second
    5.9 ms, the later ones 4.7 ms.
    """
    numbers = {}
    for name, fn in fns.items():
        seconds = timeit.timeit(fn, number=3) / 3  # warm-up, and a first estimate
        numbers[name] = number or max(1, round(0.02 / max(seconds, 1e-6)))
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            warm_up(fn, 0.01)  # not timed: see above
            seconds = timeit.timeit(fn, number=numbers[name]) / numbers[name]
            best[name] = min(best[name], seconds)
    return best


def warm_up(fn: Callable[[], object], seconds: float) -> None:
    """Call ``fn`` (at least once) until ``seconds`` have passed."""
    end = timeit.default_timer() + seconds
    fn()
    while timeit.default_timer() < end:
        fn()


def geomean(values) -> float:
    return float(np.exp(np.mean(np.log(values))))


def write_section(start: str, end: str, text: str) -> None:
    """Put ``text`` (which begins with ``start`` and ends with ``end``) into RESULTS.md in place
    of the old section between the same markers, or at the end; the other sections stay."""
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if start in old and end in old:
        head, rest = old.split(start, 1)
        new = head + text + rest.split(end, 1)[1]
    else:
        new = old.rstrip() + "\n\n" + text + "\n"
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(new)
    tmp.replace(RESULTS)
