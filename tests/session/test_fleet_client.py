"""A fleet's balancer against real simulated replicas (issue 21): round-robin takes turns,
least-outstanding favours the replica that answers sooner, a replica that stops answering is
taken out (said once, with why), the others carry the load, and it is taken back once it answers."""

import asyncio

from quanttui.core.events import ErrorClass
from quanttui.io.openai_client import OpenAIStreamClient, RequestOptions
from quanttui.session.fleet_client import EJECT_AFTER, RETRY_S, FleetClient

MESSAGES = [{"role": "user", "content": "hello"}]
OPTIONS = RequestOptions(max_tokens=4, ignore_eos=True)


def client(url: str, model: str = "m") -> OpenAIStreamClient:
    return OpenAIStreamClient(url, model, None, 16)


class Clock:
    """The balancer's own time, moved by the test (the retry wait is 5 s of it)."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


async def test_round_robin_takes_turns_and_least_outstanding_favours_the_quicker(sim_server):
    quick = sim_server(model="m", ttft_ms=5, itl_ms=2, max_num_seqs=8)
    slow = sim_server(model="m", ttft_ms=300, itl_ms=30, max_num_seqs=8)
    states: list[tuple[str, bool, str]] = []
    for policy in ("round-robin", "least-outstanding"):
        fleet = FleetClient("awq", [(quick.url, client(quick.url)), (slow.url, client(slow.url))], policy,
                            lambda *s: states.append(s))  # fmt: skip
        try:

            async def user(fleet: FleetClient) -> list[str]:
                return [str((await fleet.stream_chat(MESSAGES, OPTIONS)).replica) for _ in range(6)]

            answered = [
                url for urls in await asyncio.gather(*(user(fleet) for _ in range(4))) for url in urls
            ]
        finally:
            await fleet.aclose()
        counts = {url: answered.count(url) for url in (quick.url, slow.url)}
        if policy == "round-robin":
            assert counts == {quick.url: 12, slow.url: 12}
        else:  # four users: the slow replica holds one or two of them while the quick one turns many over
            assert counts[quick.url] >= 2 * counts[slow.url], counts
    assert states == []


async def test_a_replica_that_stops_answering_is_taken_out_and_back(sim_server, free_port):
    live = sim_server(model="m", ttft_ms=5, itl_ms=2)
    dead = f"http://127.0.0.1:{free_port}"
    clock = Clock()
    states: list[tuple[str, bool, str]] = []
    fleet = FleetClient("awq", [(live.url, client(live.url)), (dead, client(dead))], "round-robin",
                        lambda *s: states.append(s), now=clock)  # fmt: skip
    try:
        outcomes = [await fleet.stream_chat(MESSAGES, OPTIONS) for _ in range(2 * EJECT_AFTER + 4)]
        failed = [o for o in outcomes if not o.ok]
        assert len(failed) == EJECT_AFTER and {o.replica for o in failed} == {dead}  # counted to it
        assert {o.error for o in failed} == {ErrorClass.CONNECT}
        assert all(o.replica == live.url for o in outcomes[2 * EJECT_AFTER :])  # the other carries on
        assert len(states) == 1 and states[0][:2] == (dead, False)
        assert f"{EJECT_AFTER} requests in a row failed (connect" in states[0][2]
        clock.t = RETRY_S  # its time out is over: one request goes there, fails, and it stays out
        probe = await fleet.stream_chat(MESSAGES, OPTIONS)
        assert probe.replica == dead and not probe.ok and len(states) == 1
        assert (await fleet.stream_chat(MESSAGES, OPTIONS)).replica == live.url
        sim_server(model="m", ttft_ms=5, itl_ms=2, port=free_port)  # the replica answers again
        clock.t = 2 * RETRY_S
        back = await fleet.stream_chat(MESSAGES, OPTIONS)
        assert back.ok and back.replica == dead
        assert states[-1] == (dead, True, "answered again")
        answered = {(await fleet.stream_chat(MESSAGES, OPTIONS)).replica for _ in range(4)}
        assert answered == {live.url, dead}  # in the turn again
    finally:
        await fleet.aclose()


def test_a_fleet_needs_two_replicas():
    try:
        FleetClient("awq", [("http://a", client("http://a"))], "round-robin", lambda *s: None)
    except ValueError as exc:
        assert "at least two replicas" in str(exc)
    else:
        raise AssertionError("a fleet of one was accepted")
