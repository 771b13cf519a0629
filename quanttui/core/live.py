"""The live console's state: every event of a session folded into what its panels show.

Pure (no Textual, no IO) so it is tested on synthetic events and reads a live session and its
replay alike. Memory is bounded by windows, not by the session's length: per-second series keep
the last `history_s` seconds, latency percentiles use the last `window_s` seconds of completed
requests, log panes the last `log_lines` lines. Step statistics, the SLO in force, each
variant's capacity (holds / breaches / undecided, from the steps' decisions) and the capacity
sentences come from the session's fold (core/fold.py, the one every summary, report and stop rule
reads) through core/verdict.py, so the console, the CSV and the report say the same thing.
The open step's statistics so far cost O(n log n): the UI asks for them (`refresh_running`) at its
own frame rate, never per event.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence

from quanttui.core.capacity import VariantCapacity, blowup_knee
from quanttui.core.events import (
    EndpointInfo,
    EngineCapacity,
    EngineSample,
    Event,
    GpuSample,
    GpuUnavailable,
    InstanceState,
    LogLine,
    MetricsUnavailable,
    OperatorCommand,
    OperatorNote,
    ProcessSample,
    RampStatus,
    ReplayReset,
    ReplayStatus,
    ReplicaState,
    RequestResult,
    StepFinished,
    StepStarted,
    SweepFinished,
    VariantRetired,
)
from quanttui.core.fleet import replica_label
from quanttui.core.fold import SessionFold
from quanttui.core.levels import LevelKind, level_text
from quanttui.core.literal import safe_text
from quanttui.core.live_compare import Delta, deltas
from quanttui.core.live_fleet import FleetLive
from quanttui.core.live_gpus import LiveGpus
from quanttui.core.live_hardware import LiveHardware
from quanttui.core.live_variant import LatencyView, VariantLive
from quanttui.core.loadplan import LoadPlan
from quanttui.core.roofline import Roofline
from quanttui.core.stepstats import StepStats
from quanttui.core.verdict import Verdict, run_verdict, where_measured, with_fleets

ENDED = ("stopped", "failed")


class LiveState:
    """Fold events with `apply`; read the attributes and methods at the UI's own frame rate."""

    def __init__(
        self,
        plan: LoadPlan | None,
        variants: Sequence[str] = (),
        *,
        window_s: float = 30.0,
        history_s: int = 600,
        rate_s: int = 5,
        log_lines: int = 200,
    ) -> None:
        self.initial_plan = plan
        self.initial_variants = tuple(variants)
        self.hardware = LiveHardware()  # for the roofline gauge, from the recording header
        self.window_s, self.history_s, self.rate_s, self.log_lines = window_s, history_s, rate_s, log_lines
        self.version = 0
        self.resets = -1  # how often reset() ran after the start
        self.replay: ReplayStatus | None = None  # where a replay stands (not reset by a seek)
        self.reset()

    def reset(self) -> None:
        """Back to the start of the session (a replay seeking backwards republishes from there)."""
        self.fold = SessionFold(self.initial_plan)
        self.variants: dict[str, VariantLive] = {}
        for name in self.initial_variants:
            self._variant(name)
        self.now = 0.0
        self._second: int | None = None
        self.step: int | None = None
        self.step_concurrency: int | None = None
        self.step_rate: float | None = None  # an open-loop step's requests/s (schema >= 6)
        self.step_input_tokens: int | None = None  # a prompt-length step's tokens (schema >= 6)
        self.step_started_t: float | None = None
        self.step_requests: int | None = None  # measured requests per variant in the step
        self.step_seconds: float | None = None
        self.step_variants: tuple[str, ...] = ()
        self.step_target: int | None = None  # measured requests that end a variant's part of the step
        self.step_cap_s: float | None = None  # seconds that end it
        self.ramp_since = 0.0  # when the ramp's state last changed (a window must not span a pause)
        self.step_warmup: dict[str, int] = {}  # warm-up requests finished in the open step, by variant
        self.steps_done: list[int] = []
        self.step_rows: dict[tuple[str, int], StepStats] = {}  # finished steps
        self.verdict: Verdict | None = None  # from the finished steps' decisions (core/verdict.py)
        self.capacity: dict[str, VariantCapacity] = {}
        self.where = ""  # the hardware the capacity sentences name ("On <where>, ...")
        self.running: dict[str, StepStats] = {}  # the open step so far (refresh_running)
        self._running_n: dict[str, tuple[int, int]] = {}  # (results, version) it was computed at
        self.gpus = LiveGpus()  # every GPU source's latest samples, and why a source is down
        self.sweep_end: str | None = None
        self.notes: deque[tuple[float, str]] = deque(maxlen=50)
        self.fleet = FleetLive(self.window_s, self.history_s)  # a fleet's replicas (the drill-down)
        self._latency: dict[str, tuple[int, LatencyView]] = {}
        self.events = 0
        self.resets += 1
        self.version += 1

    # -- folding -----------------------------------------------------------------------------
    def apply_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.apply(event)

    def apply(self, event: Event) -> None:
        match event:
            case ReplayReset():
                self.reset()
                return
            case ReplayStatus():  # the replay's controls, not a fact of the session
                self.replay = event
                self.version += 1
                return
        self.events += 1
        self.version += 1
        self._tick(event.t)
        self.fold.apply(event)
        self.fleet.apply(event)
        match event:
            case EndpointInfo():
                v = self._variant(event.variant)
                v.url, v.model, v.precision, v.pids = event.url, event.model, event.precision, event.pids
                if not v.state:
                    v.state = "attached"
            case InstanceState():
                self._variant(event.variant).on_state(event)
            case EngineCapacity():
                self._variant(event.variant).on_capacity(event)
            case LogLine():
                self._variant(event.variant).on_log(event.t, event.line, event.stream)
            case EngineSample():  # a fleet's replica: the fold's merge of its replicas
                self._variant(event.variant).on_sample(self.fold.fleet.view(event))
            case MetricsUnavailable(replica=None):  # a fleet's replica: in its drill-down
                self._variant(event.variant).metrics_unavailable = safe_text(event.reason)
            case GpuUnavailable() | GpuSample():
                self.gpus.apply(event)
                for name, v in self.variants.items():
                    v.on_gpu(*self.gpus.of_variant(name, v.pids))
            case ReplicaState():
                where = f"{event.variant} replica {replica_label(event.replica)}"
                self.notes.append(
                    (event.t, safe_text(f"{where} {'back' if event.up else 'out'}: {event.detail}"))
                )
            case StepStarted():
                self._on_step_started(event)
            case StepFinished():
                self._on_step_finished(event)
            case RequestResult():
                self._variant(event.variant).on_result(event, self.step)
                if event.warmup and event.step == self.step:
                    self.step_warmup[event.variant] = self.step_warmup.get(event.variant, 0) + 1
            case VariantRetired():
                self._variant(event.variant).retired = event
            case SweepFinished():
                self.sweep_end = event.reason
            case OperatorNote():
                self.notes.append((event.t, safe_text(event.text)))
            case OperatorCommand():
                value = "" if event.value is None else str(event.value)
                self.notes.append((event.t, safe_text(f"{event.command} {value}".strip())))
                if event.command == "set_slo":
                    self._rejudge()
            case ProcessSample():
                self._variant(event.variant).on_process(event.rss_mib, event.cpu_pct, event.pids)
            case RampStatus():
                self.ramp_since = event.t
            case _:
                pass

    def _variant(self, name: str) -> VariantLive:
        v = self.variants.get(name)
        if v is None:
            v = VariantLive(name, history_s=self.history_s, window_s=self.window_s, log_lines=self.log_lines)
            self.variants[name] = v
        return v

    def _tick(self, t: float) -> None:
        """Advance session time; when a whole second closes, record each variant's rolling p95."""
        self.now = max(self.now, t)
        second = math.floor(self.now)
        if self._second is None:
            self._second = second
            return
        if second <= self._second:
            return
        closing = self._second
        self._second = second
        for v in self.variants.values():
            v.trim(self.now)
            if len(v.client_tok):
                v.client_tok.advance_to(second)
            p95 = v.slo_window(self.slo_metric).percentile(95)
            if p95 is not None:
                v.slo_p95.add(closing, p95 * 1000.0)

    @property
    def gpu_unavailable(self) -> str | None:
        """Why GPU sources cannot be read: each one that has not answered since it failed."""
        return self.gpus.unavailable

    def _on_step_started(self, event: StepStarted) -> None:
        self.step, self.step_concurrency, self.step_started_t = event.step, event.concurrency, event.t
        self.step_rate, self.step_input_tokens = event.rate, event.input_tokens
        self.step_requests, self.step_seconds = event.requests, event.seconds
        self.step_variants = event.variants
        plan = self.plan
        # Adaptive steps end at their last look (the cap) or time cap at the latest; fixed ones at
        # their recorded length (a recording made before the 4 x concurrency minimum ran exactly that).
        self.step_target = event.looks[-1] if event.looks else event.requests
        adaptive_cap = plan.max_step_seconds if plan is not None and event.looks else None
        self.step_cap_s = event.seconds if event.seconds is not None else adaptive_cap
        self.running.clear()
        self._running_n.clear()
        for name in event.variants:
            v = self._variant(name)
            v.step_done = v.step_errors = 0
            self.step_warmup[name] = 0

    def _on_step_finished(self, event: StepFinished) -> None:
        window = self.fold.aggregator.steps.get(event.step)
        if window is None:
            return
        self.steps_done.append(event.step)
        self.running.clear()
        self._running_n.clear()
        for name in window.variants:
            self.step_rows[(name, event.step)] = self.fold.step_stats(name, event.step)
            self._bend(self._variant(name))
        self._judge()

    def _bend(self, v: VariantLive) -> None:
        """Where this variant's p95 starts to blow up, from the steps so far (core/capacity.py)."""
        metric = self.fold.slo_metric
        points = [(s.conc, value) for (name, _), s in sorted(self.step_rows.items())
                  if name == v.name and (value := s.slo_value_ms(metric)) is not None]  # fmt: skip
        v.bend_conc, _ = blowup_knee(points)

    def _judge(self) -> None:
        """Each variant's capacity and the capacity sentences, from the finished steps' decisions
        (the open step is not in them: it is undecided until it ends)."""
        agg = self.fold.aggregator
        rows = [self.step_rows[key] for key in sorted(self.step_rows, key=lambda k: (k[1], k[0]))]
        names = list(dict.fromkeys([*agg.variants, *(r.variant for r in rows)]))
        precisions = {n: s.info.precision for n, s in agg.variants.items()}
        self.where = where_measured(agg.gpu_names)
        verdict = run_verdict(rows, names, precisions, self.plan, self.where) if rows else None
        self.verdict = with_fleets(self.fold, verdict) if verdict else None
        self.capacity = {c.variant: c for c in self.verdict.capacities} if self.verdict else {}

    def _rejudge(self) -> None:
        """The fold applied a new SLO: each step's decision and the capacities are re-derived."""
        for key, stats in list(self.step_rows.items()):
            self.step_rows[key] = self.fold.step_stats(stats.variant, stats.step)
        for v in self.variants.values():
            self._bend(v)
        self._judge()
        self._running_n.clear()

    def refresh_running(self, limit: int | None = 1) -> bool:
        """Recompute the open step's statistics so far for at most `limit` variants (None: all)
        that have new results, the longest-waiting first; True if any changed. Each is O(n log n)
        (intervals, the decision's test): the UI calls this from its frame, not per event."""
        window = self.fold.aggregator.open_step
        if window is None:
            return False
        results = self.fold.aggregator.results
        stale = []
        for i, name in enumerate(window.variants):
            count = len(results.get((name, window.step), ()))
            last = self._running_n.get(name)
            if last is None or last[0] != count:
                stale.append((last[1] if last else -1, i, name, count))
        for _, _, name, count in sorted(stale)[:limit]:
            self.running[name] = self.fold.step_stats(name, window.step)
            self._running_n[name] = (count, self.version)
        if stale:
            self.version += 1
        return bool(stale)

    def ended(self, name: str) -> bool:
        """The engine stopped or failed: nothing it showed live is current any more."""
        return self.variants[name].state in ENDED

    def serving(self, name: str) -> bool:
        return self.variants[name].state in ("ready", "attached")

    def part_done(self, name: str) -> bool:
        """The variant's part of the open step no longer loads it fully: decided (its in-flight
        requests are the tail), its last requests sent (closed-loop users send no more once the
        completed ones reach the target less the users), or its time is up."""
        v = self.variants[name]
        stats = self.running.get(name)
        if stats is not None and stats.decided_at is not None:
            return True
        conc = self.step_concurrency or 1
        if self.step_target is not None and v.step_done > self.step_target - conc:
            return True
        started = self.step_started_t
        return self.step_cap_s is not None and started is not None and self.now - started >= self.step_cap_s

    # -- reading -----------------------------------------------------------------------------
    def set_hardware(self, header_config: dict[str, object]) -> None:
        """Bandwidth and weight sizes from a session's header (kept across a replay's reset)."""
        self.hardware.read(header_config)

    def roofline(self, name: str) -> Roofline | None:
        return self.hardware.roofline(name, self.step_rows)

    @property
    def plan(self) -> LoadPlan | None:
        return self.fold.plan

    @property
    def slo_ms(self) -> float | None:
        return self.fold.slo_ms

    @property
    def slo_metric(self) -> str:
        return str(self.fold.slo_metric)

    @property
    def ramp_state(self) -> str | None:
        """waiting, running, paused, stopping, finished; None where the session never said."""
        return self.fold.ramp_state

    @property
    def steps_total(self) -> int | None:
        return len(self.plan.levels) if self.plan else None

    @property
    def step_level(self) -> float | None:
        """The open step's level in its ramp's unit (users, requests/s, prompt tokens)."""
        if self.step_rate is not None:
            return self.step_rate
        if self.step_input_tokens is not None:
            return float(self.step_input_tokens)
        return None if self.step_concurrency is None else float(self.step_concurrency)

    @property
    def step_level_text(self) -> str:
        """ "c=8", "4 req/s" or "448 tok": the open step as every line of the console names it."""
        kind = LevelKind.RATE if self.step_rate is not None else (
            LevelKind.INPUT_TOKENS if self.step_input_tokens is not None else LevelKind.CONCURRENCY)  # fmt: skip
        return level_text(kind, self.step_level or 0)

    def names(self) -> list[str]:
        return list(self.variants)

    def latency(self, name: str) -> LatencyView:
        """Percentiles over the rolling window (computed once per state version: a frame asks often)."""
        cached = self._latency.get(name)
        if cached is not None and cached[0] == self.version:
            return cached[1]
        v = self.variants[name]
        v.trim(self.now)
        view = v.latency(self.slo_metric)
        self._latency[name] = (self.version, view)
        return view

    def client_tok_s(self, name: str) -> float | None:
        """Output tokens per second of requests completed over the last `rate_s` whole seconds."""
        series = self.variants[name].client_tok
        if not len(series):
            return None
        return series.rate(self.rate_s, until=math.floor(self.now))

    def server_tok_s(self, name: str) -> float | None:
        """The engine's own generation rate (/metrics), the mean over the same whole seconds."""
        return self.variants[name].server_tok.mean(self.rate_s, until=math.floor(self.now))

    def over_slo(self, name: str) -> bool:
        p95 = self.latency(name).slo_p95_ms
        return self.slo_ms is not None and p95 is not None and p95 > self.slo_ms

    def deltas(self) -> list[Delta]:
        """Each variant against the first, from one source at a time (core/live_compare.py)."""
        return deltas(self)

    def gpu_total(self) -> tuple[float, float] | None:
        """(used, total) MiB over every GPU seen, for endpoints whose pids are unknown."""
        return self.gpus.total()
