"""A profile run on the stream: each variant's profiled generation as events (issue 18).

`run_profiles` is shared by `quanttui profile` and a live session: it publishes `ProfileStarted`,
then per variant `ProfileCaptured` or `ProfileUnavailable` (an engine without a profiler, one whose
profiler is off, a capture that failed: said in one line), then `ProfileFinished`. One variant's
failure does not stop the others. `ProfileDriver` runs it inside a live session: the ramp is held
(`RampControl.hold`, not the operator's pause, which stays theirs) while the engines are
profiled (a profile of a loaded engine would measure the load, not the generation) and released
after, and the events say so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quanttui.core.clock import SessionClock
from quanttui.core.compute_events import ProfileCaptured, ProfileFinished, ProfileStarted, ProfileUnavailable
from quanttui.core.events import EndpointInfo, Event, InstanceState, OperatorNote
from quanttui.core.fold import SessionFold
from quanttui.core.secrets import Secrets
from quanttui.io.config import VariantConfig
from quanttui.io.hardware import memory_bandwidth
from quanttui.io.launcher import Launcher
from quanttui.io.profile_capture import (
    ENABLE_HINT,
    ProfileError,
    ProfileRequest,
    profile_variant,
    profiler_dir,
    with_profiler,
)
from quanttui.session.ramp import RampControl
from quanttui.session.wiring import LiveStreams, new_header

NO_PROFILER = "not available for this engine (llama.cpp's server has no profiler)"


@dataclass(frozen=True)
class ProfileTarget:
    variant: str
    precision: str
    url: str
    model: str
    trace_dir: Path | None  # the engine's torch_profiler_dir on this machine
    unavailable: str | None = None  # why this engine cannot be profiled at all
    weights_bytes: int | None = None


def describe(request: ProfileRequest) -> str:
    return (
        f"{request.batch} x {request.tokens} output tokens (greedy, ignore_eos), prompt: {request.prompt!r}"
    )


def session_targets(
    resolved: Sequence[EndpointInfo], launched: Sequence[VariantConfig] | None, header: dict[str, Any]
) -> list[ProfileTarget]:
    """What a session can profile: launched vLLM engines whose arguments turn the profiler on
    (their trace folder is known); llama.cpp's server has none; an attached engine's folder is not
    known here (`quanttui profile --endpoint ... --trace-dir` profiles it)."""
    configs = {v.name: v for v in launched or ()}
    weights = {
        v.get("name"): v.get("weights_bytes") for v in header.get("variants", []) if isinstance(v, dict)
    }
    targets = []
    for info in resolved:
        config = configs.get(info.variant)
        unavailable = None
        folder = None
        if config is not None and config.engine == "llama-cpp":
            unavailable = NO_PROFILER
        elif config is None:
            unavailable = (
                "an attached engine's trace folder is not known to this session: profile it with "
                "`quanttui profile --endpoint NAME=URL --trace-dir NAME=DIR`"
            )
        else:
            folder = profiler_dir(config.extra_args)
            if folder is None:
                unavailable = f"the engine's profiler is off: add to its extra_args: {ENABLE_HINT}"
        weight = weights.get(info.variant)
        targets.append(
            ProfileTarget(
                info.variant,
                info.precision or info.variant,
                info.url,
                info.model,
                folder,
                unavailable,
                weight if isinstance(weight, int) else None,
            )  # fmt: skip
        )
    return targets


async def run_profiles(
    targets: Sequence[ProfileTarget],
    request: ProfileRequest,
    traces_out: Path,
    publish: Callable[[Event], None],
    clock: SessionClock,
    progress: Callable[[str], None],
    bandwidth_gbps: float | None = None,
    api_key: str | None = None,
    paused_ramp: bool = False,
) -> int:
    """Profile each target in turn; the number captured. Cancelled: `ProfileFinished("stopped")`."""
    publish(
        ProfileStarted(
            t=clock.now(),
            variants=tuple(t.variant for t in targets),
            request=describe(request),
            paused_ramp=paused_ramp,
        )  # fmt: skip
    )
    captured = 0
    try:
        for target in targets:
            if target.unavailable or target.trace_dir is None:
                reason = target.unavailable or "no trace folder known"
                progress(f"profile: {target.variant}: {reason}")
                publish(ProfileUnavailable(t=clock.now(), variant=target.variant, reason=reason))
                continue
            try:
                result = await profile_variant(
                    target.variant, target.precision, target.url, target.model, target.trace_dir, request,
                    traces_out, target.weights_bytes, progress, bandwidth_gbps, api_key,
                )  # fmt: skip
            except ProfileError as exc:
                progress(f"profile: {exc}")
                publish(ProfileUnavailable(t=clock.now(), variant=target.variant, reason=str(exc)))
                continue
            except Exception as exc:  # one variant's failure (a full disk, a bad trace) ends its
                # capture, not the run: the run still ends with its events, and the error is said
                reason = f"the capture failed ({type(exc).__name__}: {exc})"
                progress(f"profile: {target.variant}: {reason}")
                publish(ProfileUnavailable(t=clock.now(), variant=target.variant, reason=reason))
                continue
            publish(ProfileCaptured.of(clock.now(), result))
            captured += 1
    except asyncio.CancelledError:
        publish(ProfileFinished(t=clock.now(), reason="stopped"))
        raise
    publish(ProfileFinished(t=clock.now(), reason="completed" if captured else "failed"))
    return captured


class ProfileDriver:
    """A live session's profile runs: one at a time; the ramp waits while one runs."""

    def __init__(
        self,
        publish: Callable[[Event], None],
        clock: SessionClock,
        traces_out: Path,
        progress: Callable[[str], None],
        request: ProfileRequest | None = None,
    ) -> None:
        self._publish = publish
        self._clock = clock
        self._traces_out = traces_out
        self._progress = progress
        self.request = request or ProfileRequest()
        self.task: asyncio.Task[int] | None = None
        self._after: list[Callable[[], None]] = []

    def then(self, action: Callable[[], None]) -> None:
        """Do `action` when the run in progress ends (the ramp's start, asked for meanwhile)."""
        if self.running:
            self._publish(OperatorNote(t=self._clock.now(), text="the ramp starts once profiling ends"))
            self._after.append(action)
        else:
            action()

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(
        self,
        targets: Sequence[ProfileTarget],
        control: RampControl,
        bandwidth_gbps: float | None,
        api_key: str | None,
    ) -> bool:
        """Start a run unless one is running or there is nothing to profile."""
        if self.running or not targets:
            return False
        self.task = asyncio.create_task(self._run(list(targets), control, bandwidth_gbps, api_key))
        self.task.add_done_callback(self._ended)
        return True

    def _ended(self, task: asyncio.Task[int]) -> None:
        """A run that raised outside a variant's capture still ends, and says why."""
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        self._publish(
            OperatorNote(t=self._clock.now(), text=f"profiling failed: {type(exc).__name__}: {exc}")
        )
        self._publish(ProfileFinished(t=self._clock.now(), reason="failed"))

    async def _run(
        self,
        targets: list[ProfileTarget],
        control: RampControl,
        bandwidth_gbps: float | None,
        api_key: str | None,
    ) -> int:
        """The ramp is held (not paused: the operator's pause stays theirs) while anything is
        profiled; a ramp that was not running is left alone."""
        profilable = any(t.trace_dir is not None and not t.unavailable for t in targets)
        held = profilable and not control.paused and control.hold()
        if held:
            self._publish(OperatorNote(t=self._clock.now(), text="ramp held while the variants are profiled"))
        try:
            return await run_profiles(
                targets, self.request, self._traces_out, self._publish, self._clock, self._progress,
                bandwidth_gbps, api_key, paused_ramp=held,
            )  # fmt: skip
        finally:
            if held:
                control.release()
            after, self._after = self._after, []
            for action in after:
                action()

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


class ProfileRecording:
    """`quanttui profile`'s session: a stream with the fold tapped and the recorder writing
    `out/recording.jsonl`, so a profile run is replayed and reported like any session."""

    def __init__(self, out_dir: Path, header_config: dict[str, Any], secrets: Secrets | None = None) -> None:
        self.clock = SessionClock()
        self.secrets = secrets or Secrets()
        self._streams = LiveStreams(self.clock, out_dir, None)
        if secrets:  # an error a server echoed back may quote the key: masked before it is recorded
            self._streams.stream.scrub_with(secrets.scrub_event)
        self._streams.start(new_header(header_config))
        self.publish = self._streams.stream.publish
        self.path = out_dir / "recording.jsonl"

    async def close(self) -> SessionFold:
        """End the stream, let the recorder write it all; the session's fold."""
        await self._streams.drain()
        return self._streams.fold


async def profile_launched(
    variants: list[VariantConfig],
    out: Path,
    request: ProfileRequest,
    progress: Callable[[str], None],
    recording: ProfileRecording,
    api_key: str | None = None,
) -> int:
    """Launch `variants` (vLLM ones with the profiler on, tracing into out/profiler/<name>/), profile
    each that can be, stop them all; the events (engine start-up included) go to `recording`. An
    engine that did not start is one variant without a profile, not the end of the run. The
    number of profiles captured."""
    variants = with_profiler(variants, out)

    def publish(event: Event) -> None:
        recording.publish(event)
        if isinstance(event, InstanceState) and event.state in ("ready", "failed"):
            progress(f"profile: {event.variant}: {event.state}{' · ' + event.detail if event.detail else ''}")

    bound, _ = memory_bandwidth(None)  # the roofline's bound: NVML, else a copy measured on this host
    launcher = Launcher(publish, recording.clock, log_dir=out / "logs", secrets=recording.secrets)
    try:
        engines = await launcher.start_all(variants)
        resolved, failed = [], {}
        for v in variants:
            engine = engines.get(v.name)
            if engine is None or str(engine.phase) != "ready":
                failed[v.name] = f"the engine did not start (its log: {out / 'logs'})"
                continue
            info = EndpointInfo(t=recording.clock.now(), variant=v.name, url=v.url, model=v.served_name,
                                precision=v.precision, pids=tuple(engine.pids()))  # fmt: skip
            recording.publish(info)
            resolved.append(info)
        ready = {
            t.variant: t
            for t in session_targets(resolved, variants, {"variants": [v.public() for v in variants]})
        }
        targets = [
            ready.get(v.name)
            or ProfileTarget(v.name, v.precision or v.name, v.url, v.served_name, None, failed[v.name])
            for v in variants
        ]
        return await run_profiles(targets, request, out / "traces", recording.publish, recording.clock,
                                  progress, bound, api_key)  # fmt: skip
    finally:
        await launcher.stop_all()
