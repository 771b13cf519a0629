"""The load plan's options, shared by `sweep`, `attach`, `run` (session file [load]) and `demo`."""

from __future__ import annotations

import argparse
from typing import Any

from quanttui.cli.common import positive
from quanttui.core.loadplan import (
    DEFAULT_MAX_STEP_REQUESTS,
    DEFAULT_MAX_STEP_SECONDS,
    LoadPlan,
    Schedule,
    Slo,
    SloMetric,
    parse_slo,
)
from quanttui.io.config import MAX_LOAD_WORKERS

# Engines quanttui launches share one machine, so by default their steps alternate (each measured
# alone); attached endpoints may be anywhere, so they are loaded at once. README "Schedules" has
# the interference measured on the demo that chose these defaults.
DEFAULT_LAUNCHED_SCHEDULE = Schedule.ALTERNATE
DEFAULT_ATTACHED_SCHEDULE = Schedule.SIMULTANEOUS


def add_step_options(p: argparse.ArgumentParser) -> None:
    steps = p.add_mutually_exclusive_group()
    steps.add_argument(
        "--requests-per-step", type=int, metavar="N",
        help="fixed step length instead of adaptive (at least 4 x concurrency are measured)",
    )  # fmt: skip
    steps.add_argument(
        "--step-seconds", type=positive, metavar="S", help="fixed step duration instead of adaptive"
    )
    p.add_argument("--warmup-requests", type=int, default=0, metavar="N", help="extra per step, not counted")
    p.add_argument(
        "--max-step-requests", type=int, default=DEFAULT_MAX_STEP_REQUESTS, metavar="N",
        help=f"adaptive steps: measured requests before a step is left undecided (default {DEFAULT_MAX_STEP_REQUESTS})",
    )  # fmt: skip
    p.add_argument(
        "--max-step-seconds", type=positive, default=DEFAULT_MAX_STEP_SECONDS, metavar="S",
        help=f"adaptive steps: seconds before a step is left undecided (default {DEFAULT_MAX_STEP_SECONDS:g})",
    )  # fmt: skip
    p.add_argument(
        "--confidence", type=float, default=0.95, metavar="C",
        help="family-wise confidence of the capacity verdict (default 0.95)",
    )  # fmt: skip
    p.add_argument(
        "--schedule", choices=[s.value for s in Schedule], default=None,
        help="simultaneous: all variants at once; alternate: one at a time, order flipped every step",
    )  # fmt: skip
    p.add_argument(
        "--trials", type=int, default=1, metavar="N", help="repeat the ramp N times, order alternated"
    )
    p.add_argument(
        "--load-workers", type=load_workers, default=None, metavar="N",
        help="processes sending the requests (default: one per 256 streams, at most one per core; "
        "0: the session's own event loop)",
    )  # fmt: skip


def load_workers(text: str) -> int:
    """argparse type for --load-workers: 0 to MAX_LOAD_WORKERS."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value <= MAX_LOAD_WORKERS:
        raise argparse.ArgumentTypeError(f"must be 0 to {MAX_LOAD_WORKERS}, got {value}")
    return value


def add_slo_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--slo", metavar="BOUNDS",
        help="e.g. e2e_p95<=3000 or ttft_p95<=500,tpot_p95<=50,e2e_p95<=3000 (ms; the first is primary)",
    )  # fmt: skip
    p.add_argument("--slo-p95-ms", type=positive, metavar="MS", help="same as --slo METRIC_p95<=MS")
    p.add_argument("--slo-metric", choices=[m.value for m in SloMetric], default="e2e")


def slo_from_args(args: argparse.Namespace) -> Slo | None:
    """--slo, else --slo-p95-ms with --slo-metric; ValueError names the flag."""
    if getattr(args, "slo", None):
        if args.slo_p95_ms is not None:
            raise ValueError("--slo and --slo-p95-ms: give one of them")
        try:
            return parse_slo(args.slo)
        except ValueError as exc:
            raise ValueError(f"--slo: {exc}") from None
    if args.slo_p95_ms is not None:
        return Slo(args.slo_p95_ms, SloMetric(args.slo_metric))
    return None


def plan_from_args(
    args: argparse.Namespace, concurrencies: tuple[int, ...], slo: Slo | None, default_schedule: Schedule
) -> LoadPlan:
    return LoadPlan(
        concurrencies=concurrencies,
        requests_per_step=args.requests_per_step,
        step_seconds=args.step_seconds,
        warmup_requests=args.warmup_requests,
        slo=slo,
        max_error_rate=getattr(args, "max_error_rate", 0.5),
        confidence=args.confidence,
        max_step_requests=args.max_step_requests,
        max_step_seconds=args.max_step_seconds,
        schedule=Schedule(args.schedule) if args.schedule else default_schedule,
        trials=args.trials,
    )


def plan_from_load(load: dict[str, Any], default_schedule: Schedule) -> LoadPlan:
    """A session file's [load] table (already type-checked by io/config.py)."""
    slo = parse_slo(load["slo"]) if load.get("slo") else None
    if slo is None and load.get("slo_p95_ms"):
        slo = Slo(float(load["slo_p95_ms"]), SloMetric(load.get("slo_metric", "e2e")))
    return LoadPlan(
        concurrencies=tuple(int(c) for c in load.get("concurrency", [1, 2, 4, 8])),
        requests_per_step=load.get("requests_per_step"),
        step_seconds=load.get("step_seconds"),
        warmup_requests=load.get("warmup_requests", 0),
        slo=slo,
        max_error_rate=float(load.get("max_error_rate", 0.5)),
        confidence=float(load.get("confidence", 0.95)),
        max_step_requests=int(load.get("max_step_requests", DEFAULT_MAX_STEP_REQUESTS)),
        max_step_seconds=float(load.get("max_step_seconds", DEFAULT_MAX_STEP_SECONDS)),
        schedule=Schedule(load["schedule"]) if load.get("schedule") else default_schedule,
        trials=int(load.get("trials", 1)),
    )
