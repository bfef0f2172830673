"""cnn_lib.memory: after keep_freed_memory, arrays made and freed step after step stop costing
page faults; elsewhere than glibc it does nothing and says so."""

import subprocess
import sys

import pytest

from cnn_lib import memory

# Three arrays of 3.6 MB (the size of the reference CNN's window matrix at a batch of 32) made,
# written and freed, as a training step does; page faults counted over 20 such steps after 3.
STEPS = """
import resource, sys
import numpy as np
from cnn_lib import memory
if sys.argv[1] == "keep":
    assert memory.keep_freed_memory()

def step():
    arrays = [np.ones(900_000, np.float32) for _ in range(3)]
    del arrays

for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


def faults_per_step(setting: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", STEPS, setting], capture_output=True, text=True, check=True
    )
    return float(done.stdout)


glibc_only = pytest.mark.skipif(not memory._is_glibc(), reason="needs glibc's malloc")


@glibc_only
def test_kept_memory_makes_a_step_s_arrays_fault_no_pages():
    """3 x 3.6 MB written per step: 2,700 pages, each a page fault if the memory were handed
    back and asked for again; kept, the same memory serves every step."""
    assert faults_per_step("keep") < 50
    # For comparison, glibc's default settings on the same steps (what they give depends on
    # glibc's version, so it is printed, not asserted).
    print("page faults per step with malloc's default settings:", faults_per_step("default"))


@glibc_only
def test_keep_freed_memory_says_yes_and_a_second_call_changes_nothing():
    assert memory.keep_freed_memory() is True
    assert memory.keep_freed_memory() is True


def test_keep_freed_memory_does_nothing_without_glibc(monkeypatch):
    monkeypatch.setattr(memory, "_kept", False)
    monkeypatch.setattr(memory, "_is_glibc", lambda: False)
    assert memory.keep_freed_memory() is False
