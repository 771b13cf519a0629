"""Open-loop arrival schedules: when each request of a rate step is meant to be sent (issue 19).

`constant`: one request every 1/rate seconds. `poisson`: exponential gaps (mean 1/rate).
`gamma`: gaps drawn from a gamma distribution of shape `burstiness` and scale
1 / (rate x burstiness), as `vllm bench serve --burstiness` defines it: the mean gap stays 1/rate,
the coefficient of variation is 1/sqrt(burstiness) (burstiness 1 is Poisson; below 1 burstier,
above 1 more regular). Each step's schedule comes from its own seeded generator (the plan's seed
and the step's number), so it is the same on every run and a replay can rebuild it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import StrEnum


class ArrivalKind(StrEnum):
    CONSTANT = "constant"
    POISSON = "poisson"
    GAMMA = "gamma"


@dataclass(frozen=True)
class Arrivals:
    kind: ArrivalKind = ArrivalKind.POISSON
    burstiness: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.burstiness) and self.burstiness > 0):
            raise ValueError(f"burstiness must be > 0, got {self.burstiness}")
        if self.kind is not ArrivalKind.GAMMA and self.burstiness != 1.0:
            raise ValueError(f"burstiness applies to gamma arrivals only (arrivals {self.kind.value})")

    def gaps(self, rate: float, count: int, step: int = 0) -> list[float]:
        """The `count` gaps (s) before each request of a step at `rate` requests/s; the first is
        drawn too, so a step does not start with a burst of one at t=0 on every variant."""
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate must be > 0 requests/s, got {rate}")
        if self.kind is ArrivalKind.CONSTANT:
            return [1.0 / rate] * count
        rng = random.Random(f"{self.seed}:{step}")  # str seeds are hashed deterministically (sha512)
        shape = 1.0 if self.kind is ArrivalKind.POISSON else self.burstiness
        scale = 1.0 / (rate * shape)
        return [rng.gammavariate(shape, scale) for _ in range(count)]

    def offsets(self, rate: float, count: int, step: int = 0) -> list[float]:
        """When each request is meant to go out, in seconds from the step's start."""
        out, at = [], 0.0
        for gap in self.gaps(rate, count, step):
            at += gap
            out.append(at)
        return out

    def describe(self) -> str:
        if self.kind is ArrivalKind.GAMMA:
            return f"gamma arrivals (burstiness {self.burstiness:g}, seed {self.seed})"
        if self.kind is ArrivalKind.POISSON:
            return f"poisson arrivals (seed {self.seed})"
        return "constant arrivals"

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind.value, "burstiness": self.burstiness, "seed": self.seed}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Arrivals:
        return cls(
            ArrivalKind(str(data.get("kind", "poisson"))),
            float(data.get("burstiness", 1.0)),  # type: ignore[arg-type]
            int(data.get("seed", 0)),  # type: ignore[call-overload]
        )


def parse_rates(text: str) -> tuple[float, ...]:
    """`"1,2,4,8"` (requests/s, ascending not required); ValueError naming the bad part."""
    rates = []
    for part in text.split(","):
        try:
            rate = float(part)
        except ValueError:
            raise ValueError(f"{part.strip()!r} is not a number of requests/s") from None
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"{part.strip()!r}: a rate must be > 0 requests/s")
        rates.append(rate)
    return tuple(rates)
