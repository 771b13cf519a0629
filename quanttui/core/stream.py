"""One session stream with fan-out: collectors publish, each subscriber reads at its own pace.

Publishing never blocks and never awaits. Each subscriber owns a queue and a policy for when it
falls behind: ``buffer`` keeps everything (the recorder must not lose data),
``drop`` keeps at most ``maxsize`` events and counts the newest ones it had to drop (a UI can
afford to skip frames but must say so).

A *tap* is a synchronous consumer called inside `publish()`, before any subscription sees the
event: the session's fold is one, so whoever publishes a `StepFinished` can read the step's
decision from the fold on the next line (the stop rules do).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Literal

from quanttui.core.events import Event

Policy = Literal["buffer", "drop"]


class Subscription:
    def __init__(self, name: str, policy: Policy, maxsize: int) -> None:
        if policy == "drop" and maxsize < 1:
            raise ValueError("a dropping subscription needs maxsize >= 1")
        self.name = name
        self.policy = policy
        self.maxsize = maxsize
        self.dropped = 0
        self.delivered = 0
        self._queue: deque[Event] = deque()
        self._wakeup = asyncio.Event()
        self._closed = False
        # Called (on the publisher's thread) when the queue goes from empty to not empty: a console
        # on another thread posts itself a message to drain, instead of polling.
        self.on_pending: Callable[[], None] | None = None

    def _offer(self, event: Event) -> None:
        if self._closed:
            return
        if self.policy == "drop" and len(self._queue) >= self.maxsize:
            self.dropped += 1
            return
        was_empty = not self._queue
        self._queue.append(event)
        self._wakeup.set()
        if was_empty and self.on_pending is not None:
            self.on_pending()

    def _close(self) -> None:
        self._closed = True
        self._wakeup.set()
        if self.on_pending is not None:
            self.on_pending()

    @property
    def pending(self) -> int:
        return len(self._queue)

    @property
    def closed(self) -> bool:
        """The stream has ended; what is still queued can be drained."""
        return self._closed

    async def batches(self) -> AsyncIterator[list[Event]]:
        """Yield everything queued so far as one list; ends once the stream is closed and drained."""
        while True:
            if not self._queue:
                if self._closed:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            yield self.drain()

    def drain(self) -> list[Event]:
        """Everything queued so far, without waiting.

        Safe while another thread publishes (a console polls its subscription on a timer while
        the session runs on its own thread): events are popped one by one, never cleared in bulk,
        so one appended meanwhile is kept for the next drain.
        """
        batch: list[Event] = []
        pop = self._queue.popleft
        for _ in range(len(self._queue)):
            batch.append(pop())
        self.delivered += len(batch)
        return batch

    async def __aiter__(self) -> AsyncIterator[Event]:
        async for batch in self.batches():
            for event in batch:
                yield event


class SessionStream:
    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._taps: list[Callable[[Event], None]] = []
        self._scrub: Callable[[Event], Event] | None = None
        self._closed = False
        self.published = 0

    def scrub_with(self, scrub: Callable[[Event], Event]) -> None:
        """Pass every later event through `scrub` before anyone sees it (the session's secrets,
        core/secrets.py): the recording, the fold and the console get the scrubbed event."""
        self._scrub = scrub

    def tap(self, consumer: Callable[[Event], None]) -> None:
        """Call `consumer(event)` synchronously inside every later `publish()`."""
        self._taps.append(consumer)

    def subscribe(self, name: str, policy: Policy = "buffer", maxsize: int = 0) -> Subscription:
        sub = Subscription(name, policy, maxsize)
        if self._closed:
            sub._close()
        self._subscriptions.append(sub)
        return sub

    def publish(self, event: Event) -> None:
        if self._closed:
            return
        self.published += 1
        if self._scrub is not None:
            event = self._scrub(event)
        for consumer in self._taps:
            consumer(event)
        for sub in self._subscriptions:
            sub._offer(event)

    def close(self) -> None:
        """No more events: every subscriber drains what it has and its iteration ends."""
        self._closed = True
        for sub in self._subscriptions:
            sub._close()

    @property
    def closed(self) -> bool:
        return self._closed

    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(self._subscriptions)
