"""Every file quanttui writes for people is safe to `cat`: no raw C0/C1 control, no bidi override,
however hostile the model's answers, the server's model name or the engine's log lines."""

import re
import subprocess
import sys
from pathlib import Path

from quanttui.core.events import (
    EndpointInfo,
    LogLine,
    RequestResult,
    StepFinished,
    StepStarted,
    SweepFinished,
)
from quanttui.core.loadplan import LoadPlan, Slo
from quanttui.core.recording import RecordingHeader
from quanttui.core.triage import Flag
from quanttui.core.triage_events import TriageAnswer, TriagePrompt, TriageStarted
from quanttui.io.recording_file import Recorder

UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
OSC52 = "\x1b]52;c;cm0gLXJmIC8=\x07"  # "rm -rf /" to the clipboard
HOSTILE = f"start \x1b[31mred\x1b[0m \x07bell {OSC52} \u202eevil\u202c \x9b2J c1 \x1b]0;title\x07 end"


def hostile_recording(path: Path) -> None:
    plan = LoadPlan(concurrencies=(1,), requests_per_step=1, slo=Slo(1000.0))
    header = RecordingHeader(started_utc="2026-12-03T00:00:00+00:00", quanttui="0",
                             config={"plan": plan.to_dict(), "endpoints": [{"name": "bf16"}, {"name": "awq"}]})  # fmt: skip
    events = [
        EndpointInfo(t=0.0, variant="bf16", url="http://127.0.0.1:1", model=f"model {HOSTILE}", precision="bf16"),
        EndpointInfo(t=0.0, variant="awq", url="http://127.0.0.1:2", model="m", precision="awq"),
        LogLine(t=0.1, variant="bf16", line=HOSTILE),
        StepStarted(t=0.2, step=0, concurrency=1, requests=1, seconds=None, warmup_requests=0, variants=("bf16", "awq")),
        RequestResult(t=0.5, variant="bf16", step=0, index=0, warmup=False, start=0.2, ok=True, ttft=0.1, e2e=0.3,
                      itl_us=(1000,), output_tokens=2),
        RequestResult(t=0.6, variant="awq", step=0, index=0, warmup=False, start=0.2, ok=False, error="http_status",
                      http_status=500, error_detail=HOSTILE),
        StepFinished(t=0.7, step=0),
        TriageStarted(t=1.0, quality_set="q", prompts=1, variants=("bf16", "awq"), reference="bf16", top_logprobs=0),
        TriagePrompt(t=1.1, prompt_id="p1", category="factual", messages=(("user", f"q {HOSTILE}"),)),
        TriageAnswer(t=1.2, prompt_id="p1", variant="bf16", text=f"answer {HOSTILE}"),
        TriageAnswer(t=1.3, prompt_id="p1", variant="awq", text=HOSTILE * 3, error=HOSTILE,
                     flags=(Flag("repetition", HOSTILE),)),
        SweepFinished(t=2.0, reason="completed"),
    ]  # fmt: skip
    recorder = Recorder(path, header)
    recorder.open()
    recorder.write_batch(events)
    recorder.close()


def quanttui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "quanttui", *args], capture_output=True, text=True, timeout=120
    )


def test_every_export_of_a_hostile_run_is_free_of_controls_and_bidi(tmp_path):
    recording = tmp_path / "run" / "recording.jsonl"
    hostile_recording(recording)
    catalog = quanttui(
        "triage", "--from", str(recording), "--out", str(tmp_path / "cat"), "--export", "md,csv,json"
    )
    assert catalog.returncode == 0, catalog.stderr
    report = quanttui("report", str(recording), "--out", str(tmp_path / "rep"))
    assert report.returncode == 0, report.stderr
    replay = quanttui("replay", str(recording), "--headless", "--json")
    assert replay.returncode == 0, replay.stderr
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".png"]  # PNGs: images, not text
    assert {p.name for p in files} >= {"failure_catalog.md", "failure_catalog.csv", "failure_catalog.json",
                                       "capacity.md", "sweep.csv", "business_case.md", "recording.jsonl",
                                       "report.html", "report.json"}  # fmt: skip
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not UNSAFE.search(text), (path.name, UNSAFE.search(text))
    csv = (tmp_path / "cat" / "failure_catalog.csv").read_text()
    assert "\\x1b]52;c;cm0gLXJmIC8=\\x07" in csv and "\\u202eevil" in csv  # shown, not run
    for out in (catalog, report, replay):
        assert not UNSAFE.search(out.stdout), out.stdout
