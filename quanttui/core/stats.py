"""Percentiles the way `vllm bench serve` computes them (numpy's default linear interpolation)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear interpolation between closest ranks; None for no data."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * p / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    frac = rank - low
    return float(ordered[low] + (ordered[high] - ordered[low]) * frac)


def mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


def to_ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0
