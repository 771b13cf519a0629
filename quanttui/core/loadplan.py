"""The load plan: a closed-loop concurrency ramp, how long each step runs, and the SLO that judges it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class SloMetric(StrEnum):
    E2E = "e2e"
    TTFT = "ttft"
    TPOT = "tpot"
    ITL = "itl"


class Schedule(StrEnum):
    """How variants share the machine during a step.

    simultaneous: every variant runs the step at once (the live side-by-side view; each is measured
    while the others compete for the same GPU or CPU). alternate: one variant at a time, the order
    flipped every step, so variants on one device do not slow each other.
    """

    SIMULTANEOUS = "simultaneous"
    ALTERNATE = "alternate"


@dataclass(frozen=True)
class SloBound:
    """One bound of an SLO: the `percentile` of `metric` must be <= `ms`."""

    metric: SloMetric
    percentile: float
    ms: float

    @property
    def key(self) -> str:
        """As written on the command line and in CSV column names: "ttft_p95"."""
        return f"{self.metric.value}_p{self.percentile:g}"

    @property
    def q(self) -> float:
        return self.percentile / 100.0

    def __str__(self) -> str:
        return f"p{self.percentile:g} {self.metric.value} <= {self.ms:,.0f} ms"


@dataclass(frozen=True)
class Slo:
    """A latency objective: the primary bound (`p95_ms` on `metric` at `percentile`, p95 unless
    said otherwise) and any further bounds, all of which a step must meet (goodput counts the
    requests that meet every bound, as `vllm bench serve --goodput` does)."""

    p95_ms: float
    metric: SloMetric = SloMetric.E2E
    percentile: float = 95.0
    extra: tuple[SloBound, ...] = ()

    def __post_init__(self) -> None:
        if not self.p95_ms > 0:
            raise ValueError(f"slo p95 must be > 0 ms, got {self.p95_ms}")
        if not 0 < self.percentile < 100:
            raise ValueError(f"slo percentile must be within 0..100, got {self.percentile}")
        keys = [b.key for b in self.bounds]
        if len(set(keys)) != len(keys):
            raise ValueError(f"slo: a bound is given twice ({', '.join(keys)})")

    @property
    def primary(self) -> SloBound:
        return SloBound(self.metric, self.percentile, self.p95_ms)

    @property
    def bounds(self) -> tuple[SloBound, ...]:
        return (self.primary, *self.extra)

    def with_primary_ms(self, ms: float) -> Slo:
        """The same SLO with the primary bound moved (an operator's set_slo)."""
        return Slo(ms, self.metric, self.percentile, self.extra)

    def describe(self) -> str:
        return ", ".join(str(b) for b in self.bounds)

    def to_dict(self) -> dict[str, object]:
        return {
            "bounds": [
                {"metric": b.metric.value, "percentile": b.percentile, "ms": b.ms} for b in self.bounds
            ]
        }


_BOUND = re.compile(r"^\s*(e2e|ttft|tpot|itl)_p(\d+(?:\.\d+)?)\s*<=\s*(\d+(?:\.\d+)?)\s*(?:ms)?\s*$")


def parse_slo(text: str) -> Slo:
    """`"ttft_p95<=500,tpot_p95<=50,e2e_p95<=3000"` (ms); the first bound is the primary one.

    Raises ValueError naming the part that does not parse."""
    bounds: list[SloBound] = []
    for part in text.split(","):
        match = _BOUND.match(part)
        if not match:
            raise ValueError(
                f"{part.strip()!r} is not METRIC_pQ<=MS (metric e2e, ttft, tpot or itl; e.g. e2e_p95<=3000)"
            )
        metric, percentile, ms = SloMetric(match[1]), float(match[2]), float(match[3])
        if not 0 < percentile < 100 or not ms > 0:
            raise ValueError(f"{part.strip()!r}: the percentile must be within 0..100 and the bound > 0 ms")
        bounds.append(SloBound(metric, percentile, ms))
    first = bounds[0]
    return Slo(first.ms, first.metric, first.percentile, tuple(bounds[1:]))


def slo_from_dict(data: object) -> Slo | None:
    if not isinstance(data, dict) or not data.get("bounds"):
        return None
    bounds = [
        SloBound(SloMetric(str(b["metric"])), float(b["percentile"]), float(b["ms"])) for b in data["bounds"]
    ]
    first = bounds[0]
    return Slo(first.ms, first.metric, first.percentile, tuple(bounds[1:]))


# Adaptive steps (the default): a step runs until its SLO decision is made or a cap is reached.
DEFAULT_MAX_STEP_REQUESTS = 512
DEFAULT_MAX_STEP_SECONDS = 300.0
MIN_REQUESTS_PER_USER = 4  # a step never ends with fewer measured requests than 4 x concurrency


@dataclass(frozen=True)
class LoadPlan:
    """Steps of fixed concurrency.

    Step length: adaptive by default (neither `requests_per_step` nor `step_seconds`): the step
    runs until its SLO decision is made at the plan's `confidence`, or until `max_step_requests`
    measured requests or `max_step_seconds`, then it is "undecided". `requests_per_step` or
    `step_seconds` fix the length instead. Every step first fills: the first `concurrency`
    requests (one per closed-loop user) are warm-up, sent before all users are in flight, and
    `warmup_requests` more may be sent and waited for before them; none are measured. A step
    never measures fewer than 4 x concurrency requests.

    A variant retires (gets no further steps) when a step's SLO breach is decided or its error
    rate exceeds `max_error_rate`; the others go on. `trials` repeats the whole ramp with the
    variants' order alternated.
    """

    concurrencies: tuple[int, ...]
    requests_per_step: int | None = None
    step_seconds: float | None = None
    warmup_requests: int = 0
    slo: Slo | None = None
    max_error_rate: float = 0.5
    confidence: float = 0.95
    max_step_requests: int = DEFAULT_MAX_STEP_REQUESTS
    max_step_seconds: float = DEFAULT_MAX_STEP_SECONDS
    schedule: Schedule = Schedule.SIMULTANEOUS
    trials: int = 1

    def __post_init__(self) -> None:
        if not self.concurrencies:
            raise ValueError("concurrency: at least one step is needed")
        if any(c < 1 for c in self.concurrencies):
            raise ValueError(f"concurrency: every step must be >= 1, got {list(self.concurrencies)}")
        if self.requests_per_step is not None and self.step_seconds is not None:
            raise ValueError("give at most one of requests-per-step and step-seconds")
        if self.requests_per_step is not None and self.requests_per_step < 1:
            raise ValueError(f"requests-per-step must be >= 1, got {self.requests_per_step}")
        if self.step_seconds is not None and not self.step_seconds > 0:
            raise ValueError(f"step-seconds must be > 0, got {self.step_seconds}")
        if self.warmup_requests < 0:
            raise ValueError(f"warmup-requests must be >= 0, got {self.warmup_requests}")
        if not 0 <= self.max_error_rate <= 1:
            raise ValueError(f"max-error-rate must be within 0..1, got {self.max_error_rate}")
        if not 0.5 <= self.confidence < 1:
            raise ValueError(f"confidence must be within 0.5..1 (exclusive), got {self.confidence}")
        if self.max_step_requests < 1:
            raise ValueError(f"max-step-requests must be >= 1, got {self.max_step_requests}")
        if not self.max_step_seconds > 0:
            raise ValueError(f"max-step-seconds must be > 0, got {self.max_step_seconds}")
        if self.trials < 1:
            raise ValueError(f"trials must be >= 1, got {self.trials}")

    @property
    def adaptive(self) -> bool:
        return self.requests_per_step is None and self.step_seconds is None

    @property
    def max_concurrency(self) -> int:
        return max(self.concurrencies)

    def min_measured(self, concurrency: int) -> int:
        return MIN_REQUESTS_PER_USER * concurrency

    def describe_length(self) -> str:
        if self.requests_per_step is not None:
            return f"{self.requests_per_step} measured requests per step (at least 4 x concurrency)"
        if self.step_seconds is not None:
            return f"{self.step_seconds:g} s per step (at least 4 x concurrency requests)"
        return (
            f"adaptive: until decided at {self.confidence:.0%} or {self.max_step_requests} requests / "
            f"{self.max_step_seconds:g} s"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "concurrencies": list(self.concurrencies),
            "requests_per_step": self.requests_per_step,
            "step_seconds": self.step_seconds,
            "warmup_requests": self.warmup_requests,
            "slo_p95_ms": self.slo.p95_ms if self.slo else None,
            "slo_metric": str(self.slo.metric) if self.slo else None,
            "slo": self.slo.to_dict() if self.slo else None,
            "max_error_rate": self.max_error_rate,
            "confidence": self.confidence,
            "max_step_requests": self.max_step_requests,
            "max_step_seconds": self.max_step_seconds,
            "schedule": self.schedule.value,
            "trials": self.trials,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> LoadPlan:
        slo = slo_from_dict(data.get("slo"))
        slo_ms = data.get("slo_p95_ms")
        if slo is None and slo_ms:
            slo = Slo(float(slo_ms), SloMetric(str(data.get("slo_metric") or "e2e")))  # type: ignore[arg-type]
        requests = data.get("requests_per_step")
        seconds = data.get("step_seconds")
        return cls(
            concurrencies=tuple(int(c) for c in data["concurrencies"]),  # type: ignore[union-attr]
            requests_per_step=requests,  # type: ignore[arg-type]
            step_seconds=seconds,  # type: ignore[arg-type]
            warmup_requests=int(data.get("warmup_requests") or 0),  # type: ignore[arg-type]
            slo=slo,
            max_error_rate=float(data.get("max_error_rate", 0.5)),  # type: ignore[arg-type]
            confidence=float(data.get("confidence", 0.95)),  # type: ignore[arg-type]
            max_step_requests=int(data.get("max_step_requests", DEFAULT_MAX_STEP_REQUESTS)),  # type: ignore[arg-type]
            max_step_seconds=float(data.get("max_step_seconds", DEFAULT_MAX_STEP_SECONDS)),  # type: ignore[arg-type]
            schedule=Schedule(str(data.get("schedule") or "simultaneous")),
            trials=int(data.get("trials", 1)),  # type: ignore[arg-type]
        )
