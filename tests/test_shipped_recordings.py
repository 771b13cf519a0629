"""The shipped recordings replay and still say what recordings/README.md says they say."""

import json
import subprocess
import sys
from pathlib import Path

RECORDINGS = Path(__file__).parent.parent / "recordings"


def test_demo_recording_replays_to_its_documented_summary():
    done = subprocess.run(
        [sys.executable, "-m", "quanttui", "replay", str(RECORDINGS / "demo-vllm-cpu-bf16-awq.jsonl"), "--headless", "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    variants = {v["name"]: v for v in summary["variants"]}
    assert set(variants) == {"bf16", "awq"}
    assert variants["awq"]["retired"]["rule"] == "slo" and variants["awq"]["first_conc_over_slo"] == 8
    assert all(v["errors"] == 0 and v["requests"] == 32 for v in variants.values())
    at8 = [r for r in summary["steps"] if r["conc"] == 8]
    assert all(r["kv_cache_peak"] == 1.0 and r["waiting_peak"] > 0 for r in at8)
    assert summary["gpu"]["available"] is False
