"""cnn_lib.parallel: batches split into parts that cover it exactly, in threads, with BLAS held to
one thread and every setting restored afterwards."""

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from cnn_lib import parallel


@pytest.mark.parametrize("N", [0, 1, 2, 5, 32, 33])
@pytest.mark.parametrize("parts", [1, 2, 3, 7])
def test_split_covers_the_batch_in_order_in_near_equal_parts(N, parts):
    slices = parallel.split(N, parts)
    assert slices[0][0] == 0 and slices[-1][1] == N
    assert all(a[1] == b[0] for a, b in zip(slices, slices[1:], strict=False))  # no gap, no overlap
    sizes = [stop - start for start, stop in slices]
    assert len(slices) == max(1, min(parts, N))
    assert max(sizes) - min(sizes) <= 1


def test_threads_sets_and_restores_the_setting_and_blas():
    def blas_threads():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    before = blas_threads()
    assert parallel.get_threads() == 1
    with parallel.threads(3):
        assert parallel.get_threads() == 3
        assert all(n == 1 for n in blas_threads())
        with parallel.threads(2):
            assert parallel.get_threads() == 2
        assert parallel.get_threads() == 3
    assert parallel.get_threads() == 1
    assert blas_threads() == before


def test_settings_come_back_after_an_error():
    with pytest.raises(KeyError), parallel.threads(2):
        raise KeyError("inside")
    assert parallel.get_threads() == 1


@pytest.mark.parametrize("n, error", [(0, ValueError), (-1, ValueError), (2.0, TypeError)])
def test_threads_rejects_a_bad_count(n, error):
    with pytest.raises(error, match="threads: n must be"):
        with parallel.threads(n):
            pass


def test_for_batch_runs_every_part_once():
    calls = []

    def work(start, stop):
        calls.append((start, stop, threading.current_thread().name))

    with parallel.threads(3):
        parallel.for_batch(work, 10)
    assert sorted((a, b) for a, b, _ in calls) == [(0, 3), (3, 6), (6, 10)]
    assert {name for *_, name in calls} <= {"MainThread", *pool_names()}
    calls.clear()
    parallel.for_batch(work, 10)  # one thread: the whole batch, in the calling thread
    assert calls == [(0, 10, "MainThread")]


def pool_names():
    return [t.name for t in threading.enumerate() if t.name.startswith("cnn_lib")]


def test_for_batch_raises_a_failure_of_any_part_after_all_parts_finished():
    done = []

    def work(start, stop):
        if start == 2:
            raise ValueError(f"part {start}:{stop} failed")
        done.append(start)

    with parallel.threads(3), pytest.raises(ValueError, match="part 2:4 failed"):
        parallel.for_batch(work, 6)
    assert sorted(done) == [0, 4]


def test_a_part_that_raises_systemexit_in_a_pool_thread_does_not_hang_the_batch():
    # Any BaseException, not only Exception: the part still counts as finished, and for_batch
    # raises it. Run in a thread of its own, so that a hang fails the test instead of stopping it.
    in_pool = threading.Event()
    outcome = {}

    def work(start, stop):
        if threading.current_thread() is not caller:
            in_pool.set()
            raise SystemExit(f"part {start}:{stop} gave up")
        in_pool.wait(5)  # the calling thread's part lasts until a pool thread has taken one

    def call():
        try:
            with parallel.threads(2):
                parallel.for_batch(work, 4)
        except BaseException as error:
            outcome["error"] = error

    caller = threading.Thread(target=call)
    caller.start()
    caller.join(20)
    assert not caller.is_alive(), "for_batch did not return"
    assert in_pool.is_set()
    assert isinstance(outcome.get("error"), SystemExit)
    assert "gave up" in str(outcome["error"])


def test_for_batch_inside_a_part_runs_in_that_part_s_thread():
    # A nested for_batch, even under a larger thread count, neither grows nor waits for the pool
    # that runs the outer part (it used to shut that pool down from one of its own threads).
    calls = []

    def inner(start, stop):
        calls.append((start, stop, threading.current_thread().name))

    def outer(start, stop):
        with parallel.threads(4):
            parallel.for_batch(inner, 8)

    with parallel.threads(2):
        parallel.for_batch(outer, 2)
    assert len(calls) == 2 and all((a, b) == (0, 8) for a, b, _ in calls)
    assert len({name for *_, name in calls}) == 2  # each outer part did its inner batch itself


def test_the_calling_thread_takes_the_parts_no_other_thread_started():
    # The pool's only thread is kept busy: for_batch must not wait for it, but do every part.
    release = threading.Event()
    calls = []
    with parallel.threads(2):
        blocker = parallel._get_pool(1).submit(release.wait)
        try:
            parallel.for_batch(lambda start, stop: calls.append((start, stop)), 10)
            assert sorted(calls) == [(0, 5), (5, 10)]
        finally:
            release.set()
            blocker.result()


def test_numpy_work_in_threads_fills_the_whole_array():
    x = np.arange(1000.0).reshape(100, 10)
    y = np.empty_like(x)

    def work(start, stop):
        np.multiply(x[start:stop], 2.0, out=y[start:stop])

    with parallel.threads(4):
        parallel.for_batch(work, 100)
    np.testing.assert_array_equal(y, 2.0 * x)


def test_a_keyboard_interrupt_in_one_part_goes_before_an_error_in_another():
    def work(start, stop):
        if start == 0:
            raise ValueError("bad part")
        raise KeyboardInterrupt

    with parallel.threads(2), pytest.raises(KeyboardInterrupt):
        parallel.for_batch(work, 4)
