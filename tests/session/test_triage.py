"""Quality triage end to end: the CLI on simulated engines, a recording's catalog, and the Compare
screen with keyboard tags that are journaled and come back when the recording is reopened."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from quanttui.core.triage_events import TriageAnswer, TriagePrompt
from quanttui.io.recording_file import open_recording
from quanttui.io.tag_journal import load_journal
from quanttui.session import ReplaySession
from quanttui.session.handle import SessionHandle
from quanttui.ui.app import QuanttuiApp
from quanttui.ui.screens.compare import CompareScreen

SHIPPED = Path(__file__).parents[2] / "recordings" / "demo-vllm-cpu-triage.jsonl"
PROMPTS = [
    {"id": "f1", "category": "factual", "prompt": "Capital of France?", "max_tokens": 12, "checks": {"contains": ["Paris"]}},
    {"id": "m1", "category": "reasoning", "prompt": "17*23?", "max_tokens": 12, "checks": {"numeric": 391}},
    {"id": "l1", "category": "long_context", "prompt": "{context}\nNote: key in locker 47.\n{context}\nWhich locker?",
     "max_tokens": 8, "fill_to": 0.5, "checks": {"numeric": 47}},
]  # fmt: skip


def quanttui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quanttui", *args], capture_output=True, text=True, timeout=180
    )


def test_headless_triage_on_simulated_engines(tmp_path):
    prompts = tmp_path / "set.jsonl"
    prompts.write_text("\n".join(json.dumps(p) for p in PROMPTS) + "\n")
    out = tmp_path / "out"
    done = quanttui("triage", "--demo", "--backend", "sim", "--prompts", str(prompts), "--headless", "--json",
                    "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["prompts"] == 3 and summary["reference"] == "bf16" and summary["finished"] == "completed"
    assert summary["variants"]["awq"]["answers"] == 3
    for name in ("failure_catalog.md", "failure_catalog.csv", "failure_catalog.json", "recording.jsonl"):
        assert (out / name).exists(), name
    _, events = open_recording(out / "recording.jsonl")
    events = list(events)
    sent = [e for e in events if isinstance(e, TriagePrompt)]
    assert [e.prompt_id for e in sent] == ["f1", "m1", "l1"]
    assert "{context}" not in sent[2].messages[-1][1] and "locker 47" in sent[2].messages[-1][1]
    assert len([e for e in events if isinstance(e, TriageAnswer)]) == 6


def test_bad_prompt_set_is_one_line_naming_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(PROMPTS[0]) + "\n" + json.dumps({**PROMPTS[1], "category": "poetry"}) + "\n")
    done = quanttui("triage", "--endpoint", "a=http://127.0.0.1:9", "--prompts", str(bad), "--headless")
    assert done.returncode == 2
    assert done.stderr.strip().endswith(f"{bad}:2: category: expected one of factual, eli5, reasoning, code, "
                                        "summarization, long_context")  # fmt: skip
    assert "Traceback" not in done.stderr


def test_catalog_from_the_shipped_real_triage(tmp_path):
    recording = tmp_path / "triage.jsonl"
    shutil.copy(SHIPPED, recording)
    done = quanttui("triage", "--from", str(recording), "--out", str(tmp_path / "cat"), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["prompts"] == 25 and summary["variants"]["awq"]["mean_kl"] > 0
    assert 0.5 < summary["variants"]["awq"]["top1_agreement"] < 1.0
    markdown = (tmp_path / "cat" / "failure_catalog.md").read_text()
    assert "| prompt_id | category | bf16_ok? | awq_issue? | symptom | notes |" in markdown
    assert markdown.count("\n### ") == 3  # the three most telling examples


def replay(recording: Path) -> SessionHandle:
    return SessionHandle(ReplaySession(recording, speed=None, hold_at_end=True), own_thread=False)


def replayed_all(app: QuanttuiApp) -> bool:
    status = app.state.replay
    return status is not None and status.at_end and not app.subscription.pending


async def wait_until(pilot, check, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


async def test_compare_screen_tags_are_journaled_and_reloaded(tmp_path):
    recording = tmp_path / "triage.jsonl"
    shutil.copy(SHIPPED, recording)
    app = QuanttuiApp(replay(recording), tmp_path / "out")
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_until(pilot, lambda: replayed_all(app), "the whole recording")
        await pilot.pause(0.2)
        await pilot.press("c")
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert app.triage.counts()["prompts"] == 25
        first = app.triage.current().prompt.prompt_id
        await pilot.press("o")  # awq (the selected pane) is fine on the first prompt
        await pilot.press("j", "t", "2")  # next prompt: wrong answer ...
        await pilot.press(*"says [b]x[/b] | y", "enter", *"note", "enter")
        await pilot.pause(0.2)
        second = app.triage.current().prompt.prompt_id
        assert app.triage.tags[(first, "awq")].verdict == "ok"
        tag = app.triage.tags[(second, "awq")]
        assert (tag.verdict, tag.symptom, tag.notes) == ("wrong_answer", "says [b]x[/b] | y", "note")
        await pilot.press("f")  # only flagged prompts
        flagged = app.triage.visible()
        assert flagged and all(app.triage.flagged(r) for r in flagged)
        await pilot.press("e")  # a job on the session's side
        await wait_until(pilot, lambda: (tmp_path / "out" / "failure_catalog.md").exists(), "the catalog")
    journal = load_journal(recording.with_name("triage.tags.jsonl"))
    assert [(t.prompt_id, t.verdict) for t in journal.history] == [(first, "ok"), (second, "wrong_answer")]

    reopened = QuanttuiApp(replay(recording), tmp_path / "out2")
    async with reopened.run_test(size=(140, 44)) as pilot:
        await wait_until(pilot, lambda: replayed_all(reopened), "the whole recording")
        assert reopened.triage.tags[(second, "awq")].symptom == "says [b]x[/b] | y"  # back after reopening


HOSTILE = "[bold red]not bold[/] \x1b[31mred\x1b[0m \x1b]52;c;ZXZpbA==\x07clip \u202eevil\u202c " + "x" * 5000


async def test_hostile_answers_are_literal_in_the_compare_screen(tmp_path):
    from quanttui.core.recording import RecordingHeader
    from quanttui.core.triage import Flag
    from quanttui.core.triage_events import TriageStarted
    from quanttui.io.recording_file import Recorder

    recording = tmp_path / "hostile.jsonl"
    recorder = Recorder(recording, RecordingHeader(started_utc="2026-11-24T00:00:00+00:00", quanttui="0", config={},
                                                   host={}))  # fmt: skip
    recorder.open()
    recorder.write_batch([
        TriageStarted(t=0.0, quality_set="q", prompts=1, variants=("bf16", "awq"), reference="bf16", top_logprobs=0),
        TriagePrompt(t=0.1, prompt_id="p1", category="factual", messages=(("user", "[i]q[/i] \x1b[2J?"),)),
        TriageAnswer(t=0.2, prompt_id="p1", variant="bf16", text="plain answer"),
        TriageAnswer(t=0.3, prompt_id="p1", variant="awq", text=HOSTILE,
                     flags=(Flag("repetition", "[blink]x[/blink] \x1b[5m"),)),
    ])  # fmt: skip
    recorder.close()
    app = QuanttuiApp(replay(recording), tmp_path / "out")
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: app.triage.counts()["answered"] >= 1, "an answer")
        await pilot.press("c")
        await pilot.pause(0.3)
        shown = [str(w.render()) for w in app.screen.query("Static")]
        text = "\n".join(shown)
        assert "[bold red]not bold[/]" in text and "[blink]x[/blink]" in text and "[i]q[/i]" in text
        assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
        assert "x" * 1000 in text  # a very long line is kept (wrapped by the pane, not cut)


async def test_stopping_a_triage_ends_after_the_prompt_under_way(tmp_path, sim_server):
    import asyncio

    from session_helpers import Collector

    from quanttui.core.events import SweepFinished
    from quanttui.core.loadplan import LoadPlan
    from quanttui.core.prompts import DEFAULT_PROMPTS
    from quanttui.core.triage_events import TriageFinished
    from quanttui.io.openai_client import RequestOptions, Timeouts
    from quanttui.io.quality_file import default_quality_set
    from quanttui.session import EndpointSpec, LiveSession, SweepConfig
    from quanttui.session.triage import TriageSpec

    a, b = sim_server("a", ttft_ms=5, itl_ms=2), sim_server("b", ttft_ms=5, itl_ms=2)
    config = SweepConfig(endpoints=(EndpointSpec("bf16", a.url), EndpointSpec("awq", b.url)),
                         plan=LoadPlan(concurrencies=(1,), requests_per_step=1), options=RequestOptions(),
                         timeouts=Timeouts(), out_dir=tmp_path)  # fmt: skip
    spec = TriageSpec(default_quality_set(), top_logprobs=0)
    session = LiveSession(config, list(DEFAULT_PROMPTS), None, autostart=True, triage=spec, triage_only=True)
    seen = Collector(session.stream)
    run = asyncio.create_task(session.run())
    await seen.until(lambda: len(seen.of(TriageAnswer)) >= 2, what="the first prompt answered")
    session.stop()
    await asyncio.wait_for(run, 60)
    await seen.done()
    assert seen.of(TriageFinished)[-1].reason == "stopped" and seen.of(SweepFinished)[-1].reason == "stopped"
    assert len(seen.of(TriagePrompt)) < len(default_quality_set().prompts)


async def test_an_engine_without_vllms_tokenize_is_known_unscorable(sim_server, free_port):
    """Divergence scoring needs vLLM's /tokenize and prompt_logprobs: an engine without the route (the
    simulator has none, nor has llama-cpp-python's server) is said to be unscorable once; an engine
    that does not answer at all is not (a passing hiccup must not turn scoring off)."""
    from quanttui.io.openai_client import Timeouts
    from quanttui.io.triage_client import TriageClient

    server = sim_server("m")
    for url, expected in ((server.url, False), (f"http://127.0.0.1:{free_port}", True)):
        client = TriageClient(url, "m", None, Timeouts(connect_s=1))
        try:
            assert await client.speaks_vllm() is expected, url
        finally:
            await client.aclose()
