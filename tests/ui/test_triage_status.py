"""The monitor's status line of a session that ran a triage and no ramp says what it is, not the
ramp's "no step yet ... sweep completed"."""

from pathlib import Path

from quanttui.core.live import LiveState
from quanttui.core.recording import plan_from_header
from quanttui.core.triage_events import TriageAnswer, TriageFinished
from quanttui.io.recording_file import read_recording
from quanttui.ui.views import status_view

ROOT = Path(__file__).parents[2]


def folded(path: Path, keep=lambda e: True) -> LiveState:
    recording, events = read_recording(path)
    state = LiveState(plan_from_header(recording.header, path))
    for event in events:
        if keep(event):
            state.apply(event)
    return state


def test_a_finished_triage_recording_says_triage_completed():
    for name, variants in (("demo-vllm-cpu-triage.jsonl", 2), ("demo-vllm-cpu-triage-all.jsonl", 4)):
        status = status_view(folded(ROOT / "recordings" / name), "replay", 0.0, paused=False)
        assert status.progress.endswith(f"triage: 25 prompts × {variants} variants, completed"), status
        assert "no step yet" not in status.progress and "sweep" not in status.flags


def test_a_running_triage_counts_its_answered_prompts():
    answers: set[tuple[str, str]] = set()

    def first_ten(event) -> bool:
        if isinstance(event, TriageAnswer):
            answers.add((event.prompt_id, event.variant))
            return len({p for p, _ in answers}) <= 10
        return not isinstance(event, TriageFinished)

    status = status_view(folded(ROOT / "recordings" / "demo-vllm-cpu-triage.jsonl", first_ten), "live", 5.0,
                         paused=False)  # fmt: skip
    assert status.progress.endswith("triage: 10/25 prompts × 2 variants"), status


def test_a_sweep_recording_keeps_the_ramp_s_words():
    status = status_view(folded(ROOT / "recordings" / "demo-vllm-cpu-bf16-awq.jsonl"), "replay", 0.0,
                         paused=False)  # fmt: skip
    assert "triage" not in status.progress and "sweep completed" in status.flags
