"""How busy the host is apart from the measurement itself: one `HostSample` per interval.

Noise is measured, not guessed. Every interval the sampler reads the host's CPU time (all cores,
psutil.cpu_times) and the CPU time of *our* processes, and publishes the difference:

- `cpu_pct`: CPU time spent in processes (user + nice + system) over the interval, in % of one
  core (100 = one core busy; a 16-core box tops out at 1600). Interrupts and a hypervisor's steal
  are not processes and are left out, so the kernel's work for our own HTTP traffic is not
  charged to "others".
- `others_cpu_pct = max(0, cpu_pct - ours)`, where ours is the CPU of every process in our trees:
  quanttui's own process and its descendants (launched engines and simulators are our children),
  the engines' root pids the session knows, and, for an attached engine without known pids, the
  process listening on its local TCP port. A process counts from the interval in which it was
  first seen (born inside it: all of its CPU; older: from its first read on), so a process that
  appears or vanishes between two reads never gives a negative or a huge number.
- `gpu_other_processes` (with NVML): processes on the GPUs that are not in our trees, counted from
  the `GpuSample` events the NVML sampler publishes (`observe`); None without NVML. A pid that does
  not exist in this pid namespace (NVML reports the host's pids inside a container) is not
  counted. Untested on a real GPU (none here).

The trees are re-read every `rescan_s` (a scan reads every process of the host) and when one of
their processes is gone, in a worker thread; between scans a sample reads one /proc file per
process of ours. The sampler never raises: a process that vanished mid-read is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import psutil

from quanttui.core.clock import SessionClock
from quanttui.core.events import Event, GpuSample, GpuUnavailable, HostSample


class HostSampler:
    """`roots`: engine root pids (their trees are ours); `ports`: local TCP ports whose listening
    process is an engine (attached engines on this host); `include_self`: quanttui's own tree."""

    def __init__(
        self,
        publish: Callable[[Event], None],
        clock: SessionClock,
        interval_s: float = 1.0,
        roots: Iterable[int] = (),
        ports: Iterable[int] = (),
        include_self: bool = True,
        rescan_s: float = 5.0,
    ) -> None:
        if not interval_s > 0:
            raise ValueError("host sampling interval must be > 0")
        self._publish = publish
        self._clock = clock
        self.interval_s = interval_s
        self.rescan_s = rescan_s
        self.roots = tuple(dict.fromkeys([*([os.getpid()] if include_self else []), *roots]))
        self.ports = tuple(dict.fromkeys(ports))
        self.cores = psutil.cpu_count() or 1
        self._tree: dict[int, psutil.Process] = {}
        self._scanned_at: float | None = None
        self._cpu: dict[tuple[int, float], float] = {}  # (pid, created): CPU seconds at the previous sample
        self._last: tuple[float, float, float] | None = None  # (since boot, host busy s, host total s)
        self._gpu: dict[int, frozenset[int]] = {}  # device index: pids on it (latest GpuSample)

    # -- whose processes are ours -----------------------------------------------------------------
    def rescan_due(self) -> bool:
        if self._scanned_at is None or time.monotonic() - self._scanned_at >= self.rescan_s:
            return True
        return not all(_running(p) for p in self._tree.values())

    def rescan(self) -> None:
        """Read our trees again: every process whose ancestry reaches one of our roots."""
        roots = set(self.roots) | listening_pids(self.ports)
        children: dict[int, list[int]] = {}
        for process in psutil.process_iter(["ppid"]):
            ppid = process.info.get("ppid")
            if ppid is not None:
                children.setdefault(ppid, []).append(process.pid)
        tree: dict[int, psutil.Process] = {}
        pending = list(roots)
        while pending:
            pid = pending.pop()
            if pid in tree:
                continue
            known = self._tree.get(pid)
            try:
                tree[pid] = known if known is not None and known.is_running() else psutil.Process(pid)
            except psutil.Error:
                continue
            pending.extend(children.get(pid, ()))
        self._tree = tree
        self._scanned_at = time.monotonic()

    def our_pids(self) -> frozenset[int]:
        return frozenset(self._tree)

    # -- GPU processes (NVML) ----------------------------------------------------------------------
    def observe(self, event: Event) -> None:
        """Feed it the NVML sampler's events: the latest GpuSample of each device says who is on it."""
        if isinstance(event, GpuSample):
            self._gpu[event.index] = frozenset(p.pid for p in event.processes)
        elif isinstance(event, GpuUnavailable):
            self._gpu.clear()

    def _gpu_others(self) -> int | None:
        if not self._gpu:
            return None
        on_gpu = frozenset().union(*self._gpu.values()) - self.our_pids()
        return sum(1 for pid in on_gpu if psutil.pid_exists(pid))

    # -- one sample --------------------------------------------------------------------------------
    def sample(self) -> HostSample | None:
        """Host and our CPU since the previous call; None on the first call (nothing to compare)."""
        if self._scanned_at is None:
            self.rescan()
        wall = _since_boot()
        times = psutil.cpu_times()
        busy = times.user + times.nice + times.system  # guest time is inside user already
        total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
        previous, self._last = self._last, (wall, busy, total)
        ours = self._ours_delta(previous[0] if previous else None)
        if previous is None:
            return None
        spent, elapsed = busy - previous[1], total - previous[2]
        wall_s = wall - previous[0]
        if elapsed <= 0 or wall_s <= 0:
            return None
        host_pct = min(max(0.0, spent / elapsed), 1.0) * self.cores * 100
        ours_pct = ours / wall_s * 100
        return HostSample(
            t=self._clock.now(),
            cpu_pct=round(host_pct, 1),
            others_cpu_pct=round(max(0.0, host_pct - ours_pct), 1),
            cores=self.cores,
            gpu_other_processes=self._gpu_others(),
        )

    def _ours_delta(self, since: float | None) -> float:
        """CPU seconds our processes used since the previous sample (`since`, seconds since boot):
        a pid seen for the first time counts from its birth if it was born after `since`, else from
        now on. Both times are counted from boot, as the kernel stamps a process's start (in clock
        ticks: hence the tick of slack)."""
        spent = 0.0
        seen: dict[tuple[int, float], float] = {}
        boot = psutil.boot_time()
        for pid, process in self._tree.items():
            try:
                with process.oneshot():
                    cpu = process.cpu_times()
                    now = cpu.user + cpu.system
                    created = process.create_time() - boot
            except psutil.Error:
                continue  # gone: its last moments are not counted (others read high, never negative)
            before = self._cpu.get((pid, created))  # a reused pid is another process
            if before is None:
                before = 0.0 if since is not None and created >= since - 0.02 else now
            spent += max(0.0, now - before)
            seen[(pid, created)] = now
        self._cpu = seen
        return spent

    async def run(self) -> None:
        """Sample until cancelled; the trees are re-read in a worker thread."""
        while True:
            started = time.perf_counter()
            try:
                if self.rescan_due():
                    await asyncio.to_thread(self.rescan)
                sample = self.sample()
            except Exception:  # a sampler that raised would end the session's collectors
                sample = None
            if sample is not None:
                self._publish(sample)
            await asyncio.sleep(max(0.0, self.interval_s - (time.perf_counter() - started)))


def local_ports(urls: Iterable[str]) -> tuple[int, ...]:
    """The TCP ports of the URLs that point at this host (loopback, unspecified or one of its own
    addresses); names other than localhost are not resolved."""
    own = {
        address.address.split("%")[0] for addresses in psutil.net_if_addrs().values() for address in addresses
    }
    ports = []
    for url in urls:
        with contextlib.suppress(ValueError):
            parts = urlsplit(url)
            host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
            if host == "localhost" or host in own or _loopback(host):
                ports.append(port)
    return tuple(dict.fromkeys(ports))


def listening_pids(ports: Iterable[int]) -> set[int]:
    """Pids listening on these local TCP ports (only processes we may read are seen)."""
    wanted = set(ports)
    if not wanted:
        return set()
    try:
        connections = psutil.net_connections("tcp")
    except psutil.Error:
        return set()
    return {
        c.pid
        for c in connections
        if c.status == psutil.CONN_LISTEN and c.pid is not None and c.laddr and c.laddr.port in wanted
    }


def _loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _since_boot() -> float:
    if hasattr(time, "CLOCK_BOOTTIME"):  # Linux: the clock a process's start time is counted on
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    return time.time() - psutil.boot_time()


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running()
    except psutil.Error:
        return False
