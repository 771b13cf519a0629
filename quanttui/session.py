"""Wires a session: which collectors run, the stream, and its consumers.

A live sweep and a replay differ only in what publishes onto the stream (the runner, scrapers
and samplers, or the replayer); the aggregator and the summary are the same code for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quanttui import __version__
from quanttui.core.aggregate import Aggregator
from quanttui.core.clock import SessionClock
from quanttui.core.engine_log import Phase
from quanttui.core.events import EndpointInfo, Event, InstanceState, SweepFinished
from quanttui.core.loadplan import LoadPlan
from quanttui.core.prompts import Prompt
from quanttui.core.recording import RecordingError, RecordingHeader
from quanttui.core.stream import SessionStream, Subscription
from quanttui.core.summary import build_summary
from quanttui.io.config import VariantConfig
from quanttui.io.export import write_sweep_csv
from quanttui.io.host import host_facts
from quanttui.io.launcher import Launcher
from quanttui.io.load_runner import LoadRunner, Target
from quanttui.io.metrics import MetricsScraper
from quanttui.io.nvml import NvmlSampler
from quanttui.io.openai_client import EndpointError, OpenAIStreamClient, RequestOptions, Timeouts
from quanttui.io.recording_file import Recorder, Replayer

_PRECISION_HINTS = ("awq", "gptq", "gguf", "bf16", "fp16", "fp8", "int8", "int4", "rtn")


def guess_precision(*names: str) -> str:
    for name in names:
        lowered = name.lower()
        for hint in _PRECISION_HINTS:
            if hint in lowered:
                return hint
    return ""


@dataclass(frozen=True)
class EndpointSpec:
    name: str
    url: str
    model: str | None = None
    precision: str | None = None


@dataclass(frozen=True)
class SweepConfig:
    endpoints: tuple[EndpointSpec, ...]
    plan: LoadPlan
    options: RequestOptions
    timeouts: Timeouts
    out_dir: Path
    prompts_source: str = "embedded default"
    api_key_env: str | None = None
    scrape_interval_s: float = 1.0
    gpu_interval_s: float = 1.0

    def header_config(self, resolved: list[EndpointInfo]) -> dict[str, Any]:
        """The resolved configuration for the recording header: never the API key itself."""
        return {
            "command": "sweep",
            "endpoints": [
                {"name": e.variant, "url": e.url, "model": e.model, "precision": e.precision}
                for e in resolved
            ],
            "plan": self.plan.to_dict(),
            "request": {
                "max_tokens": self.options.max_tokens,
                "temperature": self.options.temperature,
                "seed": self.options.seed,
                "ignore_eos": self.options.ignore_eos,
            },
            "timeouts": {
                "connect_s": self.timeouts.connect_s,
                "first_token_s": self.timeouts.first_token_s,
                "idle_s": self.timeouts.idle_s,
                "total_s": self.timeouts.total_s,
            },
            "prompts": self.prompts_source,
            "api_key_env": self.api_key_env,
            "scrape_interval_s": self.scrape_interval_s,
        }


@dataclass
class SessionResult:
    summary: dict[str, Any]
    recording: Path | None = None
    csv: Path | None = None
    warnings: list[str] = field(default_factory=list)
    interrupted: bool = False


async def _feed(aggregator: Aggregator, subscription: Subscription) -> None:
    async for batch in subscription.batches():
        for event in batch:
            aggregator.consume(event)


def read_api_key(env_var: str | None) -> str | None:
    if not env_var:
        return None
    value = os.environ.get(env_var)
    if not value:
        raise EndpointError(f"--api-key-env {env_var}: the environment variable is not set")
    return value


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


class _LiveSession:
    """The stream of one live session with its recorder and aggregator attached."""

    def __init__(self, clock: SessionClock, header: RecordingHeader, out_dir: Path, plan: LoadPlan) -> None:
        self.clock = clock
        self.header = header
        self.out_dir = out_dir
        self.stream = SessionStream()
        self.aggregator = Aggregator(plan)
        self.recorder = Recorder(out_dir / "recording.jsonl", header)
        self.recorder.open()
        self._consumers = [
            asyncio.create_task(self.recorder.run(self.stream.subscribe("recorder"))),
            asyncio.create_task(_feed(self.aggregator, self.stream.subscribe("aggregator"))),
        ]

    async def close(self, interrupted: bool) -> SessionResult:
        self.stream.close()
        await asyncio.gather(*self._consumers)
        summary = build_summary(self.header.config, self.aggregator)
        csv_path = self.out_dir / "sweep.csv"
        write_sweep_csv(self.aggregator.all_step_stats(), csv_path)
        return SessionResult(summary, self.recorder.path, csv_path, interrupted=interrupted)


def _make_clients(config: SweepConfig, specs: tuple[EndpointSpec, ...]) -> dict[str, OpenAIStreamClient]:
    api_key = read_api_key(config.api_key_env)
    return {
        spec.name: OpenAIStreamClient(
            spec.url, spec.model or "", api_key, config.plan.max_concurrency, config.timeouts
        )
        for spec in specs
    }


async def _drive(
    session: _LiveSession,
    config: SweepConfig,
    resolved: list[EndpointInfo],
    clients: dict[str, OpenAIStreamClient],
    prompts: list[Prompt],
    progress: Callable[[str], None],
) -> bool:
    """Run the ramp with its scrapers and sampler; True when interrupted."""
    clock, stream = session.clock, session.stream
    for info in resolved:
        stream.publish(info)
        progress(f"{info.variant}: {info.url} model={info.model} precision={info.precision or '?'}")
    background = [asyncio.create_task(NvmlSampler(stream.publish, clock, config.gpu_interval_s).run())]
    background += [
        asyncio.create_task(
            MetricsScraper(info.variant, info.url, stream.publish, clock, config.scrape_interval_s).run()
        )
        for info in resolved
    ]
    targets = [Target(info.variant, info.precision, clients[info.variant]) for info in resolved]
    runner = LoadRunner(targets, config.plan, prompts, config.options, stream.publish, clock, progress)
    interrupted = False
    try:
        await runner.run()
    except asyncio.CancelledError:
        interrupted = True
        stream.publish(SweepFinished(t=clock.now(), reason="interrupted"))
    finally:
        for task in background:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*background, return_exceptions=True)
        await asyncio.gather(*(c.aclose() for c in clients.values()), return_exceptions=True)
    return interrupted


def _header(config: dict[str, Any]) -> RecordingHeader:
    return RecordingHeader(
        started_utc=datetime.now(UTC).isoformat(timespec="seconds"),
        quanttui=__version__,
        config=config,
        host=host_facts(),
    )


async def run_sweep(
    config: SweepConfig, prompts: list[Prompt], progress: Callable[[str], None] | None = None
) -> SessionResult:
    """Attach to running endpoints and sweep them; nothing is written if an endpoint is unreachable."""
    progress = progress or (lambda line: None)
    clock = SessionClock()
    clients = _make_clients(config, config.endpoints)
    try:
        resolved = await resolve_endpoints(config.endpoints, clients, clock)
    except BaseException:
        await asyncio.gather(*(c.aclose() for c in clients.values()))
        raise
    session = _LiveSession(clock, _header(config.header_config(resolved)), config.out_dir, config.plan)
    interrupted = await _drive(session, config, resolved, clients, prompts, progress)
    return await session.close(interrupted)


async def run_launched_sweep(
    variants: list[VariantConfig],
    config: SweepConfig,
    prompts: list[Prompt],
    progress: Callable[[str], None] | None = None,
    extra_header: dict[str, Any] | None = None,
) -> SessionResult:
    """Launch the variants' engines, sweep the ones that became ready, and stop them all.

    The recording starts before the first engine does, so start-up phases, log lines and
    failures are part of it. Engines are stopped on every way out of this function.
    """
    progress = progress or (lambda line: None)
    clock = SessionClock()
    header_config = config.header_config([])
    del header_config["endpoints"]  # the engines' endpoints are known once they are ready
    header_config.update(command="run", variants=[v.public() for v in variants], **(extra_header or {}))
    session = _LiveSession(clock, _header(header_config), config.out_dir, config.plan)
    launcher = Launcher(
        _echo_states(session.stream.publish, progress), clock, log_dir=config.out_dir / "logs"
    )
    interrupted = False
    try:
        try:
            engines = await launcher.start_all(variants)
        except asyncio.CancelledError:
            interrupted = True
            engines = {}
        ready = [e for e in engines.values() if e.phase == Phase.READY]
        if ready and not interrupted:
            specs = tuple(
                EndpointSpec(e.config.name, e.config.url, e.config.served_name, e.config.precision or None)
                for e in ready
            )
            clients = _make_clients(config, specs)
            pids = {e.config.name: e.pids() for e in ready}
            try:
                resolved = await resolve_endpoints(specs, clients, clock, pids)
            except BaseException:
                await asyncio.gather(*(c.aclose() for c in clients.values()))
                raise
            interrupted = await _drive(session, config, resolved, clients, prompts, progress)
        elif not interrupted:
            session.stream.publish(SweepFinished(t=clock.now(), reason="no_engine_ready"))
    finally:
        progress("stopping engines")
        await asyncio.shield(launcher.stop_all())
    return await session.close(interrupted)


def _echo_states(
    publish: Callable[[Event], None], progress: Callable[[str], None]
) -> Callable[[Event], None]:
    """Publish, and echo engine state changes as progress lines for headless runs."""

    def both(event: Event) -> None:
        publish(event)
        if isinstance(event, InstanceState):
            detail = f": {event.detail}" if event.detail and event.state != "launching" else ""
            progress(f"[{event.variant}] {event.state}{detail}")

    return both


async def replay_headless(path: Path) -> SessionResult:
    """Feed a recording through the same stream and aggregator as fast as possible."""
    replayer = Replayer(path, speed=None)
    recording, events = replayer.open()
    plan_data = recording.header.config.get("plan")
    try:
        plan = LoadPlan.from_dict(plan_data) if isinstance(plan_data, dict) else None
    except (ValueError, KeyError, TypeError) as exc:
        raise RecordingError(f"{path}:1: field 'config.plan': {exc}") from None
    stream = SessionStream()
    aggregator = Aggregator(plan)
    consumer = asyncio.create_task(_feed(aggregator, stream.subscribe("aggregator")))
    try:
        await replayer.run(stream, events)
    finally:
        stream.close()
        await consumer
    return SessionResult(build_summary(recording.header.config, aggregator), warnings=recording.warnings)
