"""What the console shows of a fleet's replicas (issue 21): the drill-down under a variant's panel.

The variant's panel shows the fleet as one engine (the fold merges its replicas' scrapes, core/
fleet.py); this keeps, per replica, what tells the replicas apart: whether the balancer still
sends to it and why not, its requests, errors and latency over the console's window, its output
tok/s, and its own KV cache and queue. Folded from the same events as everything else. Pure.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from quanttui.core.events import (
    EndpointInfo,
    EngineSample,
    Event,
    MetricsUnavailable,
    ReplicaState,
    RequestResult,
)
from quanttui.core.fleet import replica_label
from quanttui.core.literal import safe_text
from quanttui.core.live_variant import token_seconds
from quanttui.core.series import RollingWindow, SecondSeries
from quanttui.core.stats import to_ms


class ReplicaLive:
    def __init__(self, url: str, window_s: float, history_s: int) -> None:
        self.url = url
        self.out = False  # taken out of the balancer
        self.detail = ""  # why (or that it came back)
        self.requests = 0  # measured and warm-up alike, as the variant's session counts
        self.errors: Counter[str] = Counter()
        self.e2e = RollingWindow(window_s)
        self.ttft = RollingWindow(window_s)
        self.tokens = SecondSeries("sum", history_s)
        self.kv_usage: float | None = None
        self.running: float | None = None
        self.waiting: float | None = None
        self.metrics_problem: str | None = None

    @property
    def label(self) -> str:
        return replica_label(self.url)


@dataclass(frozen=True)
class ReplicaView:
    """One replica's row in the drill-down (numbers None where unknown)."""

    label: str
    serving: bool
    detail: str
    requests: int
    share: float | None  # of its fleet's requests so far
    errors: int
    errors_text: str  # "connect 3, read_error 1"
    e2e_p95_ms: float | None
    ttft_p95_ms: float | None
    tok_s: float | None
    kv_pct: float | None
    running: float | None
    waiting: float | None
    metrics_problem: str | None


class FleetLive:
    """Every fleet's replicas, by variant; variants of one endpoint have none."""

    def __init__(self, window_s: float, history_s: int) -> None:
        self.window_s, self.history_s = window_s, history_s
        self.replicas: dict[str, dict[str, ReplicaLive]] = {}

    def apply(self, event: Event) -> None:
        match event:
            case EndpointInfo(replicas=urls) if urls:
                known = self.replicas.setdefault(event.variant, {})
                for url in urls:
                    known.setdefault(url, ReplicaLive(url, self.window_s, self.history_s))
            case RequestResult(replica=str()):
                self._result(event)
            case EngineSample(replica=str()):
                replica = self._replica(event.variant, event.replica)
                if replica is not None:
                    replica.kv_usage, replica.running, replica.waiting = (
                        event.kv_cache_usage, event.running, event.waiting
                    )  # fmt: skip
                    replica.metrics_problem = None
            case MetricsUnavailable(replica=str()):
                replica = self._replica(event.variant, event.replica)
                if replica is not None:
                    replica.metrics_problem = safe_text(event.reason)
                    replica.kv_usage = replica.running = replica.waiting = None
            case ReplicaState():
                replica = self._replica(event.variant, event.replica)
                if replica is not None:
                    replica.out, replica.detail = not event.up, safe_text(event.detail)
            case _:
                pass

    def _replica(self, variant: str, url: str | None) -> ReplicaLive | None:
        if url is None or variant not in self.replicas:
            return None
        return self.replicas[variant].setdefault(url, ReplicaLive(url, self.window_s, self.history_s))

    def _result(self, event: RequestResult) -> None:
        replica = self._replica(event.variant, event.replica)
        if replica is None:
            return
        replica.requests += 1
        if not event.ok:
            replica.errors[str(event.error)] += 1
            return
        if event.e2e is not None:
            replica.e2e.add(event.t, event.e2e)
        if event.ttft is not None:
            replica.ttft.add(event.t, event.ttft)
        for second, tokens in token_seconds(event):
            replica.tokens.add(second, tokens)

    # -- reading -----------------------------------------------------------------------------
    def is_fleet(self, variant: str) -> bool:
        return bool(self.replicas.get(variant))

    def serving(self, variant: str) -> tuple[int, int]:
        """(replicas the balancer sends to, replicas)."""
        replicas = self.replicas.get(variant, {}).values()
        return sum(1 for r in replicas if not r.out), len(replicas)

    def views(self, variant: str, now: float, rate_s: int) -> list[ReplicaView]:
        replicas = list(self.replicas.get(variant, {}).values())
        total = sum(r.requests for r in replicas)
        out = []
        for r in replicas:
            r.e2e.trim(now)
            r.ttft.trim(now)
            kv = None if r.kv_usage is None else r.kv_usage * 100.0
            out.append(
                ReplicaView(
                    label=safe_text(r.label),
                    serving=not r.out,
                    detail=r.detail,
                    requests=r.requests,
                    share=r.requests / total if total else None,
                    errors=sum(r.errors.values()),
                    errors_text=", ".join(f"{cls} {n}" for cls, n in r.errors.most_common()),
                    e2e_p95_ms=to_ms(r.e2e.percentile(95.0)),
                    ttft_p95_ms=to_ms(r.ttft.percentile(95.0)),
                    tok_s=r.tokens.rate(rate_s, until=math.floor(now)) if len(r.tokens) else None,
                    kv_pct=kv,
                    running=r.running,
                    waiting=r.waiting,
                    metrics_problem=r.metrics_problem,
                )
            )
        return out
