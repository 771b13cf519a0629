"""The Compute screen (issue 18) on a replay whose recording holds profiles of real vLLM-CPU
traces: `g` opens it over the monitor and closes it, it shows the numbers compute_graphs.md writes
(same fold), a replay's `r` says why it cannot profile, `tab` turns to prefill; an older recording
says it holds no profile. Snapshots at 100x32 and 80x24: accept changes after looking at them
(`--snapshot-update`)."""

from pathlib import Path

import pytest
from console_helpers import UI_RECORDING, recording_copy, redraw, replay_app, running, settle, wait_until

from quanttui.core.compute import analyse
from quanttui.core.compute_events import ProfileCaptured, ProfileFinished, ProfileStarted, ProfileUnavailable
from quanttui.core.compute_words import ProfiledVariant, bullets
from quanttui.io.torch_trace import read_trace
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
        assert "2 of 2 variants profiled" in text or "2 of 3 variants profiled" in text
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
