"""A second core for the layers: split the batch into parts and work on the parts in threads.

NumPy lets go of Python's global interpreter lock (the GIL) while its loops run: copies,
elementwise arithmetic and matrix multiplies. So Python threads that each take a part of the
batch do run at the same time, on different cores. The convolution and pooling functions cut
their batch with `for_batch`; each image goes through the very same NumPy calls whichever part
it falls in, so the results do not depend on the number of threads, to the last bit.

    with parallel.threads(2):   # two threads for cnn_lib, one for the matrix-multiply library
        logits = model.forward(x, training=True)
        ...

`fit` does this itself (``fit(..., threads=2)``, two threads by default). The calling thread
works on parts too, and takes any part that no other thread has started, so on a busy machine
the layers fall back to about the speed of one thread (a little slower, not many times slower)
instead of waiting for a free core.

Outside ``threads(...)``, cnn_lib uses one thread and leaves the matrix-multiply library (BLAS)
as it found it. Inside, BLAS runs on one thread (set with threadpoolctl, which knows how to
talk to OpenBLAS and MKL): n threads of cnn_lib each starting n BLAS threads would ask for
n * n cores, and a multithreaded BLAS on a busy machine can stall, its threads spinning while
they wait for each other.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

from ._checks import as_int

_threads = 1  # how many parts `for_batch` cuts a batch into
_local = threading.local()  # .in_part: True while this thread works on a part of a batch
_pool: ThreadPoolExecutor | None = None  # kept between calls: starting threads costs time
_pool_workers = 0


def get_threads() -> int:
    """How many threads the layers use now: 1 outside `threads`, n inside ``threads(n)``."""
    return _threads


def default_threads() -> int:
    """The number of threads `fit` and ``python -m cnn_lib.train`` use unless told otherwise:
    2 where the machine has two cores or more, else 1. More than two gains little on the book's
    small batches (each part gets too few images to keep a core busy)."""
    return min(2, os.cpu_count() or 1)


@contextmanager
def threads(n: int) -> Iterator[None]:
    """Within the ``with`` block, split batches over ``n`` threads and keep BLAS on one.

    ``n = 1`` computes exactly as outside the block, except that BLAS is held to one thread.
    On leaving the block the previous settings come back. Not meant to be entered from two
    threads at once: the setting is one for the whole program, as BLAS's own is.
    """
    global _threads
    n = as_int(n, "n", "threads")
    previous = _threads
    with threadpool_limits(limits=1, user_api="blas"):
        _threads = n
        try:
            yield
        finally:
            _threads = previous


def _get_pool(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_workers
    if _pool is None or _pool_workers < workers:
        if _pool is not None:
            _pool.shutdown(wait=True)
        _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cnn_lib")
        _pool_workers = workers
    return _pool


def split(N: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` slices (start, stop) of range(N), in order, as equal as can be (sizes differ by
    at most one); fewer when N < parts, and one empty slice (0, 0) when N = 0."""
    parts = max(1, min(parts, N))
    bounds = [N * k // parts for k in range(parts + 1)]
    return [(bounds[k], bounds[k + 1]) for k in range(parts)]


class _Parts:
    """The parts of one batch, each taken by whichever thread is free first."""

    def __init__(self, work: Callable[[int, int], None], parts: list[tuple[int, int]]) -> None:
        self.work = work
        self.todo = deque(parts)
        self.left = len(parts)  # parts not finished yet
        self.lock = threading.Lock()
        self.finished = threading.Event()
        self.errors: list[BaseException] = []

    def run(self) -> None:
        """Work on parts until none is left to start."""
        while True:
            try:
                start, stop = self.todo.popleft()  # atomic: no part is taken twice
            except IndexError:
                return
            _local.in_part = True
            try:
                self.work(start, stop)
            except BaseException as error:  # SystemExit too: the other parts go on, and
                self.errors.append(error)  # for_batch raises it once they have finished
            finally:
                _local.in_part = False
                with self.lock:
                    self.left -= 1
                    if self.left == 0:
                        self.finished.set()


def for_batch(work: Callable[[int, int], None], N: int) -> None:
    """Call ``work(start, stop)`` once for each part of a batch of N, in parallel threads.

    ``work`` writes its part of the results into arrays made beforehand; each call must touch
    only the rows [start, stop) of the batch. With one thread (or N <= 1) this is simply
    ``work(0, N)``. Otherwise the calling thread works on parts too, and takes every part that
    no other thread has started: on a busy machine, where a thread can wait a long time for a
    core, the batch then takes about as long as on one thread (measured: up to about 15%
    longer, the cost of handing out the parts and of the threads competing). An exception in a
    part is raised here, once every part has finished. Called from inside a part (a
    ``for_batch`` within ``work``), it is ``work(0, N)`` in the calling thread: that thread's
    part is already one of the batch's parts.
    """
    parts = split(N, _threads)
    if len(parts) == 1 or getattr(_local, "in_part", False):
        work(0, N)
        return
    batch = _Parts(work, parts)
    pool = _get_pool(len(parts) - 1)
    for _ in range(len(parts) - 1):
        pool.submit(batch.run)
    batch.run()
    batch.finished.wait()  # for the parts that other threads started
    batch.work = None  # a thread that starts late finds no part left, and holds no array
    if batch.errors:  # a KeyboardInterrupt or SystemExit goes before any ordinary error
        raise next((e for e in batch.errors if not isinstance(e, Exception)), batch.errors[0])
