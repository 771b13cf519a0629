"""Scheduler settings for the load path (io/cpu_priority.py), read back from the kernel: the
worker's short slice, and the session thread giving way and getting back what it had."""

import os
import subprocess
import sys
import threading

import pytest

from quanttui.io.cpu_priority import (
    LONG_SLICE_NS,
    SHORT_SLICE_NS,
    read_attr,
    request_short_slice,
    yield_to_workers,
)

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sched_setattr is Linux's")


def in_thread(work):
    """Run `work` on a fresh thread (the calls change only the calling thread) and return its result."""
    out = {}
    thread = threading.Thread(target=lambda: out.update(result=work()))
    thread.start()
    thread.join()
    return out["result"]


@linux_only
def test_a_worker_gets_the_shortest_slice_and_keeps_its_nice_value():
    def work():
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 3)
        return request_short_slice(), read_attr()

    failed, attr = in_thread(work)
    if failed is not None and "sched_setattr" in failed:
        pytest.skip(f"this kernel refuses a custom slice: {failed}")
    assert failed is None
    assert attr == (os.SCHED_OTHER, 3, SHORT_SLICE_NS)
    assert read_attr()[0] == os.SCHED_OTHER  # the test's own thread is untouched


@linux_only
def test_the_session_gives_way_while_workers_run_and_gets_everything_back():
    def work():
        before = read_attr()
        restore = yield_to_workers()
        during = read_attr()
        child = subprocess.run([sys.executable, "-c", "import os; print(os.sched_getscheduler(0))"],
                               capture_output=True, text=True, check=True)  # fmt: skip
        assert restore is not None
        failed = restore()
        child_after = subprocess.run([sys.executable, "-c", "import os; print(os.sched_getscheduler(0))"],
                                     capture_output=True, text=True, check=True)  # fmt: skip
        return before, during, int(child.stdout), failed, read_attr(), int(child_after.stdout)

    before, during, child_policy, failed, after, child_after = in_thread(work)
    if during[2] != LONG_SLICE_NS:
        pytest.skip(f"this kernel refuses a custom slice: {during}")
    assert during == (os.SCHED_BATCH, before[1], LONG_SLICE_NS)
    assert child_policy == os.SCHED_BATCH  # a process started meanwhile inherits it ...
    assert failed is None and after == before  # ... so it is undone afterwards (the kernel's slice too)
    assert child_after == os.SCHED_OTHER
