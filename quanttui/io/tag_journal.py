"""The tag journal: every tag appended, flushed and fsynced before `append()` returns.

The operator's judgement is the one thing a triage cannot measure again, so it is written the
moment it is made and never rewritten: the file is only ever opened for appending. Reading keeps
the last tag per (prompt, variant); a last line cut by a crash (kill -9 mid-write) is skipped
with a warning, a damaged line elsewhere is an error naming the file, line and field.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from quanttui.core.tag_codec import TagCodecError, check_header, decode_tag, encode_tag, header_line
from quanttui.core.triage import Tag

JOURNAL_NAME = "tags.jsonl"  # a live session's journal, in its output folder


def journal_for_recording(recording: Path) -> Path:
    """Tags made while replaying a recording live beside it."""
    return recording.with_name(recording.stem + ".tags.jsonl")


def journals_of(recording: Path) -> list[Path]:
    """Every journal that may hold tags for a recording: the session's own and a replay's."""
    return [p for p in (recording.with_name(JOURNAL_NAME), journal_for_recording(recording)) if p.exists()]


class TagJournalError(ValueError):
    """`<file>:<line>: <field>: <message>`."""


@dataclass
class JournalState:
    tags: dict[tuple[str, str], Tag] = field(default_factory=dict)
    history: list[Tag] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class TagJournal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def append(self, tag: Tag) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            chunks = []
            if size == 0:
                chunks.append(header_line() + "\n")
            elif not _ends_with_newline(self.path, size):
                chunks.append("\n")  # a line cut by a crash: start ours on a line of its own
            chunks.append(encode_tag(tag) + "\n")
            data = "".join(chunks).encode("utf-8")
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        finally:
            os.close(fd)


def _ends_with_newline(path: Path, size: int) -> bool:
    with path.open("rb") as handle:
        handle.seek(size - 1)
        return handle.read(1) == b"\n"


def load_journal(path: Path) -> JournalState:
    path = Path(path)
    state = JournalState()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TagJournalError(f"{path}:0: (file): {exc.strerror or exc}") from None
    lines = raw.split(b"\n")
    cut_last = not raw.endswith(b"\n") and bool(raw)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        is_last = number == len(lines)
        try:
            data = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            if is_last and cut_last:
                state.warnings.append(f"{path}:{number}: the last line was cut mid-write (skipped)")
                continue
            if _is_cut_line(lines, number):
                state.warnings.append(f"{path}:{number}: a line cut mid-write by a crash (skipped)")
                continue
            raise TagJournalError(f"{path}:{number}: (line): not JSON") from None
        try:
            if number == 1:
                check_header(data)
                continue
            tag = decode_tag(data)
        except TagCodecError as exc:
            raise TagJournalError(f"{path}:{number}: {exc}") from None
        state.history.append(tag)
        state.tags[(tag.prompt_id, tag.variant)] = tag
    return state


def _is_cut_line(lines: list[bytes], number: int) -> bool:
    """A crash cut this line, and a later sitting appended after it (on a new line)."""
    line = lines[number - 1].strip()
    return line.startswith(b"{") and not line.endswith(b"}")
