"""Capacity from a ramp: each variant's knees, and the sentence an operator can take to a meeting.

One vocabulary everywhere (console, CSV, report, README):
- a variant *holds* c users: every step from the lowest up to c was decided "meets" (the SLO's
  percentile is within its bound at the plan's confidence); that chain is a fixed-sequence test;
- it *breaches* at c: that step's breach was decided; the capacity is then *decided*;
- an *undecided* step (neither, within the caps) breaks the chain: the capacity is *inconclusive*
  above what it holds, and the report says which step, its interval, and what to run;
- *not reached*: every step met; the capacity is at least the ramp's last step.
- the *bend* (blow-up knee): where p95 starts to climb much faster than it did at low load, even
  below the SLO (see blowup_knee); a shape, not a verdict.
The capacity sentence states a ratio only when both variants' capacities are decided.
Pure: StepStats in, dataclasses out; the same for a live run and for a report made from a recording.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from quanttui.core.client_check import ADVICE
from quanttui.core.levels import LevelKind, level_text
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
    # Levels are in the ramp's unit (`kind`): users, requests/s or prompt tokens.
    max_conc_meeting_slo: float | None  # holds: the top of the unbroken chain of "meets"
    first_conc_over_slo: float | None  # breaches: the decided breach (or saturation) that ended it
    breach: str  # "p95 e2e 9,945 ms [8,100, 11,200] > SLO 8,000 ms at c=8" or ""
    blowup_conc: float | None
    blowup_detail: str
    peak_tok_s: float | None
    tok_s_at_max_safe: float | None  # output tok/s at max_conc_meeting_slo
    p95_at_max_safe_ms: float | None
    batch1_tok_s: float | None  # one stream: 1000 / TPOT p50 at concurrency 1 (decode only)
    status: str = "no slo"  # "decided", "never met", "undecided", "not reached", "no slo"
    why: str = ""  # for undecided / not reached: which step, its interval, what to run
    percentile: float = 95.0
    confidence: float = 0.95
    busy_steps: int = 0  # steps that ran on a busy host
    client_bound_steps: int = 0  # steps whose load client ran late or flat out (core/client_check.py)
    kind: LevelKind = LevelKind.CONCURRENCY
    behind_steps: int = 0  # open-loop steps whose sends fell behind their schedule
    saturated: bool = False  # the chain ended where the queue was still growing

    def at(self, value: float | None) -> str:
        """A level as every table writes it: "8", "4 req/s", "2,048 tok"."""
        if value is None:
            return "none"
        if self.kind is LevelKind.CONCURRENCY:
            return f"{value:.0f}"
        return level_text(self.kind, value)

    @property
    def decided(self) -> bool:
        return self.status in ("decided", "never met")

    def holds_text(self) -> str:
        """ "holds 8, breaches at 16" / "holds 8, undecided at 16" / "holds >= 16 (not reached)"."""
        holds = self.at(self.max_conc_meeting_slo)
        breaks = "saturates" if self.saturated else "breaches"
        match self.status:
            case "decided":
                return f"holds {holds}, {breaks} at {self.at(self.first_conc_over_slo)}"
            case "never met":
                return f"{breaks} at {self.at(self.first_conc_over_slo)} (its lowest step)"
            case "undecided":
                return f"holds {holds}, {self.why}"
            case "not reached":
                return f"holds >= {holds} (limit not reached)"
        return "no SLO"


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def blowup_knee(
    points: Sequence[tuple[float, float]], kind: LevelKind = LevelKind.CONCURRENCY
) -> tuple[float | None, str]:
    """(level, why) of the blow-up knee of p95 over the ramp's levels, or (None, why not).

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
            per = {LevelKind.CONCURRENCY: "added user", LevelKind.RATE: "added req/s",
                   LevelKind.INPUT_TOKENS: "added prompt token"}[kind]  # fmt: skip
            return x0, f"p95 climbs +{slope:,.1f} ms per {per} after {level_text(kind, x0)} ({earlier})"
        slopes.append(slope)
    return None, "no bend: p95 grows evenly, slowly or not at all"


def variant_capacity(
    variant: str,
    rows: Sequence[StepStats],
    metric: SloMetric,
    slo_ms: float | None,
    percentile: float = 95.0,
    confidence: float = 0.95,
) -> VariantCapacity:
    """The variant's capacity from its steps' decisions, walked in ramp order (by level). In a rate
    ramp a step whose queue was still growing ends the chain as a breach does: the variant cannot
    sustain that rate, whatever its latency looked like while the queue built up."""
    own = sorted((r for r in rows if r.variant == variant), key=lambda r: (r.level, r.step))
    precision = own[0].precision if own else ""
    kind = own[0].level_kind if own else LevelKind.CONCURRENCY
    points = [(r.level, v) for r in own if (v := r.slo_value_ms(metric)) is not None]
    holds: StepStats | None = None
    breach_row: StepStats | None = None
    status, why = ("no slo", "") if slo_ms is None else ("not reached", "")
    saturated = False
    if slo_ms is not None:
        for row in own:
            if row.queue_growing:
                breach_row, saturated = row, True
                status = "decided" if holds else "never met"
                break
            if row.slo_decision == "meets":
                holds = row
                continue
            if row.slo_decision == "breaches":
                breach_row = row
                status = "decided" if holds else "never met"
            else:
                status = "undecided"
                why = f"undecided at {_level(row)} ({_interval(row)} vs SLO {_ms(slo_ms)}, {row.requests} requests)"
            break
        if status == "not reached":
            why = (
                f"met at every step up to {holds.level_text}, the ramp's last"
                if holds
                else "no step measured"
            )
            if holds is None:
                status = "undecided"
    breach = ""
    if breach_row is not None and saturated:
        breach = f"saturated at {breach_row.level_text}: {breach_row.queue_detail}"
    elif breach_row is not None and slo_ms is not None:
        breach = f"p{percentile:g} {metric.value} {_interval(breach_row)} > SLO {_ms(slo_ms)} at {breach_row.level_text}"
    blowup, detail = blowup_knee(points, kind)
    rates = [r.tok_s for r in own if r.tok_s is not None]
    one = next((r for r in own if r.conc == 1 and kind is LevelKind.CONCURRENCY), None)
    batch1 = 1000.0 / one.tpot_p50_ms if one and one.tpot_p50_ms else None
    return VariantCapacity(
        variant=variant, precision=precision, metric=metric.value, slo_ms=slo_ms, steps=len(own),
        max_conc_meeting_slo=holds.level if holds else None,
        first_conc_over_slo=breach_row.level if breach_row else None, breach=breach,
        blowup_conc=blowup, blowup_detail=detail, peak_tok_s=max(rates) if rates else None,
        tok_s_at_max_safe=holds.tok_s if holds else None,
        p95_at_max_safe_ms=holds.slo_value_ms(metric) if holds else None, batch1_tok_s=batch1,
        status=status, why=why, percentile=percentile, confidence=confidence,
        busy_steps=sum(1 for r in own if r.host_busy),
        client_bound_steps=sum(1 for r in own if r.client_bound),
        kind=kind, behind_steps=sum(1 for r in own if r.behind), saturated=saturated,
    )  # fmt: skip


def _level(row: StepStats) -> str:
    return str(row.conc) if row.level_kind is LevelKind.CONCURRENCY else row.level_text


def _interval(row: StepStats) -> str:
    value = row.slo_pct_ms if row.slo_pct_ms is not None else row.p95_ms
    lo, hi = row.slo_pct_ms_lo, row.slo_pct_ms_hi
    shown = "no successful request" if value is None else _ms(value)
    if lo is None and hi is None:
        return f"{shown} (interval open: too few requests)"
    return f"{shown} [{_num(lo)}, {_num(hi)}]"


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def _to_decide(caps: Sequence[VariantCapacity]) -> str:
    todo = []
    higher: dict[tuple[LevelKind, float], list[str]] = {}  # the step to add -> whose limit it finds
    for cap in caps:
        if cap.status == "not reached":
            higher.setdefault((cap.kind, (cap.max_conc_meeting_slo or 0) * 2), []).append(cap.variant)
    for (kind, step), names in higher.items():
        whose = f"{names[0]}'s limit" if len(names) == 1 else f"the limits of {' and '.join(names)}"
        if kind is LevelKind.INPUT_TOKENS:
            todo.append(
                f"add longer prompts (e.g. --input-lengths ...,{step:g}, if the model's context window "
                f"holds them with the answer) to find {whose}"
            )
            continue
        flag = "--rate" if kind is LevelKind.RATE else "--concurrency"
        todo.append(f"add higher steps (e.g. {flag} ...,{step:g}) to find {whose}")
    undecided = [c.variant for c in caps if c.status == "undecided"]
    if undecided:
        todo.append(
            f"give {' and '.join(undecided)}'s undecided steps more requests: adaptive steps (the default, "
            "no --requests-per-step) with larger caps (--max-step-requests, --max-step-seconds) or --trials 3 "
            "(a percentile close to the SLO needs many requests)"
        )
    return "; ".join(todo)


def capacity_sentence(where: str, baseline: VariantCapacity, other: VariantCapacity) -> str:
    """One sentence from the decisions, e.g. "On RTX 2000 Ada, awq sustains 1.7x more concurrent
    users than bf16 at p95 e2e <= 3,000 ms (24 vs 14; decided at 95 % confidence)", or why not;
    with a caveat when steps ran on a busy host (the decisions are right about what was measured,
    and what was measured included the other processes' load)."""
    sentence = _decided_sentence(where, baseline, other)
    busy = baseline.busy_steps + other.busy_steps
    if busy and baseline.slo_ms is not None:
        sentence += (f" Caveat: {busy} of the steps ran on a busy host (other processes used half a core or "
                     "more), so their latencies include that load.")  # fmt: skip
    behind = baseline.behind_steps + other.behind_steps
    if behind:
        sentence += (f" Caveat: {behind} of the open-loop steps fell behind their schedule (sends late by more "
                     "than 5 ms or a tenth of the mean gap at p99), so they offered less than their rate.")  # fmt: skip
    bound = baseline.client_bound_steps + other.client_bound_steps
    if bound and baseline.slo_ms is not None:
        sentence += (f" Caveat: {bound} of the steps were client-bound (the load client's loop ran late or its "
                     f"process flat out), so their latencies may be overstated: run them with {ADVICE}.")  # fmt: skip
    return sentence


def _decided_sentence(where: str, baseline: VariantCapacity, other: VariantCapacity) -> str:
    if baseline.slo_ms is None:
        return f"On {where}, no SLO was set: the ramp measured throughput and latency only."
    slo = f"p{baseline.percentile:g} {baseline.metric} <= {_ms(baseline.slo_ms)}"
    conf = f"{baseline.confidence:.0%} confidence"
    undecided = [c for c in (baseline, other) if not c.decided]
    if undecided:
        whys = "; ".join(f"{c.variant} {c.holds_text()}" for c in (baseline, other))
        todo = _to_decide(undecided)
        return f"On {where}, inconclusive at {slo}: {whys}. To decide: {todo}."
    a, b = baseline.max_conc_meeting_slo, other.max_conc_meeting_slo
    # Each end named by its variant, in the order of the numbers that follow ("(24 vs 14)").
    if other.saturated == baseline.saturated:
        ends = f"{other.variant} {_ends(other)}, {baseline.variant} at {baseline.at(baseline.first_conc_over_slo)}"
    else:
        ends = f"{other.variant} {_ends(other)}, {baseline.variant} {_ends(baseline)}"
    tail = f" at {slo} ({conf}; {ends})"
    kind = baseline.kind
    if a is None and b is None:
        what = {LevelKind.CONCURRENCY: "concurrency", LevelKind.RATE: "request rate",
                LevelKind.INPUT_TOKENS: "prompt length"}[kind]  # fmt: skip
        return f"On {where}, neither {baseline.variant} nor {other.variant} met {slo} at any measured {what} ({conf})."
    if a is None:
        return f"On {where}, only {other.variant} met {slo} (it holds {_amount(other, b)}); {baseline.variant} {_lowest(baseline)} ({conf})."
    if b is None:
        return f"On {where}, only {baseline.variant} met {slo} (it holds {_amount(baseline, a)}); {other.variant} {_lowest(other)} ({conf})."
    if a == b:
        return f"On {where}, {other.variant} and {baseline.variant} both hold {_amount(baseline, a)}{tail}."
    ratio = b / a
    bigger = ratio > 1
    factor = ratio if bigger else 1 / ratio
    if kind is LevelKind.RATE:
        how = f"{factor:.1f}x the request rate of" if bigger else f"1/{factor:.1f} of the request rate of"
        return f"On {where}, {other.variant} sustains {how} {baseline.variant} ({b:g} vs {a:g} req/s){tail}."
    if kind is LevelKind.INPUT_TOKENS:
        how = f"{factor:.1f}x longer" if bigger else f"{factor:.1f}x shorter"
        return (f"On {where}, {other.variant} holds prompts {how} than {baseline.variant} "
                f"({b:,.0f} vs {a:,.0f} tokens){tail}.")  # fmt: skip
    more = "more" if bigger else "fewer"
    return f"On {where}, {other.variant} sustains {factor:.1f}x {more} concurrent users than {baseline.variant} ({b:.0f} vs {a:.0f}){tail}."  # fmt: skip


def _amount(cap: VariantCapacity, value: float | None) -> str:
    if cap.kind is LevelKind.RATE:
        return f"{value:g} req/s"
    if cap.kind is LevelKind.INPUT_TOKENS:
        return f"prompts of {value:,.0f} tokens"
    return f"{value:.0f} concurrent users"


def _ends(cap: VariantCapacity) -> str:
    return f"{'saturates' if cap.saturated else 'breaches'} at {cap.at(cap.first_conc_over_slo)}"


def _lowest(cap: VariantCapacity) -> str:
    return f"{'saturated' if cap.saturated else 'breached'} at its lowest step"
