"""Answer lengths as a distribution (issue 19): each request's max_tokens drawn from it, seeded by
the step and the request's place in it, so every variant gets the same lengths and a replay knows
them. Sent with ignore_eos, so the answer is exactly that long (vLLM's extension; the usage says).

Forms: "256" (fixed), "uniform:64-512" (whole numbers, both ends included), "normal:256,64"
(mean, standard deviation; rounded, at least 1), "hist:64=0.5,256=0.3,1024=0.2" (lengths and
their weights, which need not add up to 1).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

KINDS = ("fixed", "uniform", "normal", "hist")


@dataclass(frozen=True)
class LengthDist:
    kind: str
    values: tuple[
        float, ...
    ]  # fixed: (n,); uniform: (lo, hi); normal: (mean, sd); hist: (n1, w1, n2, w2, ...)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"a length distribution is one of {', '.join(KINDS)}, got {self.kind!r}")
        if not self.values or any(not math.isfinite(v) for v in self.values):
            raise ValueError("a length distribution needs finite numbers")

    def draw(self, step: int, index: int) -> int:
        rng = random.Random(f"{self.seed}:{step}:{index}")  # str seeds hash deterministically
        v = self.values
        if self.kind == "fixed":
            return int(v[0])
        if self.kind == "uniform":
            return rng.randint(int(v[0]), int(v[1]))
        if self.kind == "normal":
            return max(1, round(rng.gauss(v[0], v[1])))
        lengths, weights = v[0::2], v[1::2]
        return int(rng.choices(lengths, weights)[0])

    def mean(self) -> float:
        v = self.values
        if self.kind == "fixed":
            return v[0]
        if self.kind == "uniform":
            return (v[0] + v[1]) / 2
        if self.kind == "normal":
            return v[0]
        lengths, weights = v[0::2], v[1::2]
        return sum(n * w for n, w in zip(lengths, weights, strict=True)) / sum(weights)

    def describe(self) -> str:
        v = self.values
        match self.kind:
            case "fixed":
                return f"{v[0]:.0f} tokens"
            case "uniform":
                return f"uniform {v[0]:.0f}-{v[1]:.0f} tokens"
            case "normal":
                return f"normal, mean {v[0]:g}, sd {v[1]:g} tokens"
        pairs = ", ".join(f"{n:.0f}: {w:g}" for n, w in zip(v[0::2], v[1::2], strict=True))
        return f"histogram ({pairs})"

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "values": list(self.values), "seed": self.seed}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> LengthDist:
        return cls(str(data["kind"]), tuple(float(x) for x in data["values"]), int(data.get("seed", 0)))  # type: ignore[union-attr,call-overload]


def parse_lengths(text: str, seed: int = 0) -> LengthDist:
    """One of the forms above; ValueError saying what a good one looks like."""
    kind, _, rest = text.strip().partition(":")
    try:
        if not rest:
            n = int(kind)
            if n < 1:
                raise ValueError
            return LengthDist("fixed", (float(n),), seed)
        if kind == "uniform":
            lo, hi = (int(x) for x in rest.split("-"))
            if not 1 <= lo <= hi:
                raise ValueError
            return LengthDist("uniform", (float(lo), float(hi)), seed)
        if kind == "normal":
            mean, sd = (float(x) for x in rest.split(","))
            if not (mean >= 1 and sd >= 0):
                raise ValueError
            return LengthDist("normal", (mean, sd), seed)
        if kind == "hist":
            values: list[float] = []
            for part in rest.split(","):
                length, weight = part.split("=")
                if int(length) < 1 or float(weight) < 0:
                    raise ValueError
                values += [float(int(length)), float(weight)]
            if not any(values[1::2]):
                raise ValueError
            return LengthDist("hist", tuple(values), seed)
    except ValueError:
        pass
    raise ValueError(
        f"{text!r} is not a length: give N, uniform:LO-HI, normal:MEAN,SD or hist:N=W,N=W,... (tokens >= 1)"
    )
