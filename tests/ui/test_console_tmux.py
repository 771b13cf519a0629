"""Smoke test in a real terminal: the console runs inside tmux, keys go in, the screen text comes out."""

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tmux_driver import TMUX, Tmux
from waiting import wait_until

from quanttui.core.events import EndpointInfo
from quanttui.io.recording_file import open_recording
from quanttui.io.tag_journal import load_journal

APP = Path(__file__).parents[1] / "console_app_main.py"

pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install -y tmux)")


@pytest.fixture
def tmux():
    server = Tmux()
    yield server
    subprocess.run([TMUX, "-L", server.socket, "kill-server"], capture_output=True, timeout=10)


def start(tmux: Tmux, out: Path, mode: str, size: tuple[int, int]) -> None:
    command = f"env LANG=C.UTF-8 {shlex.quote(sys.executable)} {shlex.quote(str(APP))} {shlex.quote(str(out))} {mode}"
    tmux.new_session(size, command)
    tmux("set-option", "-s", "escape-time", "0")


def wait_exit(out: Path, timeout: float = 30.0) -> str:
    code = out / "exit-code"
    wait_until(lambda: code.exists() and code.read_text().endswith("\n"), timeout, "the console to exit")
    return code.read_text().strip()


def published(out: Path, kind: str) -> list[dict]:
    """Events of one type the session published while the console ran (console_app_main.py)."""
    lines = (out / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["type"] == kind]


def recording_events(out: Path) -> list[dict]:
    """The event lines of a live session's recording (the header left out)."""
    return [json.loads(line) for line in (out / "recording.jsonl").read_text().splitlines()[1:]]


def test_replay_console_in_tmux(tmux, tmp_path):
    start(tmux, tmp_path, "replay", (100, 30))
    screen = tmux.wait_for(lambda s: "sweep completed" in s, "the end of the replay")
    assert (
        "REPLAY" in screen
        and "◆ bf16 undecided at 1 · awq undecided at 1" in screen
        and "awq vs bf16" in screen
    )
    assert "inconclusive at p95 e2e <= 800 ms" in screen and "holds none · undecided at 1" in screen
    # The engines stopped at the end: their live windows show "—", the step results stay (and say so).
    assert "E2E (last 30 s) —" in screen and "— of 512 tok" in screen and "steps at c=8" in screen
    assert "c=8: 12 measured · 1 warm-up" in screen

    tmux("send-keys", "-t", "qt", "?")
    tmux.wait_for(lambda s: "replay keys" in s, "the help screen")
    tmux("send-keys", "-t", "qt", "Escape")
    tmux.wait_for(lambda s: "replay keys" not in s, "the help screen to close")
    tmux("send-keys", "-t", "qt", "Space")
    tmux.wait_for(lambda s: "PAUSED" in s, "the paused flag")
    tmux("send-keys", "-t", "qt", "q")
    assert wait_exit(tmp_path) == "0"
    (last,) = published(tmp_path, "ReplayStatus")[-1:]
    assert last["paused"] and last["at_end"]  # what the replay said of itself when it stopped


def attached(screen: str) -> bool:
    return screen.count("● attached") == 2


def test_live_console_in_tmux_at_80x24(tmux, tmp_path):
    start(tmux, tmp_path, "live", (80, 24))  # two simulated servers, the ramp waiting for s
    screen = tmux.wait_for(attached, "both endpoints attached")
    assert "LIVE" in screen and "SLO p95 e2e 800 ms" in screen
    for key, shows, what in (
        ("s", "step 1/3 c=1", "the first step"),
        ("+", "step 2/3 c=2", "the operator's step up"),
        ("-", "step 1/3 c=1", "the operator's step down"),  # the ramp's level again, not the step count
        ("p", "PAUSED", "the paused flag"),
    ):
        tmux("send-keys", "-t", "qt", key)
        tmux.wait_for(lambda s, shows=shows: shows in s, what)
    tmux("send-keys", "-t", "qt", "q")  # stops the session, waits for it, exits
    assert wait_exit(tmp_path) == "0"
    recorded = [e for e in recording_events(tmp_path) if e["type"] == "OperatorCommand"]
    assert [(e["command"], e["value"]) for e in recorded] == [
        ("start", None), ("step_up", 2.0), ("step_down", 1.0), ("pause", None), ("stop", None)
    ]  # fmt: skip


def test_sigterm_ends_the_console_and_stops_the_session(tmux, tmp_path):
    start(tmux, tmp_path, "live", (100, 30))
    tmux.wait_for(attached, "both endpoints attached")
    os.kill(int((tmp_path / "pid").read_text()), signal.SIGTERM)
    assert wait_exit(tmp_path) == "130"
    events = recording_events(tmp_path)
    assert [e["command"] for e in events if e["type"] == "OperatorCommand"] == ["stop"]
    assert [e["state"] for e in events if e["type"] == "RampStatus"] == ["waiting", "stopping", "finished"]


def test_sim_demo_opens_the_console_and_quits_clean(tmux, tmp_path):
    out = tmp_path / "out"
    command = (
        f"env LANG=C.UTF-8 {shlex.quote(sys.executable)} -m quanttui demo --backend sim --out {shlex.quote(str(out))};"
        f" echo $? > {shlex.quote(str(tmp_path / 'exit-code'))}"
    )
    tmux.new_session((120, 36), command)
    screen = tmux.wait_for(
        lambda s: s.count("● ready") == 2 and "step 1/5" in s, "both engines ready, ramp on"
    )
    assert "LIVE" in screen and "demo-bf16" in screen and "demo-awq" in screen
    tmux("send-keys", "-t", "qt", "q")
    assert wait_exit(tmp_path) == "0"
    _, events = open_recording(out / "recording.jsonl")
    pids = [pid for e in events if isinstance(e, EndpointInfo) for pid in e.pids]
    assert pids, "the recording names the engines' processes"
    for pid in pids:  # quitting stopped every engine: nothing is left holding memory
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_tags_survive_kill_9_of_the_console(tmux, tmp_path):
    recording = tmp_path / "triage.jsonl"
    shutil.copy(Path(__file__).parents[2] / "recordings" / "demo-vllm-cpu-triage.jsonl", recording)
    # `exec` keeps the shell's pid, so the pid file names the console itself.
    command = (
        f"echo $$ > {shlex.quote(str(tmp_path / 'pid'))}; exec env LANG=C.UTF-8 {shlex.quote(sys.executable)}"
        f" -m quanttui replay {shlex.quote(str(recording))} --speed 0"
    )
    tmux.new_session((120, 36), command)
    tmux.wait_for(
        lambda s: "REPLAY" in s and "triage: 25 prompts × 2 variants, completed" in s,
        "the whole recording replayed",
    )
    tmux("send-keys", "-t", "qt", "c")
    tmux.wait_for(lambda s: "COMPARE" in s and "25 prompts" in s, "the Compare screen")
    tmux("send-keys", "-t", "qt", "o")
    tmux("send-keys", "-t", "qt", "j")
    tmux("send-keys", "-t", "qt", "t")
    tmux.wait_for(lambda s: "0  ok" in s and "9  other" in s, "the tag dialog")
    tmux("send-keys", "-t", "qt", "7")
    tmux.wait_for(lambda s: "verdict: hallucination" in s, "the verdict chosen with 7")
    tmux("send-keys", "-t", "qt", "-l", "made up a number")
    tmux.wait_for(lambda s: "made up a number" in s, "the symptom typed")
    tmux("send-keys", "-t", "qt", "Enter")  # symptom -> notes
    tmux("send-keys", "-t", "qt", "Enter")  # notes -> save
    tmux.wait_for(lambda s: "tag: hallucination" in s, "the tag on screen")
    os.kill(int((tmp_path / "pid").read_text()), signal.SIGKILL)  # no chance to flush anything
    journal = load_journal(tmp_path / "triage.tags.jsonl")
    assert [t.verdict for t in journal.history] == ["ok", "hallucination"]
    assert journal.history[1].symptom == "made up a number"


def test_resizing_the_terminal_under_load_and_the_api_key_off_screen(tmux, tmp_path):
    out = tmp_path / "out"
    command = (
        f"env LANG=C.UTF-8 QT_KEY=sk-screen-no-leak-5 {shlex.quote(sys.executable)} -m quanttui demo --backend sim"
        f" --out {shlex.quote(str(out))}; echo $? > {shlex.quote(str(tmp_path / 'exit-code'))}"
    )
    tmux.new_session((120, 36), command)
    tmux.wait_for(lambda s: s.count("● ready") == 2 and "step 1/5" in s, "the ramp under way")
    for cols, rows in ((80, 24), (200, 60), (60, 20), (140, 40), (80, 24), (120, 36)):
        tmux("resize-window", "-t", "qt", "-x", str(cols), "-y", str(rows))
        # redrawn at the new size: the footer is on the new last row
        tmux.wait_for(
            lambda s, rows=rows: (
                len(s.splitlines()) >= rows and s.splitlines()[rows - 1].endswith("^p palette")
            ),
            f"the console redrawn at {cols}x{rows}",
        )
    screen = tmux.wait_for(lambda s: "LIVE" in s and "Traceback" not in s, "the console after resizes")
    assert "sk-screen-no-leak-5" not in screen
    tmux("send-keys", "-t", "qt", "q")
    assert wait_exit(tmp_path) == "0"
    _, events = open_recording(out / "recording.jsonl")
    pids = [pid for e in events if isinstance(e, EndpointInfo) for pid in e.pids]
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
