"""The process sampler reads RSS and CPU of real process trees; vanished processes are skipped."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from itertools import pairwise

import psutil
import pytest
from waiting import measurement_window, wait_until, wait_until_async

from quanttui.core.clock import SessionClock
from quanttui.core.events import ProcessSample
from quanttui.io.process_sampler import ProcessSampler

# A parent holding ~60 MiB that starts a busy child, prints the child's pid, then sleeps.
TREE = """
import subprocess, sys, time
ballast = bytearray(60 * 1024 * 1024)
for i in range(0, len(ballast), 4096):
    ballast[i] = 1
child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
print(child.pid, flush=True)
time.sleep(60)  # stays alive (and idle) until the test kills it
"""


def zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def tree():
    parent = subprocess.Popen([sys.executable, "-c", TREE], stdout=subprocess.PIPE, start_new_session=True)
    child = int(parent.stdout.readline())
    yield parent.pid, child
    for pid in (child, parent.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    parent.wait()
    parent.stdout.close()


def test_a_tree_is_summed_and_cpu_comes_from_the_second_sample(tree):
    parent, child = tree
    published = []
    sampler = ProcessSampler({"bf16": (parent,)}, published.append, SessionClock())
    first = sampler.sample("bf16")
    assert first is not None and first.variant == "bf16"
    assert first.pids == 2 and first.rss_mib > 60 and first.cpu_pct is None
    measurement_window(0.5)  # the window the CPU share is measured over
    second = sampler.sample("bf16")
    # the busy child: a whole core when the machine is quiet, less when it has to share (2/3 of one
    # with two other spinners on 2 cores); the idle parent alone is near 0
    assert second.pids == 2 and second.cpu_pct is not None and second.cpu_pct > 25

    os.kill(child, signal.SIGKILL)  # its parent never reaps it: a zombie, which is not counted
    wait_until(lambda: zombie(child), what="the killed child to be a zombie")
    third = sampler.sample("bf16")
    assert third.pids == 1 and third.cpu_pct is not None and third.cpu_pct < 20

    os.kill(parent, signal.SIGKILL)
    wait_until(lambda: zombie(parent), what="the killed parent to be a zombie")  # reaped by the fixture
    assert sampler.sample("bf16") is None
    assert sampler.sample_all() == [] and published == []


def test_unknown_and_vanished_pids_never_raise():
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    sampler = ProcessSampler({"gone": (done.pid,), "none": ()}, lambda e: None, SessionClock())
    assert sampler.roots == {"gone": (done.pid,)}
    assert sampler.sample("gone") is None and sampler.sample("nobody") is None
    assert sampler.sample_all() == []
    with pytest.raises(ValueError):
        ProcessSampler({}, lambda e: None, SessionClock(), interval_s=0)


async def test_run_publishes_one_sample_per_variant_and_interval(tree):
    parent, _ = tree
    published: list[ProcessSample] = []
    sampler = ProcessSampler({"a": (parent,), "b": (os.getpid(),)}, published.append, SessionClock(), 0.1)
    task = asyncio.create_task(sampler.run())
    await wait_until_async(lambda: len(published) >= 6 or task.done(), what="three rounds of samples")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    by_variant = {name: [s for s in published if s.variant == name] for name in ("a", "b")}
    assert len(by_variant["a"]) >= 3 and len(by_variant["b"]) == len(by_variant["a"])
    times = [s.t for s in by_variant["a"]]
    assert all(b - a >= 0.09 for a, b in pairwise(times)), times  # one round per interval, never faster
    assert by_variant["a"][-1].cpu_pct is not None
    assert all(s.t >= 0 for s in published)
