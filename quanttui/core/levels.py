"""What a ramp's steps vary (issue 19): closed-loop users, open-loop requests/s, or the prompt's
length in the model's tokens; how a level is written, and how many requests a step may send."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quanttui.core.loadplan import LoadPlan


class LevelKind(StrEnum):
    """What a ramp's steps vary: closed-loop users, open-loop requests/s, or the prompt's length in
    the model's tokens at one concurrency (the long-prefill workload)."""

    CONCURRENCY = "concurrency"
    RATE = "rate"
    INPUT_TOKENS = "input_tokens"

    @property
    def unit(self) -> str:
        return {"concurrency": "users", "rate": "req/s", "input_tokens": "prompt tokens"}[self.value]


def level_text(kind: LevelKind, value: float | None) -> str:
    """ "c=8", "4 req/s", "2,048 tok" (the x axis of every table and chart)."""
    if value is None:
        return "—"
    if kind is LevelKind.RATE:
        return f"{value:g} req/s"
    if kind is LevelKind.INPUT_TOKENS:
        return f"{value:,.0f} tok"
    return f"c={value:.0f}"


@dataclass(frozen=True)
class StepLevel:
    """One step's place on its ramp: its level in the plan's unit and the concurrency it runs at
    (a rate step's: its cap on requests in flight)."""

    kind: LevelKind
    value: float
    concurrency: int

    @property
    def rate(self) -> float | None:
        return self.value if self.kind is LevelKind.RATE else None

    @property
    def input_tokens(self) -> int | None:
        return int(self.value) if self.kind is LevelKind.INPUT_TOKENS else None

    def describe(self) -> str:
        if self.kind is LevelKind.RATE:
            return f"{self.value:g} requests/s"
        if self.kind is LevelKind.INPUT_TOKENS:
            return f"prompts of {self.value:,.0f} tokens at concurrency {self.concurrency}"
        return f"concurrency {self.concurrency}"


def rate_fill(rate: float) -> int:
    """An open-loop step's warm-up: its first second of arrivals (sent on schedule, not measured)."""
    return math.ceil(rate)


def step_request_cap(plan: LoadPlan, level: StepLevel) -> int:
    """The most measured requests a step may send (a time cap may end it sooner)."""
    minimum = plan.min_measured(level.concurrency, level.rate)
    if plan.requests_per_step is not None:
        return max(plan.requests_per_step, minimum)
    if plan.step_seconds is not None:
        if level.rate is not None:
            return max(minimum, math.ceil(level.rate * plan.step_seconds))
        return max(minimum, plan.max_step_requests)  # closed loop: the time ends it
    return max(minimum, plan.max_step_requests)
