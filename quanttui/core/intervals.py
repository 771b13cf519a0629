"""How sure a percentile is: distribution-free intervals from order statistics, and SLO decisions.

For n samples and the q-quantile ξ, the k-th smallest sample X(k) lies below ξ exactly when at
least k samples do, which happens with probability P(B >= k) for B ~ Binomial(n, q), whatever the
distribution (continuous). So [X(l), X(u)] with binomial l and u is an interval with at least the
stated coverage, no normal approximation. scipy.stats.binom gives the indices.

Decision against an SLO bound on the q-quantile, at confidence c (each side an exact one-sided
test with error <= 1 - c):
- "meets": the one-sided upper bound X(u) <= bound. With every sample within the bound this needs
  u <= n, i.e. 1 - q^n >= c: 59 requests for the p95 at 95 % (`requests_to_meet`); each sample over
  the bound pushes that up.
- "breaches": the one-sided lower bound X(l) > bound. A clear breach is decided in a handful (8
  requests with 3 over the bound decide it for the p95 at 95 %).
- "undecided": neither, or too few samples for either bound.

Caveat, stated not hidden: the binomial argument assumes independent samples. Requests of one
closed-loop step share the server's queue, so neighbouring latencies are correlated and the true
coverage can be lower than stated; nothing here corrects for it yet (batch means would).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from scipy.stats import binom

Decision = Literal["meets", "breaches", "undecided"]
CONFIDENCE = 0.95


def upper_bound(values: Sequence[float], q: float, confidence: float = CONFIDENCE) -> float | None:
    """One-sided upper confidence bound of the q-quantile, None with too few samples."""
    n = len(values)
    if n == 0:
        return None
    k = int(binom.ppf(confidence, n, q)) + 1  # smallest k with P(B <= k - 1) >= confidence
    return sorted(values)[k - 1] if k <= n else None


def lower_bound(values: Sequence[float], q: float, confidence: float = CONFIDENCE) -> float | None:
    """One-sided lower confidence bound of the q-quantile, None with too few samples."""
    n = len(values)
    if n == 0:
        return None
    j = int(binom.ppf(1 - confidence, n, q))  # largest j with P(B <= j) <= 1 - confidence
    if binom.cdf(j, n, q) > 1 - confidence + 1e-12:
        j -= 1
    k = j + 1
    return sorted(values)[k - 1] if k >= 1 else None


def quantile_interval(
    values: Sequence[float], q: float, confidence: float = CONFIDENCE
) -> tuple[float | None, float | None]:
    """Two-sided interval with at least `confidence` coverage; an open end is None."""
    tail = (1 + confidence) / 2
    return lower_bound(values, q, tail), upper_bound(values, q, tail)


def slo_decision(values: Sequence[float], q: float, bound: float, confidence: float = CONFIDENCE) -> Decision:
    upper = upper_bound(values, q, confidence)
    if upper is not None and upper <= bound:
        return "meets"
    lower = lower_bound(values, q, confidence)
    if lower is not None and lower > bound:
        return "breaches"
    return "undecided"


def requests_to_meet(q: float = 0.95, confidence: float = CONFIDENCE) -> int:
    """The fewest samples, all within the bound, that decide "meets" (59 for p95 at 95 %)."""
    return math.ceil(math.log(1 - confidence) / math.log(q))
