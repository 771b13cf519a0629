"""Replaying a recording onto a stream: `ReplaySession` (the console's, with controls) and the
headless `replay_headless`."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

from quanttui.core.fold import SessionFold
from quanttui.core.recording import RecordingHeader, header_variants, plan_from_header
from quanttui.core.stream import SessionStream
from quanttui.core.summary import build_summary
from quanttui.io.tag_journal import journal_for_recording
from quanttui.session.commands import (
    REPLAY_SPEEDS,
    Command,
    Job,
    Pause,
    Resume,
    Seek,
    SeekBy,
    SetSpeed,
    SpeedStep,
    StepOnce,
    Stop,
    TagOutput,
    TogglePause,
)
from quanttui.session.jobs import run_job
from quanttui.session.replay_control import ControlledReplayer
from quanttui.session.spec import SessionInfo, SessionResult
from quanttui.session.triage import TriageTagging


def variants_from_header(header: RecordingHeader) -> list[str]:
    """Variant names in display order: a launched run's variants, else a sweep's endpoints."""
    return list(header_variants(header))


class ReplaySession:
    """A recording published onto `stream` with its original timing x `speed` (None or 0: as fast as
    possible), driven by typed commands (`handle`): pause, resume, single step, speed, seek, stop.
    The header is read (and checked) when the session is made; events are read as they are
    published; where the replay stands is published as `ReplayStatus` events."""

    def __init__(self, path: Path, speed: float | None = 1.0, *, hold_at_end: bool = False) -> None:
        self.path = Path(path)
        self._replayer = ControlledReplayer(self.path, speed, hold_at_end=hold_at_end)
        recording, self._events = self._replayer.open()
        self.header = recording.header
        self.plan = plan_from_header(self.header, self.path)
        self.variants = variants_from_header(self.header)
        self.stream = SessionStream()
        self.fold = SessionFold(self.plan)
        self.stream.tap(self.fold.apply)
        self._ran = False
        # Tags made while replaying go to a journal beside the recording (and onto the stream).
        self.tagging = TriageTagging(journal_for_recording(self.path), self.stream.publish, None)

    @property
    def info(self) -> SessionInfo:
        return SessionInfo(
            mode="replay",
            header=self.header,
            plan=self.plan,
            variants=tuple(self.variants),
            recording=self.path,
            duration=self._replayer.duration,
            load_tags=self.tagging.loaded,
            journal=self.tagging.journal_path,
        )

    def handle(self, command: Command) -> None:
        """Apply one command on the session's loop; a live session's command changes nothing."""
        replayer = self._replayer
        match command:
            case Pause():
                replayer.pause()
            case Resume():
                replayer.resume()
            case TogglePause():
                replayer.resume() if replayer.paused else replayer.pause()
            case SetSpeed(speed=speed):
                replayer.set_speed(speed)
            case SpeedStep(direction=direction):
                speed = next_speed(replayer.speed or 0.0, direction)
                if speed is not None:
                    replayer.set_speed(speed)
            case SeekBy(seconds=seconds):
                replayer.seek_by(seconds)
            case StepOnce():
                replayer.step()
            case Seek(t=t):
                replayer.seek(t)
            case Stop():
                replayer.stop()
            case TagOutput(tag=tag):
                self.tagging.tag(tag.prompt_id, tag.variant, tag.verdict, tag.symptom, tag.notes)
            case _:
                pass

    def run_job(self, job: Job) -> list[Path] | Future[list[Path]]:
        """A file job from the replay's fold (what has been replayed so far)."""
        return run_job(job, self.header, self.fold, self.tagging, self.path.name)

    async def run(self) -> SessionResult:
        if self._ran:
            raise RuntimeError("a replay runs once")
        self._ran = True
        try:
            await self._replayer.run(self.stream, self._events)
        finally:
            self.stream.close()
        summary = build_summary(self.header.config, self.fold)
        return SessionResult(summary, warnings=self._replayer.warnings)


def next_speed(speed: float, direction: int) -> float | None:
    """One notch along REPLAY_SPEEDS from `speed` (0: as fast as possible, above them all)."""
    current = speed or float("inf")
    if direction > 0:
        faster = [s for s in REPLAY_SPEEDS if s > current]
        return faster[0] if faster else None
    slower = [s for s in REPLAY_SPEEDS if s < current]
    return slower[-1] if slower else REPLAY_SPEEDS[0]


async def replay_headless(path: Path) -> SessionResult:
    """Feed a recording through the same stream and fold as fast as possible."""
    return await ReplaySession(path, speed=None).run()
