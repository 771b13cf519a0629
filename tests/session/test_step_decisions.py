"""Every step's p95 comes with its interval and its SLO decision, from any recording (older ones
too), and the replay and the report decide alike, operator SLO changes included."""

import json
import subprocess
import sys
from pathlib import Path

import polars as pl

SHIPPED = Path(__file__).parents[2] / "recordings" / "demo-vllm-cpu-bf16-awq.jsonl"


def quanttui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "quanttui", *args], capture_output=True, text=True, timeout=120
    )


def test_a_schema_1_recording_gets_intervals_and_decisions_in_the_summary_and_the_csv(tmp_path):
    done = quanttui("replay", str(SHIPPED), "--headless", "--json")
    assert done.returncode == 0, done.stderr
    steps = json.loads(done.stdout)["steps"]
    for step in steps:
        assert step["slo_decision"] in {"meets", "breaches", "undecided"}
        assert step["p95_ms_lo"] is not None and step["p95_ms_lo"] <= step["p95_ms"]
        assert step["p95_ms_hi"] is None  # 8 requests cannot bound a p95 from above
        assert step["slo_decision"] != "meets"  # and so never decide that it meets (59 needed)
    awq8 = next(s for s in steps if s["variant"] == "awq" and s["conc"] == 8)
    assert awq8["slo_met"] is False and awq8["slo_decision"] in {"breaches", "undecided"}
    report = quanttui("report", str(SHIPPED), "--out", str(tmp_path / "r"))
    assert report.returncode == 0, report.stderr
    csv = pl.read_csv(tmp_path / "r" / "sweep.csv")
    assert {"p95_ms_lo", "p95_ms_hi", "ttft_p95_ms_lo", "slo_decision"} <= set(csv.columns)
    assert csv["slo_decision"].to_list() == [s["slo_decision"] for s in steps]


def test_an_operator_slo_change_gives_the_same_decisions_in_replay_and_report(tmp_path):
    recording = tmp_path / "changed.jsonl"
    lines = SHIPPED.read_text().splitlines()
    last_t = json.loads(lines[-1])["t"]
    lines.append(json.dumps({"type": "OperatorCommand", "t": last_t, "command": "set_slo", "value": 5000.0}))
    recording.write_text("\n".join(lines) + "\n")
    replay = quanttui("replay", str(recording), "--headless", "--json")
    report = quanttui("report", str(recording), "--out", str(tmp_path / "r"))
    assert replay.returncode == 0 and report.returncode == 0, replay.stderr + report.stderr
    steps = json.loads(replay.stdout)["steps"]
    assert {s["slo_p95_ms"] for s in steps} == {5000.0}  # the operator's SLO, not the plan's 8 s
    csv = pl.read_csv(tmp_path / "r" / "sweep.csv")
    assert csv["slo_p95_ms"].to_list() == [5000.0] * len(steps)
    assert csv["slo_decision"].to_list() == [s["slo_decision"] for s in steps]
    assert csv["slo_met"].to_list() == [s["slo_met"] for s in steps]
