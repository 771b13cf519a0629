"""Recording files: the recorder writes the stream to JSON Lines; the reader reads it back.

A replay (session/replay_control.py) publishes the recorded events onto a SessionStream, the same
path a live session uses; `fold_recording` folds a whole file through the session's fold for the
readers that need no stream (`quanttui report`, `quanttui triage --from`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from quanttui.core.events import Event
from quanttui.core.fold import SessionFold
from quanttui.core.loadplan import Slo
from quanttui.core.recording import (
    RecordingError,
    RecordingHeader,
    decode_event,
    encode_event,
    header_from_json,
    header_variants,
    plan_from_header,
)
from quanttui.core.stream import Subscription


class Recorder:
    """Appends every event of a subscription to a file, one flush per batch."""

    def __init__(self, path: Path, header: RecordingHeader) -> None:
        self.path = path
        self.header = header
        self.written = 0
        self._file: IO[str] | None = None

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("w", encoding="utf-8", newline="\n")
        self._file.write(self.header.to_json() + "\n")
        self._file.flush()

    def write_batch(self, events: list[Event]) -> None:
        assert self._file is not None, "Recorder.open() first"
        self._file.write("".join(encode_event(e) + "\n" for e in events))
        self._file.flush()
        self.written += len(events)

    async def run(self, subscription: Subscription) -> None:
        if self._file is None:
            self.open()
        try:
            async for batch in subscription.batches():
                self.write_batch(batch)
        finally:
            self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass
class Recording:
    path: Path
    header: RecordingHeader
    warnings: list[str] = field(default_factory=list)


def open_recording(path: Path) -> tuple[Recording, Iterator[Event]]:
    """Read the header now and the events lazily.

    A last line cut mid-write (no trailing newline, not valid JSON) ends the replay with a
    warning; any other damaged line is a RecordingError naming the file, line and field.
    """
    if not path.exists():
        raise RecordingError(f"{path}: no such file")
    if path.is_dir():
        raise RecordingError(f"{path}: is a folder, not a recording (its recording.jsonl?)")
    try:
        handle = path.open("r", encoding="utf-8", errors="strict", newline="")
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        first = handle.readline()
    except UnicodeDecodeError:
        handle.close()
        raise RecordingError(f"{path}:1: not UTF-8 text") from None
    if not first.strip():
        handle.close()
        raise RecordingError(f"{path}:1: empty file, no recording header")
    try:
        header = header_from_json(first, f"{path}:1")
    except RecordingError:
        handle.close()
        raise
    recording = Recording(path=path, header=header)
    declared = set(header_variants(header))

    def events() -> Iterator[Event]:
        with handle:
            lineno = 1
            while True:
                try:
                    line = handle.readline()
                except UnicodeDecodeError:
                    raise RecordingError(f"{path}:{lineno + 1}: not UTF-8 text") from None
                if not line:
                    return
                lineno += 1
                if not line.strip():
                    continue
                complete = line.endswith("\n")
                try:
                    event = decode_event(line, f"{path}:{lineno}")
                    variant = getattr(event, "variant", None)
                    if declared and isinstance(variant, str) and variant not in declared:
                        raise RecordingError(
                            f"{path}:{lineno}: {type(event).__name__} field 'variant': {variant!r} is "
                            f"not a variant of this recording (its header has {', '.join(sorted(declared))})"
                        )
                    yield event
                except RecordingError:
                    if not complete:
                        recording.warnings.append(
                            f"{path}:{lineno}: last line is cut short; replayed up to line {lineno - 1}"
                        )
                        return
                    raise

    return recording, events()


def read_recording(path: Path) -> tuple[Recording, list[Event]]:
    recording, events = open_recording(path)
    return recording, list(events)


@dataclass
class FoldedRecording:
    header: RecordingHeader
    fold: SessionFold
    warnings: list[str]


def fold_recording(path: Path, pinned_slo: Slo | None = None) -> FoldedRecording:
    """Every event of a recording through the session's fold (as a replay at full speed would)."""
    recording, events = open_recording(path)
    fold = SessionFold(plan_from_header(recording.header, path), pinned_slo=pinned_slo)
    for event in events:
        fold.apply(event)
    return FoldedRecording(recording.header, fold, recording.warnings)
