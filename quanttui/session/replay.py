"""Replaying a recording onto a stream: `ReplaySession` (the console's, with controls) and the
headless `replay_headless`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from quanttui.core.aggregate import Aggregator
from quanttui.core.recording import (
    RecordingHeader,
    plan_from_header,  # noqa: F401 - re-exported
)
from quanttui.core.stream import SessionStream
from quanttui.core.summary import build_summary
from quanttui.io.replay_control import ControlledReplayer, last_event_t
from quanttui.io.tag_journal import journal_for_recording
from quanttui.session.spec import SessionResult
from quanttui.session.triage import TriageTagging
from quanttui.session.wiring import SessionFold, feed_fold


def variants_from_header(header: RecordingHeader) -> list[str]:
    """Variant names in display order: a launched run's variants, else a sweep's endpoints."""
    for key in ("variants", "endpoints"):
        entries = header.config.get(key)
        if isinstance(entries, list):
            names = [e["name"] for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str)]
            if names:
                return names
    return []


class ReplaySession:
    """A recording published onto `stream` with its original timing x `speed` (None or 0: as fast as
    possible), with pause, single step, speed change and seek. The header is read (and checked) when
    the session is made; events are read as they are published."""

    kind = "replay"

    def __init__(self, path: Path, speed: float | None = 1.0, *, hold_at_end: bool = False) -> None:
        self.path = Path(path)
        self._replayer = ControlledReplayer(self.path, speed, hold_at_end=hold_at_end)
        recording, self._events = self._replayer.open()
        self.header = recording.header
        self.plan = plan_from_header(self.header, self.path)
        self.variants = variants_from_header(self.header)
        self.duration = last_event_t(self.path)
        self.stream = SessionStream()
        self._fold = SessionFold(self.plan)
        self._aggregator_sub = self.stream.subscribe("aggregator")
        self._ran = False
        # Tags made while replaying go to a journal beside the recording (and onto the stream).
        self.tagging = TriageTagging(journal_for_recording(self.path), self.stream.publish, None)

    can_triage = False
    triage_running = False

    def start_triage(self) -> None:
        """A recording cannot ask its engines anything: nothing to start."""

    def tag(self, prompt_id: str, variant: str, verdict: str, symptom: str = "", notes: str = "") -> None:
        self.tagging.tag(prompt_id, variant, verdict, symptom, notes)

    def pause(self) -> None:
        self._replayer.pause()

    def resume(self) -> None:
        self._replayer.resume()

    def set_speed(self, x: float | None) -> None:
        self._replayer.set_speed(x)

    def step(self) -> None:
        self._replayer.step()

    def seek(self, t: float) -> None:
        self._replayer.seek(t)

    def stop(self) -> None:
        """End the replay; run() returns the summary of what was published."""
        self._replayer.stop()

    @property
    def position(self) -> float:
        return self._replayer.position

    @property
    def paused(self) -> bool:
        return self._replayer.paused

    @property
    def speed(self) -> float:
        return self._replayer.speed or 0.0

    @property
    def at_end(self) -> bool:
        return self._replayer.at_end

    @property
    def aggregator(self) -> Aggregator:
        """The session's own aggregator (it never drops an event): the summary so far."""
        return self._fold.aggregator

    async def run(self) -> SessionResult:
        if self._ran:
            raise RuntimeError("a replay runs once")
        self._ran = True
        consumer = asyncio.create_task(feed_fold(self._fold, self._aggregator_sub))
        try:
            await self._replayer.run(self.stream, self._events)
        finally:
            self.stream.close()
            await consumer
        summary = build_summary(self.header.config, self._fold.aggregator)
        return SessionResult(summary, warnings=self._replayer.warnings)


async def replay_headless(path: Path) -> SessionResult:
    """Feed a recording through the same stream and aggregator as fast as possible."""
    return await ReplaySession(path, speed=None).run()
