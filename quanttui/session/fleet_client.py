"""A variant served by several replicas: its requests spread over them (issue 21).

`FleetClient` has the load runner's client interface (`stream_chat`), so closed-loop users,
open-loop sends, own-history turns and the derived SLO drive a fleet as they drive one endpoint.
Each request goes to one replica, chosen per variant:
- `round-robin`: the next replica in turn;
- `least-outstanding`: the replica with the fewest requests in flight (ties in turn), as an
  operator's load balancer (Envoy's LEAST_REQUEST, nginx's least_conn) would.
The outcome carries its replica, so every result is counted to the replica that answered.

A replica that fails to connect or answer `EJECT_AFTER` times in a row is taken out for
`RETRY_S` (a `ReplicaState` on the stream says so and why), then gets one request to show it is
back; the others carry the load meanwhile. When every replica is out, requests go to all of them
(and fail, counted to each): a fleet that cannot answer must show as failing, not as idle.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from quanttui.core.events import ErrorClass
from quanttui.core.fleet import replica_label
from quanttui.io.openai_client import RequestOptions, StreamOutcome

EJECT_AFTER = 3
RETRY_S = 5.0
# Outcomes that say the replica is not there (as opposed to the request being slow or bad).
_UNREACHABLE = {ErrorClass.CONNECT, ErrorClass.TIMEOUT_CONNECT, ErrorClass.READ_ERROR, ErrorClass.NO_DONE}
_GATEWAY = {502, 503, 504}


class ChatClient(Protocol):
    """What a replica's client offers (OpenAIStreamClient, PooledClient)."""

    async def stream_chat(
        self, messages: list[dict[str, str]], options: RequestOptions, model: str | None = None
    ) -> StreamOutcome: ...

    async def aclose(self) -> None: ...


@dataclass
class Replica:
    url: str
    client: ChatClient
    in_flight: int = 0
    failures: int = 0  # unreachable outcomes in a row
    out_until: float | None = None  # taken out of the balancer until then (monotonic seconds)
    probing: bool = False  # its one request after RETRY_S is in flight

    @property
    def label(self) -> str:
        return replica_label(self.url)


def unreachable(outcome: StreamOutcome) -> bool:
    if outcome.ok:
        return False
    if outcome.error == ErrorClass.HTTP_STATUS:
        return outcome.http_status in _GATEWAY
    return outcome.error in _UNREACHABLE


class FleetClient:
    def __init__(
        self,
        variant: str,
        replicas: Sequence[tuple[str, ChatClient]],
        policy: str,
        on_state: Callable[[str, bool, str], None],
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        """`on_state(replica_url, up, detail)` is called when a replica goes out or comes back."""
        if len(replicas) < 2:
            raise ValueError("a fleet has at least two replicas")
        self.variant = variant
        self.replicas = [Replica(url, client) for url, client in replicas]
        self.policy = policy
        self.on_state = on_state
        self.now = now
        self._turn = itertools.count()

    def pick(self) -> Replica:
        """The replica the next request goes to (see the module's docstring)."""
        now = self.now()
        for replica in self.replicas:  # one request to a replica whose time out is over
            if replica.out_until is not None and now >= replica.out_until and not replica.probing:
                replica.probing = True
                return replica
        serving = [r for r in self.replicas if r.out_until is None] or self.replicas
        start = next(self._turn) % len(serving)
        turn = serving[start:] + serving[:start]
        if self.policy == "least-outstanding":
            return min(turn, key=lambda r: r.in_flight)
        return turn[0]

    async def stream_chat(
        self, messages: list[dict[str, str]], options: RequestOptions, model: str | None = None
    ) -> StreamOutcome:
        replica = self.pick()
        replica.in_flight += 1
        try:
            outcome = await replica.client.stream_chat(messages, options, model)
        finally:
            replica.in_flight -= 1
        outcome.replica = replica.url
        self._observe(replica, outcome)
        return outcome

    def _observe(self, replica: Replica, outcome: StreamOutcome) -> None:
        probe, replica.probing = replica.probing, False
        if not unreachable(outcome):
            replica.failures = 0
            if replica.out_until is not None:
                replica.out_until = None
                self.on_state(replica.url, True, "answered again")
            return
        replica.failures += 1
        if replica.out_until is not None:
            if probe:  # still not there: out for another while, said once already
                replica.out_until = self.now() + RETRY_S
            return
        if replica.failures >= EJECT_AFTER:
            replica.out_until = self.now() + RETRY_S
            why = outcome.error_detail or str(outcome.error)
            if outcome.http_status is not None:
                why = f"HTTP {outcome.http_status}: {why}"
            detail = (
                f"{replica.failures} requests in a row failed ({outcome.error}: {why}); "
                f"out of the balancer, retried every {RETRY_S:g} s"
            )
            self.on_state(replica.url, False, detail)

    async def grow(self, grown: Callable[[ChatClient], Awaitable[ChatClient]]) -> None:
        """Each replica's client sized up (LoadClients.grow)."""
        for replica in self.replicas:
            replica.client = await grown(replica.client)

    async def aclose(self) -> None:
        for replica in self.replicas:
            await replica.client.aclose()
