"""Wait for a condition instead of sleeping for a guessed time.

`wait_until(predicate, what=...)` polls until the predicate returns something truthy and returns it;
`await wait_until_async(...)` does the same without blocking the event loop (its predicate may also
be a coroutine function, e.g. one that scrapes a server in a thread). On timeout they fail
with what was awaited (and `detail()`, e.g. the screen, when given). The timeouts are generous on
purpose: CI machines share their cores, and a passing test returns as soon as the condition holds.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

TIMEOUT_S = 30.0
POLL_S = 0.02


def _timed_out(what: str, timeout: float, detail: Callable[[], object] | None) -> AssertionError:
    message = f"timed out after {timeout:g} s waiting for {what}"
    if detail is not None:
        message += f"\n{detail()}"
    return AssertionError(message)


def wait_until(
    predicate: Callable[[], T],
    timeout: float = TIMEOUT_S,
    what: str = "the condition",
    poll: float = POLL_S,
    detail: Callable[[], object] | None = None,
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise _timed_out(what, timeout, detail)
        time.sleep(poll)


async def wait_until_async(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = TIMEOUT_S,
    what: str = "the condition",
    poll: float = POLL_S,
    detail: Callable[[], object] | None = None,
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise _timed_out(what, timeout, detail)
        await asyncio.sleep(poll)


def measurement_window(seconds: float) -> None:
    """Let time pass for a sampler to measure over (CPU seconds accumulate in it): the test needs an
    interval, not a condition, so this is the one place it sleeps on purpose."""
    time.sleep(seconds)
