"""SVG snapshots of the console (pytest-textual-snapshot), on the committed UI recording.

Deterministic: the recording is replayed as fast as possible and every number on screen comes
from event times (the live stand-in's clock is frozen). Accept changes after looking at them:
`pytest tests/ui/test_console_snapshots.py --snapshot-update`, then read the report.
"""

from pathlib import Path

import pytest

pytest.importorskip("pytest_textual_snapshot")

from console_fakes import FakeLiveSession, FakeReplaySession, settle  # noqa: E402

from quanttui.ui.app import QuanttuiApp  # noqa: E402


def app_for(session, tmp_path: Path, theme: str | None = None) -> QuanttuiApp:
    return QuanttuiApp(session, tmp_path, theme=theme)


async def settled(pilot) -> None:
    await settle(pilot.app, pilot)


def test_replay_end_80x24(snap_compare, tmp_path):
    assert snap_compare(app_for(FakeReplaySession(), tmp_path), terminal_size=(80, 24), run_before=settled)


def test_replay_end_200x60(snap_compare, tmp_path):
    assert snap_compare(app_for(FakeReplaySession(), tmp_path), terminal_size=(200, 60), run_before=settled)


def test_live_start_up_120x36(snap_compare, tmp_path):
    """Engines starting (one ready, one mid-phase), the ramp not started yet."""
    app = app_for(FakeLiveSession(until=3.0), tmp_path)
    assert snap_compare(app, terminal_size=(120, 36), run_before=settled)


def test_replay_mid_run_ansi_80x24(snap_compare, tmp_path):
    """The 16-colour theme, mid-ramp."""
    app = app_for(FakeReplaySession(until=11.0), tmp_path, theme="quanttui-ansi")
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled)


def test_help_light_80x24(snap_compare, tmp_path):
    app = app_for(FakeReplaySession(), tmp_path, theme="quanttui-light")
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled, press=["question_mark"])


def test_compare_screen_120x36(snap_compare, tmp_path):
    """The shipped real triage: a prompt where AWQ's code loops and fails its assert."""
    import shutil

    from quanttui.console_session import ReplayConsoleSession

    recording = tmp_path / "triage.jsonl"  # a copy: tags would go to a journal beside it
    shutil.copy(Path(__file__).parents[2] / "recordings" / "demo-vllm-cpu-triage.jsonl", recording)
    session = ReplayConsoleSession(recording, speed=None, hold_at_end=True)

    async def open_compare(pilot) -> None:
        while not session.at_end or pilot.app.subscription.pending:
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        await pilot.press("c")
        await pilot.pause(0.2)
        while pilot.app.triage.current().prompt.prompt_id != "code-sum-list":
            await pilot.press("j")
        await pilot.pause(0.3)
        pilot.app.screen.show_state(force=True)
        await pilot.pause(0.1)

    assert snap_compare(app_for(session, tmp_path), terminal_size=(120, 36), run_before=open_compare)
