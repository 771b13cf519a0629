"""The words of a report: capacity.md, cost_model.md and business_case.md, from measurements only.

Every number in these files comes from the recording (and its triage, when there is one); a claim
that lacks its data says what is missing instead of guessing. Pure: inputs in, markdown out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from quanttui.core.capacity import VariantCapacity, capacity_sentence
from quanttui.core.client_check import ADVICE
from quanttui.core.cost import CostInputs, operating_cost, step_costs
from quanttui.core.events import ReplicaState
from quanttui.core.fleet import ReplicaRow
from quanttui.core.fleet_report import fleets_markdown
from quanttui.core.levels import LevelKind
from quanttui.core.loadplan import SloMetric
from quanttui.core.md import md_number as _n
from quanttui.core.md import md_table as _table
from quanttui.core.roofline import Roofline, gauge
from quanttui.core.stepstats import StepStats
from quanttui.core.verdict import Verdict


@dataclass(frozen=True)
class TriageFacts:
    """What the failure catalog says, per variant: issues (tagged) and flagged answers by category."""

    prompts: int
    issues: dict[str, dict[str, int]]  # variant -> category -> tagged issues
    flagged: dict[str, dict[str, int]]  # variant -> category -> answers with automatic flags
    per_category: dict[str, int]  # category -> prompts
    mean_kl: dict[str, float] = field(default_factory=dict)
    top1: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportInputs:
    title: str
    where: str  # the hardware, e.g. "NVIDIA RTX 2000 Ada Generation" or "this CPU (no GPU)"
    rows: Sequence[StepStats]
    capacities: Sequence[VariantCapacity]  # first: the baseline (BF16)
    rooflines: Sequence[Roofline]
    cost: CostInputs | None = None
    triage: TriageFacts | None = None
    kv_tokens: dict[str, int] = field(default_factory=dict)  # variant -> KV capacity in tokens
    memory_total_mib: float | None = None  # GPU memory (or host RAM on the CPU demo)
    verdict: Verdict | None = None  # the sentences, trials, schedule and noise (core/verdict.py)
    traffic: str = ""  # what the plan sent (LoadPlan.describe_traffic), from the recording's header
    replica_rows: Sequence[ReplicaRow] = ()  # fleets: each step's requests by replica (core/fleet.py)
    replica_events: Sequence[ReplicaState] = ()  # fleets: replicas taken out of the balancer and back


def _mb(value: int | None) -> str:
    return "—" if value is None else f"{value / 1e6:,.0f} MB"


def report_sentences(r: ReportInputs) -> list[str]:
    if r.verdict is not None:
        return list(r.verdict.sentences)
    caps = r.capacities
    return [capacity_sentence(r.where, caps[0], other) for other in caps[1:]] if len(caps) >= 2 else []


def _method(r: ReportInputs, confidence: float) -> list[str]:
    """How the verdict was reached, stated so a reader can judge it."""
    lines = [
        f"How sure: each step's SLO decision is an exact binomial test on the share of requests over the "
        f"bound (distribution-free; closed-loop correlation corrected by batch means). The capacity sentence "
        f"holds at {confidence:.0%} family-wise confidence: Bonferroni over each variant's two claims (holds, "
        'breaches) and over the SLO\'s bounds, the "holds" steps as a fixed sequence in ramp order, each '
        "adaptive step's error split over its looks (docs/STATISTICS.md). A ratio is stated only when both "
        "capacities are decided."
    ]
    if r.traffic:
        lines.append(f"Traffic: {r.traffic}.")
    if r.verdict is not None:
        schedule = {
            "simultaneous": "simultaneous: all variants were loaded at once on the same hardware, so each was "
            "measured while the others competed for it",
            "alternate": "alternate: one variant at a time, the order flipped every step, so they did not slow "
            "each other",
        }.get(r.verdict.schedule, r.verdict.schedule)
        lines.append(f"Schedule: {schedule}.")
        if r.verdict.busy_steps:
            lines.append(f"Noise: {r.verdict.busy_steps} step(s) ran on a busy host (other processes used at least "
                         "half a core on average); they are marked \"busy\" below.")  # fmt: skip
        if r.verdict.client_bound_steps:
            lines.append(f"Client: {r.verdict.client_bound_steps} step(s) were client-bound (the load client's event "
                         "loop ran late or a load process used a whole core, so chunks were stamped late); they are "
                         f"marked \"bound\" below. Run them again with {ADVICE}.")  # fmt: skip
    return lines


def capacity_md(r: ReportInputs) -> str:
    caps = r.capacities
    out = [f"# Capacity: {r.title}", ""]
    for sentence in report_sentences(r):
        out += [sentence, ""]
    metric = caps[0].metric if caps else "e2e"
    slo = caps[0].slo_ms if caps else None
    pct = f"p{caps[0].percentile:g}" if caps else "p95"
    confidence = caps[0].confidence if caps else 0.95
    kind = caps[0].kind if caps else LevelKind.CONCURRENCY
    unit = {LevelKind.CONCURRENCY: "conc", LevelKind.RATE: "req/s", LevelKind.INPUT_TOKENS: "prompt tokens"}[
        kind
    ]
    out += _method(r, confidence) + [""]
    out += [f"SLO: {pct} {metric} <= {_n(slo, 0, ' ms') if slo else 'not set'}. Capacity per variant:", ""]
    out += _table(
        ["variant", "precision", "capacity", "status", f"holds ({unit})", "breaches at", "breach", "p95 bends at",
         "why", "peak tok/s", "tok/s where it holds"],
        [[c.variant, c.precision or "—", c.holds_text(), c.status, _at(c, c.max_conc_meeting_slo),
          _at(c, c.first_conc_over_slo), c.breach or "—", _at(c, c.blowup_conc), c.blowup_detail, _n(c.peak_tok_s),
          _n(c.tok_s_at_max_safe)] for c in caps],
    )  # fmt: skip
    out += fleets_markdown(
        r.verdict.fleet_sentences if r.verdict else (), r.replica_rows, r.replica_events,
        lambda variant, step: _level_of(r, variant, step), unit, f"{pct} {metric}",
    )  # fmt: skip
    if r.verdict is not None and len(r.verdict.per_trial) > 1:
        out += ["", f"## Trials ({len(r.verdict.per_trial)}, the variants' order alternated)", ""]
        out += _table(
            ["trial", *[c.variant for c in caps]],
            [[str(i + 1), *[c.holds_text() for c in trial]] for i, trial in enumerate(r.verdict.per_trial)],
        )
    out += ["", "## Per step", "",
            f"Decision: meets / breaches / undecided at the confidence above; interval: two-sided {confidence:.0%} "
            "for the SLO percentile. Requests: measured (warm-up and fill wave, then the tail that finished after "
            "the decision, not measured).", ""]  # fmt: skip
    open_loop = any(s.rate is not None for s in r.rows)
    prefix = any(s.prefix_cache_hit_rate is not None for s in r.rows)
    if open_loop:
        out += ["Open loop: requests are sent on the arrival schedule whatever the server does. \"sent\" is the "
                "rate actually sent, \"lag p99\" how late the sends were (BEHIND: late by more than 5 ms or a "
                "tenth of the mean gap, so the step offered less than its rate), \"queue\" whether the server "
                "completed what arrived (GROWING: it did not, so there is no steady state at that rate).", ""]  # fmt: skip
    out += _table(
        ["trial", "variant", unit, "tok/s", "input tok/s", "goodput req/s", "p50 e2e ms", f"{pct} {metric} ms",
         "interval ms", "TTFT p95 ms", "TPOT p50 ms", "KV peak", "requests", "errors", "decision", "host", "client",
         *(["sent req/s", "lag p99 ms", "queue"] if open_loop else []), *(["prefix hits"] if prefix else [])],
        [[str(s.trial + 1), s.variant, _step_level(s), _n(s.tok_s), _n(s.input_tok_s), _n(s.goodput_req_s, 2),
          _n(s.p50_ms, 0), _n(_pct(s, metric), 0), _interval(s), _n(s.ttft_p95_ms, 0), _n(s.tpot_p50_ms, 1),
          _n(s.kv_cache_peak * 100 if s.kv_cache_peak is not None else None, 0, " %"),
          f"{s.requests} (+{s.warmup}, +{s.tail})", str(s.errors), s.slo_decision or "—",
          {True: "busy", False: "quiet", None: "—"}[s.host_busy], _client(s),
          *(_open_loop_cells(s) if open_loop else []),
          *([_n(s.prefix_cache_hit_rate * 100 if s.prefix_cache_hit_rate is not None else None, 0, " %")]
            if prefix else [])] for s in r.rows],
    )  # fmt: skip
    out += ["", "## Roofline: batch-1 decode against the memory-bandwidth bound", ""]
    out += _table(
        ["variant", "weights", "bandwidth", "bound tok/s", "measured tok/s (c=1)", "gauge"],
        [[f.variant, _mb(f.weights_bytes), f"{_n(f.bandwidth_gbps)} GB/s ({f.bandwidth_source})",
          _n(f.bound_tok_s, 0), _n(f.measured_tok_s), gauge(f)] for f in r.rooflines],
    )  # fmt: skip
    out += ["", "Bound = bandwidth / bytes of weights (each decoded token reads every weight once); "
            "measured = 1000 / TPOT p50 at concurrency 1."]  # fmt: skip
    return "\n".join(out) + "\n"


def _level_of(r: ReportInputs, variant: str, step: int) -> str:
    row = next((s for s in r.rows if s.variant == variant and s.step == step), None)
    return _step_level(row) if row is not None else "—"


def _at(cap: VariantCapacity, value: float | None) -> str:
    return "—" if value is None else cap.at(value)


def _step_level(s: StepStats) -> str:
    if s.level_kind is LevelKind.CONCURRENCY:
        return str(s.conc)
    return f"{s.level:g}" if s.level_kind is LevelKind.RATE else f"{s.level:,.0f}"


def _open_loop_cells(s: StepStats) -> list[str]:
    if s.rate is None:
        return ["—", "—", "—"]
    lag = _n(s.lag_p99_ms, 1) + (" BEHIND" if s.behind else "")
    queue = {True: "GROWING", False: "steady", None: "—"}[s.queue_growing]
    return [_n(s.sent_req_s, 2), lag, queue]


def _pct(s: StepStats, metric: str) -> float | None:
    if s.slo_pct_ms is not None and s.slo_metric == metric:
        return s.slo_pct_ms
    return s.slo_value_ms(SloMetric(metric))


def _interval(s: StepStats) -> str:
    lo, hi = s.slo_pct_ms_lo, s.slo_pct_ms_hi
    if s.slo_metric is None:
        lo, hi = s.p95_ms_lo, s.p95_ms_hi
    if lo is None and hi is None:
        return "—"
    return f"{_n(lo, 0)} – {_n(hi, 0)}"


def cost_md(r: ReportInputs) -> str:
    out = [f"# Cost model: {r.title}", ""]
    if r.cost is None:
        out += ["No GPU price given: pass `--gpu-usd-per-hour` (or `[cost] gpu_usd_per_hour` in the session "
                "file) to turn tok/s into $/1M output tokens.", ""]  # fmt: skip
        return "\n".join(out)
    c = r.cost
    out += [f"GPU at ${c.gpu_usd_per_hour:,.2f}/hour, paid whether busy or not. $/1M output tokens = "
            "$/hour / (output tok/s x 3600) x 1e6.", ""]  # fmt: skip
    out += ["## Per step", ""]
    out += _table(["variant", "step", "tok/s", "$/1M output tokens", "SLO decision"],
                  [[s.variant, s.level, _n(s.tok_s), _n(s.usd_per_million, 2, ""),
                    s.decision or "—"] for s in step_costs(r.rows, c)])  # fmt: skip
    out += ["", "## At equal p95 (each variant at the largest concurrency it holds within the SLO)", ""]
    undecided = [cap for cap in r.capacities if not cap.decided]
    if undecided:
        out += ["Inconclusive: " + "; ".join(f"{cap.variant} {cap.holds_text()}" for cap in undecided)
                + ". The figures below are at the concurrency each variant was decided to hold, a floor, "
                "not its capacity; compare them only once both capacities are decided.", ""]  # fmt: skip
    ops = [operating_cost(cap, c) for cap in r.capacities]
    traffic = (
        f"{c.tokens_per_day:,.0f} output tokens/day" if c.tokens_per_day else "no expected traffic given"
    )
    out += _table(
        ["variant", "holds", "tok/s", "$/1M output tokens", f"GPUs for {traffic} at {c.utilization:.0%}",
         "$/day", "$/month (30 d)"],
        [[o.variant, o.level, _n(o.tok_s), _n(o.usd_per_million, 2), _n(o.gpus_needed, 0),
          _n(o.usd_per_day, 0), _n(o.usd_per_month, 0)] for o in ops],
    )  # fmt: skip
    if not c.tokens_per_day:
        out += ["", "Give `--tokens-per-day` (or `[cost] tokens_per_day`) for the daily and monthly spend."]
    return "\n".join(out) + "\n"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def candidate(quantized: Sequence[VariantCapacity]) -> VariantCapacity:
    """The quantized variant the case is made for when there are several: the most concurrent users
    within the SLO, then the most tok/s at that point (the order given breaks a full tie)."""
    return max(quantized, key=lambda c: (c.max_conc_meeting_slo or 0, c.tok_s_at_max_safe or 0.0))


def _candidate_line(quantized: Sequence[VariantCapacity], chosen: VariantCapacity) -> str:
    each = ", ".join(
        f"{c.variant} {c.max_conc_meeting_slo if c.max_conc_meeting_slo else 'none'}"
        + (f" at {c.tok_s_at_max_safe:.1f} tok/s" if c.max_conc_meeting_slo and c.tok_s_at_max_safe else "")
        for c in quantized
    )
    return (f"The case is made for {chosen.variant}, the quantized variant with the most concurrent users "
            f"within the SLO, then the most tok/s there ({each}); capacity.md has every variant.")  # fmt: skip


def business_case_md(r: ReportInputs) -> str:
    caps = r.capacities
    out = [f"# The INT4 business case: {r.title}", ""]
    if len(caps) < 2:
        return "\n".join(out + ["Needs two variants (the BF16 baseline first)."]) + "\n"
    base, quant = caps[0], candidate(caps[1:])
    if len(caps) > 2:
        out += [_candidate_line(caps[1:], quant), ""]
    roof = {f.variant: f for f in r.rooflines}
    bullets: list[str] = []
    # 1. tenant density (only from decided capacities: the same rule as the capacity sentence)
    bullets.append(capacity_sentence(r.where, base, quant))
    decided = base.decided and quant.decided
    density = _ratio(quant.max_conc_meeting_slo, base.max_conc_meeting_slo) if decided else None
    if density:
        unit = "machine" if "no GPU" in r.where else "GPU"
        bullets.append(f"Tenant density: one {unit} serves {quant.max_conc_meeting_slo} concurrent users of "
                       f"{quant.variant} within the SLO vs {base.max_conc_meeting_slo} of {base.variant} "
                       f"({density:.2f}x per {unit}).")  # fmt: skip
    # 2. memory
    wb, wq = roof.get(base.variant), roof.get(quant.variant)
    if wb and wq and wb.weights_bytes and wq.weights_bytes:
        line = (f"Weights: {quant.variant} {_mb(wq.weights_bytes)} vs {base.variant} {_mb(wb.weights_bytes)} "
                f"({wb.weights_bytes / wq.weights_bytes:.1f}x smaller)")  # fmt: skip
        kv_b, kv_q = r.kv_tokens.get(base.variant), r.kv_tokens.get(quant.variant)
        if kv_b and kv_q:
            line += f"; KV cache as configured: {kv_q:,} vs {kv_b:,} tokens"
        bullets.append(line + ".")
        if r.memory_total_mib:
            both = (wb.weights_bytes + wq.weights_bytes) / 2**20
            fits = int(r.memory_total_mib * 0.9 * 2**20 // wq.weights_bytes)
            bullets.append(f"Cheaper A/B experiments: both variants' weights take {both:,.0f} MiB of "
                           f"{r.memory_total_mib:,.0f} MiB; {fits} copies of {quant.variant}'s weights fit in 90 % of it "
                           "(before KV cache), so variants can be compared side by side on one box.")  # fmt: skip
    # 3. cost
    if r.cost is not None and not decided:
        bullets.append("Cost at the SLO: inconclusive until both capacities are decided (cost_model.md has the "
                       "per-step figures).")  # fmt: skip
    elif r.cost is not None:
        ob, oq = operating_cost(base, r.cost), operating_cost(quant, r.cost)
        if ob.usd_per_million and oq.usd_per_million:
            line = (f"Cost at the SLO: ${oq.usd_per_million:,.2f} vs ${ob.usd_per_million:,.2f} per 1M output tokens "
                    f"({quant.variant} vs {base.variant}, GPU at ${r.cost.gpu_usd_per_hour:,.2f}/h)")  # fmt: skip
            if ob.usd_per_month is not None and oq.usd_per_month is not None:
                line += (f"; for {r.cost.tokens_per_day:,.0f} tokens/day: ${oq.usd_per_month:,.0f} vs "
                         f"${ob.usd_per_month:,.0f} a month ({oq.gpus_needed} vs {ob.gpus_needed} GPUs)")  # fmt: skip
            bullets.append(line + ".")
    else:
        bullets.append("Cost: no GPU price given (`--gpu-usd-per-hour`), so no $/1M tokens here.")
    # 4. cheaper GPU
    headroom = _ratio(quant.tok_s_at_max_safe, base.tok_s_at_max_safe) if decided else None
    if headroom and headroom > 1:
        bullets.append(f"Meeting the SLO on a cheaper GPU: {quant.variant} delivers {headroom:.2f}x {base.variant}'s "
                       f"throughput at the SLO here, so a GPU with {1 / headroom:.0%} of this one's throughput "
                       f"would still match {base.variant} on it (measured here, not on that GPU).")  # fmt: skip
    elif headroom:
        bullets.append(f"No cheaper GPU from throughput: {quant.variant} delivers {headroom:.2f}x {base.variant}'s "
                       "throughput at the SLO here.")  # fmt: skip
    # 5. one platform config
    if r.triage is not None:
        t = r.triage
        fq = sum(t.flagged.get(quant.variant, {}).values())
        fb = sum(t.flagged.get(base.variant, {}).values())
        kl = t.mean_kl.get(quant.variant)
        extra = (
            f"; mean KL {kl:.3f} nats, top-1 agreement {t.top1.get(quant.variant, 0):.0%}"
            if kl is not None
            else ""
        )
        bullets.append(f"Quality triage on {t.prompts} prompts: automatic flags on {fq} {quant.variant} answers vs "
                       f"{fb} {base.variant}{extra} (see failure_catalog.md).")  # fmt: skip
    else:
        bullets.append("Quality: no triage in the inputs; run `quanttui triage` on the same variants and pass "
                       "`--triage` before deciding.")  # fmt: skip
    if decided and quant.max_conc_meeting_slo and (not base.max_conc_meeting_slo or density and density >= 1):
        bullets.append(f"One INT4 platform config: {quant.variant} alone meets the SLO up to "
                       f"{quant.max_conc_meeting_slo} users here; one quantized serving config can replace "
                       f"{base.variant} where the triage shows no category it fails more.")  # fmt: skip
    out += ["## Why INT4 here", ""] + [f"- {b}" for b in bullets[:8]] + ["", "## When INT4 is a bad idea", ""]
    bad: list[str] = []
    b1, q1 = base.batch1_tok_s, quant.batch1_tok_s
    if b1 and q1 and q1 < b1:
        bad.append(f"Single-stream latency: one {quant.variant} stream decodes at {q1:.1f} tok/s vs {b1:.1f} for "
                   f"{base.variant} here ({1 - q1 / b1:.0%} slower): the dequantizing kernel, not memory, "
                   "bounds it. Latency-critical, low-concurrency services lose.")  # fmt: skip
    elif b1 and q1:
        bad.append(f"Low load gains little: at one stream {quant.variant} decodes {q1 / b1:.2f}x {base.variant}'s "
                   "speed; the case rests on concurrency, not on single-request latency.")  # fmt: skip
    else:
        bad.append("Single-stream latency: no concurrency-1 step in this ramp to compare.")
    if r.triage is not None:
        worse = []
        for category, total in r.triage.per_category.items():
            q = r.triage.issues.get(quant.variant, {}).get(category, 0) or r.triage.flagged.get(
                quant.variant, {}
            ).get(category, 0)
            b = r.triage.issues.get(base.variant, {}).get(category, 0) or r.triage.flagged.get(
                base.variant, {}
            ).get(category, 0)
            if q > b:
                worse.append(f"{category} ({q} vs {b} of {total})")
        bad.append("Tasks where the quantized model fails more (failure catalog: tags, else flags): "
                   + (", ".join(worse) if worse else "none found in this triage") + ".")  # fmt: skip
    else:
        bad.append("Quality-sensitive tasks (code, multi-step reasoning) are where 4-bit models slip first; "
                   "without a triage this report cannot say how much.")  # fmt: skip
    out += [f"- {b}" for b in bad]
    return "\n".join(out) + "\n"


def _client(step: StepStats) -> str:
    """The client check of a step: "ok (lag p99 0.8 ms)", "bound (lag p99 12 ms, CPU 97 %)", or "—"
    (schema < 4, or no sample inside the step)."""
    if step.client_bound is None:
        return "—"
    lag = f"lag p99 {_n(step.client_lag_p99_ms, 1)} ms"
    cpu = f", CPU {_n(step.client_cpu_pct, 0)} %" if step.client_bound else ""
    return f"{'bound' if step.client_bound else 'ok'} ({lag}{cpu})"
