"""Fleets: a variant served by several replicas (issue 21). Pure.

A replica is named by its URL (`RequestResult.replica`, `EngineSample.replica`). Everything that
reads a variant's engine state (step windows, the timeline, the console's panels) reads one sample
per variant: `FleetSamples` merges each replica's latest scrape into it, so a fleet is judged as
one variant with the sum of its replicas' queues and throughput. What is kept per replica is read
through `replica_rows` (a step's requests by replica) and the console's drill-down.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from quanttui.core.capacity import VariantCapacity
from quanttui.core.events import EngineSample, RequestResult
from quanttui.core.levels import LevelKind
from quanttui.core.loadplan import SloMetric
from quanttui.core.stats import percentile

BALANCE_POLICIES = ("round-robin", "least-outstanding")


def replica_label(url: str) -> str:
    """A replica as tables show it: its URL without the scheme ("10.0.0.7:8000")."""
    return url.split("://", 1)[-1].rstrip("/")


def _sum(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _sum_int(values: Sequence[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def merge_samples(variant: str, samples: Sequence[EngineSample], t: float) -> EngineSample:
    """One sample for a fleet: queues, counters, rates and KV capacity summed; KV usage the share
    of the fleet's KV tokens in use (each replica's usage weighted by its capacity, the mean when
    a capacity is unknown)."""
    sizes = [s.kv_cache_size_tokens for s in samples]
    usages = [(s.kv_cache_usage, s.kv_cache_size_tokens) for s in samples if s.kv_cache_usage is not None]
    if usages and all(size for _, size in usages):
        total = sum(size for _, size in usages if size)
        kv = sum(u * size for u, size in usages if size) / total if total else None
    else:
        kv = sum(u for u, _ in usages) / len(usages) if usages else None
    return EngineSample(
        t=t,
        variant=variant,
        kv_cache_usage=kv,
        running=_sum([s.running for s in samples]),
        waiting=_sum([s.waiting for s in samples]),
        generation_tokens_total=_sum([s.generation_tokens_total for s in samples]),
        prompt_tokens_total=_sum([s.prompt_tokens_total for s in samples]),
        preemptions_total=_sum([s.preemptions_total for s in samples]),
        generation_tok_s=_sum([s.generation_tok_s for s in samples]),
        prompt_tok_s=_sum([s.prompt_tok_s for s in samples]),
        num_gpu_blocks=_sum_int([s.num_gpu_blocks for s in samples]),
        block_size=samples[0].block_size if samples else None,
        kv_cache_size_tokens=_sum_int(sizes),
        prefix_cache_queries_total=_sum([s.prefix_cache_queries_total for s in samples]),
        prefix_cache_hits_total=_sum([s.prefix_cache_hits_total for s in samples]),
    )


class FleetSamples:
    """Each replica's latest scrape, merged per variant on every new one.

    A replica whose /metrics cannot be read keeps its counters (a sum must not go back, or it would
    read as an engine restart) but its queues and rates no longer count: they are not current."""

    def __init__(self) -> None:
        self.latest: dict[str, dict[str, EngineSample]] = defaultdict(dict)

    def view(self, sample: EngineSample) -> EngineSample:
        """The sample every variant-level reader folds: itself for a variant of one endpoint."""
        if sample.replica is None:
            return sample
        replicas = self.latest[sample.variant]
        replicas[sample.replica] = sample
        return merge_samples(sample.variant, list(replicas.values()), sample.t)

    def stale(self, variant: str, replica: str) -> None:
        """That replica's /metrics went quiet: keep its counters, drop its current values."""
        last = self.latest.get(variant, {}).get(replica)
        if last is not None:
            self.latest[variant][replica] = replace(
                last,
                kv_cache_usage=None,
                running=None,
                waiting=None,
                generation_tok_s=None,
                prompt_tok_s=None,
            )


@dataclass(frozen=True)
class ReplicaRow:
    """One replica's part of one step: what it was sent and how it answered."""

    variant: str
    step: int
    replica: str
    requests: int  # measured (not warm-up)
    errors: int
    share: float  # of the variant's measured requests in the step, 0..1
    p50_ms: float | None  # of the SLO metric, over its successful measured requests
    p95_ms: float | None
    output_tok_s: float | None  # its measured output tokens over the step's measured span

    @property
    def label(self) -> str:
        return replica_label(self.replica)


def _metric_ms(result: RequestResult, metric: SloMetric) -> list[float]:
    if metric is SloMetric.ITL:
        return [gap / 1000.0 for gap in result.itl_us]
    value = {SloMetric.TTFT: result.ttft, SloMetric.TPOT: result.tpot}.get(metric, result.e2e)
    return [] if value is None else [value * 1000.0]


def replica_rows(
    variant: str, step: int, results: Sequence[RequestResult], metric: SloMetric, pct: float = 95.0
) -> list[ReplicaRow]:
    """A step's measured requests by replica (empty when none names one: not a fleet, or a
    recording older than schema 9)."""
    measured = [r for r in results if not r.warmup and r.replica is not None]
    if not measured:
        return []
    span = max(r.t for r in measured) - min(r.start for r in measured)
    by_replica: dict[str, list[RequestResult]] = defaultdict(list)
    for r in measured:
        by_replica[str(r.replica)].append(r)
    rows = []
    for replica, mine in sorted(by_replica.items()):
        ok = [r for r in mine if r.ok]
        values = [v for r in ok for v in _metric_ms(r, metric)]
        tokens = sum(r.output_tokens or 0 for r in ok)
        rows.append(
            ReplicaRow(
                variant=variant,
                step=step,
                replica=replica,
                requests=len(mine),
                errors=len(mine) - len(ok),
                share=len(mine) / len(measured),
                p50_ms=percentile(values, 50.0),
                p95_ms=percentile(values, pct),
                output_tok_s=tokens / span if span > 0 else None,
            )
        )
    return rows


def fleet_sentence(cap: VariantCapacity, replicas: int, at_hold: Sequence[ReplicaRow]) -> str:
    """The fleet's capacity and what it means per replica, e.g. "The awq fleet of 4 replicas holds
    96 concurrent users at p95 e2e <= 3,000 ms (95 % confidence), 24 per replica." `at_hold`: the
    replicas' rows at the step it holds, to say when they were not evenly loaded (then a replica's
    share is the fleet's mean, not what each one holds) or when one of them failed requests."""
    fleet = f"The {cap.variant} fleet of {replicas} replicas"
    if cap.slo_ms is None:
        return f"{fleet}: no SLO was set, so no capacity is stated per fleet or per replica."
    slo = f"p{cap.percentile:g} {cap.metric} <= {cap.slo_ms:,.0f} ms"
    held = cap.max_conc_meeting_slo
    if cap.status == "never met" or held is None:
        return f"{fleet} {cap.holds_text()} at {slo}: no capacity per replica."
    per = held / replicas
    if cap.kind is LevelKind.INPUT_TOKENS:
        each = "each replica serving them"
        amount = f"prompts of {held:,.0f} tokens"
    elif cap.kind is LevelKind.RATE:
        each, amount = f"{per:.3g} req/s per replica", f"{held:g} req/s"
    else:
        each, amount = f"{per:.3g} per replica", f"{held:.0f} concurrent users"
    if cap.status == "decided":
        sentence = f"{fleet} holds {amount} at {slo} ({cap.confidence:.0%} confidence), {each}."
    elif cap.status == "not reached":
        sentence = f"{fleet} holds at least {amount} at {slo} (its limit was not reached), at least {each}."
    else:
        sentence = f"{fleet} {cap.holds_text()} at {slo}: inconclusive, so per replica too."
    shares = sorted(row.share for row in at_hold)
    if len(shares) >= 2 and shares[-1] - shares[0] > 0.2:
        split = " vs ".join(f"{s:.0%}" for s in reversed(shares))
        sentence += (f" Its replicas were not evenly loaded at that step ({split} of the requests), so "
                     "the per-replica figure is the fleet's mean, not what each one holds.")  # fmt: skip
    failing = [row for row in at_hold if row.errors]
    if failing:
        sentence += (
            " " + "; ".join(f"{row.label} failed {row.errors} of {row.requests}" for row in failing) + "."
        )
    return sentence
