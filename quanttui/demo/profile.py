"""`quanttui profile --demo`: the demo's BF16 and AWQ vLLM-CPU engines, launched with vLLM's torch
profiler on (traces into the run's folder), one profiled generation each, then stopped (issue 18).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from quanttui.core.clock import SessionClock
from quanttui.core.compute_words import ProfiledVariant
from quanttui.core.events import Event, InstanceState
from quanttui.demo.cpu import demo_variants
from quanttui.demo.paths import DemoPaths
from quanttui.io.hardware import memory_bandwidth, weights_bytes
from quanttui.io.launcher import Launcher
from quanttui.io.profile_capture import ProfileError, ProfileRequest, profile_variant


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


async def profile_demo(
    paths: DemoPaths, out: Path, request: ProfileRequest, progress: Callable[[str], None]
) -> list[ProfiledVariant]:
    variants = []
    for v in demo_variants(paths):
        trace_dir = out / "profiler" / v.name
        trace_dir.mkdir(parents=True, exist_ok=True)
        variants.append(replace(v, extra_args=(*v.extra_args, *profiler_args(trace_dir))))

    def publish(event: Event) -> None:
        if isinstance(event, InstanceState) and event.state in ("ready", "failed"):
            progress(f"profile: {event.variant}: {event.state}{' · ' + event.detail if event.detail else ''}")

    bound, _ = memory_bandwidth(None)  # the roofline's bound: NVML, else a copy measured on this host
    launcher = Launcher(publish, SessionClock(), log_dir=out / "logs")
    results = []
    try:
        engines = await launcher.start_all(variants)
        for v in variants:
            engine = engines.get(v.name)
            if engine is None or str(engine.phase) != "ready":
                raise ProfileError(f"{v.name}: the engine did not start (see {out / 'logs'})")
            results.append(
                await profile_variant(
                    v.name,
                    v.precision,
                    v.url,
                    v.served_name,
                    out / "profiler" / v.name,
                    request,
                    out / "traces",
                    weights_bytes(v.model),
                    progress,
                    bound,
                )  # fmt: skip
            )
    finally:
        await launcher.stop_all()
    return results
