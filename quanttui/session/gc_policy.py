"""Full garbage collections between steps, not during them.

Measured (2026-12-04, the console on the simulated demo, a 16 req/s open-loop step): CPython's
automatic full (generation 2) collections stopped the session's process for 70-117 ms every few
seconds once the session held a few minutes of events, and every open-loop send due meanwhile
went out that late (send lag p99 127 ms where the headless run had 4 ms). While a ramp runs,
generation 2 is therefore collected only between steps, when no measured request is in flight;
the young generations are still collected automatically (they are cheap), and the thresholds are
restored when the ramp ends.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# gen2 runs after this many gen1 collections: never, in practice, within one step
HELD_THRESHOLD2 = 1_000_000


@contextlib.contextmanager
def full_collections_between_steps() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(before[0], before[1], HELD_THRESHOLD2)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def collect_between_steps() -> None:
    """The full collection the step before held back (tens of ms, while nothing is measured)."""
    gc.collect()
