"""The replay of a recording, as the operator drives it: pause, resume, single step, speed, seek.

It reads the recording as it goes (one event ahead); a backward seek publishes a `ReplayReset`,
re-opens the file and republishes from the start, so nothing but the next event is held in memory.
Commands are plain method calls on the event loop's thread: they set state and wake the replay
loop, which does the reading and publishing (so a damaged line surfaces from `run()`, never from a
key press). Every change of what a console shows of the replay (paused, speed, at the end, a
seek or a step) is published as a `ReplayStatus`.

Timing: a playback clock runs at `speed` x real time while playing and stands still while paused;
an event is published when the playback clock reaches its `t`. With speed None (or 0) events go
out as fast as possible. A burst (a seek, or as fast as possible) yields to the loop every 256
events (fewer when a dropping subscription is smaller: half its size) and, for dropping
subscriptions more than half full, waits while they drain, so a console that keeps up loses
nothing; a subscription that stops reading is not waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Iterator
from pathlib import Path

from quanttui.core.events import Event, ReplayReset, ReplayStatus
from quanttui.core.recording import RecordingError, decode_event
from quanttui.core.stream import SessionStream, Subscription
from quanttui.io.recording_file import Recording, open_recording

BURST = 256
DRAIN_PATIENCE_S = 0.05  # how long a dropping subscriber may go without reading before it is not waited for


class ControlledReplayer:
    def __init__(self, path: Path, speed: float | None = 1.0, hold_at_end: bool = False) -> None:
        self.path = path
        self.speed = speed or None  # None: as fast as possible; 1.0: original timing
        self.published = 0
        self.duration = 0.0  # t of the recording's last event, known once open()ed
        self.hold_at_end = hold_at_end
        self.position = 0.0  # t of the last published event
        self.at_end = False
        self._paused = False
        self._steps = 0
        self._seek: float | None = None
        self._stop = False
        self._base_t = 0.0  # playback time at _base_mono
        self._base_mono: float | None = None  # None until run() starts
        self._wake = asyncio.Event()
        self._recordings: list[Recording] = []
        self._stalled: set[int] = set()  # ids of dropping subscriptions not waited for in this burst
        self._stream: SessionStream | None = None
        self._shown: tuple[float, bool, bool] | None = None

    def open(self) -> tuple[Recording, Iterator[Event]]:
        recording, events = open_recording(self.path)
        if not self._recordings:
            self.duration = last_event_t(self.path)
        self._recordings.append(recording)
        return recording, events

    def _status(self, force: bool = False) -> None:
        """Publish a ReplayStatus when speed, paused or at-end changed (or after a seek or step)."""
        stream = self._stream
        if stream is None:
            return
        shown = (self.speed or 0.0, self._paused, self.at_end)
        if not force and shown == self._shown:
            return
        self._shown = shown
        stream.publish(
            ReplayStatus(
                t=self.position, position=self.position, duration=self.duration,
                speed=shown[0], paused=shown[1], at_end=shown[2],
            )
        )  # fmt: skip

    @property
    def warnings(self) -> list[str]:
        seen: dict[str, None] = {}
        for recording in self._recordings:
            seen.update(dict.fromkeys(recording.warnings))
        return list(seen)

    # -- commands ----------------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    def playback_time(self) -> float:
        if self._base_mono is None or self._paused or not self.speed:
            return self._base_t
        return self._base_t + (time.monotonic() - self._base_mono) * self.speed

    def _rebase(self, t: float) -> None:
        self._base_t = t
        self._base_mono = time.monotonic()

    def _notify(self) -> None:
        self._wake.set()
        self._status()

    def pause(self) -> None:
        if not self._paused:
            self._rebase(self.playback_time())
            self._paused = True
            self._notify()

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._rebase(self._base_t)
            self._notify()

    def set_speed(self, speed: float | None) -> None:
        """A new speed from now on; None or 0: as fast as possible. Negative or NaN is ignored."""
        if speed is not None and not (math.isfinite(speed) and speed >= 0):
            return
        self._rebase(self.playback_time())
        self.speed = speed or None
        self._notify()

    def step(self) -> None:
        """Publish exactly the next event (pausing first if playing)."""
        self.pause()
        self._steps += 1
        self._notify()

    def seek(self, t: float) -> None:
        if not math.isfinite(t):
            return
        self._seek = max(0.0, t)
        self._notify()

    def seek_by(self, seconds: float) -> None:
        """Relative to a seek not yet done, else to the last event published; within the recording."""
        base = self._seek if self._seek is not None else self.position
        self.seek(max(0.0, min(self.duration, base + seconds)))

    def stop(self) -> None:
        self._stop = True
        self._notify()

    # -- the loop ----------------------------------------------------------------------------
    async def _wait(self, timeout: float | None) -> None:
        """Until a command arrives or `timeout` seconds pass."""
        self._wake.clear()
        self._stalled.clear()  # a new burst follows: every subscriber gets another chance
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def _publish(self, stream: SessionStream, event: Event) -> None:
        stream.publish(event)
        self.published += 1
        self.position = event.t
        if self._paused and event.t > self._base_t:
            self._base_t = event.t  # stepped: playing on starts after this event

    def _burst_limit(self, stream: SessionStream) -> int:
        sizes = [
            s.maxsize // 2
            for s in stream.subscriptions()
            if s.policy == "drop" and id(s) not in self._stalled
        ]
        return max(1, min([BURST, *sizes]))

    async def _yield(self, stream: SessionStream) -> None:
        await asyncio.sleep(0)
        for sub in stream.subscriptions():
            if sub.policy == "drop" and id(sub) not in self._stalled:
                await self._drain(sub)

    async def _drain(self, sub: Subscription) -> None:
        last_read, seen = time.monotonic(), sub.delivered
        while sub.pending * 2 >= sub.maxsize and not (self._stop or self._seek is not None):
            await asyncio.sleep(0.005)
            if sub.delivered != seen:
                last_read, seen = time.monotonic(), sub.delivered
            elif time.monotonic() - last_read > DRAIN_PATIENCE_S:
                self._stalled.add(id(sub))
                return

    async def run(self, stream: SessionStream, events: Iterator[Event]) -> None:
        """Publish until the recording ends (or, with hold_at_end, until stop()); commands apply live."""
        self._stream = stream
        self._status(force=True)
        self._rebase(self._base_t)
        pending: Event | None = None
        exhausted = False
        burst = 0  # events published since the loop last yielded
        limit = self._burst_limit(stream)

        async def publish(event: Event) -> None:
            """Publish, and give the loop (and the consumers) a turn after every `limit` events."""
            nonlocal burst, limit
            self._publish(stream, event)
            burst += 1
            if burst >= limit:
                burst = 0
                await self._yield(stream)
                limit = self._burst_limit(stream)

        try:
            while not self._stop:
                if self._seek is not None:
                    target, self._seek = self._seek, None
                    if target < self.position:
                        stream.publish(ReplayReset(t=target))
                        self.position = 0.0
                        _close(events)
                        _, events = self.open()
                        pending, exhausted = None, False
                    self._stalled.clear()
                    while not self._stop and self._seek is None:
                        if pending is None and not exhausted:
                            pending = next(events, None)
                            exhausted = pending is None
                        if pending is None or pending.t > target:
                            break
                        await publish(pending)
                        pending = None
                    if self._seek is None:
                        self._rebase(target)
                    self.at_end = pending is None and exhausted
                    self._status(force=True)
                    continue
                if pending is None and not exhausted:
                    pending = next(events, None)
                    exhausted = pending is None
                self.at_end = pending is None
                self._status()
                if self._steps:
                    self._steps -= 1
                    if pending is not None:
                        self._publish(stream, pending)
                        pending = None
                    self._status(force=True)
                    continue
                if pending is None:
                    if not self.hold_at_end:
                        return
                    await self._wait(None)
                    continue
                if self._paused:
                    await self._wait(None)
                    continue
                if self.speed:
                    delay = (pending.t - self.playback_time()) / self.speed
                    if delay > 0:
                        await self._wait(delay)
                        continue
                await publish(pending)
                pending = None
        finally:
            _close(events)


def _close(events: Iterator[Event]) -> None:
    close = getattr(events, "close", None)
    if close is not None:
        close()


def last_event_t(path: Path) -> float:
    """`t` of the recording's last whole event line, read from the end of the file (0.0 if none)."""
    block = 64 * 1024
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        end = handle.tell()
        data = b""
        offset = end
        while offset > 0:
            step = min(block, offset)
            offset -= step
            handle.seek(offset)
            data = handle.read(step) + data
            lines = data.split(b"\n")
            # lines[0] may be partial unless we reached the start of the file
            candidates = lines if offset == 0 else lines[1:]
            for raw in reversed(candidates):
                if not raw.strip():
                    continue
                try:
                    return decode_event(raw.decode("utf-8"), f"{path}").t
                except (RecordingError, UnicodeDecodeError):
                    continue  # a line cut mid-write, or the header
            if offset == 0:
                break
            block *= 2
    return 0.0
