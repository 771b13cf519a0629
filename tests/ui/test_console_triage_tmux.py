"""A live triage in a real terminal: `quanttui triage --demo --backend sim` in tmux, tagged from
the keyboard once the triage has finished (its session has closed its stream), then exported; and
`c` pressed fast, 40 times, in a replay of every shipped recording.

The tags must show on the screen at once (the header's untagged count too) and reach every
catalog file: markdown, CSV and JSON."""

from __future__ import annotations

import csv
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_console_tmux import wait_exit
from tmux_driver import TMUX, Tmux

from quanttui.io.tag_journal import load_journal

pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install -y tmux)")


@pytest.fixture
def tmux():
    server = Tmux()
    yield server
    subprocess.run([TMUX, "-L", server.socket, "kill-server"], capture_output=True, timeout=10)


def untagged(screen: str) -> int | None:
    header = next((line for line in screen.splitlines() if "COMPARE" in line), "")
    words = header.split(" untagged")[0].split()
    return int(words[-1]) if " untagged" in header and words[-1].isdigit() else None


def test_live_triage_tags_show_at_once_and_reach_every_export(tmux, tmp_path):
    out = tmp_path / "out"
    command = (
        f"env LANG=C.UTF-8 {shlex.quote(sys.executable)} -m quanttui triage --demo --backend sim"
        f" --out {shlex.quote(str(out))}; echo $? > {shlex.quote(str(tmp_path / 'exit-code'))}"
    )
    tmux.new_session((120, 36), command)
    tmux("set-option", "-s", "escape-time", "0")
    screen = tmux.wait_for(lambda s: "COMPARE  1/25" in s and "· completed" in s, "the finished triage", 180)
    assert untagged(screen) == 25 and "fact-capital-france" in screen

    def send(*keys: str) -> None:
        tmux("send-keys", "-t", "qt", *keys)

    # The first prompt: awq (the selected pane) ok, then bf16 (tab) ok: the prompt is fully tagged.
    send("o")
    tmux.wait_for(lambda s: "tag: ok" in s, "awq's tag on the screen")
    send("Tab", "o")
    screen = tmux.wait_for(lambda s: s.count("tag: ok") == 2, "both tags on the screen")
    assert untagged(screen) == 24
    # The second prompt: awq gives a wrong answer, with a symptom and a note.
    send("Tab", "j", "t")
    tmux.wait_for(lambda s: "0  ok" in s and "9  other" in s, "the tag dialog")
    send("2")
    tmux.wait_for(lambda s: "verdict: wrong_answer" in s, "the verdict chosen with 2")
    send("-l", "says 90 | not 100")
    send("Enter")
    send("-l", "live note")
    send("Enter")
    screen = tmux.wait_for(lambda s: "tag: wrong_answer · says 90 | not 100 · live note" in s, "the tag")
    assert "fact-water-boils" in screen and untagged(screen) == 24  # bf16 is still untagged there

    send("e")
    names = ("failure_catalog.md", "failure_catalog.csv", "failure_catalog.json")
    tmux.wait_for(lambda s: all((out / n).exists() for n in names), "the catalog files")
    send("q")
    assert wait_exit(tmp_path) == "0"

    journal = load_journal(out / "tags.jsonl")
    assert [(t.prompt_id, t.variant, t.verdict) for t in journal.history] == [
        ("fact-capital-france", "awq", "ok"),
        ("fact-capital-france", "bf16", "ok"),
        ("fact-water-boils", "awq", "wrong_answer"),
    ]
    markdown = (out / names[0]).read_text()
    assert "| fact-capital-france | factual | yes | none |" in markdown
    assert "| fact-water-boils | factual | untagged" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| fact-water-boils |"))
    assert "| wrong_answer | says 90 &#124; not 100 | live note |" in row
    assert "24 not fully tagged" in markdown
    with (out / names[1]).open(newline="") as handle:
        verdicts = {
            (r["prompt_id"], r["variant"]): (r["verdict"], r["symptom"], r["notes"])
            for r in csv.DictReader(handle)
        }
    assert verdicts[("fact-capital-france", "bf16")] == ("ok", "", "")
    assert verdicts[("fact-capital-france", "awq")] == ("ok", "", "")
    assert verdicts[("fact-water-boils", "awq")] == ("wrong_answer", "says 90 | not 100", "live note")
    assert verdicts[("fact-water-boils", "bf16")] == ("", "", "")
    tags = json.loads((out / names[2]).read_text())["tags"]
    assert {(t["prompt_id"], t["variant"], t["verdict"], t["symptom"]) for t in tags} == {
        ("fact-capital-france", "awq", "ok", ""),
        ("fact-capital-france", "bf16", "ok", ""),
        ("fact-water-boils", "awq", "wrong_answer", "says 90 | not 100"),
    }


RECORDINGS = sorted((Path(__file__).parents[2] / "recordings").glob("*.jsonl"))


@pytest.mark.parametrize("recording", RECORDINGS, ids=[p.stem for p in RECORDINGS])
def test_c_pressed_40_times_in_a_terminal_never_ends_the_console(tmux, tmp_path, recording):
    copy = tmp_path / recording.name
    shutil.copy(recording, copy)
    command = (
        f"env LANG=C.UTF-8 {shlex.quote(sys.executable)} -m quanttui replay {shlex.quote(str(copy))}"
        f" --speed 0; echo $? > {shlex.quote(str(tmp_path / 'exit-code'))}"
    )
    tmux.new_session((120, 36), command)
    tmux("set-option", "-s", "escape-time", "0")
    tmux.wait_for(
        lambda s: "REPLAY" in s and ("completed" in s or "2 profiled" in s), "the whole recording replayed"
    )
    # As fast as tmux sends them: a pop lands during Compare's pane rebuild. Only c (it toggles):
    # an escape sent in the same burst as the next key reads as alt+key, to any terminal program.
    for _ in range(20):
        tmux("send-keys", "-t", "qt", "c", "c")
    # The burst takes seconds to handle (each c rebuilds Compare's panes): the help, typed after
    # it, opens once every c before it was handled; under it must be the monitor.
    tmux("send-keys", "-t", "qt", "?")
    tmux.wait_for(lambda s: "replay keys" in s, "the help, after the burst")
    tmux("send-keys", "-t", "qt", "Escape")
    screen = tmux.wait_for(lambda s: "replay keys" not in s, "the help closed")
    assert "REPLAY" in screen and "COMPARE" not in screen, screen
    tmux("send-keys", "-t", "qt", "c")
    tmux.wait_for(lambda s: " COMPARE  " in s, "the Compare screen")
    tmux("send-keys", "-t", "qt", "Escape")
    tmux.wait_for(lambda s: "REPLAY" in s and "COMPARE" not in s, "the monitor again")
    assert not (tmp_path / "exit-code").exists(), "the console ended"
    tmux("send-keys", "-t", "qt", "q")
    assert wait_exit(tmp_path) == "0"
