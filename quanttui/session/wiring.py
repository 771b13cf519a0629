"""The parts every live session shares: its stream with recorder and aggregator attached,
the clients, endpoint discovery, the recording header."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quanttui import __version__
from quanttui.core.aggregate import Aggregator
from quanttui.core.clock import SessionClock
from quanttui.core.events import (
    EndpointInfo,
    Event,
    InstanceState,
    OperatorCommand,
    ReplayReset,
)
from quanttui.core.loadplan import LoadPlan, Slo, SloMetric
from quanttui.core.recording import RecordingHeader
from quanttui.core.stream import SessionStream, Subscription
from quanttui.core.summary import build_summary
from quanttui.io.export import write_sweep_csv
from quanttui.io.host import host_facts
from quanttui.io.openai_client import OpenAIStreamClient
from quanttui.io.recording_file import Recorder
from quanttui.session.spec import EndpointSpec, SessionResult, SweepConfig, guess_precision


class SessionFold:
    """The session's aggregator as the stream feeds it. A `ReplayReset` (a replay seeking backwards)
    starts it over; an operator's `set_slo` applies to its statistics as it did to the stop rules,
    so a live run and its replay summarise alike."""

    def __init__(self, plan: LoadPlan | None) -> None:
        self._plan = plan
        self.aggregator = Aggregator(plan)

    def consume(self, event: Event) -> None:
        if isinstance(event, ReplayReset):
            self.aggregator = Aggregator(self._plan)
            return
        if isinstance(event, OperatorCommand) and event.command == "set_slo":
            self._set_slo(event.value)
        self.aggregator.consume(event)

    def _set_slo(self, p95_ms: float | None) -> None:
        plan = self.aggregator.plan
        if plan is None or p95_ms is None or not p95_ms > 0:
            return
        metric = plan.slo.metric if plan.slo else SloMetric.E2E
        self.aggregator.plan = replace(plan, slo=Slo(p95_ms, metric))


async def feed_fold(fold: SessionFold, subscription: Subscription) -> None:
    async for batch in subscription.batches():
        for event in batch:
            fold.consume(event)


async def resolve_endpoints(
    specs: tuple[EndpointSpec, ...],
    clients: dict[str, OpenAIStreamClient],
    clock: SessionClock,
    pids: dict[str, tuple[int, ...]] | None = None,
) -> list[EndpointInfo]:
    """Ask every endpoint for its models at once; any unreachable endpoint fails the whole start."""

    async def one(spec: EndpointSpec) -> EndpointInfo:
        client = clients[spec.name]
        models = await client.list_models()
        model = spec.model or models[0]
        client.model = model
        precision = spec.precision if spec.precision is not None else guess_precision(spec.name, model)
        return EndpointInfo(
            t=clock.now(),
            variant=spec.name,
            url=client.root,
            model=model,
            precision=precision,
            pids=(pids or {}).get(spec.name, ()),
        )

    return list(await asyncio.gather(*(one(s) for s in specs)))


class LiveStreams:
    """The stream of one live session with its recorder and aggregator attached.

    Both subscribe at once, so nothing published before `start()` is lost; the recording file is
    created by `start()` (an attached sweep writes nothing when an endpoint is unreachable)."""

    def __init__(self, clock: SessionClock, out_dir: Path, plan: LoadPlan) -> None:
        self.clock = clock
        self.out_dir = out_dir
        self.stream = SessionStream()
        self.fold = SessionFold(plan)
        self.recorder: Recorder | None = None
        self.header: RecordingHeader | None = None
        self._recorder_sub = self.stream.subscribe("recorder")
        self._aggregator_sub = self.stream.subscribe("aggregator")
        self._consumers: list[asyncio.Task[None]] = []

    def start(self, header: RecordingHeader) -> None:
        self.header = header
        self.recorder = Recorder(self.out_dir / "recording.jsonl", header)
        try:
            self.recorder.open()
        except BaseException:
            self.stream.close()  # subscribers (a console) end instead of waiting forever
            raise
        self._consumers = [
            asyncio.create_task(self.recorder.run(self._recorder_sub)),
            asyncio.create_task(feed_fold(self.fold, self._aggregator_sub)),
        ]

    async def drain(self) -> None:
        """Close the stream and let the recorder write what it has."""
        self.stream.close()
        await asyncio.gather(*self._consumers)

    async def close(self, interrupted: bool) -> SessionResult:
        await self.drain()
        assert self.header is not None and self.recorder is not None
        aggregator = self.fold.aggregator
        summary = build_summary(self.header.config, aggregator)
        csv_path = self.out_dir / "sweep.csv"
        write_sweep_csv(aggregator.all_step_stats(), csv_path)
        return SessionResult(summary, self.recorder.path, csv_path, interrupted=interrupted)


def make_clients(
    config: SweepConfig, specs: tuple[EndpointSpec, ...], api_key: str | None
) -> dict[str, OpenAIStreamClient]:
    return {
        spec.name: OpenAIStreamClient(
            spec.url, spec.model or "", api_key, config.plan.max_concurrency, config.timeouts
        )
        for spec in specs
    }


async def close_clients(clients: Iterable[OpenAIStreamClient]) -> None:
    await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)


def new_header(config: dict[str, Any]) -> RecordingHeader:
    return RecordingHeader(
        started_utc=datetime.now(UTC).isoformat(timespec="seconds"),
        quanttui=__version__,
        config=config,
        host=host_facts(),
    )


def quiet(line: str) -> None:
    pass


def echo_states(publish: Callable[[Event], None], progress: Callable[[str], None]) -> Callable[[Event], None]:
    """Publish, and echo engine state changes as progress lines for headless runs."""

    def both(event: Event) -> None:
        publish(event)
        if isinstance(event, InstanceState):
            detail = f": {event.detail}" if event.detail and event.state != "launching" else ""
            progress(f"[{event.variant}] {event.state}{detail}")

    return both
