"""Host memory and CPU of each engine's process tree, for consoles on machines without NVML.

Every interval, for each variant, the sampler reads the process tree under the engine's root pid
(API server, engine core, workers) and publishes one `ProcessSample`: resident memory summed over the tree (MiB), CPU summed
over the tree (percent of one core; None until a process has been seen twice) and the number of
processes. A process that vanished between two reads is skipped; the sampler never raises.

Finding a tree's children scans every process of the host, so the tree is re-read only every
`rescan_s` seconds (vLLM spawns its workers during start-up) or when one of its processes is gone;
in between a sample reads a handful of /proc files (well under a millisecond on the event loop).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence

import psutil

from quanttui.core.clock import SessionClock
from quanttui.core.events import Event, ProcessSample

_MIB = 1024 * 1024


class ProcessSampler:
    """`roots` maps a variant to the root pid(s) of its engine (EndpointInfo.pids[0] or Engine.pid)."""

    def __init__(
        self,
        roots: Mapping[str, Sequence[int]],
        publish: Callable[[Event], None],
        clock: SessionClock,
        interval_s: float = 1.0,
        rescan_s: float = 5.0,
    ) -> None:
        if not interval_s > 0:
            raise ValueError("process sampling interval must be > 0")
        self.roots = {name: tuple(pids) for name, pids in roots.items() if pids}
        self._publish = publish
        self._clock = clock
        self.interval_s = interval_s
        self.rescan_s = rescan_s
        self._trees: dict[str, tuple[float, list[psutil.Process]]] = {}  # variant: (read at, processes)
        # psutil.Process objects are kept between samples: cpu_percent() measures since the last call.
        self._known: dict[int, psutil.Process] = {}
        self._primed: set[int] = set()  # pids whose Process has had a first cpu_percent() call

    def _tree(self, variant: str) -> list[psutil.Process]:
        cached = self._trees.get(variant)
        now = time.monotonic()
        if cached and now - cached[0] < self.rescan_s and all(_running(p) for p in cached[1]):
            return cached[1]
        tree = self._scan(self.roots.get(variant, ()))
        self._trees[variant] = (now, tree)
        return tree

    def _scan(self, roots: Sequence[int]) -> list[psutil.Process]:
        found: dict[int, psutil.Process] = {}
        for pid in roots:
            try:
                root = self._process(pid)
                found[root.pid] = root
                for child in root.children(recursive=True):
                    found.setdefault(child.pid, self._process(child.pid, child))
            except psutil.Error:
                continue  # gone, or not ours to read
        return list(found.values())

    def _process(self, pid: int, fresh: psutil.Process | None = None) -> psutil.Process:
        known = self._known.get(pid)
        if known is not None and known.is_running():  # is_running() also catches a reused pid
            return known
        process = fresh or psutil.Process(pid)
        self._known[pid] = process
        self._primed.discard(pid)
        return process

    def sample(self, variant: str) -> ProcessSample | None:
        """One variant's tree, read now; None when none of its processes is alive."""
        rss = 0
        cpu: float | None = None
        count = 0
        for process in self._tree(variant):
            try:
                with process.oneshot():
                    if process.status() == psutil.STATUS_ZOMBIE:
                        continue
                    pct = process.cpu_percent(interval=None)
                    memory = process.memory_info().rss
            except psutil.Error:
                continue
            rss += memory
            count += 1
            if process.pid in self._primed:
                cpu = (cpu or 0.0) + pct
            self._primed.add(process.pid)
        if not count:
            return None
        return ProcessSample(
            t=self._clock.now(),
            variant=variant,
            rss_mib=round(rss / _MIB, 1),
            cpu_pct=None if cpu is None else round(cpu, 1),
            pids=count,
        )

    def sample_all(self) -> list[ProcessSample]:
        samples = []
        for variant in self.roots:
            try:
                sample = self.sample(variant)
            except Exception:  # a sampler that raised would end the session's collectors
                sample = None
            if sample is not None:
                samples.append(sample)
        alive = {p.pid for p in self._known.values() if _running(p)}
        self._known = {pid: p for pid, p in self._known.items() if pid in alive}
        self._primed &= alive
        return samples

    async def run(self) -> None:
        """Sample until cancelled."""
        while True:
            for sample in self.sample_all():
                self._publish(sample)
            await asyncio.sleep(self.interval_s)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running()
    except psutil.Error:
        return False
