"""Helpers for the console-session tests: collect a stream's events, wait for a condition."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from waiting import TIMEOUT_S, wait_until_async

from quanttui.core.events import Event, ReplayStatus
from quanttui.core.loadplan import LoadPlan
from quanttui.core.stream import SessionStream
from quanttui.io.openai_client import RequestOptions, Timeouts
from quanttui.session import EndpointSpec, SweepConfig

E = TypeVar("E", bound=Event)


class Collector:
    """Every event published on a stream, in order, as it arrives (a buffering subscriber)."""

    def __init__(self, stream: SessionStream) -> None:
        self.events: list[Event] = []
        self._task = asyncio.create_task(self._run(stream.subscribe("test")))

    async def _run(self, sub: Any) -> None:
        async for batch in sub.batches():
            self.events.extend(batch)

    def of(self, cls: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, cls)]

    @property
    def replayed(self) -> list[Event]:
        """The recording's events as a replay published them (its own ReplayStatus left out)."""
        return [e for e in self.events if not isinstance(e, ReplayStatus)]

    def replay_status(self) -> ReplayStatus | None:
        """What the replay last said of itself (paused, speed, at the end)."""
        statuses = self.of(ReplayStatus)
        return statuses[-1] if statuses else None

    async def until(self, predicate: Callable[[], bool], timeout: float = TIMEOUT_S, what: str = "") -> None:
        await wait_until_async(predicate, timeout, what or str(predicate), poll=0.01)

    async def done(self) -> None:
        await self._task


def attach_config(
    tmp_path: Path, servers: dict[str, Any], plan: LoadPlan, max_tokens: int = 8
) -> SweepConfig:
    return SweepConfig(
        endpoints=tuple(EndpointSpec(name, s.url, precision=name) for name, s in servers.items()),
        plan=plan,
        options=RequestOptions(max_tokens=max_tokens, ignore_eos=True),
        timeouts=Timeouts(),
        out_dir=tmp_path,
        scrape_interval_s=0.2,
        gpu_interval_s=0.2,
    )


def recorded(path: Path) -> list[dict[str, Any]]:
    """The event lines of a recording file, as dicts."""
    return [json.loads(line) for line in path.read_text().splitlines()[1:]]
