"""The load plan: a closed-loop concurrency ramp and the rules that stop it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SloMetric(StrEnum):
    E2E = "e2e"
    TTFT = "ttft"
    TPOT = "tpot"
    ITL = "itl"


@dataclass(frozen=True)
class Slo:
    """A p95 latency objective on one metric."""

    p95_ms: float
    metric: SloMetric = SloMetric.E2E

    def __post_init__(self) -> None:
        if not self.p95_ms > 0:
            raise ValueError(f"slo p95 must be > 0 ms, got {self.p95_ms}")


@dataclass(frozen=True)
class LoadPlan:
    """Steps of fixed concurrency, each `requests_per_step` requests or `step_seconds` long.

    Each step first sends `warmup_requests` more, which are left out of its statistics.
    A variant retires (gets no further steps) when its step breaches the SLO or its error rate
    exceeds `max_error_rate`; the others go on.
    """

    concurrencies: tuple[int, ...]
    requests_per_step: int | None = None
    step_seconds: float | None = None
    warmup_requests: int = 0
    slo: Slo | None = None
    max_error_rate: float = 0.5

    def __post_init__(self) -> None:
        if not self.concurrencies:
            raise ValueError("concurrency: at least one step is needed")
        if any(c < 1 for c in self.concurrencies):
            raise ValueError(f"concurrency: every step must be >= 1, got {list(self.concurrencies)}")
        if (self.requests_per_step is None) == (self.step_seconds is None):
            raise ValueError("give exactly one of requests-per-step and step-seconds")
        if self.requests_per_step is not None and self.requests_per_step < 1:
            raise ValueError(f"requests-per-step must be >= 1, got {self.requests_per_step}")
        if self.step_seconds is not None and not self.step_seconds > 0:
            raise ValueError(f"step-seconds must be > 0, got {self.step_seconds}")
        if self.warmup_requests < 0:
            raise ValueError(f"warmup-requests must be >= 0, got {self.warmup_requests}")
        if not 0 <= self.max_error_rate <= 1:
            raise ValueError(f"max-error-rate must be within 0..1, got {self.max_error_rate}")

    @property
    def max_concurrency(self) -> int:
        return max(self.concurrencies)

    def to_dict(self) -> dict[str, object]:
        return {
            "concurrencies": list(self.concurrencies),
            "requests_per_step": self.requests_per_step,
            "step_seconds": self.step_seconds,
            "warmup_requests": self.warmup_requests,
            "slo_p95_ms": self.slo.p95_ms if self.slo else None,
            "slo_metric": str(self.slo.metric) if self.slo else None,
            "max_error_rate": self.max_error_rate,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> LoadPlan:
        slo_ms = data.get("slo_p95_ms")
        slo = Slo(float(slo_ms), SloMetric(str(data.get("slo_metric") or "e2e"))) if slo_ms else None
        return cls(
            concurrencies=tuple(int(c) for c in data["concurrencies"]),  # type: ignore[union-attr]
            requests_per_step=data.get("requests_per_step"),  # type: ignore[arg-type]
            step_seconds=data.get("step_seconds"),  # type: ignore[arg-type]
            warmup_requests=int(data.get("warmup_requests") or 0),  # type: ignore[arg-type]
            slo=slo,
            max_error_rate=float(data.get("max_error_rate", 0.5)),  # type: ignore[arg-type]
        )
