"""What each panel says, as plain strings and flags computed from `LiveState` (no Textual here).

Widgets only copy these into the screen, so the wording is tested without running the app and
every panel words the same number the same way. One source per number: a live window says its
length ("E2E (last 30 s) ..."), a step's numbers come from its step result (the `StepStats` the
CSV gets), and an engine that stopped or failed shows "—" where it showed live values.
"""

from __future__ import annotations

from dataclasses import dataclass

from quanttui.core.engine_log import stop_detail
from quanttui.core.events import METRICS_NOT_EXPORTED
from quanttui.core.live import LiveState
from quanttui.core.live_compare import LIVE, STEPS, Delta
from quanttui.core.live_variant import PHASES, LatencyView, VariantLive
from quanttui.core.roofline import gauge
from quanttui.ui.capacity_words import (
    capacity_parts,
    capacity_texts,
    capacity_word,
    current_step_texts,
    decision_class,
    verdict_lines,
)
from quanttui.ui.format import DASH, clock, mib, ms, num, times

READY_INDEX = PHASES.index("ready")


@dataclass(frozen=True)
class VariantView:
    title: str
    subtitle: str
    state_text: str
    state_class: str  # ready | starting | failed | stopped | attached | unknown
    phase: tuple[int, int, str] | None  # (done, total, phase name) while starting
    mem_text: str
    kv_percent: float | None
    kv_text: str
    kv_level: str  # ok | high | full
    queue_text: str
    tok_texts: tuple[str, ...]  # live windows, longest form first, each labelled with its length
    ttft_texts: tuple[str, ...]
    e2e_texts: tuple[str, ...]
    extra_slo_texts: tuple[str, ...] | None  # the SLO metric's line when it is tpot or itl
    slo_line: str  # which line carries the SLO metric: ttft | e2e | extra
    over_slo: bool
    step_texts: tuple[str, ...]  # the step's request counts (measured, warm-up, errors)
    errors_text: str
    has_errors: bool
    capacity_texts: tuple[str, ...]  # holds / breaches / undecided, longest form first; () hides
    capacity_class: str  # decided | undecided | "" (the words say it; the colour only repeats it)
    decision_texts: tuple[str, ...]  # the step in progress ("c=8 now: ..."), else the last finished
    decision_class: str  # meets | breaches | undecided | ""
    roof_text: str | None
    retired_text: str | None


def _state(v: VariantLive) -> tuple[str, str]:
    state = v.state or "waiting for engine"
    if v.state == "failed":
        cls = "failed"
    elif v.state in ("ready", "attached"):
        cls = "ready"
    elif v.state == "stopped":
        cls = "stopped"
    elif v.starting:
        cls = "starting"
    else:
        cls = "unknown"
    words = stop_detail(v.state_detail) if v.state == "stopped" else v.state_detail
    detail = f" · {words}" if words else ""
    if _not_exported(v):
        detail += " · no /metrics"
    elif v.metrics_unavailable:
        detail += f" · /metrics: {v.metrics_unavailable}"
    return f"● {state}{detail}", cls


def _not_exported(v: VariantLive) -> bool:
    """The engine has no metrics at all (not a failed scrape): say so, never show zeros."""
    return bool(v.metrics_unavailable and v.metrics_unavailable.startswith(METRICS_NOT_EXPORTED))


def _memory(state: LiveState, v: VariantLive) -> str:
    if state.ended(v.name):  # what was sampled is the last of a process that is gone
        rss = f"RSS {DASH}" if v.rss_mib is not None else ""
        if state.gpu_unavailable is not None:
            return f"no GPU · {rss}" if rss else "no GPU"
        return rss or f"GPU {DASH}"
    if v.gpu_mem_mib is not None:
        each = " · ".join(f"{pid}: {num(used)}" for pid, used in v.gpu_processes)
        return f"GPU {mib(v.gpu_mem_mib)} · " + (f"pid {each}" if each else "DCGM")
    rss = ""
    if v.rss_mib is not None:
        cpu = f" · CPU {v.cpu_pct:.0f}%" if v.cpu_pct is not None else ""
        procs = f" · {v.process_count} proc" if v.process_count and v.process_count > 1 else ""
        rss = f"RSS {mib(v.rss_mib)}{cpu}{procs}"
    if state.gpu_unavailable is not None:
        return f"no GPU · {rss}" if rss else "no GPU"
    if rss:
        return rss
    total = state.gpu_total()
    if total is not None:
        return f"GPU used {mib(total[0])} / {mib(total[1])} (all)"
    return f"GPU {DASH}"


def _latency_texts(
    label: str, window: str, p95: float | None, mark: str, p50: float | None = None, with_p50: bool = True
) -> tuple[str, ...]:
    """ "E2E (last 30 s) p50 3,303 p95 6,019 ms", down to "E2E (30 s) p95 6,019 ms": the window's
    length in every form, so a window's p95 is never read as a step's."""
    if p50 is None and p95 is None:
        return (f"{label} (last {window}) {DASH}", f"{label} ({window}) {DASH}")
    only = f"p95 {ms(p95)} ms{mark}"
    both = f"p50 {ms(p50)} {only}" if with_p50 else only
    return tuple(
        dict.fromkeys(
            [f"{label} (last {window}) {both}", f"{label} ({window}) {both}", f"{label} ({window}) {only}"]
        )
    )


def _step_texts(state: LiveState, name: str) -> tuple[str, ...]:
    """The request counts of the open step so far, else of the variant's last finished step from its
    step result (the CSV's requests, warmup, tail, errors): measured and warm-up said apart."""
    v = state.variants[name]
    if name in state.step_variants and state.step is not None and state.step not in state.steps_done:
        head = f"{state.step_level_text} now"
        measured, warmup, errors, tail = v.step_done, state.step_warmup.get(name, 0), v.step_errors, 0
    else:
        last = max(
            (r for (n, _), r in state.step_rows.items() if n == name), key=lambda r: r.step, default=None
        )
        if last is None:
            return ("no load step yet",)
        head, measured, warmup, errors, tail = (
            last.level_text,
            last.requests,
            last.warmup,
            last.errors,
            last.tail,
        )
    tail_text = f" · {tail} tail" if tail else ""
    lag = _lag_text(state, name)
    short = f"{head.removesuffix(' now')} · lag {lag} · n={measured}"
    if lag:  # an open-loop step: its send lag beside its level, the counts as in any step
        head = f"{head} · lag {lag}"
    counts = f"{head}: {measured} measured · {warmup} warm-up"
    forms = [
        f"{counts} · {errors} err{tail_text}",
        f"{counts} · {errors} err",
        counts,
        *([f"{head}: {measured} measured · {errors} err"] if lag else []),
        f"{head}: {measured} measured",
        *([short] if lag else []),
    ]  # longest first: the line shows the first that fits
    return tuple(dict.fromkeys(forms))


def _lag_text(state: LiveState, name: str) -> str:
    """An open-loop step's send lag p99 (the scheduler's own lateness), "BEHIND" when it fell behind."""
    open_step = name in state.step_variants and state.step is not None and state.step not in state.steps_done
    stats = state.running.get(name) if open_step else max(
        (r for (n, _), r in state.step_rows.items() if n == name), key=lambda r: r.step, default=None)  # fmt: skip
    if stats is None or stats.rate is None or stats.lag_p99_ms is None:
        return ""
    return f"{num(stats.lag_p99_ms)} ms" + (" BEHIND" if stats.behind else "")


def variant_view(state: LiveState, name: str) -> VariantView:
    v = state.variants[name]
    ended = state.ended(name)  # stopped or failed: no live value is current
    state_text, state_class = _state(v)
    if state.fleet.is_fleet(name):  # the panel is the fleet's sum; `F` shows each replica
        serving, total = state.fleet.serving(name)
        fleet = f"fleet {serving}/{total} up"
        state_text = f"{state_text} · {fleet}" if serving == total else f"● {fleet} · F: which"
    phase = None
    if v.starting:
        phase = (v.phase_index, READY_INDEX, PHASES[v.phase_index])
    kv_percent = None if v.kv_usage is None or ended else v.kv_usage * 100
    capacity = f" of {num(v.kv_capacity_tokens)} tok" if v.kv_capacity_tokens else ""
    kv_text = f"{DASH if kv_percent is None else f'{kv_percent:5.1f}%'}{capacity}"
    run, wait = (None, None) if ended else (v.running, v.waiting)
    queue_text = f"run {num(run)} wait {num(wait)} preempt {num(v.preemptions)}"
    if _not_exported(v):
        if v.kv_usage is None:
            kv_text = METRICS_NOT_EXPORTED
        if v.running is None:
            queue_text = f"run/wait {METRICS_NOT_EXPORTED}"
    level = "ok"
    if kv_percent is not None:
        level = "full" if kv_percent >= 90 else "high" if kv_percent >= 70 else "ok"
    lat = LatencyView() if ended else state.latency(name)
    over = not ended and state.over_slo(name)
    mark = " ▲" if over else ""
    metric = state.slo_metric
    window = f"{state.window_s:g} s"
    extra = None
    if metric in ("tpot", "itl"):
        extra = _latency_texts(metric.upper(), window, lat.slo_p95_ms, mark, with_p50=False)
    ttft = _latency_texts("TTFT", window, lat.ttft_p95_ms, mark if metric == "ttft" else "", lat.ttft_p50_ms)
    e2e = _latency_texts("E2E", window, lat.e2e_p95_ms, mark if metric == "e2e" else "", lat.e2e_p50_ms)
    rate = f"{state.rate_s} s"
    tok, srv = (None, None) if ended else (state.client_tok_s(name), state.server_tok_s(name))
    tok_texts = (
        f"tok/s (last {rate}) {num(tok, 1)} · srv {num(srv, 1)}",
        f"tok/s ({rate}) {num(tok, 1)} · srv {num(srv, 1)}",
        f"tok/s ({rate}) {num(tok, 1)}",
    )
    errors = ", ".join(f"{cls} {n}" for cls, n in v.errors_by_class.most_common())
    cap = state.capacity.get(name)
    judged = cap is not None and capacity_parts(state, name) is not None
    bend = ""
    if v.bend_conc is not None:
        bend = f"↗ bends c={v.bend_conc}" if judged else f"↗ p95 bends at c={v.bend_conc}"
    retired = None
    if v.retired:
        step_window = state.fold.aggregator.steps.get(v.retired.step)
        where = f" at c={step_window.concurrency}" if step_window else ""
        retired = f"retired: {v.retired.rule.replace('_', ' ')}{where}"
    return VariantView(
        title=f"{name} · {v.precision}" if v.precision and v.precision != name else name,
        subtitle=v.model,
        state_text=state_text,
        state_class=state_class,
        phase=phase,
        mem_text=_memory(state, v),
        kv_percent=kv_percent,
        kv_text=kv_text,
        kv_level=level,
        queue_text=queue_text,
        tok_texts=tok_texts,
        ttft_texts=ttft,
        e2e_texts=e2e,
        extra_slo_texts=extra,
        slo_line="extra" if extra else metric if metric in ("ttft", "e2e") else "e2e",
        over_slo=over,
        step_texts=_step_texts(state, name),
        errors_text=f"session errors: {errors}" if errors else "session errors: none",
        has_errors=bool(errors),
        capacity_texts=capacity_texts(state, name, bend),
        capacity_class=("decided" if cap.decided else "undecided") if cap and judged else "",
        decision_texts=current_step_texts(state, name),
        decision_class=decision_class(state, name),
        roof_text=gauge(r) if (r := state.roofline(name)) else None,
        retired_text=retired,
    )


def ratio_source(d: Delta) -> str:
    """What a comparison divides: "live" windows, "steps at c=8", or "no common step"."""
    if d.source == LIVE:
        return "live"
    if d.source == STEPS:
        return f"steps at {d.conc}"
    return "no common step"


def delta_lines(state: LiveState) -> list[str]:
    """The strip between the columns: each variant against the first one. Its ratios are of live
    windows only while both variants run the open step (each line says its window), else of the
    step results of the latest concurrency both finished (core/live_compare.py)."""
    lines: list[str] = []
    for d in state.deltas():
        rate, window = (f" {state.rate_s} s", f" {state.window_s:g} s") if d.source == LIVE else ("", "")
        lines += [
            f"{d.variant} vs {d.baseline}",
            ratio_source(d),
            f"{'tok/s' + rate:10}{times(d.tok_s_ratio)}",
            f"{'srv' + rate:10}{times(d.server_tok_s_ratio)}",
            f"{'p95' + window:10}{times(d.p95_ratio)}",
            "KV free tok",
            f" {d.baseline[:6]:6} {num(d.baseline_kv_headroom_tokens):>7}",
            f" {d.variant[:6]:6} {num(d.kv_headroom_tokens):>7}",
            "capacity",
            *_strip_capacity(state, d.baseline),
            *_strip_capacity(state, d.variant),
            "",
        ]
    return lines[:-1] if lines else ["deltas appear", "with 2 variants"]


def _strip_capacity(state: LiveState, name: str) -> list[str]:
    """Two lines of the strip (16 cells): " bf16 holds 4" and "  breaches at 8"."""
    parts = capacity_parts(state, name)
    if parts is None:
        return [f" {name[:6]} {DASH}"]
    holds, decision = parts
    decision = "not reached" if decision == "limit not reached" else decision
    return [f" {name[:6]} {holds}", f"  {decision}" if len(decision) <= 14 else f" {decision}"]


def delta_row(state: LiveState) -> str:
    """The same comparison on one line per variant, for 3 or more variants."""
    parts = []
    for d in state.deltas():
        mine, base = capacity_word(state, d.variant) or DASH, capacity_word(state, d.baseline) or DASH
        rate, window = (f" ({state.rate_s} s)", f" ({state.window_s:g} s)") if d.source == LIVE else ("", "")
        parts.append(
            f"{d.variant}/{d.baseline} {ratio_source(d)}: tok/s{rate} {times(d.tok_s_ratio)} · "
            f"p95{window} {times(d.p95_ratio)} · "
            f"KV free {num(d.kv_headroom_tokens)} vs {num(d.baseline_kv_headroom_tokens)} · "
            f"{d.variant} {mine} vs {d.baseline} {base}"
        )
    return "\n".join(parts)


@dataclass(frozen=True)
class StatusView:
    mode: str
    progress: str
    slo: str
    flags: str
    capacity: str  # "◆ awq holds 8 · bf16 holds 4", "" before a step finished
    counters: str
    verdict: str  # the capacity sentence(s), one per line; "" before a step finished
    verdict_decided: bool


def triage_progress(state: LiveState) -> str:
    """A session that ran a triage and no ramp says so ("triage: 25 prompts × 2 variants,
    completed") instead of the ramp's "no step yet"."""
    triage = state.fold.triage
    started = triage.started
    assert started is not None
    size = f"{started.prompts} prompts × {len(started.variants)} variants"
    if triage.finished is not None:
        return f"triage: {size}, {triage.finished.reason}"
    return f"triage: {triage.counts()['answered']}/{size}"


def status_view(
    state: LiveState,
    mode: str,
    elapsed: float,
    *,
    paused: bool,
    ramp_started: bool | None = None,
    position: tuple[float, float, float] | None = None,  # replay: (position, duration, speed)
    dropped: int = 0,
) -> StatusView:
    total = state.steps_total
    plan = state.plan
    triage_only = state.step is None and state.fold.triage.started is not None  # no ramp, a triage
    if triage_only:
        step = triage_progress(state)
    elif state.step is None:
        step = "no step yet"
    elif plan is not None and state.step_level in plan.levels:
        # the ramp's level, not the step's number: alternate schedules and trials run several steps per level
        level = plan.levels.index(state.step_level) + 1
        step = f"step {level}/{len(plan.levels)} {state.step_level_text}"
        if len(state.step_variants) == 1 and len(state.variants) > 1:
            step += f" {state.step_variants[0]}"
    else:
        step = f"step {state.step + 1}/{total}" if total else f"step {state.step + 1}"
        step += f" {state.step_level_text}"
    if position is not None:
        at, duration, speed = position
        head = f"{clock(at)}/{clock(duration)} {f'{speed:g}x' if speed > 0 else 'max'}"
    else:
        head = clock(elapsed)
    pct = state.fold.slo.percentile if state.fold.slo else 95.0
    slo = f"SLO p{pct:g} {state.slo_metric} {ms(state.slo_ms)} ms" if state.slo_ms else "no SLO"
    flags = []
    profiling = state.fold.compute.running
    if paused and profiling is not None and profiling.paused_ramp:
        flags.append("PAUSED for profiling (g)")
    elif paused:
        flags.append("PAUSED")
    elif profiling is not None:
        flags.append("profiling (g)")
    if profiling is None and state.fold.compute.profiles:
        flags.append(f"{len(state.fold.compute.profiles)} profiled (g)")
    if mode == "live" and ramp_started is False and state.step is None:
        flags.append("press s to start the ramp")
    if state.sweep_end and not (triage_only and state.sweep_end == "completed"):  # said above
        flags.append(f"{'session' if triage_only else 'sweep'} {state.sweep_end}")
    words = [f"{name} {word}" for name in state.variants if (word := capacity_word(state, name))]
    counters = f"{state.events:,} ev" + (f" · {dropped:,} dropped" if dropped else "")
    verdict, decided = verdict_lines(state)
    return StatusView(
        mode=mode.upper(),
        progress=f"{head} · {step}",
        slo=slo,
        flags=" · ".join(flags),
        capacity=("◆ " + " · ".join(words)) if words else "",
        counters=counters,
        verdict="\n".join(verdict),
        verdict_decided=decided,
    )
