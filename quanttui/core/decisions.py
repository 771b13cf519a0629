"""Step decisions against the SLO: when a step has measured enough, and with what error.

A step's SLO decision is a test, and the capacity sentence rests on several of them, so each
test is given a share of the error the sentence may have (1 - confidence, 5 % by default):

- Claims. For one variant the sentence claims two things: "it meets the SLO up to c_k" and "it
  breaches at c_k+1". The meets claims form a fixed sequence (tested in ramp order, each counted
  only while every lower step met): the first false "meets" can only come at the first step whose
  truth is a breach, so the chain costs one test's error (fixed-sequence procedure). A breach can
  be declared at any step, so its error is split over the plan's steps. Bonferroni over the 2
  claims of every variant: each claim gets (1 - confidence) / (2 x variants), and a claim with
  several SLO bounds splits it again over the bounds.
- Looks. An adaptive step checks its decision at a few request counts (4 x c, then doubling, up to
  the cap), not after every request, which would inflate the error (optional stopping). Each
  test's error is split over the looks at which that test can decide (Bonferroni): a "meets"
  needs enough requests (59 for the p95 at one look of 5 %), so early looks spend nothing on it.

Every number a step decision uses is recorded on its `StepStarted` (looks, per-look errors), so a
replay and `quanttui report` re-derive the same decisions. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from quanttui.core.events import RequestResult
from quanttui.core.intervals import (
    Decision,
    design_effect,
    exceedance_decision,
    quantile_interval,
    requests_to_meet,
)
from quanttui.core.loadplan import LoadPlan, Slo, SloBound, SloMetric
from quanttui.core.stats import percentile

# Without an SLO an adaptive step ends when its p95's 95 % interval is this narrow (relative).
PRECISE_RELATIVE_WIDTH = 0.2
# Before per-look errors were recorded (schema <= 2) a decision was one look at 95 % one-sided.
LEGACY_ALPHA = 0.05


@dataclass(frozen=True)
class LookPlan:
    """Where a step's decision is checked and with what error per look (per claim, before the
    split over SLO bounds). `looks` empty: one look, at the end of a fixed-length step."""

    looks: tuple[int, ...]
    alpha_meets: float
    alpha_breach: float


def look_plan(plan: LoadPlan, concurrency: int, variants: int, rate: float | None = None) -> LookPlan:
    claim = (1.0 - plan.confidence) / (2 * max(1, variants))
    steps = len(plan.levels)
    looks: tuple[int, ...] = ()
    if plan.adaptive:
        first = plan.min_measured(concurrency, rate)
        cap = max(first, plan.max_step_requests)
        points = []
        n = first
        while n < cap:
            points.append(n)
            n *= 2
        points.append(cap)
        looks = tuple(points)
    q_lowest = min((b.q for b in plan.slo.bounds), default=0.95) if plan.slo else 0.95
    can_meet = [n for n in looks if n >= requests_to_meet(q_lowest, 1.0 - claim)]
    # + 1: the step's end is a look too when a time cap ends it between two looks.
    return LookPlan(
        looks=looks,
        alpha_meets=claim / (len(can_meet) + 1),
        alpha_breach=claim / steps / (len(looks) + 1),
    )


@dataclass(frozen=True)
class BoundResult:
    """One SLO bound on one step's measured requests."""

    bound: SloBound
    value_ms: float | None  # the point percentile
    lo_ms: float | None  # its two-sided interval at the plan's confidence
    hi_ms: float | None
    decision: Decision
    design_effect: float


@dataclass(frozen=True)
class StepVerdict:
    """What a step measured and decided: the measured requests are the first `measured` in start
    order (the look that decided, else all); `decision` is None without an SLO."""

    measured: int
    decision: Decision | None
    look: int | None  # the request count at which it was decided
    bounds: tuple[BoundResult, ...]


def metric_samples(results: Sequence[RequestResult], metric: SloMetric) -> list[float]:
    """Seconds, successful requests only, in the order given (start order)."""
    good = [r for r in results if r.ok]
    if metric is SloMetric.ITL:
        return [gap / 1e6 for r in good for gap in r.itl_us]
    values = {SloMetric.E2E: [r.e2e for r in good], SloMetric.TTFT: [r.ttft for r in good],
              SloMetric.TPOT: [r.tpot for r in good]}[metric]  # fmt: skip
    return [v for v in values if v is not None]


def judge_bounds(
    results: Sequence[RequestResult],
    slo: Slo,
    alpha_meets: float,
    alpha_breach: float,
    concurrency: int,
    confidence: float = 0.95,
) -> tuple[Decision, tuple[BoundResult, ...]]:
    """Every bound's decision on these requests: meets only if all meet, breaches if any does."""
    split = len(slo.bounds)
    out = []
    for bound in slo.bounds:
        samples = metric_samples(results, bound.metric)
        ok = max(1, sum(1 for r in results if r.ok))
        per_request = max(1.0, len(samples) / ok)
        over = [v * 1000.0 > bound.ms for v in samples]
        d = design_effect(over, round(max(4, concurrency) * per_request))
        decision = exceedance_decision(
            sum(over), len(samples), bound.q, alpha_meets / split, alpha_breach / split, d
        )
        lo, hi = quantile_interval(samples, bound.q, confidence, d)
        point = percentile(samples, bound.percentile)
        out.append(BoundResult(bound, _ms(point), _ms(lo), _ms(hi), decision, round(d, 3)))
    decisions = [b.decision for b in out]
    if "breaches" in decisions:
        overall: Decision = "breaches"
    elif all(d == "meets" for d in decisions):
        overall = "meets"
    else:
        overall = "undecided"
    return overall, tuple(out)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)


def precise_enough(results: Sequence[RequestResult], metric: SloMetric, confidence: float) -> bool:
    """Without an SLO: is the p95's interval narrow enough to stop an adaptive step?"""
    samples = metric_samples(results, metric)
    lo, hi = quantile_interval(samples, 0.95, confidence)
    point = percentile(samples, 95)
    return (
        lo is not None and hi is not None and point is not None and hi - lo <= PRECISE_RELATIVE_WIDTH * point
    )


def complete_prefix(measured: Sequence[RequestResult], base: int, n: int) -> list[RequestResult] | None:
    """The first n measured requests in start order, once every one of them has finished."""
    if len(measured) < n:
        return None
    prefix = sorted(measured, key=lambda r: r.index)[:n]
    if prefix[-1].index != base + n - 1:
        return None  # one of them is still in flight
    return prefix


def step_verdict(
    measured: Sequence[RequestResult],
    base: int,
    looks: LookPlan,
    slo: Slo | None,
    concurrency: int,
    confidence: float,
    finished: bool,
) -> StepVerdict:
    """Walk the step's looks in order: the first that decides ends the measurement there.

    `base`: the index of the first measured request. Otherwise the finished step is judged once
    more on everything it measured (its last look: a time cap, or a fixed-length step's only one);
    a step still running is undecided, with its interval so far."""
    for n in looks.looks:
        prefix = complete_prefix(measured, base, n)
        if prefix is None:
            break
        if slo is None:
            if precise_enough(prefix, SloMetric.E2E, confidence):
                return StepVerdict(n, None, n, ())
            continue
        decision, bounds = judge_bounds(
            prefix, slo, looks.alpha_meets, looks.alpha_breach, concurrency, confidence
        )
        if decision != "undecided":
            return StepVerdict(n, decision, n, bounds)
    everything = sorted(measured, key=lambda r: r.index)
    if slo is None:
        return StepVerdict(len(everything), None, None, ())
    decision, bounds = judge_bounds(
        everything, slo, looks.alpha_meets, looks.alpha_breach, concurrency, confidence
    )
    if not finished:  # a running step: its interval so far, nothing decided yet
        return StepVerdict(len(everything), "undecided", None, _undecided(bounds))
    return StepVerdict(
        len(everything), decision, len(everything) if decision != "undecided" else None, bounds
    )


def _undecided(bounds: tuple[BoundResult, ...]) -> tuple[BoundResult, ...]:
    return tuple(
        BoundResult(b.bound, b.value_ms, b.lo_ms, b.hi_ms, "undecided", b.design_effect) for b in bounds
    )
