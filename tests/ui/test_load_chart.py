"""The knee chart (issue 17): its points are the CSV's step values, undecided steps and retired
variants are drawn as such, a decided capacity is marked, the y axis goes log only when the
values span decades, and every variant has its own shape."""

from __future__ import annotations

import asyncio
import csv
import math
import shutil
from pathlib import Path

import pytest
from live_events import result

from quanttui.core.events import StepFinished, StepStarted
from quanttui.core.live import LiveState
from quanttui.core.loadplan import LoadPlan, Slo, SloBound, SloMetric
from quanttui.io.export import write_sweep_csv
from quanttui.session import ReplaySession
from quanttui.ui.load_chart import (
    HOLLOW,
    MARKERS,
    TOK_S,
    LoadChart,
    LoadLine,
    LoadPoint,
    load_chart,
    y_choices,
)
from quanttui.ui.load_layout import load_layout, log_axis, uses_log

ROOT = Path(__file__).parents[2]
RAMPS = [
    *(
        p
        for p in sorted((ROOT / "recordings").glob("*.jsonl"))
        if "triage" not in p.name and "profile" not in p.name
    ),
    ROOT / "tests/data/recordings/ui-sim.jsonl",
]


def replayed(source: Path, tmp_path: Path) -> tuple[LiveState, ReplaySession]:
    path = tmp_path / source.name
    shutil.copy(source, path)
    session = ReplaySession(path, speed=None)
    state = LiveState(session.info.plan, list(session.info.variants))
    session.stream.tap(state.apply)
    asyncio.run(session.run())
    return state, session


def _number(text: str) -> float | None:
    return None if text == "" else float(text)


def _load(row: dict[str, str]) -> float:
    """A CSV row's step level in the ramp's unit: its rate, prompt length or users."""
    return float(row["rate"] or row["input_tokens"] or row["conc"])


@pytest.mark.parametrize("source", RAMPS, ids=lambda p: p.stem)
def test_the_charts_points_are_the_csvs_step_values(source: Path, tmp_path: Path):
    state, session = replayed(source, tmp_path)
    write_sweep_csv(session.fold.all_step_stats(), tmp_path / "sweep.csv")
    with (tmp_path / "sweep.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    latency, throughput = load_chart(state), load_chart(state, TOK_S)
    for chart, columns in (
        (latency, ("slo_pct_ms", "slo_pct_ms_lo", "slo_pct_ms_hi")),
        (throughput, ("tok_s",)),
    ):
        drawn = sorted(
            (line.variant, p.load, p.value, p.lo, p.hi) for line in chart.lines for p in line.points
        )
        written = sorted(
            (
                r["variant"],
                _load(r),
                *(_number(r[c]) for c in columns),
                *((None, None) if len(columns) == 1 else ()),
            )
            for r in rows
            if r[columns[0]] != ""
        )
        assert len(drawn) == len(written) == len(rows)
        for d, w in zip(drawn, written, strict=True):
            assert d[:2] == w[:2]
            assert d[2:] == pytest.approx(w[2:])
        assert all(not p.running for line in chart.lines for p in line.points)


def test_undecided_steps_are_hollow_and_a_retired_variant_says_so(tmp_path: Path):
    """The shipped 2-variant demo: 8 requests a step leave every step undecided at p95 (no upper
    end), and AWQ was retired at c=8."""
    state, _ = replayed(ROOT / "recordings/demo-vllm-cpu-bf16-awq.jsonl", tmp_path)
    chart = load_chart(state)
    awq = next(line for line in chart.lines if line.variant == "awq")
    assert "retired" in awq.note and "undecided" in awq.note
    decisions = {(r.variant, r.conc): r.slo_decision for r in state.step_rows.values()}
    for line in chart.lines:
        for p in line.points:
            assert p.decided == (decisions[(line.variant, p.load)] in ("meets", "breaches"))
    assert sum(not p.decided for line in chart.lines for p in line.points) >= 6
    frame = load_layout(chart, 78, 12)
    marks = [s.marker for s in frame.series if len(s.xs) == 1]
    hollow = sum(not p.decided for line in chart.lines for p in line.points)
    assert sum(m in HOLLOW for m in marks) == hollow and len(marks) - hollow == sum(
        m in MARKERS for m in marks
    )
    legend = "".join(text for line in frame.header for text, _ in line)
    assert "awq undecided at 1, retired" in legend and "○□ undecided" in legend
    open_ended = [s for s in frame.series if s.marker == "┊"]
    assert open_ended, "a p95 with no upper end is drawn open upwards"
    assert all(s.ys[1] == frame.y.hi for s in open_ended)


def decided_sweep() -> LiveState:
    """bf16 meets a 500 ms SLO at c=1 and 2 and breaches at 4; awq meets all three: 60 requests a
    step, so every step is decided."""
    state = LiveState(
        LoadPlan(concurrencies=(1, 2, 4), requests_per_step=60, slo=Slo(500.0)), ["bf16", "awq"]
    )
    t = 0.0
    for step, conc in enumerate((1, 2, 4), start=1):
        state.apply(StepStarted(t=t, step=step, concurrency=conc, requests=60, seconds=None,
                                warmup_requests=0, variants=("bf16", "awq")))  # fmt: skip
        for i in range(60):
            t += 0.05
            state.apply(result("bf16", step, t, (0.2, 0.3, 2.0)[step - 1] + i * 0.001))
            state.apply(result("awq", step, t, (0.15, 0.2, 0.3)[step - 1] + i * 0.001))
        state.apply(StepFinished(t=t, step=step))
    return state


def test_a_decided_capacity_is_marked_and_its_steps_are_filled():
    state = decided_sweep()
    chart = load_chart(state)
    by_name = {line.variant: line for line in chart.lines}
    assert by_name["bf16"].capacity == 2 and by_name["bf16"].note == "holds 2"
    assert by_name["awq"].capacity == 4 and by_name["awq"].note == "holds ≥ 4"
    assert all(p.decided for line in chart.lines for p in line.points)
    frame = load_layout(chart, 120, 24)
    drops = [s for s in frame.series if s.marker == "┆"]
    assert sorted(s.label for s in drops) == ["awq", "bf16"]
    bf16_drop = next(s for s in drops if s.label == "bf16")
    assert bf16_drop.ys[1] == frame.y.hi  # from the point it holds at up to the top
    assert bf16_drop.ys[0] == pytest.approx(math.log10(by_name["bf16"].points[1].value))  # a log axis
    filled = [s for s in frame.series if len(s.xs) == 1]
    assert {s.marker for s in filled} == {MARKERS[0], MARKERS[1]} and len(filled) == 6
    assert chart.slo == 500.0 and frame.hlines[0][1] == "slo-line"
    assert uses_log(chart)  # 150 ms .. 2 s and beyond: a decade, so log


def test_the_step_in_progress_is_drawn_hollow_with_its_value_so_far():
    state = decided_sweep()
    state.apply(StepStarted(t=100.0, step=4, concurrency=8, requests=60, seconds=None, warmup_requests=0,
                            variants=("bf16", "awq")))  # fmt: skip
    for i in range(10):
        state.apply(result("awq", 4, 100.5 + i * 0.1, 0.4))
    state.refresh_running(None)
    awq = next(line for line in load_chart(state).lines if line.variant == "awq")
    running = [p for p in awq.points if p.running]
    assert len(running) == 1 and running[0].load == 8 and not running[0].decided
    assert running[0].value == pytest.approx(state.running["awq"].slo_pct_ms)


def test_every_variant_has_its_own_shape_and_colour(tmp_path: Path):
    state, _ = replayed(ROOT / "recordings/demo-vllm-cpu-all.jsonl", tmp_path)
    chart = load_chart(state)
    assert len(chart.lines) == 4
    assert len({line.marker for line in chart.lines}) == 4
    assert len({line.colour for line in chart.lines}) == 4
    frame = load_layout(chart, 200, 30)
    xs_by_variant = {}
    for s in frame.series:
        if len(s.xs) == 1:
            xs_by_variant.setdefault(s.label, set()).add(s.xs[0])
    # Variants at one load sit a little apart, so their interval bars do not cover each other.
    assert len({min(xs) for xs in xs_by_variant.values()}) == 4


def test_y_choices_are_the_slo_bounds_then_throughput(tmp_path: Path):
    state, _ = replayed(ROOT / "tests/data/recordings/ui-sim.jsonl", tmp_path)
    assert y_choices(state) == ["e2e_p95", TOK_S]
    assert load_chart(state, "e2e_p95") == load_chart(state)
    assert load_chart(state, "no-such-bound") == load_chart(state)


def _chart(values: list[float], slo: float | None = None, log_ok: bool = True) -> LoadChart:
    points = tuple(LoadPoint(2**i, v) for i, v in enumerate(values))
    return LoadChart("t", "t", "ms", (LoadLine("a", "variant-1", "●", "○", points),), slo, log_ok)


def test_the_y_axis_goes_log_only_for_a_latency_that_spans_decades():
    assert not uses_log(_chart([900, 1000, 1200, 1500], slo=2000))
    assert uses_log(_chart([300, 320, 400, 9000], slo=2000))
    assert not uses_log(_chart([300, 320, 400, 9000], slo=2000, log_ok=False))
    frame = load_layout(_chart([300, 320, 400, 9000], slo=2000), 80, 14)
    assert any("log y" in text for line in frame.header for text, _ in line)
    assert frame.hlines == ((math.log10(2000), "slo-line"),)
    assert "2,000" in frame.y.labels  # the SLO's own tick, labelled with its real value


def test_a_log_axis_ticks_round_values_rows_apart():
    axis = log_axis(250, 12000, rows=12, marks=(8000.0,))
    assert "8,000" in axis.labels and "1,000" in axis.labels
    assert list(axis.ticks) == sorted(axis.ticks)
    assert axis.lo < math.log10(250) and axis.hi > math.log10(12000)


def test_a_narrow_linear_range_is_zoomed_not_drawn_on_the_floor():
    frame = load_layout(_chart([5000, 5600, 6400, 7000], slo=8000), 80, 12)
    assert frame.y.lo > 0 and frame.y.hi >= 8000


def test_before_any_step_the_chart_says_so():
    chart = LoadChart("t", "t", "ms", (LoadLine("a", "variant-1", "●", "○", ()),), 800.0)
    frame = load_layout(chart, 60, 10)
    assert "no step has a value for this y yet" in "".join(text for line in frame.header for text, _ in line)
    assert not frame.series


def test_a_further_slo_bound_is_a_y_choice_with_its_own_limit_and_values():
    slo = Slo(500.0, extra=(SloBound(SloMetric.TTFT, 99.0, 40.0),))
    state = LiveState(LoadPlan(concurrencies=(1, 2), requests_per_step=60, slo=slo), ["bf16"])
    for step, conc in enumerate((1, 2), start=1):
        state.apply(StepStarted(t=step * 10.0, step=step, concurrency=conc, requests=60, seconds=None,
                                warmup_requests=0, variants=("bf16",)))  # fmt: skip
        for i in range(60):
            state.apply(result("bf16", step, step * 10.0 + i * 0.05, 0.2, ttft=0.01 * step + i * 0.0001))
        state.apply(StepFinished(t=step * 10.0 + 5, step=step))
    assert y_choices(state) == ["e2e_p95", "ttft_p99", TOK_S]
    chart = load_chart(state, "ttft_p99")
    assert chart.slo == 40.0 and chart.title.startswith("p99 ttft")
    rows = sorted(state.step_rows.values(), key=lambda r: r.step)
    values = [p.value for p in chart.lines[0].points]
    assert values == [r.bounds["ttft_p99_ms"] for r in rows] and values[1] > values[0]


def test_a_prompt_length_ramp_draws_ttft_against_prompt_tokens(tmp_path: Path):
    """The shipped long-prefill run on the demo engines: the chart can show TTFT p95 against the
    prompt's length in tokens, its points are the CSV's, and prefill shows: TTFT grows with the
    length for both variants."""
    state, session = replayed(ROOT / "recordings/demo-vllm-cpu-long-prefill.jsonl", tmp_path)
    assert "ttft_p95" in y_choices(state)
    chart = load_chart(state, "ttft_p95")
    assert chart.x_unit == "tok" and "prompt tokens" in chart.title
    rows = {(s.variant, s.input_tokens): s for s in session.fold.all_step_stats()}
    for line in chart.lines:
        loads = [p.load for p in line.points]
        assert loads == [64, 128, 256, 448]
        for p in line.points:
            assert p.value == pytest.approx(rows[(line.variant, p.load)].ttft_p95_ms)
        values = [p.value for p in line.points]
        assert values[-1] > 1.5 * values[0], (
            f"{line.variant}: TTFT p95 {values} does not grow with the prompt"
        )
    frame = load_layout(chart, 78, 12)
    assert frame.series


def test_a_metric_no_slo_bound_is_on_has_nothing_undecided(tmp_path: Path):
    """TTFT in the long-prefill run is not what its e2e SLO decides: finished steps are drawn
    filled (final), and the legend says nothing of "undecided"."""
    state, _ = replayed(ROOT / "recordings/demo-vllm-cpu-long-prefill.jsonl", tmp_path)
    chart = load_chart(state, "ttft_p95")
    assert chart.slo is None and all(p.decided for line in chart.lines for p in line.points)
    legend = "".join(text for line in load_layout(chart, 78, 12).header for text, _ in line)
    assert "undecided" not in legend
