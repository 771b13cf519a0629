"""Capacity from a ramp: each variant's knees, and the sentence an operator can take to a meeting.

Two knees per variant, both from the per-step p95 of one metric (E2E by default; TTFT, TPOT or ITL
selectable):
- the SLO knee: the largest concurrency whose p95 meets the SLO, the first that does not, and
  which metric breached by how much;
- the blow-up knee: where p95 starts to climb much faster than it did at low load, even below the
  SLO: the last concurrency before the first step that is clearly steeper than the ones before it
  (see blowup_knee).
Pure: StepStats in, dataclasses out; the same for a live run and for a report made from a recording.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from quanttui.core.loadplan import SloMetric
from quanttui.core.stepstats import StepStats

BLOWUP_SLOPE_RATIO = 2.0
BLOWUP_MIN_RISE = 0.25


@dataclass(frozen=True)
class VariantCapacity:
    variant: str
    precision: str
    metric: str
    slo_ms: float | None
    steps: int
    max_conc_meeting_slo: int | None
    first_conc_over_slo: int | None
    breach: str  # "p95 e2e 9,945 ms > SLO 8,000 ms at c=8" or ""
    blowup_conc: int | None
    blowup_detail: str
    peak_tok_s: float | None
    tok_s_at_max_safe: float | None  # output tok/s at max_conc_meeting_slo
    p95_at_max_safe_ms: float | None
    batch1_tok_s: float | None  # one stream: 1000 / TPOT p50 at concurrency 1 (decode only)


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def blowup_knee(points: Sequence[tuple[int, float]]) -> tuple[int | None, str]:
    """(concurrency, why) of the blow-up knee of p95 over concurrency, or (None, why not).

    The knee is the last concurrency before the first step whose p95 climbs, per added user, at
    least BLOWUP_SLOPE_RATIO times faster than the steps before it did on average (a flat or falling
    start counts as 0), and by at least BLOWUP_MIN_RISE of its own value: small wobbles are not a bend.
    """
    pts = sorted(points)
    if len(pts) < 3:
        return None, "needs at least 3 steps"
    slopes: list[float] = []
    for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
        slope = (y1 - y0) / (x1 - x0) if x1 != x0 else 0.0
        baseline = max(0.0, sum(slopes) / len(slopes)) if slopes else None
        if (
            baseline is not None
            and slope > BLOWUP_SLOPE_RATIO * baseline
            and y1 >= y0 * (1 + BLOWUP_MIN_RISE)
        ):
            earlier = f"+{baseline:,.1f} before" if baseline > 0 else "flat or falling before"
            return x0, f"p95 climbs +{slope:,.1f} ms per added user after c={x0} ({earlier})"
        slopes.append(slope)
    return None, "no bend: p95 grows evenly, slowly or not at all"


def variant_capacity(
    variant: str, rows: Sequence[StepStats], metric: SloMetric, slo_ms: float | None
) -> VariantCapacity:
    own = sorted((r for r in rows if r.variant == variant), key=lambda r: r.conc)
    precision = own[0].precision if own else ""
    points = [(r.conc, v) for r in own if (v := r.slo_value_ms(metric)) is not None]
    passing = [(c, v) for c, v in points if slo_ms is not None and v <= slo_ms]
    failing = [(c, v) for c, v in points if slo_ms is not None and v > slo_ms]
    max_safe = max((c for c, _ in passing), default=None)
    first_fail = min(failing, default=None)
    breach = (
        f"p95 {metric.value} {_ms(first_fail[1])} > SLO {_ms(slo_ms)} at c={first_fail[0]}"
        if first_fail and slo_ms is not None
        else ""
    )
    blowup, detail = blowup_knee(points)
    rates = [r.tok_s for r in own if r.tok_s is not None]
    at_safe = next((r for r in own if r.conc == max_safe), None)
    one = next((r for r in own if r.conc == 1), None)
    batch1 = 1000.0 / one.tpot_p50_ms if one and one.tpot_p50_ms else None
    return VariantCapacity(
        variant=variant, precision=precision, metric=metric.value, slo_ms=slo_ms, steps=len(own),
        max_conc_meeting_slo=max_safe, first_conc_over_slo=first_fail[0] if first_fail else None, breach=breach,
        blowup_conc=blowup, blowup_detail=detail, peak_tok_s=max(rates) if rates else None,
        tok_s_at_max_safe=at_safe.tok_s if at_safe else None,
        p95_at_max_safe_ms=at_safe.slo_value_ms(metric) if at_safe else None, batch1_tok_s=batch1,
    )  # fmt: skip


def capacity_sentence(where: str, baseline: VariantCapacity, other: VariantCapacity) -> str:
    """One sentence from the measurements, e.g. "On RTX 2000 Ada, awq sustains 1.7x more
    concurrent users than bf16 at p95 e2e <= 3,000 ms (24 vs 14)"."""
    if baseline.slo_ms is None:
        return f"On {where}, no SLO was set: the ramp measured throughput and latency only."
    slo = f"p95 {baseline.metric} <= {_ms(baseline.slo_ms)}"
    a, b = baseline.max_conc_meeting_slo, other.max_conc_meeting_slo
    if a is None and b is None:
        return f"On {where}, neither {baseline.variant} nor {other.variant} met {slo} at any measured concurrency."
    if a is None:
        return f"On {where}, only {other.variant} met {slo} (up to {b} concurrent users); {baseline.variant} never did."
    if b is None:
        return f"On {where}, only {baseline.variant} met {slo} (up to {a} concurrent users); {other.variant} never did."
    limit = (
        ""
        if other.first_conc_over_slo or baseline.first_conc_over_slo
        else " (the ramp never reached either limit)"
    )
    if a == b:
        return f"On {where}, {other.variant} and {baseline.variant} both sustain {a} concurrent users at {slo}{limit}."
    ratio = b / a
    more = "more" if ratio > 1 else "fewer"
    factor = ratio if ratio > 1 else 1 / ratio
    return (f"On {where}, {other.variant} sustains {factor:.1f}x {more} concurrent users than {baseline.variant} "
            f"at {slo} ({b} vs {a}){limit}.")  # fmt: skip
