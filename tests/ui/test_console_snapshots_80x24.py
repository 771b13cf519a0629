"""SVG snapshots at 80x24 (issue 15) on the shipped real recordings: 2 variants side by side, 4
two to a row (at the top and scrolled to the end with the keyboard), and the log panes that `L`
shows. Accept changes after looking at them: `--snapshot-update`, then read the report."""

from pathlib import Path

import pytest

pytest.importorskip("pytest_textual_snapshot")

from console_helpers import redraw, replay_app, settle, wait_until  # noqa: E402

RECORDINGS = Path(__file__).parents[2] / "recordings"
TWO = RECORDINGS / "demo-vllm-cpu-bf16-awq.jsonl"
FOUR = RECORDINGS / "demo-vllm-cpu-all.jsonl"
SIZE = (80, 24)


def settled_then(*keys: str):
    async def run_before(pilot) -> None:
        app = pilot.app
        await settle(app, pilot, timeout=60)
        for key in keys:
            await pilot.press(key)
        body = app.screen.query_one("#body")
        if "end" in keys:
            await wait_until(pilot, lambda: body.scroll_y == body.max_scroll_y, what="the end of the body")
        await redraw(app, pilot)

    return run_before


def test_two_variants_80x24(snap_compare, tmp_path):
    assert snap_compare(replay_app(tmp_path, TWO), terminal_size=SIZE, run_before=settled_then())


def test_four_variants_80x24(snap_compare, tmp_path):
    assert snap_compare(replay_app(tmp_path, FOUR), terminal_size=SIZE, run_before=settled_then())


def test_four_variants_scrolled_to_the_end_80x24(snap_compare, tmp_path):
    assert snap_compare(replay_app(tmp_path, FOUR), terminal_size=SIZE, run_before=settled_then("end"))


def test_two_variants_logs_80x24(snap_compare, tmp_path):
    assert snap_compare(replay_app(tmp_path, TWO), terminal_size=SIZE, run_before=settled_then("L"))
