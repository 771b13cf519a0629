"""The knee chart's data: per variant, a value per load step against the load, from `LiveState`.

x is the step's load (concurrency), y the percentile of an SLO bound per finished step with its
interval (the fold computes both from the recorded requests, so a recording made before intervals
existed shows them too), or the step's output tok/s. The step in progress is its value so far;
steps the fold could not decide are drawn hollow; each variant's decided capacity is marked; a
variant retired by the ramp stops there and says so. Pure: `load_layout.py` lays it out.
"""

from __future__ import annotations

from dataclasses import dataclass

from quanttui.core.levels import LevelKind
from quanttui.core.live import LiveState
from quanttui.core.loadplan import SloMetric
from quanttui.core.stepstats import StepStats
from quanttui.ui.capacity_words import capacity_parts, metric_p95, slo_percentile
from quanttui.ui.format import ms

# No information by colour alone: each variant has its own shape; hollow = not decided.
MARKERS = ("●", "■", "▲", "◆")
HOLLOW = ("○", "□", "△", "◇")
TOK_S = "tok/s"  # the y choice that plots throughput instead of a latency bound


@dataclass(frozen=True)
class LoadPoint:
    load: float  # the step's level: users, requests/s or prompt tokens
    value: float
    lo: float | None = None  # the value's interval; None where the samples are too few
    hi: float | None = None
    decided: bool = True  # False: the fold could not decide the step, or it is still running
    running: bool = False


@dataclass(frozen=True)
class LoadLine:
    variant: str
    colour: str  # a theme variable
    marker: str
    hollow: str
    points: tuple[LoadPoint, ...]
    capacity: int | None = None  # the highest load of its unbroken chain of decided "meets"
    note: str = ""  # the legend's words: "holds 4", "holds ≥ 8", "undecided at 1", ", retired"


@dataclass(frozen=True)
class LoadChart:
    title: str
    short_title: str
    unit: str
    lines: tuple[LoadLine, ...]
    slo: float | None = None  # the bound's limit, drawn as a line
    log_ok: bool = True  # a latency may go log when it spans decades; tok/s stays linear
    x_unit: str = "users"  # the ramp's unit: users, req/s or tok (prompt tokens)


def y_choices(state: LiveState) -> list[str]:
    """What the chart's y can show: the SLO's bounds by key (primary first), then throughput.
    Without an SLO: the p95 of end-to-end latency. A prompt-length ramp can always show TTFT p95
    against the length (prefill is what it measures)."""
    slo = state.fold.slo
    keys = [b.key for b in slo.bounds] if slo is not None else [f"{state.slo_metric}_p95"]
    if state.plan is not None and state.plan.kind is LevelKind.INPUT_TOKENS and "ttft_p95" not in keys:
        keys.append("ttft_p95")
    return [*keys, TOK_S]


def _bound(
    stats: StepStats, key: str, primary: bool
) -> tuple[float | None, float | None, float | None, str | None]:
    """(value, lo, hi, decision) of the bound `key` ("ttft_p99") in one step."""
    if primary and stats.slo_pct_ms is not None:
        return stats.slo_pct_ms, stats.slo_pct_ms_lo, stats.slo_pct_ms_hi, stats.slo_decision
    if f"{key}_ms" in stats.bounds:
        b = stats.bounds
        decision = b.get(f"{key}_decision")
        words = decision if isinstance(decision, str) else None
        return _ms(b.get(f"{key}_ms")), _ms(b.get(f"{key}_ms_lo")), _ms(b.get(f"{key}_ms_hi")), words
    metric, _, percentile = key.partition("_p")
    try:
        if percentile != "95":
            return None, None, None, None
        if primary:  # no SLO: the p95 of the metric the console shows
            _, value, lo, hi = slo_percentile(stats, SloMetric(metric))
        else:  # a further choice (TTFT in a prompt-length ramp): its own p95, not the SLO's metric
            value, lo, hi = metric_p95(stats, SloMetric(metric))
    except ValueError:
        return None, None, None, None
    return value, lo, hi, stats.slo_decision if primary else None


def _ms(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _point(stats: StepStats, y: str, primary: bool, running: bool, has_slo: bool) -> LoadPoint | None:
    if y == TOK_S:
        if stats.tok_s is None:
            return None
        return LoadPoint(stats.level, stats.tok_s, decided=not running, running=running)
    value, lo, hi, decision = _bound(stats, y, primary)
    if value is None:
        return None
    # Without an SLO there is nothing to decide: a finished step is as final as it gets.
    decided = not running and (decision in ("meets", "breaches") or not has_slo)
    return LoadPoint(stats.level, value, lo, hi, decided=decided, running=running)


def load_chart(state: LiveState, y: str | None = None) -> LoadChart:
    """The chart of `y` (one of `y_choices`; the primary bound when None) against the load."""
    choices = y_choices(state)
    y = y if y in choices else choices[0]
    primary = y == choices[0]
    slo = state.fold.slo
    # A step is decided against an SLO bound; a further metric no bound is on (TTFT in a prompt-length
    # ramp under an e2e SLO) has nothing to decide, so its points are as final as the step.
    has_slo = slo is not None and (primary or any(b.key == y for b in slo.bounds))
    lines = []
    for i, name in enumerate(state.variants):
        rows = sorted((s for (n, _), s in state.step_rows.items() if n == name), key=lambda s: s.step)
        points = [p for s in rows if (p := _point(s, y, primary, running=False, has_slo=has_slo)) is not None]
        open_step = state.running.get(name)
        if (
            open_step is not None
            and (p := _point(open_step, y, primary, running=True, has_slo=has_slo)) is not None
        ):
            points.append(p)
        capacity = state.capacity.get(name)
        holds = (
            capacity.max_conc_meeting_slo if capacity is not None and capacity.status != "no slo" else None
        )
        lines.append(
            LoadLine(name, f"variant-{i % 4 + 1}", MARKERS[i % 4], HOLLOW[i % 4], tuple(points), holds,
                     _note(state, name))
        )  # fmt: skip
    kind = state.plan.kind if state.plan else LevelKind.CONCURRENCY
    x_unit = {LevelKind.CONCURRENCY: "users", LevelKind.RATE: "req/s", LevelKind.INPUT_TOKENS: "tok"}[kind]
    against = {LevelKind.CONCURRENCY: "users", LevelKind.RATE: "requests/s",
               LevelKind.INPUT_TOKENS: "prompt tokens"}[state.plan.kind if state.plan else LevelKind.CONCURRENCY]  # fmt: skip
    if y == TOK_S:
        return LoadChart(
            f"output tok/s per step vs {against}",
            "tok/s per step",
            "tok/s",
            tuple(lines),
            log_ok=False,
            x_unit=x_unit,
        )
    slo = state.fold.slo
    bound = next((b for b in slo.bounds if b.key == y), None) if slo is not None else None
    limit = f" · SLO {ms(bound.ms)}" if bound else ""
    metric, _, pct = y.partition("_p")
    title = f"p{pct} {metric} per step vs {against}{limit}"
    return LoadChart(
        title, f"p{pct} {metric}{limit}", "ms", tuple(lines), bound.ms if bound else None, x_unit=x_unit
    )


def _note(state: LiveState, name: str) -> str:
    """The legend's capacity words, in the console's vocabulary (ui/capacity_words.py)."""
    parts = capacity_parts(state, name)
    words = ""
    if parts is not None:
        holds, rest = parts
        if rest.startswith("breaches"):
            words = holds
        elif rest.startswith("undecided"):
            words = rest if holds == "holds none" else f"{holds}, {rest}"
        else:
            words = holds
    if state.variants[name].retired is not None:
        words = f"{words}, retired" if words else "retired"
    return words
