"""Keep freed memory for the next training step, instead of handing it back to the system.

Every training step makes and frees the same arrays: the convolution's window matrices, each
layer's output and gradient, the optimizer's temporaries, from a hundred KB to a few MB each.
glibc's ``malloc``, which NumPy uses on Linux, decides block by block whether to give freed
memory back to the system (it *unmaps* a large block, or *trims* the top of its heap) and to ask
for it again at the next step; its thresholds move with what the program has freed before. Memory
asked for again comes back as fresh pages, and the first write to each 4 KiB page stops the
program while the system finds and zeroes one (a *page fault*). Whether a training step pays
for that depends on the history of the process: in one that has loaded a large dataset it
usually does not; in one that has not, it can, in every step. Measured with
``python benchmarks/bench_training.py --without-pytorch --malloc-default`` on the book's CNN,
batch of 32: 800 to 1,200 page faults per step, and steps 6 to 20 % longer than with freed memory
kept (no page faults).

`keep_freed_memory` takes the history out of it: it asks glibc, through its ``mallopt``
function, to serve every block below 32 MiB from its heap (glibc's largest such threshold) and
to keep up to 64 MiB of freed memory at the heap's top. `cnn_lib.train.fit` calls it. It applies
to the whole process and lasts until the process ends: the process may then hold on to up to
64 MiB of memory that it no longer uses. Elsewhere (macOS, Windows, musl) it does nothing.

The two settings are ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` of glibc's manual
(``man 3 mallopt``); the environment variables ``MALLOC_MMAP_THRESHOLD_=33554432`` and
``MALLOC_TRIM_THRESHOLD_=67108864``, set before Python starts, do the same.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

MMAP_THRESHOLD = 32 * 2**20  # bytes: blocks below this come from the heap
TRIM_THRESHOLD = 64 * 2**20  # bytes: free memory kept at the heap's top
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (<malloc.h>)

_kept = False  # True once the settings are in place


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse (see the module's docstring).

    Returns True once the settings are in place (at this call or an earlier one), False where
    the C library is not glibc or refuses them. Calling it again changes nothing.
    """
    global _kept
    if _kept:
        return True
    if not _is_glibc():
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    # mallopt returns 1 on success and 0 on failure (a value out of range, say).
    ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    _kept = ok
    return ok


def _is_glibc() -> bool:
    """Whether this process runs on glibc, the GNU C library of most Linux distributions."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # no confstr, or not a GNU system
        return False
