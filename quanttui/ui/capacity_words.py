"""How the console words capacity and step decisions, in core/capacity.py's one vocabulary.

A variant *holds c* (every step up to c decided "meets"), *breaches at c* (a decided breach),
is *undecided at c* (that step's interval still straddles the SLO), or holds >= c with its
*limit not reached*. A step reads "c=8 now: p95 e2e 1,234 ms [1,100–1,420] n=37 · undecided":
the SLO percentile so far, its two-sided interval, the measured requests and the decision.
Panel texts come longest first; a `FittedLine` shows the longest that fits its width, and every
form keeps the decision word. Pure (no Textual).
"""

from __future__ import annotations

from quanttui.core.capacity import VariantCapacity
from quanttui.core.live import LiveState
from quanttui.core.loadplan import SloMetric
from quanttui.core.stepstats import StepStats
from quanttui.ui.format import DASH, ms, num


def _rows(state: LiveState, name: str) -> list[StepStats]:
    """The variant's finished steps in ramp order (as core/capacity.py walks them)."""
    rows = (r for (n, _), r in state.step_rows.items() if n == name)
    return sorted(rows, key=lambda r: (r.trial, r.level, r.step))


def undecided_step(state: LiveState, name: str) -> StepStats | None:
    """The step that left an undecided capacity undecided (one trial; several trials that
    disagree have no single such step)."""
    cap = state.capacity.get(name)
    if cap is None or cap.status != "undecided" or not state.verdict or len(state.verdict.per_trial) != 1:
        return None
    return next((r for r in _rows(state, name) if r.slo_decision != "meets"), None)


def breach_step(state: LiveState, name: str) -> StepStats | None:
    """The step whose decided breach ended the variant's capacity."""
    cap = state.capacity.get(name)
    if cap is None or cap.first_conc_over_slo is None:
        return None
    rows = _rows(state, name)
    return next(
        (
            r
            for r in rows
            if r.level == cap.first_conc_over_slo and (r.slo_decision == "breaches" or r.queue_growing)
        ),
        None,
    )


def capacity_parts(state: LiveState, name: str) -> tuple[str, str] | None:
    """("holds 4", "breaches at 8"), ("holds ≥ 8", "limit not reached"), ("holds none",
    "undecided at 1") ...; None before a step finished or without an SLO."""
    cap = state.capacity.get(name)
    if cap is None or cap.status == "no slo":
        return None
    top = cap.max_conc_meeting_slo
    holds = "holds none" if top is None else f"holds {cap.at(top)}"
    match cap.status:
        case "decided" | "never met":
            return (
                holds,
                f"{'saturates' if cap.saturated else 'breaches'} at {cap.at(cap.first_conc_over_slo)}",
            )
        case "not reached":
            return f"holds ≥ {cap.at(top)}", "limit not reached"
    row = undecided_step(state, name)
    if row is not None:
        return holds, f"undecided at {cap.at(row.level)}"
    return holds, "undecided (trials disagree)" if cap.why.startswith("the trials") else "undecided"


def capacity_word(state: LiveState, name: str) -> str | None:
    """The shortest form, for the status line and the comparison row: "holds 4", "holds ≥ 8",
    "breaches at 1", "holds 4, undecided at 8", "undecided at 1"."""
    parts = capacity_parts(state, name)
    cap = state.capacity.get(name)
    if parts is None or cap is None:
        return None
    holds, decision = parts
    if cap.status == "decided" or cap.status == "not reached":
        return holds
    if cap.status == "never met" or cap.max_conc_meeting_slo is None:
        return decision
    return f"{holds}, {decision}"


def capacity_texts(state: LiveState, name: str, bend: str = "") -> tuple[str, ...]:
    """The panel's capacity line, longest first: with the deciding step's interval, then bare."""
    parts = capacity_parts(state, name)
    cap = state.capacity.get(name)
    if parts is None or cap is None:
        return (bend,) if bend else ()
    holds, decision = parts
    if cap.status == "not reached":
        medium, short = f"{holds} (limit not reached)", f"{holds} (not reached)"
    elif cap.status == "never met":
        medium = short = f"{decision} (its lowest step)"
    else:
        medium = short = f"{holds} · {decision}"
    row = breach_step(state, name) or undecided_step(state, name)
    long = mid = medium
    if row is not None:
        _, value, lo, hi = slo_percentile(row, state.fold.slo_metric)
        long = f"{medium}: {interval_text(row, state.fold.slo_metric)}"
        mid = f"{medium}: {ms(value)} {bounds(lo, hi)}"
    tail = f" · {bend}" if bend else ""
    forms = [long + tail, long, mid + tail, mid, medium + tail, medium, short]
    if cap.busy_steps or cap.client_bound_steps:  # the measurement is suspect: before the interval and bend
        busy = _suspect(cap.busy_steps, "busy host") + _suspect(cap.client_bound_steps, "client-bound")
        short_busy = (" · busy" if cap.busy_steps else "") + (" · client" if cap.client_bound_steps else "")
        forms = [long + busy + tail, long + busy, mid + busy, medium + busy, f"{short}{short_busy}", *forms]
    return tuple(dict.fromkeys(forms))


def _suspect(steps: int, word: str) -> str:
    return f" · {word} ({steps} step{'s' if steps > 1 else ''})" if steps else ""


def slo_percentile(
    stats: StepStats, metric: SloMetric
) -> tuple[str, float | None, float | None, float | None]:
    """(label, value, lo, hi) of the SLO's percentile on the step, else the p95 of the metric."""
    if stats.slo_pct_ms is not None or stats.slo_percentile is not None:
        label = f"p{stats.slo_percentile or 95:g} {stats.slo_metric or metric.value}"
        return label, stats.slo_pct_ms, stats.slo_pct_ms_lo, stats.slo_pct_ms_hi
    return f"p95 {metric.value}", *metric_p95(stats, metric)


def metric_p95(stats: StepStats, metric: SloMetric) -> tuple[float | None, float | None, float | None]:
    """(value, lo, hi) of the metric's own p95 on the step, whatever the SLO is on."""
    lo, hi = {
        SloMetric.E2E: (stats.p95_ms_lo, stats.p95_ms_hi),
        SloMetric.TTFT: (stats.ttft_p95_ms_lo, stats.ttft_p95_ms_hi),
        SloMetric.TPOT: (stats.tpot_p95_ms_lo, stats.tpot_p95_ms_hi),
        SloMetric.ITL: stats.intervals.get("itl_p95", (None, None)),
    }[metric]
    return stats.slo_value_ms(metric), lo, hi


def bounds(lo: float | None, hi: float | None) -> str:
    """An interval as [1,100–1,420]; an end the requests so far cannot bound shows as —."""
    return f"[{ms(lo) if lo is not None else DASH}–{ms(hi) if hi is not None else DASH}]"


def interval_text(stats: StepStats, metric: SloMetric) -> str:
    """The step's SLO percentile so far, e.g. p95 e2e 1,234 ms [1,100–1,420] n=37."""
    label, value, lo, hi = slo_percentile(stats, metric)
    return f"{label} {ms(value)} ms {bounds(lo, hi)} n={num(stats.requests)}"


def step_texts(stats: StepStats | None, level: str, metric: SloMetric, *, now: bool) -> tuple[str, ...]:
    """One step's line, longest first: "c=8 now: p95 e2e 1,234 ms [1,100–1,420] n=37 · undecided ·
    goodput 3.10 req/s", down to "c=8 now: undecided"; "· busy host" when the step ran on a busy host,
    "· client-bound" when the load client could have stamped its chunks late."""
    head = f"{level} now" if now else level
    if stats is None or not stats.requests:
        if not now:
            word = stats.slo_decision if stats is not None and stats.slo_decision else ""
            return (f"{head}: {word} · no measured request" if word else f"{head}: no measured request",)
        waiting = "warm-up, no measured request yet" if stats is not None and stats.warmup else "measuring"
        return f"{head}: undecided · {waiting}", f"{head}: undecided"
    decision = stats.slo_decision
    busy, busy_short = (" · busy host", " · busy") if stats.host_busy else ("", "")
    if stats.client_bound:
        busy, busy_short = busy + " · client-bound", busy_short + " · client"
    if stats.rate is not None and stats.lag_p99_ms is not None:  # the scheduler's own lateness
        late = " BEHIND" if stats.behind else ""
        busy, busy_short = (
            busy + f" · lag p99 {num(stats.lag_p99_ms)} ms{late}",
            busy_short + (" · behind" if late else ""),
        )
    if stats.queue_growing:
        busy, busy_short = busy + " · queue growing", busy_short + " · queue growing"
    _, value, lo, hi = slo_percentile(stats, metric)
    numbers = f"{ms(value)} {bounds(lo, hi)}"
    if decision is None:  # no SLO: the reading, no decision
        return f"{head}: {interval_text(stats, metric)}{busy}", f"{head}: {numbers}{busy_short}"
    # goodput (requests within every bound) says more than the primary bound once there are several
    several = bool(stats.bounds) and stats.goodput_req_s is not None
    goodput = f" · goodput {stats.goodput_req_s:,.2f} req/s" if several else ""
    forms = [
        f"{head}: {interval_text(stats, metric)} · {decision}{goodput}{busy}",
        f"{head}: {interval_text(stats, metric)} · {decision}{busy}",
        f"{head}: {decision} · {numbers} n={num(stats.requests)}{busy}",
        f"{head}: {decision} · {numbers}{busy}",
        f"{head}: {decision} · {numbers}{busy_short}",
        f"{head}: {decision} {bounds(lo, hi)}{busy_short}",
        f"{head}: {decision}{busy}",
        f"{head}: {decision}{busy_short}",
        f"{head}: {decision}",
    ]
    return tuple(dict.fromkeys(forms))


def current_step_texts(state: LiveState, name: str) -> tuple[str, ...]:
    """The step in progress for this variant, else its last finished step."""
    metric = state.fold.slo_metric
    if name in state.step_variants and state.step is not None and state.step not in state.steps_done:
        return step_texts(state.running.get(name), state.step_level_text, metric, now=True)
    last = max((r for (n, _), r in state.step_rows.items() if n == name), key=lambda r: r.step, default=None)
    return () if last is None else step_texts(last, last.level_text, metric, now=False)


def decision_class(state: LiveState, name: str) -> str:
    """The CSS class of the step line: meets | breaches | undecided | "" (no SLO, no step)."""
    if name in state.step_variants and state.step is not None and state.step not in state.steps_done:
        stats = state.running.get(name)
        return "undecided" if stats is None or not stats.requests else stats.slo_decision or ""
    last = max((r for (n, _), r in state.step_rows.items() if n == name), key=lambda r: r.step, default=None)
    return (last.slo_decision or "") if last is not None else ""


def verdict_lines(state: LiveState) -> tuple[tuple[str, ...], bool]:
    """The capacity sentences (core/verdict.py) without their "On <hardware>, " opening, and
    whether every capacity is decided; nothing before a step finished or without an SLO."""
    verdict = state.verdict
    if verdict is None or state.slo_ms is None or not verdict.capacities:
        return (), False
    decided = all(c.decided for c in verdict.capacities)
    if len(verdict.capacities) == 1:
        only: VariantCapacity = verdict.capacities[0]
        return (f"{only.variant} {only.holds_text()}",), decided
    prefix = f"On {state.where}, "
    lines = [s.removeprefix(prefix) for s in verdict.sentences]
    if len(lines) > 1:  # one per variant against the baseline: say which, first, so cut lines differ
        base = verdict.capacities[0].variant
        lines = [
            line if line.startswith(f"{other.variant} ") else f"{other.variant} vs {base}: {line}"
            for other, line in zip(verdict.capacities[1:], lines, strict=False)
        ]
    if state.sweep_end is None:  # the ramp goes on: what to run to decide is for after it
        lines = [f"so far: {line.split(' To decide: ')[0]}" for line in lines]
    return tuple(lines), decided
