"""The sim demo's triage end to end (`quanttui triage --demo --backend sim`, real simulator
processes): the reference passes every check, the quantized variant is flagged on some prompts and
answers others word for word, so the demo shows the flags and the diff."""

import json
import subprocess
import sys

from quanttui.core.triage_events import TriageAnswer
from quanttui.io.recording_file import open_recording


def test_the_sim_demo_triage_shows_flags_and_divergent_answers(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "quanttui", "triage", "--demo", "--backend", "sim", "--headless", "--json",
         "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["prompts"] == 25 and summary["finished"] == "completed"
    assert summary["variants"]["bf16"]["flagged"] == 0
    awq = summary["variants"]["awq"]
    assert awq["flagged"] >= 3 and {"repetition", "truncated"} <= set(awq["flags"]), awq
    assert 3 <= summary["different"] <= 15  # some prompts differ, the others are identical
    _, events = open_recording(out / "recording.jsonl")
    answers = {(e.prompt_id, e.variant): e for e in events if isinstance(e, TriageAnswer)}
    finishes = {(a.variant, a.finish_reason) for a in answers.values()}
    assert ("bf16", "length") not in finishes and ("awq", "length") in finishes  # a loop cut by max_tokens
    same = [p for p, v in answers if v == "bf16" and answers[(p, "awq")].text == answers[(p, "bf16")].text]
    assert len(same) == 25 - summary["different"]
    assert answers[("fact-capital-france", "bf16")].text == "The capital of France is Paris."
    markdown = (out / "failure_catalog.md").read_text()
    assert "untagged (flags: repetition, truncated" in markdown
