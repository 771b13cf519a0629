"""Turning measured tok/s into money: $/1M output tokens, and the spend for an expected traffic.

$/1M output tokens = GPU $/hour / (output tok/s x 3600) x 1e6, with the GPU's whole hour paid for
whatever it serves. Per variant and step, and "at equal p95": at each variant's largest
concurrency that meets the SLO, the operating point a service would run at. For an expected
traffic (output tokens per day), the GPUs needed at that operating point (rounded up, with a
utilisation target) and their daily and monthly spend (30 days).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from quanttui.core.capacity import VariantCapacity
from quanttui.core.stepstats import StepStats

DAYS_PER_MONTH = 30


@dataclass(frozen=True)
class CostInputs:
    gpu_usd_per_hour: float
    tokens_per_day: float | None = None  # expected output tokens per day
    utilization: float = 0.7  # share of the measured capacity a fleet is planned to use

    def __post_init__(self) -> None:
        if not self.gpu_usd_per_hour > 0:
            raise ValueError(f"gpu_usd_per_hour must be > 0, got {self.gpu_usd_per_hour}")
        if self.tokens_per_day is not None and not self.tokens_per_day > 0:
            raise ValueError(f"tokens_per_day must be > 0, got {self.tokens_per_day}")
        if not 0 < self.utilization <= 1:
            raise ValueError(f"utilization must be in (0, 1], got {self.utilization}")


@dataclass(frozen=True)
class StepCost:
    variant: str
    level: str  # the step on its ramp: "8" users, "4 req/s", "2,048 tok"
    tok_s: float | None
    usd_per_million: float | None
    decision: str | None  # the step's SLO decision: meets, breaches, undecided


@dataclass(frozen=True)
class OperatingCost:
    variant: str
    level: str  # the highest level held within the SLO, in the ramp's unit ("none" when none)
    tok_s: float | None
    usd_per_million: float | None
    gpus_needed: int | None
    usd_per_day: float | None
    usd_per_month: float | None


def usd_per_million(usd_per_hour: float, tok_s: float | None) -> float | None:
    if not tok_s or tok_s <= 0:
        return None
    return usd_per_hour / (tok_s * 3600.0) * 1e6


def step_costs(rows: Sequence[StepStats], inputs: CostInputs) -> list[StepCost]:
    return [
        StepCost(
            r.variant,
            str(r.conc) if r.rate is None and r.input_tokens is None else r.level_text,
            r.tok_s,
            usd_per_million(inputs.gpu_usd_per_hour, r.tok_s),
            r.slo_decision,
        )
        for r in rows
    ]


def operating_cost(capacity: VariantCapacity, inputs: CostInputs) -> OperatingCost:
    tok_s = capacity.tok_s_at_max_safe
    per_million = usd_per_million(inputs.gpu_usd_per_hour, tok_s)
    gpus = day = month = None
    if inputs.tokens_per_day and tok_s:
        per_gpu_day = tok_s * 86400.0 * inputs.utilization
        gpus = max(1, math.ceil(inputs.tokens_per_day / per_gpu_day))
        day = gpus * inputs.gpu_usd_per_hour * 24.0
        month = day * DAYS_PER_MONTH
    return OperatingCost(
        capacity.variant, capacity.at(capacity.max_conc_meeting_slo), tok_s, per_million, gpus, day, month
    )
