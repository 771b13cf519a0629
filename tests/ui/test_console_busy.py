"""The console on a busy box over a link that lags and drops (#15).

Type-ahead: keys sent in one burst, before the dialog they open is drawn, all reach it.
Hang-ups: each test runs the console in a real terminal (tmux), keeps both cores busy with two spinning
processes, closes the terminal (`tmux kill-session` hangs up the pane as sshd does) and checks that
the console and everything it started are gone within the deadline, and that the files it wrote read
back. The console's own process tree is listed just before the hang-up, so an engine still starting
(no pid recorded yet) is checked too.
"""

import json
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from test_console_tmux import TMUX, Tmux
from waiting import wait_until

from quanttui.io.recording_file import open_recording
from quanttui.io.tag_journal import load_journal

RECORDINGS = Path(__file__).parents[2] / "recordings"
APP = Path(__file__).parents[1] / "console_app_main.py"
PYTHON = shlex.quote(sys.executable)
ENDED_WITHIN_S = 10.0  # the bound for the console itself
GONE_WITHIN_S = 25.0  # and for every process it started (a reaper's grace after the deadline at most)

pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install -y tmux)")


@pytest.fixture
def busy_tmux() -> Iterator[Tmux]:
    """A private tmux server, and both cores kept busy by two spinning processes meanwhile."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    server = Tmux()
    try:
        yield server
    finally:
        subprocess.run([TMUX, "-L", server.socket, "kill-server"], capture_output=True, timeout=10)
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def launch(tmux: Tmux, workdir: Path, argv: str, size: tuple[int, int] = (80, 24)) -> int:
    """The console in tmux (`exec`, so the pid file names the console itself); returns its pid."""
    pid_file = workdir / "pid"
    tmux.new_session(
        size,
        f"cd {shlex.quote(str(workdir))}; echo $$ > pid; exec env LANG=C.UTF-8 {PYTHON} {argv}",
    )
    wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), what="the console's pid")
    return int(pid_file.read_text())


def hang_up(tmux: Tmux, pid: int) -> float:
    """Close the terminal; wait until the console and every process it started are gone. Returns
    how long the console took to end."""
    tree = [pid] + [p.pid for p in psutil.Process(pid).children(recursive=True)]
    tmux("kill-session", "-t", "qt")
    began = time.monotonic()

    def alive(p: int) -> bool:
        try:
            return psutil.Process(p).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    wait_until(lambda: not alive(pid), ENDED_WITHIN_S + 5, "the console to end after the hang-up")
    took = time.monotonic() - began
    wait_until(
        lambda: not any(alive(p) for p in tree),
        GONE_WITHIN_S,
        "every process the console started to end",
        detail=lambda: [psutil.Process(p).cmdline() for p in tree if alive(p)],
    )
    return took


def test_hangup_while_engines_start(busy_tmux, tmp_path):
    out = tmp_path / "out"
    pid = launch(busy_tmux, tmp_path, f"-m quanttui demo --backend sim --out {shlex.quote(str(out))}")
    busy_tmux.wait_for(lambda s: "starting" in s or "launching" in s, "the engines starting")
    assert hang_up(busy_tmux, pid) < ENDED_WITHIN_S
    open_recording(out / "recording.jsonl")  # readable, whatever it holds
    assert (out / "sweep.csv").exists()  # the session closed its files itself


def launched_session(tmp_path: Path) -> Path:
    """Two simulated engines quanttui launches itself (like vLLM), a ramp long enough to be cut."""
    lines = [
        "[load]",
        "concurrency = [2, 4]",
        "step_seconds = 120",
        "max_tokens = 200",
        "ignore_eos = true",
        "",
    ]
    for name in ("bf16", "awq"):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        lines += [
            f"[variants.{name}]", f'model = "{name}"',
            f"command = {json.dumps([sys.executable, '-m', 'quanttui.sim.server'])}",
            'extra_args = ["--ttft-ms", "20", "--itl-ms", "30"]', f"port = {port}", "",
        ]  # fmt: skip
    path = tmp_path / "session.toml"
    path.write_text("\n".join(lines))
    return path


def test_hangup_while_ramping_on_launched_engines(busy_tmux, tmp_path):
    """Requests in flight (200 tokens at 30 ms) are cut, the engines stopped, and the session
    closes its files itself (sweep.csv is written only by a clean close, never by the deadline)."""
    out = tmp_path / "out"
    config = launched_session(tmp_path)
    pid = launch(busy_tmux, tmp_path, f"-m quanttui run --config {config} --autostart --out {out}")
    busy_tmux.wait_for(lambda s: "step 1/" in s, "the ramp running", timeout=60)
    wait_until(lambda: '"RequestResult"' in (out / "recording.jsonl").read_text(), what="a request measured")
    assert hang_up(busy_tmux, pid) < ENDED_WITHIN_S
    assert (out / "sweep.csv").exists()
    _, events = open_recording(out / "recording.jsonl")
    assert any(type(e).__name__ == "RequestResult" for e in events)


def test_hangup_during_a_live_triage(busy_tmux, tmp_path):
    out = tmp_path / "out"
    pid = launch(
        busy_tmux, tmp_path, f"-m quanttui triage --demo --backend sim --out {shlex.quote(str(out))}"
    )
    busy_tmux.wait_for(lambda s: re.search(r"COMPARE .* [1-9]\d* prompts", s), "the triage under way")
    assert hang_up(busy_tmux, pid) < ENDED_WITHIN_S
    open_recording(out / "recording.jsonl")


def test_hangup_while_a_replay_plays(busy_tmux, tmp_path):
    recording = RECORDINGS / "demo-vllm-cpu-bf16-awq.jsonl"
    pid = launch(busy_tmux, tmp_path, f"-m quanttui replay {shlex.quote(str(recording))} --speed 1")
    busy_tmux.wait_for(lambda s: "REPLAY" in s, "the replay playing")
    assert hang_up(busy_tmux, pid) < ENDED_WITHIN_S


def test_hangup_with_the_tag_dialog_open(busy_tmux, tmp_path):
    recording = tmp_path / "triage.jsonl"
    shutil.copy(RECORDINGS / "demo-vllm-cpu-triage.jsonl", recording)
    pid = launch(busy_tmux, tmp_path, f"-m quanttui replay {shlex.quote(str(recording))} --speed 0")
    busy_tmux.wait_for(lambda s: "REPLAY" in s and "completed" in s, "the whole recording replayed")
    busy_tmux("send-keys", "-t", "qt", "c")
    busy_tmux.wait_for(lambda s: "COMPARE" in s, "the Compare screen")
    busy_tmux("send-keys", "-t", "qt", "o")  # a tag, journaled before the dialog below
    busy_tmux.wait_for(lambda s: "tag: ok" in s, "the first tag on screen")
    busy_tmux("send-keys", "-t", "qt", "t")
    busy_tmux.wait_for(lambda s: "0  ok" in s and "9  other" in s, "the tag dialog")
    assert hang_up(busy_tmux, pid) < ENDED_WITHIN_S
    journal = load_journal(tmp_path / "triage.tags.jsonl")
    assert [t.verdict for t in journal.history] == ["ok"]


def test_quitting_names_where_the_outputs_are(busy_tmux, tmp_path):
    out = tmp_path / "out"
    launch(busy_tmux, tmp_path, f"{shlex.quote(str(APP))} {shlex.quote(str(out))} live", (100, 30))
    busy_tmux.wait_for(lambda s: s.count("● attached") == 2, "both endpoints attached")
    busy_tmux("send-keys", "-t", "qt", "q")
    busy_tmux.wait_for(
        lambda s: f"quanttui: outputs in {out}/: recording.jsonl, sweep.csv" in s.replace("\n", ""),
        "the exit line (the pane stays after the console ends)",
    )


def test_keys_typed_ahead_of_the_tag_dialog_all_reach_it(busy_tmux, tmp_path):
    """An operator over a slow SSH link types the category, the symptom (with letters that are keys
    of the screens beneath: q quits, e exports), enter, the notes and enter, in one burst: no key
    may be lost or reach another screen. Then the same again at once on the next prompt."""
    recording = tmp_path / "triage.jsonl"
    shutil.copy(RECORDINGS / "demo-vllm-cpu-triage.jsonl", recording)
    launch(busy_tmux, tmp_path, f"-m quanttui replay {shlex.quote(str(recording))} --speed 0", (120, 36))
    busy_tmux.wait_for(lambda s: "REPLAY" in s and "completed" in s, "the whole recording replayed")
    busy_tmux("send-keys", "-t", "qt", "c")
    busy_tmux.wait_for(lambda s: "COMPARE" in s, "the Compare screen")
    burst = ["t", "7", "made up a number, quoted", "Enter", "see the exported q", "Enter"]
    for keys in burst:
        busy_tmux("send-keys", "-t", "qt", *(["-l", keys] if len(keys) > 1 and keys != "Enter" else [keys]))
    busy_tmux.wait_for(lambda s: "tag: hallucination" in s, "the tag on screen")
    busy_tmux("send-keys", "-t", "qt", "j", "t", "0", "Enter", "Enter")  # the next prompt, ok
    busy_tmux.wait_for(lambda s: "tag: ok" in s, "the second tag on screen")
    journal = load_journal(tmp_path / "triage.tags.jsonl")
    assert [(t.verdict, t.symptom, t.notes) for t in journal.history] == [
        ("hallucination", "made up a number, quoted", "see the exported q"),
        ("ok", "", ""),
    ]
    assert len({t.prompt_id for t in journal.history}) == 2
    assert not list(tmp_path.glob("failure_catalog*"))  # the e typed in the notes exported nothing


def test_monitor_keys_typed_ahead_act_in_order(busy_tmux, tmp_path):
    """`s + l 3000 enter p` in one burst: the ramp starts, steps up, the SLO dialog gets every digit
    (the 800 shown is replaced), then the pause, in that order."""
    out = tmp_path / "out"
    launch(busy_tmux, tmp_path, f"{shlex.quote(str(APP))} {shlex.quote(str(out))} live", (100, 30))
    busy_tmux.wait_for(lambda s: s.count("● attached") == 2, "both endpoints attached")
    busy_tmux("send-keys", "-t", "qt", "s", "+", "l", "3", "0", "0", "0", "Enter", "p")
    busy_tmux.wait_for(lambda s: "PAUSED" in s and "SLO p95 e2e 3,000 ms" in s, "the burst acted")
    busy_tmux("send-keys", "-t", "qt", "q")
    wait_until(lambda: (out / "exit-code").exists(), what="the console to exit")
    _, events = open_recording(out / "recording.jsonl")
    commands = [(e.command, e.value) for e in events if type(e).__name__ == "OperatorCommand"]
    assert commands[:4] == [("start", None), ("step_up", 2.0), ("set_slo", 3000.0), ("pause", None)]
