"""Open-loop sending on a real simulated server (issue 19): every request goes out at its time
whatever the answers do, each send's lateness is measured, a cap on requests in flight makes sends
late and says so, and a stop ends the schedule. Lateness bounds here are loose (a busy machine);
the client's achievable rate is measured in bench/."""

import statistics

from quanttui.core.arrivals import ArrivalKind, Arrivals
from quanttui.core.clock import SessionClock
from quanttui.io.openai_client import OpenAIStreamClient, RequestOptions
from quanttui.session.open_loop import send_open_loop

MESSAGES = [{"role": "user", "content": "hi"}]


async def test_sends_follow_the_schedule_not_the_answers(sim_server):
    server = sim_server(ttft_ms=300, itl_ms=10, max_num_seqs=256)  # answers far slower than the gaps
    clock = SessionClock()
    offsets = Arrivals(ArrivalKind.POISSON, seed=3).offsets(40.0, 40)
    async with OpenAIStreamClient(server.url, "sim", None, 64) as client:
        sent = await send_open_loop(
            offsets, lambda i, at: client.stream_chat(MESSAGES, RequestOptions(max_tokens=2)), clock
        )
    assert [s.index for s in sent] == list(range(40))
    assert all(s.result.ok for s in sent)
    starts = [s.started for s in sent]
    assert starts == sorted(starts)
    # open loop: the whole schedule (~1 s) went out before most answers (300 ms each) could come back
    assert starts[-1] - starts[0] < offsets[-1] - offsets[0] + 0.5
    assert max(s.result.e2e_s for s in sent) >= 0.3
    lags = [s.lag_s for s in sent]
    assert min(lags) >= 0 and statistics.median(lags) < 0.05
    assert not any(s.capped for s in sent)


async def test_a_cap_on_requests_in_flight_makes_sends_late_and_says_so(sim_server):
    # 2 in flight at 600+ ms each against sends 20 ms apart: every later send waits for a slot, with
    # room for a busy machine's late sends (a slot frees only after 600 ms)
    server = sim_server(ttft_ms=600, itl_ms=10, max_num_seqs=64)
    clock = SessionClock()
    offsets = Arrivals(ArrivalKind.CONSTANT).offsets(50.0, 10)
    async with OpenAIStreamClient(server.url, "sim", None, 4) as client:
        sent = await send_open_loop(
            offsets,
            lambda i, at: client.stream_chat(MESSAGES, RequestOptions(max_tokens=2)),
            clock,
            max_in_flight=2,
        )
    assert len(sent) == 10 and all(s.result.ok for s in sent)
    assert not sent[0].capped and not sent[1].capped and all(s.capped for s in sent[2:])
    assert sent[-1].lag_s > 1.5  # five waves of two, ~0.6 s each, against a 0.2 s schedule


async def test_a_stop_ends_the_schedule_and_lets_the_requests_in_flight_finish(sim_server):
    server = sim_server(ttft_ms=50, itl_ms=5)
    clock = SessionClock()
    deadline = 0.2
    offsets = Arrivals(ArrivalKind.CONSTANT).offsets(100.0, 100)  # a 1 s schedule
    async with OpenAIStreamClient(server.url, "sim", None, 16) as client:
        sent = await send_open_loop(
            offsets, lambda i, at: client.stream_chat(MESSAGES, RequestOptions(max_tokens=2)), clock,
            stop=lambda: clock.now() > deadline,
        )  # fmt: skip
    assert 5 <= len(sent) < 100 and all(s.result.ok for s in sent)
    assert max(s.started for s in sent) <= deadline + 0.1


async def test_a_pause_moves_the_rest_of_the_schedule_instead_of_making_it_late(sim_server):
    import asyncio

    server = sim_server(ttft_ms=5, itl_ms=1)
    clock = SessionClock()
    offsets = Arrivals(ArrivalKind.CONSTANT).offsets(20.0, 10)  # 50 ms apart
    resume = asyncio.Event()
    paused = {"on": False}

    async def send(index: int, intended: float):
        if index == 3:  # the operator pauses after the fourth send, for 0.5 s
            paused["on"] = True
            asyncio.get_running_loop().call_later(0.5, resume.set)
        return await client.stream_chat(MESSAGES, RequestOptions(max_tokens=2))

    async def resumed() -> None:
        await resume.wait()
        paused["on"] = False

    async with OpenAIStreamClient(server.url, "sim", None, 8) as client:
        sent = await send_open_loop(offsets, send, clock, paused=lambda: paused["on"], resumed=resumed)
    assert len(sent) == 10 and all(s.result.ok for s in sent)
    gap = sent[4].intended - sent[3].intended
    assert gap >= 0.05 + 0.45  # the schedule moved by the pause
    assert all(abs((b.intended - a.intended) - 0.05) < 1e-6 for a, b in zip(sent[4:], sent[5:], strict=False))
    assert statistics.median(s.lag_s for s in sent) < 0.05  # not late: moved
