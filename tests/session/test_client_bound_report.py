"""A client-bound step, from the recording to the report and the headless summary; recordings made
before the check (schema < 4) report it as "—"."""

import json
import subprocess
import sys
from pathlib import Path

from live_events import PLAN, session_events

from quanttui.core.events import ClientSample, StepStarted
from quanttui.core.recording import RecordingHeader
from quanttui.io.recording_file import Recorder
from quanttui.io.report_files import ReportOptions, build_report

SHIPPED = Path(__file__).parents[2] / "recordings" / "demo-vllm-cpu-bf16-awq.jsonl"


def recording_with_a_late_client(path: Path) -> None:
    """The synthetic session, with the client's samples: quiet in step 1, 12 ms late in step 2."""
    events = []
    for event in session_events():
        events.append(event)
        if isinstance(event, StepStarted):
            late = event.step == 2
            events += [
                ClientSample(t=event.t + 0.6 + i * 0.5, source="load worker 1", seconds=0.5, lag_p50_ms=0.4,
                             lag_p99_ms=12.0 if late else 0.9, lag_max_ms=15.0 if late else 1.2,
                             cpu_pct=40.0, token_chunks=100, coalesced=3 if late else 0)
                for i in range(3)
            ]  # fmt: skip
    events.sort(key=lambda e: e.t)
    config = {"command": "sweep", "plan": PLAN.to_dict(),
              "endpoints": [{"name": "bf16", "precision": "bf16"}, {"name": "awq", "precision": "awq"}]}  # fmt: skip
    recorder = Recorder(
        path, RecordingHeader(started_utc="2026-12-04T00:00:00+00:00", quanttui="0", config=config)
    )
    recorder.open()
    recorder.write_batch(events)
    recorder.close()


def test_a_client_bound_step_is_marked_in_the_report_csv_and_summary(tmp_path):
    recording = tmp_path / "late.jsonl"
    recording_with_a_late_client(recording)
    build_report(recording, tmp_path / "report", ReportOptions())
    capacity = (tmp_path / "report" / "capacity.md").read_text()
    assert "Client: 2 step(s) were client-bound" in capacity
    assert "Run them again with fewer streams per load process (--load-workers N)" in capacity
    assert capacity.count("| bound (lag p99 12.0 ms, CPU 40 %) |") == 2  # step 2, both variants
    assert capacity.count("| ok (lag p99 0.9 ms) |") == 2
    done = subprocess.run([sys.executable, "-m", "quanttui", "replay", str(recording), "--headless"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("client-bound") == 4  # two step lines, the capacity caveat, the closing advice
    assert "Caveat: 2 of the steps were client-bound" in done.stdout
    assert "2 step(s) were client-bound" in done.stdout
    summary = subprocess.run([sys.executable, "-m", "quanttui", "replay", str(recording), "--headless", "--json"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    steps = json.loads(summary.stdout)["steps"]
    assert [s["client_bound"] for s in steps] == [False, False, True, True]
    assert {s["client_coalesced_pct"] for s in steps} == {0.0, 3.0}


def test_a_recording_from_before_the_check_reports_it_as_unknown(tmp_path):
    build_report(SHIPPED, tmp_path, ReportOptions())
    capacity = (tmp_path / "capacity.md").read_text()
    rows = [line for line in capacity.splitlines() if line.startswith("| 1 | ")]
    assert rows and all(line.endswith("| — | — |") for line in rows)  # host and client: not measured
    assert "client-bound" not in capacity
