"""SVG snapshots of the console (pytest-textual-snapshot), on the real replay of committed recordings.

Deterministic: a `ReplaySession` publishes the recording as fast as possible and holds at its
end, and every number on screen comes from event times. Accept changes after looking at them:
`pytest tests/ui/test_console_snapshots.py --snapshot-update`, then read the report.
"""

from pathlib import Path

import pytest

pytest.importorskip("pytest_textual_snapshot")

from console_helpers import (  # noqa: E402
    SHIPPED_TRIAGE,
    UI_RECORDING,
    recording_copy,
    redraw,
    replay_app,
    settle,
    wait_until,
)

from quanttui.ui.screens.compare import CompareScreen  # noqa: E402


def app_for(tmp_path: Path, path: Path = UI_RECORDING, theme: str | None = None):
    return replay_app(tmp_path, path, theme=theme)


async def settled(pilot) -> None:
    await settle(pilot.app, pilot)


def test_replay_end_80x24(snap_compare, tmp_path):
    assert snap_compare(app_for(tmp_path), terminal_size=(80, 24), run_before=settled)


def test_replay_end_200x60(snap_compare, tmp_path):
    assert snap_compare(app_for(tmp_path), terminal_size=(200, 60), run_before=settled)


def test_replay_start_up_120x36(snap_compare, tmp_path):
    """Engines starting (bf16 ready, awq mid-phase), no step yet: the recording cut at t=3.0."""
    app = app_for(tmp_path, recording_copy(tmp_path, until=3.0))
    assert snap_compare(app, terminal_size=(120, 36), run_before=settled)


def test_replay_mid_run_ansi_80x24(snap_compare, tmp_path):
    """The 16-colour theme, mid-ramp (the recording cut at t=11.0, in step 2)."""
    app = app_for(tmp_path, recording_copy(tmp_path, until=11.0), theme="quanttui-ansi")
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled)


def test_help_light_80x24(snap_compare, tmp_path):
    """The replay's help in the light theme."""
    app = app_for(tmp_path, theme="quanttui-light")
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled, press=["question_mark"])


def test_compare_screen_120x36(snap_compare, tmp_path):
    """The shipped real triage: a prompt where AWQ's code loops and fails its assert."""
    # A copy: tags would go to a journal beside it.
    recording = recording_copy(tmp_path, source=SHIPPED_TRIAGE, name="triage.jsonl")

    async def open_compare(pilot) -> None:
        app = pilot.app
        await settle(app, pilot)
        # The action, not the key: Pilot's press waits on every widget of the new screen, and the
        # screen replaces its answer panes while it opens (a removed widget never answers).
        app.action_compare()
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, CompareScreen) and app.screen.panes == list(app.triage.variants),
            what="the Compare screen with its answer panes",
        )
        await pilot.pause()
        while app.triage.current().prompt.prompt_id != "code-sum-list":
            await pilot.press("j")
        app.screen.show_state(force=True)
        await redraw(app, pilot)

    assert snap_compare(app_for(tmp_path, recording), terminal_size=(120, 36), run_before=open_compare)
