"""The Compare screen's keys on every shipped recording: `c` and escape, pressed fast and often,
never end the console, and each press leaves the screen it should.

Keys are posted to the app as a terminal's driver posts them (`post_message(Key)`), with gaps of
0 to 12 ms, so a pop lands at every point of the Compare screen's pane rebuild (the rebuild drew
on a popped screen, its worker failed and the app ended, with exit code 0, in 7 of ~20 tries).
`pilot.press` would wait for the app to be idle after each key and never hit that window.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from console_helpers import SHIPPED_TRIAGE, replay_app, settle, wait_until
from textual import events

from quanttui.ui.run import exit_code, finish_session
from quanttui.ui.screens.compare import CompareScreen
from quanttui.ui.screens.monitor import MonitorScreen
from quanttui.ui.widgets.text import LiteralLine

RECORDINGS = sorted((Path(__file__).parents[2] / "recordings").glob("*.jsonl"))
PRESSES = 20


def test_every_shipped_recording_is_checked():
    assert len(RECORDINGS) >= 5 and sum("triage" in p.name for p in RECORDINGS) >= 2


@contextlib.asynccontextmanager
async def running(app, size: tuple[int, int] = (120, 36)) -> AsyncIterator[object]:
    """The app under Pilot; afterwards its replay (held at its end) is stopped and awaited."""
    try:
        async with app.run_test(size=size) as pilot:
            yield pilot
    finally:
        await finish_session(app, grace_s=10)


def key(app, name: str) -> None:
    app.post_message(events.Key(name, name if len(name) == 1 else None))


async def processed(app, pilot) -> None:
    """Every key posted so far has been handled (a marker queued behind them has run)."""
    for _ in range(2):  # twice: a key a screen did not handle comes back to the app once more
        done = asyncio.Event()
        app.call_later(done.set)
        await asyncio.wait_for(done.wait(), 30)
        await pilot.pause()


def alive(app) -> bool:
    return app.is_running and app.return_code is None


def showing_panes(app) -> bool:
    screen = app.screen
    return isinstance(screen, CompareScreen) and screen.panes == list(app.triage.variants)


@pytest.mark.parametrize("recording", RECORDINGS, ids=[p.stem for p in RECORDINGS])
async def test_c_and_escape_pressed_20_times_never_end_the_console(tmp_path, recording):
    copy = tmp_path / recording.name  # a tag journal would be written beside it
    shutil.copy(recording, copy)
    app = replay_app(tmp_path / "out", copy)
    async with running(app) as pilot:
        key(app, "c")  # while the replay is still being folded
        await settle(app, pilot)
        await processed(app, pilot)
        assert alive(app) and isinstance(app.screen, CompareScreen)
        key(app, "escape")
        await processed(app, pilot)
        assert isinstance(app.screen, MonitorScreen)
        for i in range(PRESSES):
            key(app, "c")
            await asyncio.sleep((i % 7) / 500)
            key(app, "escape" if i % 3 == 0 else "c")
            await asyncio.sleep(((5 * i) % 13) / 1000)
            assert alive(app), f"the console ended at press {i + 1}"
        await processed(app, pilot)
        assert alive(app) and isinstance(app.screen, MonitorScreen) and len(app.screen_stack) == 1
        key(app, "c")  # once more, to the end of its rebuild: the screen shows the triage
        await wait_until(pilot, lambda: showing_panes(app), what="the Compare screen with a pane per variant")
        if app.triage.rows:
            header = app.screen.query_one("#cmp-header", LiteralLine)
            await wait_until(pilot, lambda: header.value.startswith(" COMPARE  1/"), what="its header")
        key(app, "c")
        await processed(app, pilot)
        assert alive(app) and isinstance(app.screen, MonitorScreen) and len(app.screen_stack) == 1


async def test_a_c_typed_ahead_into_the_tag_dialog_is_text_not_the_compare_key(tmp_path):
    copy = tmp_path / "triage.jsonl"
    shutil.copy(SHIPPED_TRIAGE, copy)
    app = replay_app(tmp_path / "out", copy)
    async with running(app) as pilot:
        await settle(app, pilot)
        key(app, "c")
        await wait_until(pilot, lambda: showing_panes(app), what="the Compare screen")
        first = app.triage.current().prompt.prompt_id
        for name in ["t", "2", "c", "c", "enter", "c", "enter"]:  # typed ahead of the dialog
            key(app, name)
        await processed(app, pilot)
        assert alive(app) and isinstance(app.screen, CompareScreen)
        tag = app.triage.tags[(first, app.triage.variants[1])]
        assert (tag.verdict, tag.symptom, tag.notes) == ("wrong_answer", "cc", "c")


async def test_a_console_that_fails_ends_with_exit_code_1_not_0(tmp_path):
    """A bug that ends the app (as the pane rebuild's failure did) is not a clean exit."""
    app = replay_app(tmp_path / "out")

    def fail() -> None:
        raise RuntimeError("a bug in a screen")

    with pytest.raises(RuntimeError, match="a bug in a screen"):
        async with running(app) as pilot:
            await settle(app, pilot)
            app.call_later(fail)
            await wait_until(pilot, lambda: app.return_code is not None, what="the app to end")
    assert app.return_code == 1 and app.session_error is None
    assert exit_code(app) == 1
