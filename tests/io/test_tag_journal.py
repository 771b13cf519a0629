"""The tag journal: durable at once, last tag wins, survives kill -9, damage named by line and field."""

import json
import signal
import subprocess
import sys
import textwrap

import pytest

from quanttui.core.triage import Tag
from quanttui.io.tag_journal import TagJournal, TagJournalError, load_journal


def test_round_trip_and_the_last_tag_wins(tmp_path):
    path = tmp_path / "tags.jsonl"
    journal = TagJournal(path)
    journal.append(Tag("p1", "awq", "ok"))
    journal.append(Tag("p1", "awq", "repetition", "loops on 'a color called'", "seen at | 40 tokens\n<b>"))
    journal.append(Tag("p2", "bf16", "ok", at="2026-11-24T00:00:00+00:00"))
    state = load_journal(path)
    assert len(state.history) == 3 and state.warnings == []
    assert state.tags[("p1", "awq")].verdict == "repetition"
    assert state.tags[("p1", "awq")].notes == "seen at | 40 tokens\n<b>"
    assert json.loads(path.read_text().splitlines()[0])["format"] == "quanttui-tags"


def test_a_cut_last_line_is_skipped_with_a_warning_and_appending_continues(tmp_path):
    path = tmp_path / "tags.jsonl"
    TagJournal(path).append(Tag("p1", "awq", "ok"))
    with path.open("a") as handle:
        handle.write('{"prompt_id": "p2", "vari')
    state = load_journal(path)
    assert list(state.tags) == [("p1", "awq")] and "cut mid-write" in state.warnings[0]
    TagJournal(path).append(Tag("p3", "awq", "wrong_answer"))
    state = load_journal(path)
    assert set(state.tags) == {("p1", "awq"), ("p3", "awq")} and len(state.warnings) == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"prompt_id": "p", "variant": "awq", "verdict": "great"}', "tags.jsonl:3: verdict"),
        ('{"prompt_id": "p", "variant": 3, "verdict": "ok"}', "tags.jsonl:3: variant"),
        ('{"prompt_id": "p", "variant": "awq", "verdict": "ok", "mood": "x"}', "tags.jsonl:3: mood"),
        ("not json at all", "tags.jsonl:3: (line)"),
    ],
)
def test_damage_in_the_middle_names_line_and_field(tmp_path, line, message):
    path = tmp_path / "tags.jsonl"
    TagJournal(path).append(Tag("p1", "awq", "ok"))
    with path.open("a") as handle:
        handle.write(line + "\n")
    TagJournal(path).append(Tag("p2", "awq", "ok"))
    with pytest.raises(TagJournalError) as err:
        load_journal(path)
    assert message in str(err.value)


def test_a_newer_schema_is_refused_in_one_line(tmp_path):
    path = tmp_path / "tags.jsonl"
    path.write_text('{"format": "quanttui-tags", "schema": 9}\n')
    with pytest.raises(TagJournalError, match=r"tags.jsonl:1: schema: version 9 is newer"):
        load_journal(path)


def test_every_tag_reported_as_made_survives_kill_9(tmp_path):
    path = tmp_path / "tags.jsonl"
    child = textwrap.dedent(f"""
        import sys
        from quanttui.core.triage import Tag
        from quanttui.io.tag_journal import TagJournal
        journal = TagJournal({str(path)!r})
        n = 0
        while True:
            journal.append(Tag(f"p{{n}}", "awq", "other", "symptom " * 20, "notes"))
            n += 1
            print(f"tagged {{n}}", flush=True)
    """)
    process = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    made = 0
    while made < 40:
        made = int(process.stdout.readline().split()[1])
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    state = load_journal(path)
    assert len(state.tags) >= made  # everything acknowledged is on disk (a later one may be cut)
    assert all((f"p{i}", "awq") in state.tags for i in range(made))
