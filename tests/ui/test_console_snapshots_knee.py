"""SVG snapshots of the knee chart (issue 17) at 200x60 on the shipped real recordings (2 and 4
variants; their 80x24 snapshots are in test_console_snapshots_80x24.py), and at 80x24 on a session
whose capacities are decided (filled marks, the capacity drop lines) in the light theme. Accept
changes after looking at them: `--snapshot-update`, then read the report."""

from pathlib import Path

import pytest

pytest.importorskip("pytest_textual_snapshot")

from console_helpers import decided_recording, redraw, replay_app, settle  # noqa: E402

RECORDINGS = Path(__file__).parents[2] / "recordings"
TWO = RECORDINGS / "demo-vllm-cpu-bf16-awq.jsonl"
FOUR = RECORDINGS / "demo-vllm-cpu-all.jsonl"


async def settled(pilot) -> None:
    await settle(pilot.app, pilot, timeout=60)
    await redraw(pilot.app, pilot)


def test_two_variants_200x60(snap_compare, tmp_path):
    assert snap_compare(replay_app(tmp_path, TWO), terminal_size=(200, 60), run_before=settled)


def test_four_variants_200x60(snap_compare, tmp_path):
    assert snap_compare(replay_app(tmp_path, FOUR), terminal_size=(200, 60), run_before=settled)


def test_decided_capacities_light_80x24(snap_compare, tmp_path):
    app = replay_app(tmp_path, decided_recording(tmp_path), theme="quanttui-light")
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled)
