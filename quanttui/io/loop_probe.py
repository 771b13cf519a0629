"""The load client's self-check: how late its event loop runs and how busy its process is.

A chunk is stamped when the loop gets round to reading it, so every stamp can be late by as much
as the loop is behind. A ticker asks to wake every 5 ms and records how late it woke; together
with the process's CPU and the client's `ReadStats` (chunks read, chunks that arrived coalesced)
that says, per second, whether the client itself could have bent the numbers. The ticker's own
floor is the selector's millisecond timeout (~0-1 ms late at rest).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from quanttui.core.stats import percentile
from quanttui.io.stream_outcome import ReadStats

TICK_S = 0.005


@dataclass(frozen=True)
class ProbeWindow:
    """One window of the probe: the loop's lateness, the process's CPU, what the client read."""

    seconds: float
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    cpu_pct: float  # of one core (100 = one core busy)
    in_flight: int
    reads: int
    token_chunks: int
    coalesced: int


class LoopProbe:
    """Ticks on the running loop; `window()` returns what happened since the last call."""

    def __init__(self, stats: ReadStats, tick_s: float = TICK_S) -> None:
        self.stats = stats
        self.tick_s = tick_s
        self._lags_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._wall0 = time.perf_counter()
        self._cpu0 = time.process_time()
        self._seen = ReadStats()

    def start(self) -> None:
        self._wall0, self._cpu0 = time.perf_counter(), time.process_time()
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _tick(self) -> None:
        clock = time.perf_counter  # not loop.time(): uvloop's is cached per iteration, in whole ms
        while True:
            due = clock() + self.tick_s
            await asyncio.sleep(self.tick_s)
            self._lags_ms.append(max(0.0, (clock() - due) * 1000))

    def window(self) -> ProbeWindow:
        wall, cpu = time.perf_counter(), time.process_time()
        seconds = max(wall - self._wall0, 1e-9)
        lags, self._lags_ms = self._lags_ms, []
        stats, seen = self.stats, self._seen
        window = ProbeWindow(
            seconds=round(seconds, 3),
            lag_p50_ms=round(percentile(lags, 50) or 0.0, 3),
            lag_p99_ms=round(percentile(lags, 99) or 0.0, 3),
            lag_max_ms=round(max(lags, default=0.0), 3),
            cpu_pct=round((cpu - self._cpu0) / seconds * 100, 1),
            in_flight=stats.in_flight,
            reads=stats.reads - seen.reads,
            token_chunks=stats.token_chunks - seen.token_chunks,
            coalesced=stats.coalesced - seen.coalesced,
        )
        self._seen = ReadStats(stats.reads, stats.token_chunks, stats.coalesced)
        self._wall0, self._cpu0 = wall, cpu
        return window
