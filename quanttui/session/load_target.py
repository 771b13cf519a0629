"""What the load runner drives (a variant's client, its pool grown on demand) and how one request's
outcome becomes an event."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from quanttui.core.clock import SessionClock
from quanttui.core.events import EndpointInfo, Event, OperatorNote, ReplicaState, RequestResult
from quanttui.core.loadplan import LoadPlan
from quanttui.io.limits import load_problem
from quanttui.io.openai_client import OpenAIStreamClient, RequestOptions, StreamOutcome
from quanttui.session.fleet_client import FleetClient
from quanttui.session.load_clients import LoadClient, LoadClients


@dataclass
class Target:
    variant: str
    precision: str
    client: LoadClient | FleetClient


class TargetPools:
    """The variants' targets, their client pools sized for the plan, grown when the operator steps
    beyond it (a request must never queue for a connection inside the client)."""

    def __init__(
        self,
        loads: LoadClients,
        resolved: Sequence[EndpointInfo],
        clients: dict[str, OpenAIStreamClient],
        api_key: str | None,
        capacity: int,
        publish: Callable[[Event], None],
        clock: SessionClock,
        fleets: dict[str, list[OpenAIStreamClient]] | None = None,
        balance: dict[str, str] | None = None,
    ) -> None:
        """`fleets`: each fleet's resolved client per replica; `balance`: its policy by variant."""
        self.loads, self.api_key, self.capacity = loads, api_key, capacity
        self.publish, self.clock = publish, clock
        self.targets = []
        for info in resolved:
            replicas = (fleets or {}).get(info.variant)
            client: LoadClient | FleetClient
            if replicas:
                client = FleetClient(
                    info.variant,
                    [
                        (r.root, loads.client(f"{info.variant}@{i}", r, api_key, capacity))
                        for i, r in enumerate(replicas)
                    ],
                    (balance or {}).get(info.variant, "round-robin"),
                    self._replica_state(info.variant),
                )
            else:
                client = loads.client(info.variant, clients[info.variant], api_key, capacity)
            self.targets.append(Target(info.variant, info.precision, client))

    def _replica_state(self, variant: str) -> Callable[[str, bool, str], None]:
        def publish(replica: str, up: bool, detail: str) -> None:
            self.publish(
                ReplicaState(t=self.clock.now(), variant=variant, replica=replica, up=up, detail=detail)
            )

        return publish

    async def grow(self, concurrency: int) -> None:
        if concurrency <= self.capacity:
            return
        problem = load_problem(concurrency, len(self.targets))
        if problem is not None:  # the step runs, its requests beyond the pools wait for a connection
            self.publish(OperatorNote(t=self.clock.now(), text=f"client pools not grown: {problem}"))
            return

        async def grown(client: LoadClient) -> LoadClient:
            return await self.loads.grow(client, self.api_key, concurrency)

        for target in self.targets:
            if isinstance(target.client, FleetClient):
                await target.client.grow(grown)  # type: ignore[arg-type]
            else:
                target.client = await grown(target.client)
        self.capacity = concurrency


def result_event(
    clock: SessionClock,
    variant: str,
    step: int,
    index: int,
    warmup: bool,
    outcome: StreamOutcome,
    intended: float | None = None,
) -> RequestResult:
    return RequestResult(
        t=clock.at(outcome.end_ns),
        variant=variant,
        step=step,
        index=index,
        warmup=warmup,
        start=clock.at(outcome.start_ns),
        ok=outcome.ok,
        error=str(outcome.error) if outcome.error else None,
        http_status=outcome.http_status,
        error_detail=outcome.error_detail,
        ttft=outcome.ttft_s,
        e2e=outcome.e2e_s,
        itl_us=tuple(outcome.itl_us),
        prompt_tokens=outcome.prompt_tokens,
        output_tokens=outcome.output_tokens,
        output_tokens_estimated=outcome.output_tokens_estimated,
        finish_reason=outcome.finish_reason,
        intended=intended,
        replica=outcome.replica,
    )


def request_options(plan: LoadPlan, options: RequestOptions, step: int, index: int) -> RequestOptions:
    """One request's options: its answer length drawn from the plan's distribution (sent with
    ignore_eos, so it is exactly that long), else the session's options as they are."""
    if plan.output_lengths is None:
        return options
    return replace(options, max_tokens=plan.output_lengths.draw(step, index), ignore_eos=True)
