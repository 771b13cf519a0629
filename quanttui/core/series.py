"""Bounded time series for a live view: one value per whole second, and a rolling sample window.

A console that runs for hours must not grow with it: both keep only a fixed span of recent data
(ring buffers), so memory depends on the window, not on the length of the session.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from typing import Literal

from quanttui.core.stats import percentile

Merge = Literal["sum", "last", "max"]


class SecondSeries:
    """One bucket per whole second of session time, the last `span_s` seconds kept.

    `merge` says how values that land in the same second combine: "sum" (tokens completed),
    "last" (a gauge such as KV usage) or "max". Seconds with no value hold 0 for "sum" (nothing
    happened) and None otherwise (nothing was observed).
    """

    def __init__(self, merge: Merge, span_s: int = 600) -> None:
        self.merge = merge
        self.span_s = span_s
        self._first = 0  # second of the oldest bucket
        self._values: deque[float | None] = deque(maxlen=span_s)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def last_second(self) -> int | None:
        return self._first + len(self._values) - 1 if self._values else None

    def add(self, t: float, value: float) -> None:
        second = math.floor(t)
        self.advance_to(second)
        index = second - self._first
        if index < 0:
            return  # older than the kept span
        current = self._values[index]
        if current is None or self.merge == "last":
            self._values[index] = value
        elif self.merge == "sum":
            self._values[index] = current + value
        else:
            self._values[index] = max(current, value)

    def advance_to(self, second: int) -> None:
        """Open buckets up to `second` (empty ones filled); the oldest fall out of the span."""
        if not self._values:
            self._first = second
            self._values.append(self._empty())
            return
        last = self._first + len(self._values) - 1
        if second <= last:
            return
        gap = second - last
        if gap >= self.span_s:
            self._values.clear()
            self._first = second - self.span_s + 1
            self._values.extend(self._empty() for _ in range(self.span_s))
            return
        for _ in range(gap):
            if len(self._values) == self.span_s:
                self._first += 1
            self._values.append(self._empty())

    def _empty(self) -> float | None:
        return 0.0 if self.merge == "sum" else None

    def points(self) -> list[tuple[int, float]]:
        """(second, value) for every bucket that holds a value."""
        return [(self._first + i, v) for i, v in enumerate(self._values) if v is not None]

    def trailing_mean(self, width: int) -> list[tuple[int, float]]:
        """Per second, the mean of the `width` seconds ending there (fewer at the start)."""
        out: list[tuple[int, float]] = []
        window: deque[float] = deque()
        total = 0.0
        for i, v in enumerate(self._values):
            value = v or 0.0
            window.append(value)
            total += value
            if len(window) > width:
                total -= window.popleft()
            out.append((self._first + i, total / len(window)))
        return out

    def rate(self, width: int, until: int | None = None) -> float | None:
        """Mean per second over the `width` whole seconds before `until` (exclusive; default the last).

        The bucket of the current second is still filling, so it is left out.
        """
        if not self._values:
            return None
        end = (self.last_second if until is None else until) - self._first  # exclusive index
        start = max(0, end - width)
        if end <= start:
            return None
        return sum(v or 0.0 for v in list(self._values)[start:end]) / (end - start)

    def mean(self, width: int, until: int | None = None) -> float | None:
        """Mean of the observed values over the `width` whole seconds before `until` (as `rate`),
        for a gauge; None when none was observed there."""
        if not self._values:
            return None
        end = (self.last_second if until is None else until) - self._first
        seen = [v for v in list(self._values)[max(0, end - width) : max(0, end)] if v is not None]
        return sum(seen) / len(seen) if seen else None

    def latest(self) -> float | None:
        for value in reversed(self._values):
            if value is not None:
                return value
        return None


class RollingWindow:
    """Samples of the last `span_s` seconds (at most `maxlen`), and their percentiles."""

    def __init__(self, span_s: float, maxlen: int = 20_000) -> None:
        self.span_s = span_s
        self._samples: deque[tuple[float, float]] = deque(maxlen=maxlen)

    def add(self, t: float, value: float) -> None:
        self._samples.append((t, value))

    def trim(self, now: float) -> None:
        horizon = now - self.span_s
        while self._samples and self._samples[0][0] < horizon:
            self._samples.popleft()

    def __len__(self) -> int:
        return len(self._samples)

    def __iter__(self) -> Iterator[float]:
        return (v for _, v in self._samples)

    def percentile(self, q: float) -> float | None:
        return percentile(list(self), q)

    def clear(self) -> None:
        self._samples.clear()
