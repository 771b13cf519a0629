"""The host sampler measures the CPU of processes outside our trees, with real processes.

The machine is shared (other tests, other jobs): nothing here asserts a quiet baseline. What is
asserted holds however busy the box is: a spinner outside our trees adds at least half a core to
"others" (a core it shares with two other spinners still gets 2/3 of it), and a spinner inside
them is counted as ours (`cpu_pct - others_cpu_pct`, what ours was, is most of a core).
"""

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
from quanttui.core.events import GpuProcess, GpuSample, GpuUnavailable, HostSample
from quanttui.io.host_sampler import HostSampler, listening_pids, local_ports

SPIN = [sys.executable, "-c", "while True: pass"]


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def orphan_spinner():
    """A CPU spinner that is not our descendant: started in the background by a shell that exits at
    once, so its parent is init (or a subreaper), as another user's job would be."""
    shell = subprocess.run(
        ["sh", "-c", f"{sys.executable} -c 'while True: pass' >/dev/null 2>&1 & echo $!"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(shell.stdout)
    yield pid
    kill(pid)
    wait_until(lambda: gone(pid), what="the spinner to end")


@pytest.fixture
def child_spinner():
    child = subprocess.Popen(SPIN)
    yield child
    child.kill()
    child.wait()


def samples(sampler: HostSampler, count: int, gap_s: float = 0.7) -> list[HostSample]:
    """`count` samples `gap_s` apart (the sampler was primed by the caller)."""
    found = []
    for _ in range(count):
        measurement_window(gap_s)
        sample = sampler.sample()
        assert sample is not None
        found.append(sample)
    return found


def cpu_s(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def ours_s(sample: HostSample, since: float) -> float:
    """CPU seconds the sample counted as ours (host minus others) since the sample at `since`."""
    return (sample.cpu_pct - sample.others_cpu_pct) / 100 * (sample.t - since)


def others_s(sample: HostSample, since: float) -> float:
    return sample.others_cpu_pct / 100 * (sample.t - since)


def sane(sample: HostSample) -> bool:
    top = sample.cores * 100 + 1
    return 0 <= sample.others_cpu_pct <= sample.cpu_pct <= top and sample.cores == psutil.cpu_count()


def test_a_spinner_outside_our_trees_is_counted_as_others(orphan_spinner):
    sampler = HostSampler(lambda e: None, SessionClock())
    assert sampler.sample() is None  # the first read has nothing to compare with
    assert os.getpid() in sampler.our_pids() and orphan_spinner not in sampler.our_pids()
    found = samples(sampler, 3)
    assert all(sane(s) for s in found), found
    assert max(s.others_cpu_pct for s in found) >= 50, found


def test_our_children_are_ours(child_spinner):
    # quanttui's own tree: a spinner we started (as a launched engine is) is not "others"
    clock = SessionClock()
    sampler = HostSampler(lambda e: None, clock)
    start, spun = clock.now(), cpu_s(child_spinner.pid)
    sampler.sample()
    assert child_spinner.pid in sampler.our_pids()
    found = samples(sampler, 3)
    spun = cpu_s(child_spinner.pid) - spun
    assert all(sane(s) for s in found), found
    # however little of a core the spinner got on a busy box, that much was counted as ours
    counted = sum(ours_s(s, before) for before, s in zip([start, *(s.t for s in found)], found, strict=False))
    assert counted >= 0.8 * spun - 0.05, (counted, spun, found)


def test_an_engine_given_by_its_root_pid_is_ours(orphan_spinner):
    # an attached engine on this host is not our child: the session passes its root pid
    clock = SessionClock()
    sampler = HostSampler(lambda e: None, clock, roots=[orphan_spinner], include_self=False)
    start, spun = clock.now(), cpu_s(orphan_spinner)
    sampler.sample()
    assert sampler.our_pids() == {orphan_spinner}
    found = samples(sampler, 3)
    spun = cpu_s(orphan_spinner) - spun
    assert all(sane(s) for s in found), found
    counted = sum(ours_s(s, before) for before, s in zip([start, *(s.t for s in found)], found, strict=False))
    assert counted >= 0.8 * spun - 0.05, (counted, spun, found)


def test_an_attached_engine_is_found_by_its_local_port(sim_server):
    server = sim_server(model="attached")
    assert local_ports([server.url, "http://localhost:9/v1", "http://[::1]:7", "http://0.0.0.0:5"]) == (
        server.port, 9, 7, 5,
    )  # fmt: skip
    assert local_ports(["http://example.invalid:8000/v1", "http://10.255.255.1:80"]) == ()
    assert listening_pids([server.port]) == {server.pid}
    assert listening_pids([]) == set()
    sampler = HostSampler(lambda e: None, SessionClock(), ports=local_ports([server.url]), include_self=False)
    sampler.rescan()
    assert server.pid in sampler.our_pids() and os.getpid() not in sampler.our_pids()


def test_processes_that_appear_or_vanish_between_samples_give_no_negative_or_huge_numbers():
    clock = SessionClock()
    sampler = HostSampler(lambda e: None, clock)
    sampler.rescan()  # before the spinner exists
    child = subprocess.Popen(SPIN)
    try:
        measurement_window(1.0)  # it burns CPU before we know it is ours
        primed_at = clock.now()
        assert sampler.sample() is None
        past = cpu_s(child.pid)
        measurement_window(0.5)
        sampler.rescan()  # now it is ours, but its past belongs to the intervals already read
        seen_late = sampler.sample()
        during = cpu_s(child.pid) - past
        assert child.pid in sampler.our_pids()
        assert seen_late is not None and sane(seen_late), seen_late
        # not charged with its past (more than the whole interval: others would read 0); its last
        # interval is still the "others" it was while not ours
        assert ours_s(seen_late, primed_at) < past, (seen_late, past)
        assert others_s(seen_late, primed_at) >= 0.8 * during - 0.03, (seen_late, during)
        measurement_window(0.5)
        before = past + during
        counted = sampler.sample()
        assert counted is not None and sane(counted), counted
        assert ours_s(counted, seen_late.t) >= 0.8 * (cpu_s(child.pid) - before) - 0.03, counted
    finally:
        child.kill()
        child.wait()

    # vanished (killed and reaped) between two reads: skipped, nothing negative
    measurement_window(0.2)
    vanished = sampler.sample()
    assert vanished is not None and sane(vanished), vanished

    # born between two reads: counted from its birth (it spins half a second, then sleeps)
    burst = subprocess.Popen([sys.executable, "-c", BURST], stdout=subprocess.PIPE)
    try:
        assert burst.stdout.readline().strip() == b"done"
        sampler.rescan()
        born = sampler.sample()
        assert born is not None and sane(born), born
        assert ours_s(born, vanished.t) >= 0.4, (
            born,
            vanished,
        )  # its half second of CPU, however long it took
    finally:
        burst.kill()
        burst.wait()
        burst.stdout.close()


BURST = """
import time
end = time.process_time() + 0.5
while time.process_time() < end:
    pass
print("done", flush=True)
time.sleep(60)
"""


def test_gpu_processes_not_ours_are_counted_only_with_nvml(orphan_spinner):
    # No GPU here: the NVML sampler's events are made by hand (the path is untested on a real GPU).
    sampler = HostSampler(lambda e: None, SessionClock())
    sampler.sample()
    measurement_window(0.2)
    assert sampler.sample().gpu_other_processes is None  # no NVML, no GpuSample: unknown
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    processes = (GpuProcess(os.getpid(), 500.0), GpuProcess(orphan_spinner, 800.0), GpuProcess(dead.pid, 1.0))
    sampler.observe(GpuSample(t=0.0, index=0, name="gpu", mem_total_mib=1e4, mem_used_mib=1300.0,
                              util_pct=None, power_w=None, processes=processes))  # fmt: skip
    sampler.observe(GpuSample(t=0.0, index=1, name="gpu", mem_total_mib=1e4, mem_used_mib=0.0,
                              util_pct=None, power_w=None))  # fmt: skip
    measurement_window(0.2)
    # ours (this process) is not counted, nor a pid that does not exist here
    assert sampler.sample().gpu_other_processes == 1
    sampler.observe(GpuUnavailable(t=0.0, reason="NVML error: GPU is lost"))
    measurement_window(0.2)
    assert sampler.sample().gpu_other_processes is None


async def test_run_publishes_one_sample_per_interval():
    published: list[HostSample] = []
    sampler = HostSampler(published.append, SessionClock(), interval_s=0.2)
    task = asyncio.create_task(sampler.run())
    await wait_until_async(lambda: len(published) >= 3 or task.done(), what="three host samples")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert all(isinstance(s, HostSample) and sane(s) for s in published), published
    assert all(b.t - a.t >= 0.15 for a, b in pairwise(published))
    with pytest.raises(ValueError):
        HostSampler(published.append, SessionClock(), interval_s=0)
