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

The same test in counts (what `exceedance_decision` does): with k of n samples over the bound, the
q-quantile is within the bound when the share over it is <= 1 - q; Clopper-Pearson bounds on
that share (scipy.stats.beta) decide it. It is exactly the order-statistic rule for integer
counts, and it accepts an effective sample size.

Autocorrelation: the binomial argument assumes independent samples. Requests of one closed-loop
step share the server's queue, so neighbouring latencies are correlated (a slow patch makes
several in a row slow) and a naive interval is too narrow. `design_effect` measures it by batch
means of the over-the-bound indicator (batches of consecutive requests in start order): d =
batch x Var(batch means) / (p (1 - p)), at least 1; the tests then use n / d samples and k / d
exceedances (Kish's effective sample size). See docs/STATISTICS.md for the achieved coverage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from scipy.stats import beta, binom, chi2

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
    values: Sequence[float], q: float, confidence: float = CONFIDENCE, design_effect: float = 1.0
) -> tuple[float | None, float | None]:
    """Two-sided interval with at least `confidence` coverage; an open end is None.

    With a design effect d > 1 the ranks are found for n / d samples and scaled back by d."""
    tail = (1 + confidence) / 2
    if design_effect <= 1.0 or not values:
        return lower_bound(values, q, tail), upper_bound(values, q, tail)
    ordered = sorted(values)
    n = len(ordered)
    n_eff = max(1, int(n / design_effect))
    k_hi = int(binom.ppf(tail, n_eff, q)) + 1
    j_lo = int(binom.ppf(1 - tail, n_eff, q))
    if binom.cdf(j_lo, n_eff, q) > 1 - tail + 1e-12:
        j_lo -= 1
    hi = ordered[min(n, math.ceil(k_hi * n / n_eff)) - 1] if k_hi <= n_eff else None
    lo_rank = math.floor((j_lo + 1) * n / n_eff) if j_lo >= 0 else 0
    lo = ordered[lo_rank - 1] if lo_rank >= 1 else None
    return lo, hi


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


def exceedance_decision(
    over: int, n: float, q: float, alpha_meets: float, alpha_breach: float, design_effect: float = 1.0
) -> Decision:
    """Decide "q-quantile <= bound" from `over` of `n` samples above the bound.

    meets: the one-sided (1 - alpha_meets) Clopper-Pearson upper bound of the share over the bound
    is <= 1 - q; breaches: the (1 - alpha_breach) lower bound is > 1 - q. With a design effect d,
    n / d samples and over / d exceedances (non-integer counts through the beta form)."""
    if n <= 0:
        return "undecided"
    d = max(1.0, design_effect)
    n_eff, k_eff = n / d, over / d
    share = 1.0 - q
    upper = 1.0 if k_eff >= n_eff else float(beta.ppf(1 - alpha_meets, k_eff + 1, n_eff - k_eff))
    if upper <= share:
        return "meets"
    lower = 0.0 if k_eff <= 0 else float(beta.ppf(alpha_breach, k_eff, n_eff - k_eff + 1))
    if lower > share:
        return "breaches"
    return "undecided"


def design_effect(over: Sequence[bool], batch: int, min_batches: int = 5) -> float:
    """How much closed-loop correlation inflates the variance of the over-the-bound share.

    Batch means of the over-the-bound indicator over consecutive samples (start order), batches of
    at least `batch` and at least sqrt(n) samples (a batch must be longer than the correlation it
    measures). An estimate counts only when it is clearly above what independent samples give
    (over the 90 % point of its chi-square spread), so independent requests are not charged for the
    estimator's own noise. With fewer than `min_batches` batches nothing can be measured and
    FEW_BATCHES_DESIGN_EFFECT is assumed. Never below 1. Known limit (docs/STATISTICS.md): with no
    sample over the bound there is nothing to measure, so d is 1 exactly when a "meets" is decided
    from zero exceedances; strongly correlated series then get "meets" too often."""
    size = max(2, batch, math.isqrt(len(over)))
    if len(over) // size < min_batches:
        return FEW_BATCHES_DESIGN_EFFECT
    return _batch_means_effect([bool(o) for o in over], size)


# Too few batches to measure correlation (an early look): assume it halves the information.
FEW_BATCHES_DESIGN_EFFECT = 2.0


def _batch_means_effect(indicator: Sequence[bool], batch: int) -> float:
    batches = len(indicator) // batch
    used = indicator[: batches * batch]
    p = sum(used) / len(used)
    if p <= 0.0 or p >= 1.0:
        return 1.0
    means = [sum(used[i * batch : (i + 1) * batch]) / batch for i in range(batches)]
    mean = sum(means) / batches
    var = sum((m - mean) ** 2 for m in means) / (batches - 1)
    d = batch * var / (p * (1 - p))
    noise = float(chi2.ppf(0.9, batches - 1)) / (batches - 1)  # d's 90 % point for independent samples
    return d if d > noise else 1.0
