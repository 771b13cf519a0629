"""The load plan: a ramp of steps (closed-loop concurrency, open-loop request rates, or prompt lengths
at one concurrency), how long each step runs, and the SLO that judges it."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum

from quanttui.core.arrivals import Arrivals
from quanttui.core.lengths import LengthDist
from quanttui.core.levels import LevelKind, level_text


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
# Open loop: a rate step measures at least 4 s of its arrivals and never fewer than 20 requests.
MIN_RATE_SECONDS = 4.0
MIN_RATE_REQUESTS = 20
# Open loop without --max-concurrency: requests outstanding per variant are still capped (a send
# that waits for the cap is late, and the step says it fell behind), so a saturated step's queue
# and its drain stay bounded.
DEFAULT_RATE_IN_FLIGHT = 256


@dataclass(frozen=True)
class LoadPlan:
    """Steps of fixed concurrency, of open-loop request rates (`rates`, sent on `arrivals`' seeded
    schedule, at most `max_in_flight` outstanding), or of prompt lengths (`input_lengths`, in the
    model's tokens, at the one concurrency given).

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

    concurrencies: tuple[int, ...] = ()
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
    rates: tuple[float, ...] = ()
    arrivals: Arrivals = field(default_factory=Arrivals)
    max_in_flight: int | None = None
    input_lengths: tuple[int, ...] = ()
    prefix_tokens: int | None = None  # shared-prefix workload: one system prompt of this many tokens
    output_lengths: LengthDist | None = None  # each answer's length drawn from it (else max_tokens)
    prompt_lengths: LengthDist | None = None  # synthetic prompts, each of a length drawn from it
    own_history: bool = False  # conversations: each variant's own earlier answers, not the recorded ones

    def __post_init__(self) -> None:
        if self.rates and self.input_lengths:
            raise ValueError("give at most one of rate and input-length steps")
        if self.rates:
            if self.concurrencies:
                raise ValueError("rate steps: give --max-concurrency to cap them, not --concurrency")
            if any(not (math.isfinite(r) and r > 0) for r in self.rates):
                raise ValueError(f"rate: every step must be > 0 requests/s, got {list(self.rates)}")
        elif not self.concurrencies:
            raise ValueError("concurrency: at least one step is needed")
        if self.input_lengths:
            if len(self.concurrencies) != 1:
                raise ValueError(
                    "input-length steps run at one concurrency, got " + str(list(self.concurrencies))
                )
            if any(n < 1 for n in self.input_lengths):
                raise ValueError(
                    f"input length: every step must be >= 1 token, got {list(self.input_lengths)}"
                )
        if self.prompt_lengths is not None and (self.input_lengths or self.prefix_tokens):
            raise ValueError("input-tokens (synthetic prompts) goes with concurrency or rate steps, alone")
        if self.prefix_tokens is not None and (self.prefix_tokens < 1 or self.input_lengths):
            raise ValueError("prefix-tokens must be >= 1 and goes with concurrency or rate steps")
        if self.max_in_flight is not None and self.max_in_flight < 1:
            raise ValueError(f"max-concurrency must be >= 1, got {self.max_in_flight}")
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
    def kind(self) -> LevelKind:
        if self.rates:
            return LevelKind.RATE
        if self.input_lengths:
            return LevelKind.INPUT_TOKENS
        return LevelKind.CONCURRENCY

    @property
    def levels(self) -> tuple[float, ...]:
        """The ramp's steps in its own unit (users, requests/s or prompt tokens)."""
        if self.rates:
            return self.rates
        if self.input_lengths:
            return tuple(float(n) for n in self.input_lengths)
        return tuple(float(c) for c in self.concurrencies)

    @property
    def in_flight_cap(self) -> int:
        """Requests outstanding per variant in a rate step."""
        return self.max_in_flight or DEFAULT_RATE_IN_FLIGHT

    @property
    def max_concurrency(self) -> int:
        """The most streams one variant may have open (sizes the client pools)."""
        if self.rates:
            return self.in_flight_cap
        return max(self.concurrencies)

    def min_measured(self, concurrency: int, rate: float | None = None) -> int:
        if rate is not None:
            return max(MIN_RATE_REQUESTS, math.ceil(MIN_RATE_SECONDS * rate))
        return MIN_REQUESTS_PER_USER * concurrency

    def describe_traffic(self, prompts: str) -> str:
        """What traffic the plan sent, for a report: its steps, arrivals, seeds, lengths, prompts."""
        parts = [self.describe_levels()]
        if self.prefix_tokens:
            parts.append(f"a shared system prompt of {self.prefix_tokens:,} tokens before every prompt")
        if self.prompt_lengths is not None:
            parts.append(
                f"synthetic prompts of {self.prompt_lengths.describe()} (seed {self.prompt_lengths.seed})"
            )
        if self.output_lengths is not None:
            parts.append(f"answers of {self.output_lengths.describe()} (seed {self.output_lengths.seed})")
        parts.append(f"prompts: {prompts}")
        if self.own_history:
            parts.append("the variants' requests differ after a conversation's first turn (own answers)")
        return "; ".join(parts)

    def describe_levels(self) -> str:
        values = ", ".join(level_text(self.kind, v) for v in self.levels)
        if self.rates:
            cap = (
                f"at most {self.max_in_flight} in flight"
                if self.max_in_flight
                else (f"at most {DEFAULT_RATE_IN_FLIGHT} in flight (default)")
            )
            return f"open-loop rates {values}, {self.arrivals.describe()}, {cap}"
        if self.input_lengths:
            return f"prompt lengths {values} at concurrency {self.concurrencies[0]}"
        return f"concurrency {values}"

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
            "rates": list(self.rates),
            "arrivals": self.arrivals.to_dict(),
            "max_in_flight": self.max_in_flight,
            "input_lengths": list(self.input_lengths),
            "prefix_tokens": self.prefix_tokens,
            "output_lengths": self.output_lengths.to_dict() if self.output_lengths else None,
            "prompt_lengths": self.prompt_lengths.to_dict() if self.prompt_lengths else None,
            "own_history": self.own_history,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> LoadPlan:
        slo = slo_from_dict(data.get("slo"))
        slo_ms = data.get("slo_p95_ms")
        if slo is None and slo_ms:
            slo = Slo(float(slo_ms), SloMetric(str(data.get("slo_metric") or "e2e")))  # type: ignore[arg-type]
        requests = data.get("requests_per_step")
        seconds = data.get("step_seconds")
        arrivals = data.get("arrivals")
        lengths = data.get("output_lengths")
        prompt_lengths = data.get("prompt_lengths")
        in_flight = data.get("max_in_flight")
        return cls(
            concurrencies=tuple(int(c) for c in data.get("concurrencies") or ()),  # type: ignore[union-attr]
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
            rates=tuple(float(r) for r in data.get("rates") or ()),  # type: ignore[union-attr]
            arrivals=Arrivals.from_dict(arrivals) if isinstance(arrivals, dict) else Arrivals(),
            max_in_flight=int(in_flight) if in_flight is not None else None,  # type: ignore[call-overload]
            input_lengths=tuple(int(n) for n in data.get("input_lengths") or ()),  # type: ignore[union-attr]
            prefix_tokens=int(data["prefix_tokens"]) if data.get("prefix_tokens") else None,  # type: ignore[call-overload]
            output_lengths=LengthDist.from_dict(lengths) if isinstance(lengths, dict) else None,
            prompt_lengths=LengthDist.from_dict(prompt_lengths) if isinstance(prompt_lengths, dict) else None,
            own_history=data.get("own_history") is True,
        )
