"""The Compute screen (issue 18) on a replay whose recording holds profiles of real vLLM-CPU
traces: `g` opens it over the monitor and closes it, it shows the numbers compute_graphs.md writes
(same fold), a replay's `r` says why it cannot profile, `tab` turns to prefill; an older recording
says it holds no profile. Snapshots at 100x32 and 80x24: accept changes after looking at them
(`--snapshot-update`)."""

from pathlib import Path

import pytest
from console_helpers import (
    UI_RECORDING,
    Seen,
    console,
    live_config,
    recorded_events,
    recording_copy,
    redraw,
    replay_app,
    running,
    settle,
    wait_until,
)

from quanttui.core.compute import analyse
from quanttui.core.compute_events import ProfileCaptured, ProfileFinished, ProfileStarted, ProfileUnavailable
from quanttui.core.compute_words import ProfiledVariant, bullets
from quanttui.core.loadplan import LoadPlan, Slo
from quanttui.core.prompts import DEFAULT_PROMPTS
from quanttui.io.torch_trace import read_trace
from quanttui.session import LiveSession
from quanttui.ui.screens.compute import ComputeScreen
from quanttui.ui.screens.monitor import MonitorScreen

TRACES = Path(__file__).parents[1] / "data" / "traces"


def profile_events(t: float = 0.5) -> list:
    """One profile run: bf16 and awq captured from the shipped 3-step traces, a third variant
    without a profiler."""
    captured = []
    for i, name in enumerate(("bf16", "awq")):
        trace = read_trace(TRACES / f"vllm-cpu-smol-{name}-3steps.pt.trace.json.gz")
        variant = ProfiledVariant(
            name, name, analyse(trace.ops, trace.steps, trace.nested), f"{name}-20261204-170000.pt.trace.json.gz",
            capture_s=30.0 + i, trace_bytes=4_500_000, weights_bytes=269_000_000 if name == "bf16" else 114_000_000,
            bandwidth_gbps=16.0,
        )  # fmt: skip
        captured.append(ProfileCaptured.of(t + 0.1 + i * 0.1, variant))
    return [
        ProfileStarted(t=t, variants=("bf16", "awq", "gguf"), request="1 x 3 output tokens (greedy, ignore_eos)"),
        *captured,
        ProfileUnavailable(t=t + 0.4, variant="gguf", reason="not available for this engine (llama.cpp's server has no profiler)"),
        ProfileFinished(t=t + 0.5, reason="completed"),
    ]  # fmt: skip


def profiled_recording(tmp_path: Path) -> Path:
    return recording_copy(
        tmp_path, extra=profile_events(), variants=("bf16", "awq", "gguf"), name="profiled.jsonl"
    )


def compute_text(app) -> str:
    screen = app.screen
    assert isinstance(screen, ComputeScreen)
    return str(screen.query_one("#cpu-text").render()) + "\n" + screen.query_one("#cpu-header").value


async def opened(app, pilot) -> None:
    await settle(app, pilot)
    await pilot.press("g")
    await wait_until(pilot, lambda: isinstance(app.screen, ComputeScreen), what="the Compute screen")
    await redraw(app, pilot)


async def test_g_shows_the_profiles_with_the_reports_numbers(tmp_path):
    app = replay_app(tmp_path, profiled_recording(tmp_path))
    async with running(app, (120, 50)) as pilot:
        await opened(app, pilot)
        text = compute_text(app)
        variants = app.state.fold.compute.variants(("bf16", "awq"))
        decode = {v.variant: v.profile.phase("decode") for v in variants}
        assert (
            f"{decode['bf16'].step_ms_mean:8.1f} ms" in text
            and f"{decode['awq'].step_ms_mean:8.1f} ms" in text
        )
        assert "_C::cpu_gemm_wna16" in text and "◆" in text
        assert "gguf: no profile: not available for this engine" in text
        assert bullets(variants)[0] in text.replace("\n", " ")  # the report's findings, word for word
        assert "2 of 3 variants profiled" in text  # gguf was asked and has none
        await pilot.press("r")
        await wait_until(pilot, lambda: any("a replay shows the profiles" in m for _, m, _ in app.told))
        await pilot.press("tab")
        await redraw(app, pilot)
        assert "Prefill step" in compute_text(app)
        await pilot.press("g")
        await wait_until(pilot, lambda: isinstance(app.screen, MonitorScreen), what="back to the monitor")


async def test_an_older_recording_says_it_holds_no_profile(tmp_path):
    app = replay_app(tmp_path, UI_RECORDING)
    async with running(app, (100, 30)) as pilot:
        await opened(app, pilot)
        assert "no profile in this recording" in compute_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MonitorScreen), what="back to the monitor")


pytest.importorskip("pytest_textual_snapshot")


async def _open(pilot) -> None:
    await opened(pilot.app, pilot)


def test_compute_screen_100x32(snap_compare, tmp_path):
    assert snap_compare(
        replay_app(tmp_path, profiled_recording(tmp_path)), terminal_size=(100, 32), run_before=_open
    )


def test_compute_screen_80x24(snap_compare, tmp_path):
    assert snap_compare(
        replay_app(tmp_path, profiled_recording(tmp_path)), terminal_size=(80, 24), run_before=_open
    )


async def test_r_on_a_live_session_without_profilers_says_why_per_variant(tmp_path, sim_server):
    """Attached simulated engines: `r` runs a profile that names, per variant, why it has none
    (an attached engine's trace folder is unknown); nothing was profilable, so the ramp was not
    paused. The events are in the recording."""
    servers = {"bf16": sim_server(model="bf16"), "awq": sim_server(model="awq")}
    plan = LoadPlan(concurrencies=(1,), requests_per_step=2, slo=Slo(2000.0))
    session = LiveSession(live_config(tmp_path, servers, plan, max_tokens=4), list(DEFAULT_PROMPTS))
    seen = Seen(session.stream)
    app = console(session, tmp_path, own_thread=True)
    async with running(app, (100, 30)) as pilot:
        await wait_until(pilot, lambda: len(app.state.fold.aggregator.variants) == 2, what="both endpoints")
        await pilot.press("g")
        await wait_until(pilot, lambda: isinstance(app.screen, ComputeScreen), what="the Compute screen")
        await redraw(app, pilot)
        assert "press r to profile" in compute_text(app)
        await pilot.press("r")
        await wait_until(pilot, lambda: seen.of(ProfileFinished), what="the profile run's end")
        await wait_until(pilot, lambda: "awq: no profile" in compute_text(app), what="the screen to show it")
        text = compute_text(app)
        assert "bf16: no profile: an attached engine's trace folder is not known" in text
        assert "awq: no profile:" in text
        assert [e.paused_ramp for e in seen.of(ProfileStarted)] == [False]
        assert seen.of(ProfileFinished)[0].reason == "failed"
        assert "pause" not in [c for c, _ in seen.commands()]
        await pilot.press("q")
        await wait_until(pilot, lambda: app.session_task.done(), 30, what="the session to stop")
    recorded = [e for e in recorded_events(tmp_path / "recording.jsonl") if isinstance(e, ProfileUnavailable)]
    assert [e.variant for e in recorded] == ["bf16", "awq"]
