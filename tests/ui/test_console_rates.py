"""The console's words and chart for a rate ramp (issue 19), from a real recording: a sweep of
two simulated engines at 5 and 80 requests/s, where one saturates."""

import json
import subprocess
import sys

import pytest

from quanttui.core.live import LiveState
from quanttui.core.recording import plan_from_header
from quanttui.io.recording_file import read_recording
from quanttui.ui.capacity_words import capacity_parts
from quanttui.ui.load_chart import load_chart
from quanttui.ui.views import delta_lines, status_view, variant_view


@pytest.fixture
def rate_recording(tmp_path, sim_server):
    slow = sim_server(model="qwen-bf16", ttft_ms=20, itl_ms=5, max_num_seqs=2)
    fast = sim_server(model="qwen-awq", ttft_ms=10, itl_ms=2, max_num_seqs=16)
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "quanttui", "sweep", "--endpoint", f"bf16={slow.url}", "--endpoint",
         f"awq={fast.url}", "--rate", "5,80", "--requests-per-step", "64", "--confidence", "0.8",
         "--max-tokens", "16", "--ignore-eos", "--slo", "e2e_p95<=20000", "--out", str(out)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out / "recording.jsonl"


def test_a_rate_ramp_is_worded_and_drawn_in_requests_per_second(rate_recording):
    recording, events = read_recording(rate_recording)
    state = LiveState(plan_from_header(recording.header, rate_recording), ["bf16", "awq"])
    state.apply_all(events)
    status = status_view(state, "replay", 0, paused=False, position=(60.0, 60.0, 0.0))
    assert "step 2/2 80 req/s" in json.dumps(status.__dict__, default=str)
    assert capacity_parts(state, "bf16") == ("holds 5 req/s", "saturates at 80 req/s")
    assert capacity_parts(state, "awq") == ("holds ≥ 80 req/s", "limit not reached")
    chart = load_chart(state)
    assert "vs requests/s" in chart.title and chart.x_unit == "req/s"
    assert [p.load for p in chart.lines[0].points] == [5.0, 80.0]
    assert "steps at 80 req/s" in delta_lines(state)
    bf16 = variant_view(state, "bf16")
    assert any("80 req/s · lag " in t for t in bf16.step_texts)  # the scheduler's lag beside the rate
    assert any("queue growing" in t for t in bf16.decision_texts)
