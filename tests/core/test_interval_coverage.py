"""Issue 14's statistical evidence, at test scale: simulated draws from distributions with a known
p95 check that the order-statistic intervals cover the truth as often as they say, that the SLO
decisions (one look, and the sequential looks of an adaptive step) err no more often than their
error budget, what closed-loop autocorrelation does to them, and the known minimums.

bench/interval_coverage.py runs the same simulations at a larger scale (docs/STATISTICS.md).
Everything is seeded, so each run sees the same draws.

Monte-Carlo slack: an error rate is compared with its bound + 3 standard errors of the simulated
rate (sqrt(a (1 - a) / draws)); coverage is compared with 0.95 with no slack at all, because the
method's exact coverage is well above 0.95 at these n (checked exactly below) and the draws are
enough for the simulated rate to stay above 0.95 by more than 3 standard errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import binom, lognorm, norm

from quanttui.core.decisions import LookPlan, look_plan, step_verdict
from quanttui.core.events import RequestResult
from quanttui.core.intervals import design_effect, exceedance_decision, quantile_interval, requests_to_meet
from quanttui.core.loadplan import LoadPlan, Slo

Q = 0.95
Z95 = float(norm.ppf(Q))
BOUND_MS = 1000.0  # the SLO bound; simulated latencies are in seconds, so the bound is 1 s

Sampler = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


def lognormal_draw(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.lognormal(0.0, 1.0, shape)


LOGNORMAL_P95 = math.exp(Z95)  # lognormal(0, 1)

# Bimodal: 85 % fast requests around 1 s, 15 % slow ones around 6 s (a second mode, e.g. long
# outputs or preemptions). The p95 lies in the slow mode; its exact value solves F(x) = 0.95.
FAST, SLOW, SLOW_SHARE = lognorm(0.2, scale=1.0), lognorm(0.3, scale=6.0), 0.15


def bimodal_draw(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    fast = rng.lognormal(0.0, 0.2, shape)
    slow = rng.lognormal(math.log(6.0), 0.3, shape)
    return np.where(rng.random(shape) < SLOW_SHARE, slow, fast)


BIMODAL_P95 = float(
    brentq(lambda x: (1 - SLOW_SHARE) * FAST.cdf(x) + SLOW_SHARE * SLOW.cdf(x) - Q, 1.0, 50.0, xtol=1e-12)
)
DISTRIBUTIONS: dict[str, tuple[Sampler, float]] = {
    "lognormal": (lognormal_draw, LOGNORMAL_P95),
    "bimodal": (bimodal_draw, BIMODAL_P95),
}


def at_the_bound(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Lognormal latencies (seconds) whose true p95 is exactly the 1 s bound."""
    return np.exp(rng.standard_normal(shape) * 0.5 + (math.log(BOUND_MS / 1000.0) - 0.5 * Z95))


def ar1_at_the_bound(rng: np.random.Generator, draws: int, n: int, phi: float) -> np.ndarray:
    """Log-latency AR(1) with a standard normal marginal: neighbouring requests are correlated
    (corr phi at lag 1) and the marginal p95 is exactly the 1 s bound."""
    x = np.empty((draws, n))
    x[:, 0] = rng.standard_normal(draws)
    shocks = rng.standard_normal((draws, n)) * math.sqrt(1 - phi * phi)
    for i in range(1, n):
        x[:, i] = phi * x[:, i - 1] + shocks[:, i]
    return np.exp(x - Z95) * (BOUND_MS / 1000.0)


def slack(rate_bound: float, draws: int) -> float:
    return 3 * math.sqrt(rate_bound * (1 - rate_bound) / draws)


def results(latencies: np.ndarray, base: int) -> list[RequestResult]:
    return [
        RequestResult(
            t=0.0, variant="v", step=0, index=base + i, warmup=False, start=0.0, ok=True, e2e=float(s)
        )
        for i, s in enumerate(latencies)
    ]


def exact_coverage(n: int) -> float:
    """The interval's exact coverage for n samples of any continuous distribution: [X(l), X(u)]
    covers the q-quantile exactly when l <= B < u for B ~ Binomial(n, q) samples below it."""
    lo, hi = quantile_interval([float(i) for i in range(1, n + 1)], Q, 0.95)
    low = 0 if lo is None else int(lo)
    high = n + 1 if hi is None else int(hi)
    return float(binom.cdf(high - 1, n, Q) - (binom.cdf(low - 1, n, Q) if low >= 1 else 0.0))


# --- coverage ---------------------------------------------------------------------------------


def test_the_exact_coverage_of_the_p95_interval_is_at_least_95_percent_for_every_n():
    """Distribution-free: the coverage depends only on n, so it is computed, not simulated."""
    coverages = {n: exact_coverage(n) for n in [*range(1, 130), 200, 256, 400, 512, 1000]}
    assert min(coverages.values()) >= 0.95, min(coverages.items(), key=lambda kv: kv[1])


COVERAGE_DRAWS = 3000  # at n = 400 (exact 0.962) the 0.95 line is 3.4 standard errors below


@pytest.mark.parametrize("n", [20, 59, 100, 400])
@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_the_95_interval_of_the_p95_covers_the_true_p95_in_at_least_95_percent_of_draws(name, n):
    draw, truth = DISTRIBUTIONS[name]
    rng = np.random.default_rng([14, n, len(name)])
    covered = open_ends = 0
    for row in draw(rng, (COVERAGE_DRAWS, n)):
        low, high = quantile_interval(row.tolist(), Q, 0.95)
        open_ends += low is None or high is None
        covered += (low is None or low <= truth) and (high is None or truth <= high)
    assert covered / COVERAGE_DRAWS >= 0.95
    assert open_ends == (COVERAGE_DRAWS if n < requests_to_meet(Q, 0.975) else 0)  # the upper end: 72


# --- one look: exceedance_decision at the bound -------------------------------------------------


def test_at_the_bound_the_exact_error_of_one_look_is_within_its_alpha_for_every_n():
    """With k ~ Binomial(n, 0.05) samples over a bound that is the true p95, "meets" is said for
    k <= k_meets and "breaches" for k >= k_breach: their exact probabilities are the errors."""
    for alpha in (0.05, 0.0125, 0.003125):
        for n in [*range(1, 200, 3), 256, 400, 512]:
            k_meets = -1
            while k_meets + 1 <= n and exceedance_decision(k_meets + 1, n, Q, alpha, alpha) == "meets":
                k_meets += 1
            k_breach = max(0, int(n * (1 - Q)) - 1)
            while k_breach <= n and exceedance_decision(k_breach, n, Q, alpha, alpha) != "breaches":
                k_breach += 1
            assert k_meets < 0 or binom.cdf(k_meets, n, 1 - Q) <= alpha, (alpha, n, k_meets)
            assert k_breach > n or binom.sf(k_breach - 1, n, 1 - Q) <= alpha, (alpha, n, k_breach)


ONE_LOOK_DRAWS = 4000


@pytest.mark.parametrize("n", [59, 100, 400])
def test_at_the_bound_one_look_says_meets_or_breaches_at_most_alpha_of_the_time(n):
    """A true p95 exactly at the bound is the worst case for both claims: "meets" (p95 <= bound)
    is wrong for any p95 above it and "breaches" for any p95 at or below it, and the error of
    either rises towards the bound."""
    alpha = 0.05
    rng = np.random.default_rng([14, 1, n])
    said = {"meets": 0, "breaches": 0, "undecided": 0}
    for row in at_the_bound(rng, (ONE_LOOK_DRAWS, n)):
        said[exceedance_decision(int((row > BOUND_MS / 1000.0).sum()), n, Q, alpha, alpha)] += 1
    limit = alpha + slack(alpha, ONE_LOOK_DRAWS)
    assert said["meets"] / ONE_LOOK_DRAWS <= limit
    assert said["breaches"] / ONE_LOOK_DRAWS <= limit


# --- the sequential looks of an adaptive step -------------------------------------------------

SEQUENTIAL_DRAWS = 600


def sequential_rates(
    plan: LoadPlan, concurrency: int, variants: int, samples: np.ndarray
) -> tuple[dict[str, float], LookPlan]:
    """Each row is one adaptive step's requests in start order (index = base + i, base = the fill
    wave): the rate of each decision step_verdict takes over all its looks, and the look plan."""
    looks = look_plan(plan, concurrency, variants)
    said = {"meets": 0, "breaches": 0, "undecided": 0}
    for row in samples:
        verdict = step_verdict(
            results(row, concurrency), concurrency, looks, plan.slo, concurrency, 0.95, True
        )
        said[verdict.decision or "undecided"] += 1
    return {k: v / len(samples) for k, v in said.items()}, looks


@pytest.mark.parametrize(
    ("confidence", "concurrencies", "concurrency", "variants"),
    [
        (0.95, (1, 2, 4, 8, 16), 4, 2),  # the default: 95 % family-wise, 2 variants, 5 steps
        (0.5, (4,), 4, 1),  # a 50 % plan: large per-claim errors, so the simulation can see them
    ],
)
def test_optional_stopping_is_controlled_over_all_the_looks_of_a_step(
    confidence, concurrencies, concurrency, variants
):
    """iid latencies with the true p95 at the bound, judged at every look of the adaptive plan up to
    the 512-request cap: the share of steps that end "meets" at any look stays within the claim's
    error, (1 - confidence) / (2 x variants); the share that end "breaches" within the claim's
    error split over the plan's steps (each step's share of it)."""
    plan = LoadPlan(concurrencies=concurrencies, slo=Slo(BOUND_MS), confidence=confidence)
    rng = np.random.default_rng([14, 2, concurrency, variants])
    rates, looks = sequential_rates(plan, concurrency, variants, at_the_bound(rng, (SEQUENTIAL_DRAWS, 512)))
    claim = (1 - confidence) / (2 * variants)
    assert looks.looks[-1] == 512 and len(looks.looks) >= 4
    assert rates["meets"] <= claim + slack(claim, SEQUENTIAL_DRAWS)
    per_step = claim / len(concurrencies)
    assert rates["breaches"] <= per_step + slack(per_step, SEQUENTIAL_DRAWS)


# --- closed-loop autocorrelation --------------------------------------------------------------

AR1_PHI = 0.8
AR1_DRAWS = 1500


# The known limit (docs/STATISTICS.md), held as strict xfail: a fix turns these into failures to un-mark.
AR1_LIMIT = pytest.mark.xfail(
    strict=True,
    reason=(
        "with log-latency AR(1) phi=0.8 a window with no request over the bound has nothing to measure "
        "(d = 1), which is when 'meets' is decided; an over-the-median indicator fixes it here but misfires "
        "on real steps (slow drift far below the bound)"
    ),
)


def ar1_meets_rates(n: int, batch: int, alpha: float) -> tuple[float, float]:
    """One look at n AR(1) requests: the false-meets rate without and with the design effect."""
    rng = np.random.default_rng([14, 3, n])
    plain = corrected = 0
    for row in ar1_at_the_bound(rng, AR1_DRAWS, n, AR1_PHI):
        over = row > BOUND_MS / 1000.0
        k = int(over.sum())
        plain += exceedance_decision(k, n, Q, alpha, alpha) == "meets"
        d = design_effect(over.tolist(), batch)
        corrected += exceedance_decision(k, n, Q, alpha, alpha, d) == "meets"
    return plain / AR1_DRAWS, corrected / AR1_DRAWS


def test_the_design_effect_never_makes_a_decision_bolder():
    """d >= 1 always, and a larger d only widens the Clopper-Pearson bounds."""
    rng = np.random.default_rng([14, 4])
    for row in ar1_at_the_bound(rng, 200, 256, AR1_PHI):
        over = row > BOUND_MS / 1000.0
        d = design_effect(over.tolist(), 4)
        assert d >= 1.0
        plain = exceedance_decision(int(over.sum()), 256, Q, 0.05, 0.05)
        corrected = exceedance_decision(int(over.sum()), 256, Q, 0.05, 0.05, d)
        assert corrected in (plain, "undecided")


@AR1_LIMIT
@pytest.mark.parametrize("n", [128, 512])
def test_with_ar1_correlation_the_corrected_one_look_keeps_false_meets_within_alpha(n):
    alpha = 0.05
    plain, corrected = ar1_meets_rates(n, 4, alpha)  # the uncorrected rate: documentation only
    assert corrected <= alpha + slack(alpha, AR1_DRAWS), f"corrected {corrected}, uncorrected {plain}"


@AR1_LIMIT
def test_with_ar1_correlation_the_adaptive_step_keeps_false_meets_within_the_claim():
    plan = LoadPlan(concurrencies=(1, 2, 4, 8, 16), slo=Slo(BOUND_MS))
    rng = np.random.default_rng([14, 5])
    samples = ar1_at_the_bound(rng, SEQUENTIAL_DRAWS, 512, AR1_PHI)
    rates, _ = sequential_rates(plan, 4, 2, samples)
    claim = 0.05 / 4
    assert rates["meets"] <= claim + slack(claim, SEQUENTIAL_DRAWS)


# --- known minimums ---------------------------------------------------------------------------


def test_59_requests_all_within_the_bound_decide_meets_at_one_5_percent_look_and_58_do_not():
    assert requests_to_meet(0.95, 0.95) == 59
    assert exceedance_decision(0, 59, Q, 0.05, 0.05) == "meets"
    assert exceedance_decision(0, 58, Q, 0.05, 0.05) == "undecided"
    assert quantile_interval([0.5] * 58, Q, 0.90)[1] is None  # the 95 % upper bound: still open
    assert quantile_interval([0.5] * 59, Q, 0.90)[1] == 0.5


def test_a_handful_of_requests_decides_a_clear_breach():
    assert exceedance_decision(3, 8, Q, 0.05, 0.05) == "breaches"
    assert exceedance_decision(2, 8, Q, 0.05, 0.05) == "undecided"
    assert exceedance_decision(2, 4, Q, 0.05, 0.05) == "breaches"


def test_the_default_plan_decides_meets_at_its_128_look_and_a_clear_breach_at_its_first():
    """2 variants, 5 steps, 95 % family-wise: "meets" needs 113 requests all within the bound (its
    per-look error is 1.25 % / 4), so 64 all-within requests are not enough and the 128 look decides;
    requests all over the bound are decided at the second look (the first assumes correlation)."""
    plan = LoadPlan(concurrencies=(1, 2, 4, 8, 16), slo=Slo(BOUND_MS))
    looks = look_plan(plan, 1, 2)
    assert looks.looks == (4, 8, 16, 32, 64, 128, 256, 512)
    assert math.isclose(looks.alpha_meets, 0.05 / 4 / 4)
    assert requests_to_meet(0.95, 1 - looks.alpha_meets) == 113
    within = step_verdict(results(np.full(512, 0.5), 1), 1, looks, plan.slo, 1, 0.95, True)
    assert (within.decision, within.look) == ("meets", 128)
    early = step_verdict(results(np.full(64, 0.5), 1), 1, looks, plan.slo, 1, 0.95, True)
    assert early.decision == "undecided"
    over = step_verdict(results(np.full(512, 2.0), 1), 1, looks, plan.slo, 1, 0.95, True)
    # the first look (4) has too few batches to measure correlation, so it assumes a design effect of 2
    assert (over.decision, over.look) == ("breaches", 8)
