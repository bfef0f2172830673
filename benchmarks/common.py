"""What the benchmark scripts share: the machine's description and writing into RESULTS.md."""

from __future__ import annotations

import os
import platform
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


def machine_line(torch=None) -> str:
    """One line for RESULTS.md: processor, cores, load when measured, NumPy and PyTorch."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    line = (
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores (load average {load} when "
        f"measured), Python {platform.python_version()}, NumPy {np.__version__}"
    )
    return line + (f", PyTorch {torch.__version__}" if torch is not None else "")


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
