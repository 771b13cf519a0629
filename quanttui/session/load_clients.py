"""The clients the load runner sends through, and the client's self-check on the stream.

By default the request path runs in load worker processes (io/load_pool.py): the session's own
loop folds, records, scrapes and feeds the console, and none of that (nor the console's thread
and the GIL it holds) may delay a chunk's stamp. `load_workers = 0` keeps the requests on the
session's loop (tests, or a machine where a child process cannot run); then its own probe
measures that loop. Either way a `ClientSample` per load process per second reaches the stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from quanttui.core.clock import SessionClock
from quanttui.core.events import ClientSample, Event, OperatorNote
from quanttui.io.limits import fd_limit_note
from quanttui.io.load_pool import LoadPool, LoadWorkerError, PooledClient, default_workers
from quanttui.io.loop_probe import LoopProbe, ProbeWindow
from quanttui.io.openai_client import OpenAIStreamClient, Timeouts
from quanttui.io.ray_pool import RayLoadPool
from quanttui.io.stream_outcome import ReadStats
from quanttui.session.spec import SweepConfig

SAMPLE_S = 1.0
LoadClient = OpenAIStreamClient | PooledClient


def client_sample(t: float, source: str, window: ProbeWindow) -> ClientSample:
    """A probe window on the stream: the event carries the window's fields as they are."""
    return ClientSample(t=t, source=source, **asdict(window))


class LoadClients:
    """Worker processes (`workers` > 0; None: one per 256 streams, at most one per core) or the
    session's own loop (0)."""

    def __init__(
        self,
        workers: int | None,
        max_concurrency: int,
        timeouts: Timeouts,
        publish: Callable[[Event], None],
        clock: SessionClock,
        log_path: Path | None = None,
        ray_address: str | None = None,
    ) -> None:
        """`ray_address`: run the workers as actors of that Ray cluster (io/ray_pool.py)."""
        self.workers = default_workers(max_concurrency) if workers is None else workers
        if ray_address is not None:
            self.workers = max(1, self.workers)
        self.ray_address = ray_address
        self.timeouts = timeouts
        self.publish = publish
        self.clock = clock
        self.log_path = log_path
        self.pool: LoadPool | RayLoadPool | None = None
        self.stats = ReadStats()
        self._probe: LoopProbe | None = None
        self._retired: list[LoadClient] = []
        self._sampling: asyncio.Task[None] | None = None

    @property
    def description(self) -> str:
        if isinstance(self.pool, RayLoadPool):
            return f"{self.workers} Ray load worker{'s' if self.workers > 1 else ''} ({self.pool.event_loop})"
        if self.pool is not None:
            them = "them" if self.workers > 1 else "it"
            yields = f"; the session gives way to {them}" if self.pool.session_yields else ""
            return f"{self.workers} load worker process{'es' if self.workers > 1 else ''} ({self.pool.event_loop}{yields})"
        return "the session's own event loop"

    async def start(self) -> None:
        if self.ray_address is not None:
            self.pool = RayLoadPool(self.ray_address, self.workers, self._on_sample)
            await self.pool.start()
            return
        if self.workers > 0:
            self.pool = LoadPool(self.workers, self._on_sample, self.log_path)
            await self.pool.start()
            return
        self._probe = LoopProbe(self.stats)
        self._probe.start()
        self._sampling = asyncio.create_task(self._sample_every(self._probe))

    def _on_sample(self, source: str, window: ProbeWindow) -> None:
        self.publish(client_sample(self.clock.now(), source, window))

    async def _sample_every(self, probe: LoopProbe) -> None:
        while True:
            await asyncio.sleep(SAMPLE_S)
            self._on_sample("session", probe.window())

    def client(
        self, key: str, resolved: OpenAIStreamClient, api_key: str | None, concurrency: int
    ) -> LoadClient:
        """The client for one endpoint, from the one that resolved its model."""
        if self.pool is None:
            resolved.stats = self.stats
            return resolved
        return PooledClient(
            self.pool, key, resolved.root, resolved.model, api_key, concurrency, self.timeouts
        )

    async def grow(self, client: LoadClient, api_key: str | None, concurrency: int) -> LoadClient:
        """The same endpoint's client sized to a higher concurrency (never queueing in the client)."""
        if isinstance(client, PooledClient):
            client.resize(concurrency)
            return client
        grown = OpenAIStreamClient(
            client.root, client.model, api_key, concurrency, self.timeouts, stats=self.stats
        )
        self._retired.append(client)  # closed at the end: closing it now would cut streams in flight
        return grown

    async def close(self) -> None:
        if self._sampling is not None:
            self._sampling.cancel()
            await asyncio.gather(self._sampling, return_exceptions=True)
        if self._probe is not None:
            await self._probe.stop()
        await asyncio.gather(*(c.aclose() for c in self._retired), return_exceptions=True)
        if self.pool is not None:
            await self.pool.aclose()


async def start_load_clients(
    config: SweepConfig,
    publish: Callable[[Event], None],
    clock: SessionClock,
    progress: Callable[[str], None],
) -> LoadClients:
    """The session's load clients, started; if worker processes cannot start, the session's own
    loop (said on the stream and the progress line: its timing is less trustworthy)."""
    loads = LoadClients(
        config.load_workers, config.plan.max_concurrency, config.timeouts, publish, clock,
        config.out_dir / "logs" / "load-workers.log", config.ray_address,
    )  # fmt: skip
    try:
        await loads.start()
    except LoadWorkerError as exc:
        if config.ray_address is not None:
            raise  # asked for another host's load: the session's own loop is not what was asked
        loads = LoadClients(0, config.plan.max_concurrency, config.timeouts, publish, clock)
        await loads.start()
        note = f"{exc}; requests run on the session's own event loop"
        publish(OperatorNote(t=clock.now(), text=note))
        progress(note)
    progress(f"load client: {loads.description}; {fd_limit_note()}")
    return loads
