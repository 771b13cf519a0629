"""The session fold: the one place a session's events become what every consumer reads.

The live session, a replay, `quanttui report`, `quanttui triage --from`, the console and the stop
rules all fold events through `SessionFold`, so the same events give the same numbers wherever
they are read. It applies:
- the step windows and statistics (the `Aggregator`);
- the SLO in force: the plan's, then each operator `set_slo` as recorded (`OperatorCommand`), or
  a reader's pinned SLO (`quanttui report --slo`), which no recorded command overrides;
- each finished step's decision (the stop rule it broke, or none), which the load runner reads
  instead of recomputing;
- the ramp's state (`RampStatus`; unknown in schema-1 recordings), KV capacity from start-up
  logs, the GPUs' memory, the quality triage (`TriageState`) and the profiles (`ComputeFold`);
- the samples over time that the report's charts draw (`Timeline`);
- a `ReplayReset` (a replay seeking backwards): everything starts over.

Pure: no clock, no files, no threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from quanttui.core.aggregate import Aggregator
from quanttui.core.compute_events import ComputeFold
from quanttui.core.events import (
    EngineCapacity,
    EngineSample,
    Event,
    GpuSample,
    MetricsUnavailable,
    OperatorCommand,
    RampStatus,
    ReplayReset,
    ReplicaState,
)
from quanttui.core.fleet import FleetSamples, ReplicaRow, replica_rows
from quanttui.core.loadplan import LoadPlan, Slo, SloMetric
from quanttui.core.stepstats import StepStats, stop_rule
from quanttui.core.timeline import Timeline
from quanttui.core.triage_state import TriageState


@dataclass(frozen=True)
class StepDecision:
    """What the stop rules said of one variant's finished step."""

    variant: str
    step: int
    stats: StepStats
    rule: str | None  # "slo", "error_rate", or None: the variant goes on
    detail: str = ""


def valid_slo_ms(value: object) -> float | None:
    """A p95 SLO in ms as an operator may set it: a finite number > 0, else None."""
    try:
        slo_ms = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return slo_ms if math.isfinite(slo_ms) and slo_ms > 0 else None


class SessionFold:
    def __init__(self, plan: LoadPlan | None, *, pinned_slo: Slo | None = None) -> None:
        """`pinned_slo`: a reader's own SLO (report options); recorded `set_slo` commands then
        change nothing."""
        self.initial_plan = plan if pinned_slo is None or plan is None else replace(plan, slo=pinned_slo)
        self.pinned_slo = pinned_slo
        # Profiles (issue 18): kept across resets and cleared by the ReplayReset itself, so their
        # version only grows and a screen keyed on it never mistakes a refold for what it showed.
        self.compute = ComputeFold()
        self.reset()

    def reset(self) -> None:
        self.aggregator = Aggregator(self.initial_plan)
        self.triage = TriageState()
        self.ramp_state: str | None = None  # None: never said (a schema-1 recording, or a replay)
        self.kv_tokens: dict[str, int] = {}
        self.memory_total_mib: float | None = None
        self.slo_changes = 0  # operator SLO changes applied
        self.timeline = Timeline()  # samples over time, for the report's charts
        self.fleet = FleetSamples()  # a fleet's replicas' latest scrapes, merged per variant
        self.replica_events: list[ReplicaState] = []  # replicas out of a fleet's balancer and back

    # -- folding -------------------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        match event:
            case ReplayReset():
                self.reset()
                self.triage.apply(event)
                self.compute.apply(event)
                return
            case OperatorCommand(command="set_slo"):
                self._set_slo(event.value)
            case RampStatus():
                self.ramp_state = event.state
            case EngineCapacity() if event.kv_cache_tokens:
                self.kv_tokens[event.variant] = event.kv_cache_tokens
            case GpuSample():
                self.memory_total_mib = event.mem_total_mib
            case EngineSample(replica=str()):
                event = self.fleet.view(event)  # every reader below sees the fleet as one engine
            case MetricsUnavailable(replica=str()):
                self.fleet.stale(event.variant, event.replica)
            case ReplicaState():
                self.replica_events.append(event)
            case _:
                pass
        self.aggregator.consume(event)
        self.timeline.apply(event)
        self.triage.apply(event)
        self.compute.apply(event)

    def _set_slo(self, value: float | None) -> None:
        plan = self.aggregator.plan
        slo_ms = valid_slo_ms(value)
        if self.pinned_slo is not None or plan is None or slo_ms is None:
            return
        slo = plan.slo.with_primary_ms(slo_ms) if plan.slo else Slo(slo_ms, self.slo_metric)
        self.aggregator.plan = replace(plan, slo=slo)
        self.slo_changes += 1

    # -- reading -------------------------------------------------------------------------------
    @property
    def plan(self) -> LoadPlan | None:
        """The plan with the SLO in force now."""
        return self.aggregator.plan

    @property
    def slo(self) -> Slo | None:
        plan = self.aggregator.plan
        return plan.slo if plan else self.pinned_slo

    @property
    def slo_ms(self) -> float | None:
        return self.slo.p95_ms if self.slo else None

    @property
    def slo_metric(self) -> SloMetric:
        return self.slo.metric if self.slo else SloMetric.E2E

    def step_stats(self, variant: str, step: int) -> StepStats:
        return self.aggregator.step_stats(variant, step)

    def all_step_stats(self) -> list[StepStats]:
        return self.aggregator.all_step_stats()

    def replicas(self, variant: str) -> tuple[str, ...]:
        """A fleet's replicas (their URLs) as its EndpointInfo named them; () for one endpoint."""
        state = self.aggregator.variants.get(variant)
        return state.info.replicas if state else ()

    def replica_rows(self, variant: str, step: int) -> list[ReplicaRow]:
        """A step's measured requests by replica, on the metric and percentile of the SLO in force."""
        slo = self.slo
        results = self.aggregator.results.get((variant, step), [])
        return replica_rows(variant, step, results, self.slo_metric, slo.percentile if slo else 95.0)

    def all_replica_rows(self) -> list[ReplicaRow]:
        """Every fleet's replica rows, step by step."""
        return [row for step in sorted(self.aggregator.steps)
                for name in self.aggregator.steps[step].variants for row in self.replica_rows(name, step)]  # fmt: skip

    def step_reason(self, step: int) -> str | None:
        """How a step ended ("completed", "operator", "stopped"), None while it runs."""
        window = self.aggregator.steps.get(step)
        return window.reason if window else None

    def decisions(self, step: int) -> list[StepDecision]:
        """Each variant's decision on a finished step. Only a step that ran to its end is judged:
        one the operator cut short is the operator's call, not a measurement of the plan's step."""
        window = self.aggregator.steps.get(step)
        if window is None or window.finished is None:
            return []
        judged = self.step_reason(step) == "completed" and self.plan is not None
        out = []
        for variant in window.variants:
            stats = self.step_stats(variant, step)
            rule = stop_rule(stats, self.plan) if judged and self.plan is not None else None
            out.append(StepDecision(variant, step, stats, rule[0] if rule else None, rule[1] if rule else ""))
        return out
