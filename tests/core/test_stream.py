import asyncio

import pytest

from quanttui.core.events import OperatorNote
from quanttui.core.stream import SessionStream


def note(i: int) -> OperatorNote:
    return OperatorNote(t=float(i), text=f"n{i}")


async def test_every_buffering_subscriber_gets_every_event_in_order():
    stream = SessionStream()
    a = stream.subscribe("a")
    b = stream.subscribe("b")
    for i in range(100):
        stream.publish(note(i))
    stream.close()
    got_a = [e.t async for e in a]
    got_b = [e.t async for e in b]
    assert got_a == got_b == [float(i) for i in range(100)]


async def test_a_slow_dropping_subscriber_counts_drops_and_never_blocks_the_publisher():
    stream = SessionStream()
    slow = stream.subscribe("ui", policy="drop", maxsize=10)
    keeper = stream.subscribe("recorder")
    for i in range(1000):
        stream.publish(note(i))  # synchronous: would deadlock if it waited for a reader
    stream.close()
    kept = [e async for e in slow]
    assert len(kept) == 10
    assert slow.dropped == 990
    assert len([e async for e in keeper]) == 1000
    assert keeper.dropped == 0


async def test_batches_deliver_what_accumulated_while_the_consumer_was_busy():
    stream = SessionStream()
    sub = stream.subscribe("batcher")
    seen: list[int] = []

    async def consume():
        async for batch in sub.batches():
            seen.append(len(batch))
            await asyncio.sleep(0.01)  # a slow consumer: events pile up meanwhile (what is tested)

    task = asyncio.create_task(consume())
    for i in range(50):
        stream.publish(note(i))
        if i % 10 == 9:
            await asyncio.sleep(0.02)  # bursts of 10, with a gap the consumer runs in
    stream.close()
    await task
    assert sum(seen) == 50
    assert len(seen) < 50  # events were batched, not delivered one by one


async def test_subscribing_after_close_ends_at_once_and_publish_after_close_is_ignored():
    stream = SessionStream()
    stream.close()
    stream.publish(note(1))
    late = stream.subscribe("late")
    assert [e async for e in late] == []


def test_drop_policy_needs_a_bound():
    with pytest.raises(ValueError):
        SessionStream().subscribe("x", policy="drop", maxsize=0)
