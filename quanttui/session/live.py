"""A live sweep, attached or launched: `LiveSession` (the headless entry points are in
session/headless.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

from quanttui.core.clock import SessionClock
from quanttui.core.engine_log import Phase
from quanttui.core.events import (
    EndpointInfo,
    OperatorNote,
    SweepFinished,
)
from quanttui.core.fold import SessionFold
from quanttui.core.prompts import Prompt
from quanttui.io.config import VariantConfig
from quanttui.io.launcher import Engine, Launcher
from quanttui.io.load_pool import LoadWorkerError
from quanttui.io.tag_journal import JOURNAL_NAME
from quanttui.session.commands import (
    Command,
    Job,
    Pause,
    ProfileVariants,
    RestartFailed,
    Resume,
    SetSlo,
    StartRamp,
    StartTriage,
    StepDown,
    StepUp,
    Stop,
    TagOutput,
    TogglePause,
)
from quanttui.session.jobs import run_job
from quanttui.session.length_prompts import WorkloadPrompts
from quanttui.session.load_clients import start_load_clients
from quanttui.session.load_runner import LoadRunner
from quanttui.session.load_target import TargetPools
from quanttui.session.profiling import ProfileDriver, session_targets
from quanttui.session.ramp import RampControl
from quanttui.session.restarts import EngineRestarts
from quanttui.session.samplers import start_samplers
from quanttui.session.spec import EndpointSpec, SessionInfo, SessionResult, SweepConfig
from quanttui.session.triage import TriageDriver, TriageSpec, TriageTagging
from quanttui.session.wiring import (
    Connection,
    LiveStreams,
    close_clients,
    connect,
    echo_states,
    header_extras,
    new_header,
    planned_header_config,
    quiet,
    session_secrets,
)


class LiveSession:
    """One live sweep: launches the variants' engines (or attaches to `config.endpoints`), waits for
    the ramp to be started (at once with `autostart`), drives it, records everything, and stops the
    engines on every way out of `run()`.

    Everything is published on `stream`; the fold is tapped and the recorder subscribed from the
    start, a console subscribes too. Operator commands are typed values (session/commands.py)
    applied by `handle()` on the session's loop; they never wait, and each is published as an
    `OperatorCommand`. The headless commands are this class with `autostart=True` (`run_sweep`,
    `run_launched_sweep`).
    """

    def __init__(
        self,
        config: SweepConfig,
        prompts: Sequence[Prompt],
        variants: list[VariantConfig] | None = None,
        autostart: bool = False,
        progress: Callable[[str], None] | None = None,
        *,
        extra_header: dict[str, Any] | None = None,
        triage: TriageSpec | None = None,
        triage_only: bool = False,
    ) -> None:
        self.config = config
        self.prompts = list(prompts)
        if not self.prompts:
            raise ValueError("a sweep needs at least one prompt")
        self._launch = list(variants) if variants is not None else None
        self.secrets = session_secrets(config, self._launch)
        shown = progress or quiet
        self.progress = lambda line: shown(self.secrets.scrub(line))
        self.clock = SessionClock()
        self.plan = config.plan
        self.variants = (
            [v.name for v in self._launch]
            if self._launch is not None
            else [spec.name for spec in config.endpoints]
        )
        self._extra_header = header_extras(config, extra_header, triage, triage_only)
        self.header = new_header({**planned_header_config(config, self._launch), **self._extra_header})
        self._session = LiveStreams(self.clock, config.out_dir, config.plan)
        self.stream = self._session.stream
        self.stream.scrub_with(self.secrets.scrub_event)  # before anything is published
        self.control = RampControl(config.plan, self.stream.publish, self.clock, started=autostart)
        self.launcher: Launcher | None = None
        self._engine_grace_cap_s: float | None = None  # a hang-up's shorter TERM-to-KILL grace
        self._ran = False
        self.triage_only = triage_only and triage is not None
        self._triage = TriageDriver(triage, self.stream.publish, self.clock) if triage else None
        self._triage_wanted = self.triage_only
        self._resolved: list[EndpointInfo] = []
        self._api_key: str | None = None
        self._runner: LoadRunner | None = None
        self._restarts = EngineRestarts(self.stream.publish, self.clock)
        self.tagging = TriageTagging(config.out_dir / JOURNAL_NAME, self.stream.publish, self.clock)
        self._profiler = ProfileDriver(
            self.stream.publish, self.clock, config.out_dir / "traces", self.progress
        )
        self._closed = False  # the load has ended: no profile can start

    @property
    def info(self) -> SessionInfo:
        """What a driver needs to know before the session runs (read once, before its thread starts)."""
        return SessionInfo(
            mode="live",
            header=self.header,
            plan=self.plan,
            variants=tuple(self.variants),
            recording=self.config.out_dir / "recording.jsonl",
            can_triage=self._triage is not None,
            triage_only=self.triage_only,
            can_restart=self._launch is not None,
            can_profile=True,
            clock=self.clock,
            load_tags=self.tagging.loaded,
            journal=self.tagging.journal_path,
        )

    @property
    def fold(self) -> SessionFold:
        """The session's fold (fed inside publish, never drops an event): the summary so far."""
        return self._session.fold

    # -- operator commands -------------------------------------------------------------------
    def handle(self, command: Command) -> None:
        """Apply one command, on the session's loop; one that cannot apply changes nothing."""
        control = self.control
        match command:
            case StartRamp() if self._profiler.running:
                self._profiler.then(control.start)  # a profile is not measured under load
            case StartRamp():
                control.start()
            case Pause():
                control.pause()
            case Resume():
                control.resume()
            case TogglePause():
                control.resume() if control.operator_paused else control.pause()  # a hold stays
            case Stop(engine_grace_s=grace):
                self.stop(grace)
            case StepUp():
                control.step_up()
            case StepDown():
                control.step_down()
            case SetSlo(p95_ms=p95_ms):
                control.set_slo(p95_ms)
            case RestartFailed():
                self.restart_failed()
            case StartTriage():
                self.start_triage()
            case ProfileVariants():
                self.start_profile()
            case TagOutput(tag=tag):
                self.tagging.tag(tag.prompt_id, tag.variant, tag.verdict, tag.symptom, tag.notes)
            case _:
                pass  # a replay's command

    def run_job(self, job: Job) -> list[Path] | Future[list[Path]]:
        """A file job from the session's fold, on the session's loop (session/jobs.py)."""
        title = (self.config.out_dir / "recording.jsonl").name
        return run_job(job, self.header, self.fold, self.tagging, title)

    def stop(self, engine_grace_s: float | None = None) -> None:
        """End the ramp (or the engines' start-up) and a triage after its current prompt; run()
        then stops the engines (SIGKILL after `engine_grace_s` when given and shorter than their
        configured grace) and returns."""
        if engine_grace_s is not None:
            self._engine_grace_cap_s = engine_grace_s
            if self.launcher is not None:
                self.launcher.grace_cap_s = engine_grace_s
        self.control.stop()
        if self._triage is not None:
            self._triage.stop()

    def restart_failed(self) -> None:
        """Start again every launched engine that failed or stopped while the session runs; each
        rejoins the ramp from the next step once it is ready."""
        if self.launcher is not None and self._runner is not None and not self.control.stopped:
            self._restarts.restart_failed(self.launcher, self._runner, self._resolved)

    def start_triage(self) -> None:
        """Run the quality triage on the session's endpoints (now, or once they are ready)."""
        if self._triage is None:
            return
        self._triage_wanted = True
        if self._resolved:
            self._triage.start(self._resolved, self.config.timeouts, self._api_key)

    def start_profile(self) -> None:
        """Profile one generation on each ready variant (the ramp is held meanwhile); a run in
        progress, no engine ready yet, or a session whose load has ended changes nothing."""
        if not self._resolved or self.control.stopped or self.control.finished or self._closed:
            return  # nothing serves any more: the engines are stopped, the stream closed
        targets = session_targets(self._resolved, self._launch, self.header.config)
        bandwidth = (self.header.config.get("hardware") or {}).get("memory_bandwidth_gbps")
        self._profiler.start(targets, self.control, bandwidth, self._api_key)

    # -- the session -------------------------------------------------------------------------
    async def run(self) -> SessionResult:
        if self._ran:
            raise RuntimeError("a session runs once")
        self._ran = True
        self.control.announce()  # "waiting" (or "running" with autostart), heard by every subscriber
        if self._launch is None:
            return await self._run_attached()
        return await self._run_launched(self._launch)

    async def _run_attached(self) -> SessionResult:
        """Nothing is written if an endpoint is unreachable (the error is raised from run())."""
        config = self.config
        try:
            connection = await connect(config, config.endpoints, self.clock, self.secrets.scrub)
        except BaseException:
            self.stream.close()
            raise
        try:
            config_now = {**config.header_config(connection.resolved), **self._extra_header}
            self.header = replace(self.header, config=config_now)
            self._session.start(self.header)
        except BaseException:
            await close_clients(connection.every_client())
            self.stream.close()
            raise
        try:
            interrupted = await self._drive(connection)
        except LoadWorkerError:  # the load workers asked for (Ray) could not start: nothing was sent
            await close_clients(connection.every_client())
            await self._session.drain()
            raise
        return await self._session.close(interrupted)

    async def _run_launched(self, variants: list[VariantConfig]) -> SessionResult:
        """The recording starts before the first engine does, so start-up phases, log lines and
        failures are part of it. Engines are stopped on every way out."""
        config, clock, stream = self.config, self.clock, self.stream
        self._session.start(self.header)
        for warning in filter(None, (v.exposure_warning for v in variants)):
            self.progress(warning)
            stream.publish(OperatorNote(t=clock.now(), text=warning))
        launcher = Launcher(
            echo_states(stream.publish, self.progress), clock, config.out_dir / "logs", self.secrets
        )
        launcher.grace_cap_s = self._engine_grace_cap_s
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
                stopping = asyncio.ensure_future(launcher.stop_all())
                try:
                    await asyncio.shield(stopping)
                except asyncio.CancelledError:
                    await stopping  # cancelled meanwhile (a hang-up): the engines still stop first
                    raise
        except asyncio.CancelledError:
            await self._session.close(True)  # the recording and sweep.csv, whatever stopped us
            raise
        except BaseException:
            await self._session.drain()
            raise
        return await self._session.close(interrupted)

    async def _sweep_engines(self, ready: list[Engine]) -> bool:
        specs = tuple(
            EndpointSpec(e.config.name, e.config.url, e.config.served_name, e.config.precision or None)
            for e in ready
        )
        pids = {e.config.name: e.pids() for e in ready}
        return await self._drive(await connect(self.config, specs, self.clock, self.secrets.scrub, pids))

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

    async def _drive(self, connection: Connection) -> bool:
        """Run the ramp with its scrapers and samplers; True when interrupted (cancelled)."""
        config, clock, stream, progress = self.config, self.clock, self.stream, self.progress
        resolved, clients, api_key = connection.resolved, connection.clients, connection.api_key
        # The load workers start first: once the endpoints are published (an engine's pids shown),
        # the runner must exist at once, so that R can restart an engine that fails right away.
        loads = await start_load_clients(config, stream.publish, clock, progress)
        for info in resolved:
            stream.publish(info)
            progress(f"{info.variant}: {info.url} model={info.model} precision={info.precision or '?'}")
        background = start_samplers(config, resolved, stream.publish, clock)
        pools = TargetPools(
            loads, resolved, clients, api_key, config.plan.max_concurrency, stream.publish, clock,
            connection.fleets, {spec.name: spec.balance for spec in config.endpoints},
        )  # fmt: skip
        targets = pools.targets

        self._resolved, self._api_key = list(resolved), api_key
        if self._triage is not None and self._triage_wanted:
            self._triage.start(self._resolved, config.timeouts, api_key)
        runner = LoadRunner(
            targets,
            config.plan,
            self.prompts,
            config.options,
            stream.publish,
            clock,
            self.fold,
            progress,
            control=self.control,
            before_step=pools.grow,
            derive_slo_factor=config.derive_slo_factor,
            workload_prompts=WorkloadPrompts(
                resolved,
                api_key,
                config.timeouts,
                config.options.max_tokens,
                config.tokenizer,
                model_dirs=[Path(v.model) for v in self._launch or []],
            ),  # fmt: skip
        )
        self._runner = runner
        interrupted = False
        try:
            if not self.triage_only:
                await runner.run()
            if self._triage is not None:
                ended = await self._triage.wait()
                if self.triage_only:
                    stream.publish(
                        SweepFinished(t=clock.now(), reason="stopped" if ended == "stopped" else "completed")
                    )
        except asyncio.CancelledError:
            interrupted = True
            stream.publish(SweepFinished(t=clock.now(), reason="interrupted"))
        finally:
            self._closed = True
            await self._profiler.stop()
            for task in [*background, *self._restarts.tasks]:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*background, return_exceptions=True)
            await close_clients(connection.every_client([t.client for t in targets]))
            await loads.close()
        return interrupted
