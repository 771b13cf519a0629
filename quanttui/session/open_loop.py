"""Open-loop sending: each request goes out at its scheduled time, whatever the others are doing
(issue 19).

A closed-loop user waits for its answer before asking again, so a slow server slows the load it
gets; open-loop arrivals do not wait: past the server's saturation the queue grows. What such a
client must never do is fall behind its own schedule silently: each send's lateness (actual start
minus intended start, on the session's perf_counter clock) is measured and returned, so a step whose
sends fell behind is marked instead of being reported as a lower rate. `max_in_flight` optionally
caps the requests outstanding (vllm bench's `--max-concurrency`); a send that waits for that cap
is late by the time it waited, and says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from quanttui.core.clock import SessionClock

T = TypeVar("T")
# asyncio.sleep wakes on the loop's timer, which rounds to its clock's resolution (uvloop: 1 ms); the
# last stretch before a send is spent in sleep(0) turns so the send is not late by that rounding.
SPIN_S = 0.0015


@dataclass(frozen=True)
class Sent(Generic[T]):
    index: int
    intended: float  # session seconds: when the schedule meant it to go out
    started: float  # session seconds: when it was handed to the client
    capped: bool  # max_in_flight held it back: it waited for a slot, or behind one that did
    result: T

    @property
    def lag_s(self) -> float:
        return max(0.0, self.started - self.intended)


# A long wait is cut into slices this long, so a stop or a pause is noticed at low rates too.
WAKE_S = 0.25


async def send_open_loop(
    offsets: Sequence[float],
    send: Callable[[int, float], Awaitable[T]],
    clock: SessionClock,
    max_in_flight: int | None = None,
    stop: Callable[[], bool] = lambda: False,
    paused: Callable[[], bool] = lambda: False,
    resumed: Callable[[], Awaitable[None]] | None = None,
) -> list[Sent[T]]:
    """Send request i at `start + offsets[i]` (start: now) through `send(i, intended)`, never
    waiting for an answer (only for a slot when `max_in_flight` requests are out); returns every
    request's send record once all have ended, in send order. `stop()` is asked before each send
    (and while waiting for it): True ends the schedule there (the requests in flight still finish).
    While `paused()`, nothing is sent; `resumed()` waits for the end of the pause, and the rest of
    the schedule moves later by the pause's length (a pause is not lateness)."""
    start = clock.now()
    slots = asyncio.Semaphore(max_in_flight) if max_in_flight else None
    tasks: list[asyncio.Task[Sent[T]]] = []

    async def one(index: int, intended: float, capped: bool) -> Sent[T]:
        started = clock.now()
        try:
            result = await send(index, intended)
        finally:
            if slots is not None:
                slots.release()
        return Sent(index, intended, started, capped, result)

    async def until(offset: float) -> float | None:
        """Wait for the offset's time; the intended time, or None when the schedule must stop."""
        nonlocal start
        while True:
            if stop():
                return None
            if paused() and resumed is not None:
                since = clock.now()
                await resumed()
                start += clock.now() - since
                continue
            intended = start + offset
            wait = intended - clock.now()
            if wait > SPIN_S:
                await asyncio.sleep(min(wait - SPIN_S, WAKE_S))
                continue
            while clock.now() < intended:
                await asyncio.sleep(0)
            return intended

    held_until = float("-inf")  # when the loop last got a slot it had to wait for
    try:
        for index, offset in enumerate(offsets):
            intended = await until(offset)
            if intended is None:
                break
            capped = False
            if slots is not None:
                # capped: no slot free now, or its time came while the loop waited for an earlier slot
                # (two slots freed at once let it through at once, but the cap made it late all the same)
                capped = slots.locked() or intended < held_until
                await slots.acquire()
                if capped:
                    held_until = max(held_until, clock.now())
            tasks.append(asyncio.ensure_future(one(index, intended, capped)))
            await asyncio.sleep(0)  # it starts before the next wait is computed
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
