"""What each panel says, as plain strings and flags computed from `LiveState` (no Textual here).

Widgets only copy these into the screen, so the wording is tested without running the app and
every panel words the same number the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from quanttui.core.events import METRICS_NOT_EXPORTED
from quanttui.core.live import LiveState
from quanttui.core.live_variant import PHASES, VariantLive
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
    tok_text: str
    ttft_text: str
    e2e_text: str
    extra_slo_text: str | None  # the SLO metric's line when it is tpot or itl
    slo_line: str  # which line carries the SLO metric: ttft | e2e | extra
    over_slo: bool
    step_text: str
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
    detail = f" · {v.state_detail}" if v.state_detail else ""
    if _not_exported(v):
        detail += " · no /metrics"
    elif v.metrics_unavailable:
        detail += f" · /metrics: {v.metrics_unavailable}"
    return f"● {state}{detail}", cls


def _not_exported(v: VariantLive) -> bool:
    """The engine has no metrics at all (not a failed scrape): say so, never show zeros."""
    return bool(v.metrics_unavailable and v.metrics_unavailable.startswith(METRICS_NOT_EXPORTED))


def _memory(state: LiveState, v: VariantLive) -> str:
    if v.gpu_mem_mib is not None:
        each = " · ".join(f"{pid}: {num(used)}" for pid, used in v.gpu_processes)
        return f"GPU {mib(v.gpu_mem_mib)} · pid {each}"
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


def variant_view(state: LiveState, name: str) -> VariantView:
    v = state.variants[name]
    state_text, state_class = _state(v)
    phase = None
    if v.starting:
        phase = (v.phase_index, READY_INDEX, PHASES[v.phase_index])
    kv_percent = None if v.kv_usage is None else v.kv_usage * 100
    capacity = f" of {num(v.kv_capacity_tokens)} tok" if v.kv_capacity_tokens else ""
    kv_text = f"{DASH if kv_percent is None else f'{kv_percent:5.1f}%'}{capacity}"
    queue_text = f"run {num(v.running)} wait {num(v.waiting)} preempt {num(v.preemptions)}"
    if _not_exported(v):
        if v.kv_usage is None:
            kv_text = METRICS_NOT_EXPORTED
        if v.running is None:
            queue_text = f"run/wait {METRICS_NOT_EXPORTED}"
    level = "ok"
    if v.kv_usage is not None:
        level = "full" if v.kv_usage >= 0.9 else "high" if v.kv_usage >= 0.7 else "ok"
    lat = state.latency(name)
    over = state.over_slo(name)
    mark = " ▲" if over else ""
    metric = state.slo_metric
    extra = None
    if metric in ("tpot", "itl"):
        extra = f"{metric.upper():4} p95 {ms(lat.slo_p95_ms)} ms{mark}"
    ttft = f"TTFT p50 {ms(lat.ttft_p50_ms)} p95 {ms(lat.ttft_p95_ms)} ms{mark if metric == 'ttft' else ''}"
    e2e = f"E2E  p50 {ms(lat.e2e_p50_ms)} p95 {ms(lat.e2e_p95_ms)} ms{mark if metric == 'e2e' else ''}"
    target = state.step_requests
    in_step = name in state.step_variants
    step = f"req {v.step_done}/{target}" if in_step and target else f"req {v.requests}"
    errors = ", ".join(f"{cls} {n}" for cls, n in v.errors_by_class.most_common())
    cap = state.capacity.get(name)
    judged = cap is not None and capacity_parts(state, name) is not None
    bend = ""
    if v.bend_conc is not None:
        bend = f"↗ bends c={v.bend_conc}" if judged else f"↗ p95 bends at c={v.bend_conc}"
    retired = None
    if v.retired:
        window = state.fold.aggregator.steps.get(v.retired.step)
        where = f" at c={window.concurrency}" if window else ""
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
        tok_text=f"tok/s {num(state.client_tok_s(name), 1)} (srv {num(v.server_tok_s, 1)})",
        ttft_text=ttft,
        e2e_text=e2e,
        extra_slo_text=extra,
        slo_line="extra" if extra else metric if metric in ("ttft", "e2e") else "e2e",
        over_slo=over,
        step_text=f"{step} · ok {v.ok} · err {v.errors}",
        errors_text=f"errors: {errors}" if errors else "errors: none",
        has_errors=bool(errors),
        capacity_texts=capacity_texts(state, name, bend),
        capacity_class=("decided" if cap.decided else "undecided") if cap and judged else "",
        decision_texts=current_step_texts(state, name),
        decision_class=decision_class(state, name),
        roof_text=gauge(r) if (r := state.roofline(name)) else None,
        retired_text=retired,
    )


def delta_lines(state: LiveState) -> list[str]:
    """The strip between the columns: each variant against the first one."""
    lines: list[str] = []
    for d in state.deltas():
        lines += [
            f"{d.variant} vs {d.baseline}",
            f"tok/s {times(d.tok_s_ratio)}",
            f"srv   {times(d.server_tok_s_ratio)}",
            f"p95   {times(d.p95_ratio)}",
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
        parts.append(
            f"{d.variant}/{d.baseline}: tok/s {times(d.tok_s_ratio)} · p95 {times(d.p95_ratio)} · "
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
    if state.step is None:
        step = "no step yet"
    elif plan is not None and state.step_concurrency in plan.concurrencies:
        # the ramp's level, not the step's number: alternate schedules and trials run several steps per level
        level = plan.concurrencies.index(state.step_concurrency) + 1
        step = f"step {level}/{len(plan.concurrencies)} c={state.step_concurrency}"
        if len(state.step_variants) == 1 and len(state.variants) > 1:
            step += f" {state.step_variants[0]}"
    else:
        step = f"step {state.step + 1}/{total}" if total else f"step {state.step + 1}"
        step += f" c={state.step_concurrency}"
    if position is not None:
        at, duration, speed = position
        head = f"{clock(at)}/{clock(duration)} {f'{speed:g}x' if speed > 0 else 'max'}"
    else:
        head = clock(elapsed)
    pct = state.fold.slo.percentile if state.fold.slo else 95.0
    slo = f"SLO p{pct:g} {state.slo_metric} {ms(state.slo_ms)} ms" if state.slo_ms else "no SLO"
    flags = []
    if paused:
        flags.append("PAUSED")
    if mode == "live" and ramp_started is False and state.step is None:
        flags.append("press s to start the ramp")
    if state.sweep_end:
        flags.append(f"sweep {state.sweep_end}")
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
