"""Wires a session: which collectors run, the stream, and its consumers.

A live sweep and a replay differ only in what publishes onto the stream (the runner, scrapers
and samplers, or the replayer); the aggregator and the summary are the same code for both.
`LiveSession` and `ReplaySession` are the one implementation: the headless commands run them
straight through (`run_sweep`, `run_launched_sweep`, `replay_headless`), the console drives them
(`quanttui.console_session`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quanttui import __version__
from quanttui.core.aggregate import Aggregator
from quanttui.core.clock import SessionClock
from quanttui.core.engine_log import Phase
from quanttui.core.events import (
    EndpointInfo,
    Event,
    InstanceState,
    OperatorCommand,
    ReplayReset,
    SweepFinished,
)
from quanttui.core.loadplan import LoadPlan, Slo, SloMetric
from quanttui.core.prompts import Prompt
from quanttui.core.recording import RecordingError, RecordingHeader
from quanttui.core.stream import SessionStream, Subscription
from quanttui.core.summary import build_summary
from quanttui.io.config import VariantConfig
from quanttui.io.export import write_sweep_csv
from quanttui.io.host import host_facts
from quanttui.io.launcher import Engine, Launcher
from quanttui.io.load_runner import LoadRunner, RampControl, Target
from quanttui.io.metrics import MetricsScraper
from quanttui.io.nvml import NvmlSampler
from quanttui.io.openai_client import EndpointError, OpenAIStreamClient, RequestOptions, Timeouts
from quanttui.io.process_sampler import ProcessSampler
from quanttui.io.recording_file import Recorder
from quanttui.io.replay_control import ControlledReplayer, last_event_t

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


class _Fold:
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


async def _feed(fold: _Fold, subscription: Subscription) -> None:
    async for batch in subscription.batches():
        for event in batch:
            fold.consume(event)


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
    """The stream of one live session with its recorder and aggregator attached.

    Both subscribe at once, so nothing published before `start()` is lost; the recording file is
    created by `start()` (an attached sweep writes nothing when an endpoint is unreachable)."""

    def __init__(self, clock: SessionClock, out_dir: Path, plan: LoadPlan) -> None:
        self.clock = clock
        self.out_dir = out_dir
        self.stream = SessionStream()
        self.fold = _Fold(plan)
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
            asyncio.create_task(_feed(self.fold, self._aggregator_sub)),
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


def _make_clients(
    config: SweepConfig, specs: tuple[EndpointSpec, ...], api_key: str | None
) -> dict[str, OpenAIStreamClient]:
    return {
        spec.name: OpenAIStreamClient(
            spec.url, spec.model or "", api_key, config.plan.max_concurrency, config.timeouts
        )
        for spec in specs
    }


async def _close_clients(clients: Iterable[OpenAIStreamClient]) -> None:
    await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)


def _header(config: dict[str, Any]) -> RecordingHeader:
    return RecordingHeader(
        started_utc=datetime.now(UTC).isoformat(timespec="seconds"),
        quanttui=__version__,
        config=config,
        host=host_facts(),
    )


def _quiet(line: str) -> None:
    pass


class LiveSession:
    """One live sweep: launches the variants' engines (or attaches to `config.endpoints`), waits for
    the ramp to be started (at once with `autostart`), drives it, records everything, and stops the
    engines on every way out of `run()`.

    Everything is published on `stream`; the recorder and the aggregator are subscribed from the
    start, a console subscribes too. Operator commands are plain calls on the event loop's thread
    and never wait; each one is published as an `OperatorCommand`. The headless commands are this
    class with `autostart=True` (`run_sweep`, `run_launched_sweep`).
    """

    kind = "live"

    def __init__(
        self,
        config: SweepConfig,
        prompts: Sequence[Prompt],
        variants: list[VariantConfig] | None = None,
        autostart: bool = False,
        progress: Callable[[str], None] | None = None,
        *,
        extra_header: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.prompts = list(prompts)
        if not self.prompts:
            raise ValueError("a sweep needs at least one prompt")
        self.progress = progress or _quiet
        self.clock = SessionClock()
        self.plan = config.plan
        self._launch = list(variants) if variants is not None else None
        if self._launch is not None:
            self.variants = [v.name for v in self._launch]
            header_config = config.header_config([])
            del header_config["endpoints"]  # the engines' endpoints are known once they are ready
            header_config.update(command="run", variants=[v.public() for v in self._launch])
        else:
            self.variants = [spec.name for spec in config.endpoints]
            header_config = config.header_config(
                [  # as given; run() asks the endpoints and records their resolved models
                    EndpointInfo(
                        t=0.0, variant=s.name, url=s.url, model=s.model or "", precision=s.precision or ""
                    )
                    for s in config.endpoints
                ]
            )
        self._extra_header = dict(extra_header or {})
        header_config.update(self._extra_header)
        self.header = _header(header_config)
        self._session = _LiveSession(self.clock, config.out_dir, config.plan)
        self.stream = self._session.stream
        self.control = RampControl(config.plan, self.stream.publish, self.clock, started=autostart)
        self.launcher: Launcher | None = None
        self._ran = False

    # -- operator commands -------------------------------------------------------------------
    def start_ramp(self) -> None:
        self.control.start()

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def stop(self) -> None:
        """End the ramp (or the engines' start-up); run() then stops the engines and returns."""
        self.control.stop()

    def step_up(self) -> None:
        self.control.step_up()

    def step_down(self) -> None:
        self.control.step_down()

    def set_slo(self, p95_ms: float) -> None:
        self.control.set_slo(p95_ms)

    @property
    def paused(self) -> bool:
        return self.control.paused

    @property
    def ramp_started(self) -> bool:
        return self.control.started

    @property
    def aggregator(self) -> Aggregator:
        """The session's own aggregator (it never drops an event): the summary so far."""
        return self._session.fold.aggregator

    # -- the session -------------------------------------------------------------------------
    async def run(self) -> SessionResult:
        if self._ran:
            raise RuntimeError("a session runs once")
        self._ran = True
        if self._launch is None:
            return await self._run_attached()
        return await self._run_launched(self._launch)

    async def _run_attached(self) -> SessionResult:
        """Nothing is written if an endpoint is unreachable (the error is raised from run())."""
        config = self.config
        clients: dict[str, OpenAIStreamClient] = {}
        try:
            api_key = read_api_key(config.api_key_env)
            clients = _make_clients(config, config.endpoints, api_key)
            resolved = await resolve_endpoints(config.endpoints, clients, self.clock)
            self.header = replace(
                self.header, config={**config.header_config(resolved), **self._extra_header}
            )
            self._session.start(self.header)
        except BaseException:
            await _close_clients(clients.values())
            self.stream.close()
            raise
        interrupted = await self._drive(resolved, clients, api_key)
        return await self._session.close(interrupted)

    async def _run_launched(self, variants: list[VariantConfig]) -> SessionResult:
        """The recording starts before the first engine does, so start-up phases, log lines and
        failures are part of it. Engines are stopped on every way out."""
        config, clock, stream = self.config, self.clock, self.stream
        self._session.start(self.header)
        launcher = Launcher(
            _echo_states(stream.publish, self.progress), clock, log_dir=config.out_dir / "logs"
        )
        self.launcher = launcher
        interrupted = False
        try:
            try:
                engines, interrupted = await self._start_engines(launcher, variants)
                ready = [e for e in engines.values() if e.phase == Phase.READY]
                if interrupted:
                    pass  # cancelled while engines started: the recording just ends
                elif self.control.stopped:
                    stream.publish(SweepFinished(t=clock.now(), reason="stopped"))
                elif not ready:
                    stream.publish(SweepFinished(t=clock.now(), reason="no_engine_ready"))
                else:
                    interrupted = await self._sweep_engines(ready)
            finally:
                self.progress("stopping engines")
                await asyncio.shield(launcher.stop_all())
        except BaseException:
            await self._session.drain()
            raise
        return await self._session.close(interrupted)

    async def _sweep_engines(self, ready: list[Engine]) -> bool:
        specs = tuple(
            EndpointSpec(e.config.name, e.config.url, e.config.served_name, e.config.precision or None)
            for e in ready
        )
        api_key = read_api_key(self.config.api_key_env)
        clients = _make_clients(self.config, specs, api_key)
        pids = {e.config.name: e.pids() for e in ready}
        try:
            resolved = await resolve_endpoints(specs, clients, self.clock, pids)
        except BaseException:
            await _close_clients(clients.values())
            raise
        return await self._drive(resolved, clients, api_key)

    async def _start_engines(
        self, launcher: Launcher, variants: list[VariantConfig]
    ) -> tuple[dict[str, Engine], bool]:
        """Start the engines unless stop() comes first; (engines, interrupted)."""
        starting = asyncio.create_task(launcher.start_all(variants))
        stopped = asyncio.create_task(self.control.wait_stopped())
        try:
            await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            return {}, True
        finally:
            stopped.cancel()
        if not starting.done():  # stop() during start-up
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            return launcher.engines, False
        return starting.result(), False

    async def _drive(
        self, resolved: list[EndpointInfo], clients: dict[str, OpenAIStreamClient], api_key: str | None
    ) -> bool:
        """Run the ramp with its scrapers and samplers; True when interrupted (cancelled)."""
        config, clock, stream, progress = self.config, self.clock, self.stream, self.progress
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
        roots = {info.variant: info.pids[:1] for info in resolved if info.pids}  # pids[0]: the engine's root
        if roots:
            sampler = ProcessSampler(roots, stream.publish, clock, config.gpu_interval_s)
            background.append(asyncio.create_task(sampler.run()))
        targets = [Target(info.variant, info.precision, clients[info.variant]) for info in resolved]
        capacity = config.plan.max_concurrency

        async def grow_pools(concurrency: int) -> None:
            """The operator stepped beyond the plan: size the client pools to the new concurrency
            (a request must never queue for a connection inside the client)."""
            nonlocal capacity
            if concurrency <= capacity:
                return
            for target in targets:
                old = target.client
                target.client = OpenAIStreamClient(old.root, old.model, api_key, concurrency, config.timeouts)
                await old.aclose()
            capacity = concurrency

        runner = LoadRunner(
            targets,
            config.plan,
            self.prompts,
            config.options,
            stream.publish,
            clock,
            progress,
            control=self.control,
            before_step=grow_pools,
        )
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
            await _close_clients(
                {id(c): c for c in [*clients.values(), *(t.client for t in targets)]}.values()
            )
        return interrupted


async def run_sweep(
    config: SweepConfig, prompts: list[Prompt], progress: Callable[[str], None] | None = None
) -> SessionResult:
    """Attach to running endpoints and sweep them; nothing is written if an endpoint is unreachable."""
    return await LiveSession(config, prompts, None, autostart=True, progress=progress).run()


async def run_launched_sweep(
    variants: list[VariantConfig],
    config: SweepConfig,
    prompts: list[Prompt],
    progress: Callable[[str], None] | None = None,
    extra_header: dict[str, Any] | None = None,
) -> SessionResult:
    """Launch the variants' engines, sweep the ones that became ready, and stop them all."""
    session = LiveSession(
        config, prompts, variants, autostart=True, progress=progress, extra_header=extra_header
    )
    return await session.run()


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


def plan_from_header(header: RecordingHeader, path: Path) -> LoadPlan | None:
    plan_data = header.config.get("plan")
    try:
        return LoadPlan.from_dict(plan_data) if isinstance(plan_data, dict) else None
    except (ValueError, KeyError, TypeError) as exc:
        raise RecordingError(f"{path}:1: field 'config.plan': {exc}") from None


def variants_from_header(header: RecordingHeader) -> list[str]:
    """Variant names in display order: a launched run's variants, else a sweep's endpoints."""
    for key in ("variants", "endpoints"):
        entries = header.config.get(key)
        if isinstance(entries, list):
            names = [e["name"] for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str)]
            if names:
                return names
    return []


class ReplaySession:
    """A recording published onto `stream` with its original timing x `speed` (None or 0: as fast as
    possible), with pause, single step, speed change and seek. The header is read (and checked) when
    the session is made; events are read as they are published."""

    kind = "replay"

    def __init__(self, path: Path, speed: float | None = 1.0, *, hold_at_end: bool = False) -> None:
        self.path = Path(path)
        self._replayer = ControlledReplayer(self.path, speed, hold_at_end=hold_at_end)
        recording, self._events = self._replayer.open()
        self.header = recording.header
        self.plan = plan_from_header(self.header, self.path)
        self.variants = variants_from_header(self.header)
        self.duration = last_event_t(self.path)
        self.stream = SessionStream()
        self._fold = _Fold(self.plan)
        self._aggregator_sub = self.stream.subscribe("aggregator")
        self._ran = False

    def pause(self) -> None:
        self._replayer.pause()

    def resume(self) -> None:
        self._replayer.resume()

    def set_speed(self, x: float | None) -> None:
        self._replayer.set_speed(x)

    def step(self) -> None:
        self._replayer.step()

    def seek(self, t: float) -> None:
        self._replayer.seek(t)

    def stop(self) -> None:
        """End the replay; run() returns the summary of what was published."""
        self._replayer.stop()

    @property
    def position(self) -> float:
        return self._replayer.position

    @property
    def paused(self) -> bool:
        return self._replayer.paused

    @property
    def speed(self) -> float:
        return self._replayer.speed or 0.0

    @property
    def at_end(self) -> bool:
        return self._replayer.at_end

    @property
    def aggregator(self) -> Aggregator:
        """The session's own aggregator (it never drops an event): the summary so far."""
        return self._fold.aggregator

    async def run(self) -> SessionResult:
        if self._ran:
            raise RuntimeError("a replay runs once")
        self._ran = True
        consumer = asyncio.create_task(_feed(self._fold, self._aggregator_sub))
        try:
            await self._replayer.run(self.stream, self._events)
        finally:
            self.stream.close()
            await consumer
        summary = build_summary(self.header.config, self._fold.aggregator)
        return SessionResult(summary, warnings=self._replayer.warnings)


async def replay_headless(path: Path) -> SessionResult:
    """Feed a recording through the same stream and aggregator as fast as possible."""
    return await ReplaySession(path, speed=None).run()
