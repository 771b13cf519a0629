"""`quanttui profile --demo`: the demo's BF16 and AWQ vLLM-CPU engines, launched with vLLM's torch
profiler on (traces into the run's folder), one profiled generation each, then stopped (issue 18).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from quanttui.core.events import EndpointInfo, Event, InstanceState
from quanttui.demo.cpu import demo_variants
from quanttui.demo.paths import DemoPaths
from quanttui.io.config import VariantConfig
from quanttui.io.hardware import memory_bandwidth, weights_bytes
from quanttui.io.launcher import Launcher
from quanttui.io.profile_capture import ProfileError, ProfileRequest
from quanttui.session.profiling import ProfileRecording, run_profiles, session_targets


def profiler_args(trace_dir: Path, cuda: bool = False) -> tuple[str, ...]:
    """vLLM's flag for the torch profiler writing into `trace_dir` (absolute), without Python
    stacks (they make traces several times larger) and without the front end's own trace."""
    config = {
        "profiler": "torch",
        "torch_profiler_dir": str(trace_dir.resolve()),
        "torch_profiler_with_stack": False,
        "ignore_frontend": True,
    }
    if cuda:
        config["torch_profiler_activities"] = ["CPU", "CUDA"]
    return ("--profiler-config", json.dumps(config, separators=(",", ":")))


def with_profiler(variants: list[VariantConfig], out: Path) -> list[VariantConfig]:
    """The vLLM variants with the profiler on, each writing into out/profiler/<name>/ (it costs
    nothing until /start_profile; the console's Compute screen profiles them on request)."""
    changed = []
    for v in variants:
        if v.engine == "vllm":
            trace_dir = out / "profiler" / v.name
            trace_dir.mkdir(parents=True, exist_ok=True)
            v = replace(v, extra_args=(*v.extra_args, *profiler_args(trace_dir)))
        changed.append(v)
    return changed


async def profile_demo(
    paths: DemoPaths,
    out: Path,
    request: ProfileRequest,
    progress: Callable[[str], None],
    recording: ProfileRecording,
) -> int:
    """Launch the demo's BF16 and AWQ engines with the profiler, profile each, stop them; the
    events go to `recording` (engine start-up included). The number of profiles captured."""
    variants = with_profiler(demo_variants(paths), out)

    def publish(event: Event) -> None:
        recording.publish(event)
        if isinstance(event, InstanceState) and event.state in ("ready", "failed"):
            progress(f"profile: {event.variant}: {event.state}{' · ' + event.detail if event.detail else ''}")

    bound, _ = memory_bandwidth(None)  # the roofline's bound: NVML, else a copy measured on this host
    launcher = Launcher(publish, recording.clock, log_dir=out / "logs")
    try:
        engines = await launcher.start_all(variants)
        for v in variants:
            engine = engines.get(v.name)
            if engine is None or str(engine.phase) != "ready":
                raise ProfileError(f"{v.name}: the engine did not start (see {out / 'logs'})")
        resolved = []
        for v in variants:
            info = EndpointInfo(t=recording.clock.now(), variant=v.name, url=v.url, model=v.served_name,
                                precision=v.precision, pids=tuple(engines[v.name].pids()))  # fmt: skip
            recording.publish(info)
            resolved.append(info)
        header = {"variants": [{"name": v.name, "weights_bytes": weights_bytes(v.model)} for v in variants]}
        targets = session_targets(resolved, variants, header)
        return await run_profiles(targets, request, out / "traces", recording.publish, recording.clock,
                                  progress, bound)  # fmt: skip
    finally:
        await launcher.stop_all()
