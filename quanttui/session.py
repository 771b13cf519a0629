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
from quanttui.core.events import EndpointInfo, SweepFinished
from quanttui.core.loadplan import LoadPlan
from quanttui.core.prompts import Prompt
from quanttui.core.recording import RecordingError, RecordingHeader
from quanttui.core.stream import SessionStream, Subscription
from quanttui.core.summary import build_summary
from quanttui.io.export import write_sweep_csv
from quanttui.io.host import host_facts
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
    specs: tuple[EndpointSpec, ...], clients: dict[str, OpenAIStreamClient], clock: SessionClock
) -> list[EndpointInfo]:
    """Ask every endpoint for its models at once; any unreachable endpoint fails the whole start."""

    async def one(spec: EndpointSpec) -> EndpointInfo:
        client = clients[spec.name]
        models = await client.list_models()
        model = spec.model or models[0]
        client.model = model
        precision = spec.precision if spec.precision is not None else guess_precision(spec.name, model)
        return EndpointInfo(
            t=clock.now(), variant=spec.name, url=client.root, model=model, precision=precision
        )

    return list(await asyncio.gather(*(one(s) for s in specs)))


async def run_sweep(
    config: SweepConfig, prompts: list[Prompt], progress: Callable[[str], None] | None = None
) -> SessionResult:
    progress = progress or (lambda line: None)
    clock = SessionClock()
    started_utc = datetime.now(UTC).isoformat(timespec="seconds")
    api_key = read_api_key(config.api_key_env)
    clients = {
        spec.name: OpenAIStreamClient(
            spec.url, spec.model or "", api_key, config.plan.max_concurrency, config.timeouts
        )
        for spec in config.endpoints
    }
    try:
        resolved = await resolve_endpoints(config.endpoints, clients, clock)
    except BaseException:
        await asyncio.gather(*(c.aclose() for c in clients.values()))
        raise

    header = RecordingHeader(
        started_utc=started_utc,
        quanttui=__version__,
        config=config.header_config(resolved),
        host=host_facts(),
    )
    stream = SessionStream()
    aggregator = Aggregator(config.plan)
    recorder = Recorder(config.out_dir / "recording.jsonl", header)
    recorder.open()
    consumers = [
        asyncio.create_task(recorder.run(stream.subscribe("recorder"))),
        asyncio.create_task(_feed(aggregator, stream.subscribe("aggregator"))),
    ]
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
        stream.close()
        await asyncio.gather(*consumers)

    summary = build_summary(header.config, aggregator)
    csv_path = config.out_dir / "sweep.csv"
    write_sweep_csv(aggregator.all_step_stats(), csv_path)
    return SessionResult(summary, recorder.path, csv_path, interrupted=interrupted)


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
