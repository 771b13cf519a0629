"""The report's charts: what report.html draws from a `ReportData`, each with its title and
caption (the parts of a chart: io/chart_base.py). Every colour comes from the palette (the
console's theme files)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from quanttui.core.compute import CATEGORIES, CATEGORY_COLOUR
from quanttui.core.compute_words import per_step
from quanttui.core.cost import usd_per_million
from quanttui.core.report_data import ReportData
from quanttui.core.stepstats import StepStats
from quanttui.io.chart_base import LEVEL_AXIS, Chart, figure, legend, level_axis, svg_text
from quanttui.io.report_palette import Palette


def _series(rows: Sequence[StepStats], variant: str) -> dict[int, list[StepStats]]:
    """A variant's steps per trial, in level order."""
    trials: dict[int, list[StepStats]] = {}
    for row in rows:
        if row.variant == variant:
            trials.setdefault(row.trial, []).append(row)
    return {t: sorted(r, key=lambda s: s.level) for t, r in sorted(trials.items())}


def _pct(row: StepStats, metric: str) -> tuple[float | None, float | None, float | None]:
    if row.slo_pct_ms is not None and row.slo_metric == metric:
        return row.slo_pct_ms, row.slo_pct_ms_lo, row.slo_pct_ms_hi
    if metric == "e2e":
        return row.p95_ms, row.p95_ms_lo, row.p95_ms_hi
    if metric == "ttft":
        return row.ttft_p95_ms, row.ttft_p95_ms_lo, row.ttft_p95_ms_hi
    if metric == "tpot":
        return row.tpot_p95_ms, row.tpot_p95_ms_lo, row.tpot_p95_ms_hi
    return row.itl_p95_ms, None, None


def slo_chart(data: ReportData, palette: Palette) -> Figure:
    """The SLO percentile against load with each point's interval, and the SLO as a line."""
    fig, (ax,) = figure(palette)
    pct = f"p{data.percentile:g}"
    for index, variant in enumerate(data.variants):
        colour = palette.variant(index)
        for trial, rows in _series(data.rows, variant).items():
            points = [(r.level, *_pct(r, data.metric), r.slo_decision) for r in rows]
            points = [p for p in points if p[1] is not None]
            if not points:
                continue
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            lower = [max(0.0, y - lo) if lo is not None else 0.0 for _, y, lo, _, _ in points]
            upper = [hi - y if hi is not None else 0.0 for _, y, _, hi, _ in points]
            label = variant if trial == 0 else None
            ax.errorbar(xs, ys, yerr=[lower, upper], color=colour, marker="o", markersize=4, capsize=3,
                        linewidth=1.4, label=label, alpha=1.0 if trial == 0 else 0.6)  # fmt: skip
            for x, y, _, hi, decision in points:
                if hi is None:  # too few requests for an upper end: the interval is open upwards
                    ax.annotate("", xy=(x, y * 1.25), xytext=(x, y), arrowprops={"arrowstyle": "->",
                                "color": colour, "linestyle": ":"})  # fmt: skip
                if decision == "breaches":
                    ax.plot([x], [y], marker="x", markersize=9, color=palette.error, linestyle="none")
    if data.slo_ms:
        ax.axhline(data.slo_ms, color=palette.slo_line, linestyle="--", linewidth=1.2,
                   label=f"SLO {pct} {data.metric} <= {data.slo_ms:,.0f} ms")  # fmt: skip
    ax.set_ylabel(f"{pct} {data.metric} (ms)")
    ax.set_ylim(bottom=0)
    level_axis(ax, data.kind, [r.level for r in data.rows])
    legend(ax, palette)
    return fig


def throughput_chart(data: ReportData, palette: Palette) -> Figure:
    """Output tok/s (left) and goodput, the requests/s that met every SLO bound (right)."""
    fig, (left, right) = figure(palette, 2)
    for index, variant in enumerate(data.variants):
        colour = palette.variant(index)
        for trial, rows in _series(data.rows, variant).items():
            label = variant if trial == 0 else None
            tok = [(r.level, r.tok_s) for r in rows if r.tok_s is not None]
            if tok:
                left.plot(*zip(*tok, strict=True), color=colour, marker="o", markersize=4, label=label)
            good = [(r.level, r.goodput_req_s) for r in rows if r.goodput_req_s is not None]
            done = [(r.level, r.req_s) for r in rows if r.req_s is not None]
            if good:
                right.plot(*zip(*good, strict=True), color=colour, marker="o", markersize=4,
                           label=f"{variant} goodput" if label else None)  # fmt: skip
            if done:
                right.plot(*zip(*done, strict=True), color=colour, linestyle=":", linewidth=1,
                           label=f"{variant} completed" if label else None)  # fmt: skip
    left.set_ylabel("output tok/s")
    right.set_ylabel("requests/s")
    for ax in (left, right):
        ax.set_ylim(bottom=0)
        level_axis(ax, data.kind, [r.level for r in data.rows])
    legend(right, palette, below=True)
    return fig


def _ecdf(ax: Axes, values: Sequence[float], colour: str, label: str) -> None:
    ordered = sorted(values)
    n = len(ordered)
    ax.step(ordered, [(i + 1) / n for i in range(n)], where="post", color=colour, label=label)


def distribution_chart(data: ReportData, palette: Palette) -> Figure:
    """TTFT and ITL as cumulative distributions (every sample, no binning) per variant."""
    fig, (left, right) = figure(palette, 2)
    index_of = {v: i for i, v in enumerate(data.variants)}
    for dist in data.distributions:
        colour = palette.variant(index_of.get(dist.variant, 0))
        if dist.ttft_ms:
            _ecdf(left, dist.ttft_ms, colour, f"{dist.variant} at {dist.level_text} (n={len(dist.ttft_ms)})")
        if dist.itl_ms:
            _ecdf(right, dist.itl_ms, colour, f"{dist.variant} at {dist.level_text} (n={len(dist.itl_ms):,})")
    for ax, name in ((left, "TTFT (ms)"), (right, "inter-token latency (ms)")):
        ax.set_xlabel(name)
        ax.set_ylabel("share of samples at or below")
        ax.set_ylim(0, 1.02)
        ax.axhline(0.95, color=palette.bar_track, linewidth=0.8)
        values = [v for d in data.distributions for v in (d.ttft_ms if ax is left else d.itl_ms)]
        if values and min(values) > 0 and max(values) / min(values) > 20:
            ax.set_xscale("log")
        legend(ax, palette, loc="lower right")
    return fig


def _time_shading(ax: Axes, data: ReportData, palette: Palette, labels: bool) -> None:
    for i, span in enumerate(data.timeline.steps):
        end = span.end if span.end is not None else data.timeline.end
        if i % 2 == 0:
            ax.axvspan(span.start, end, color=palette.panel, alpha=0.5, linewidth=0)
        if labels:
            ax.text((span.start + end) / 2, 1.0, span.label, transform=ax.get_xaxis_transform(), ha="center",
                    va="bottom", fontsize=7, color=palette.foreground)  # fmt: skip


def kv_chart(data: ReportData, palette: Palette) -> Figure:
    """KV cache usage (left) and running / waiting requests (right) over the session."""
    fig, (left, right) = figure(palette, 2)
    for index, variant in enumerate(data.variants):
        colour = palette.variant(index)
        points = data.timeline.engine.get(variant, [])
        kv = [(p.t, p.kv_cache_usage * 100) for p in points if p.kv_cache_usage is not None]
        if kv:
            left.plot(*zip(*kv, strict=True), color=colour, linewidth=1.2, label=variant)
        running = [(p.t, p.running) for p in points if p.running is not None]
        waiting = [(p.t, p.waiting) for p in points if p.waiting is not None]
        if running:
            right.plot(*zip(*running, strict=True), color=colour, linewidth=1.2, label=f"{variant} running")
        if waiting:
            right.plot(*zip(*waiting, strict=True), color=colour, linewidth=1.0, linestyle="--",
                       label=f"{variant} waiting")  # fmt: skip
    left.set_ylabel("KV cache used (%)")
    left.set_ylim(0, 105)
    right.set_ylabel("requests")
    right.set_ylim(bottom=0)
    for ax in (left, right):
        _time_shading(ax, data, palette, labels=ax is left)
        ax.set_xlabel("session time (s)")
    legend(right, palette, below=True)
    return fig


def memory_chart(data: ReportData, palette: Palette) -> Figure:
    what, series = data.timeline.memory
    fig, (ax,) = figure(palette)
    for index, variant in enumerate(data.variants):
        points = series.get(variant, [])
        if points:
            ax.plot(*zip(*points, strict=True), color=palette.variant(index), linewidth=1.4, label=variant)
    if data.timeline.gpu_mib and data.timeline.gpu_total_mib:
        ax.axhline(data.timeline.gpu_total_mib, color=palette.slo_line, linestyle="--", linewidth=1,
                   label=f"GPU total {data.timeline.gpu_total_mib:,.0f} MiB")  # fmt: skip
    _time_shading(ax, data, palette, labels=True)
    ax.set_ylabel(f"{what.split(' (')[0]} (MiB)")
    ax.set_xlabel("session time (s)")
    ax.set_ylim(bottom=0)
    legend(ax, palette)
    return fig


def cost_chart(data: ReportData, palette: Palette) -> Figure:
    """$/1M output tokens at every step, per variant; a ring marks the largest level each variant
    holds within the SLO (equal p95), labelled with its price."""
    assert data.cost is not None
    fig, (ax,) = figure(palette)
    usd = data.cost.gpu_usd_per_hour
    for index, cap in enumerate(data.capacities):
        colour = palette.variant(index)
        for trial, rows in _series(data.rows, cap.variant).items():
            points = [(r.level, usd_per_million(usd, r.tok_s)) for r in rows if r.tok_s]
            if points:
                ax.plot(*zip(*points, strict=True), color=colour, marker="o", markersize=4,
                        label=cap.variant if trial == 0 else None)  # fmt: skip
    for index, (op, cap) in enumerate(zip(data.operating, data.capacities, strict=True)):
        if op.usd_per_million is None or cap.max_conc_meeting_slo is None:
            continue
        x, y = cap.max_conc_meeting_slo, op.usd_per_million
        ax.plot([x], [y], marker="o", markersize=13, markerfacecolor="none", color=palette.variant(index))
        note = f" ${y:,.2f} at {op.level}" + ("" if cap.decided else " (undecided: a floor)")
        ax.annotate(note, (x, y), xytext=(8, 6), textcoords="offset points", fontsize=8,
                    color=palette.foreground)  # fmt: skip
    ax.set_ylabel("$ per 1M output tokens")
    ax.set_ylim(bottom=0)
    level_axis(ax, data.kind, [r.level for r in data.rows])
    legend(ax, palette)
    return fig


def triage_chart(data: ReportData, palette: Palette) -> Figure:
    """Answers with automatic flags, per category and variant."""
    triage = data.triage
    assert triage is not None
    fig, (ax,) = figure(palette, height=2.0 + 0.28 * len(triage.categories))
    width = 0.8 / max(1, len(triage.variants))
    positions = range(len(triage.categories))
    for index, variant in enumerate(triage.variants):
        counts = [triage.flagged.get(variant, {}).get(c, 0) for c in triage.categories]
        ax.barh([p + index * width for p in positions], counts, height=width, color=palette.variant(index),
                label=variant)  # fmt: skip
    ax.set_yticks([p + width * (len(triage.variants) - 1) / 2 for p in positions])
    ax.set_yticklabels(list(triage.categories))
    ax.invert_yaxis()
    ax.set_xlabel("answers with automatic flags")
    ax.xaxis.get_major_locator().set_params(integer=True)
    legend(ax, palette)
    return fig


def compute_chart(data: ReportData, palette: Palette) -> Figure:
    """Where a decode step's time goes, per variant: stacked ms by category."""
    fig, (ax,) = figure(palette, height=1.8 + 0.4 * len(data.profiles))
    names = [p.variant for p in data.profiles]
    left = [0.0] * len(names)
    for category in CATEGORIES:
        widths = []
        for profile in data.profiles:
            phase = profile.profile.phase("decode") or profile.profile.phase("step")
            widths.append(per_step(phase, category) if phase else 0.0)
        if not any(widths):
            continue
        colour = palette.compute.get(CATEGORY_COLOUR[category], palette.foreground)
        ax.barh(names, widths, left=left, color=colour, label=category)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("ms per decode step")
    legend(ax, palette, below=True)
    return fig


def draw_charts(data: ReportData, palette: Palette) -> list[Chart]:
    """Every chart the data has something for, in the report's order."""
    pct = f"p{data.percentile:g} {data.metric}"
    unit = LEVEL_AXIS[data.kind]
    makers: list[tuple[str, str, str, Callable[[ReportData, Palette], Figure]]] = []
    if data.rows:
        makers += [
            ("slo_vs_load", f"{pct} against load",
             f"Each point: the step's {pct} and its two-sided interval (bars; a dotted arrow: no upper end "
             f"from so few requests)"
             + ("; x: a breach the test decided. Dashed: the SLO." if data.slo_ms else ". No SLO was set.")
             + f" x axis: {unit}.", slo_chart),
            ("throughput_vs_load", "Throughput and goodput against load",
             "Left: output tokens/s. Right: goodput, the requests/s that met every SLO bound (solid), "
             "beside all completed requests/s (dotted).", throughput_chart),
        ]  # fmt: skip
    if any(d.ttft_ms or d.itl_ms for d in data.distributions):
        where = "; ".join(f"{d.variant}: {d.level_text}, {d.why}" for d in data.distributions)
        makers.append(("latency_distributions", "TTFT and inter-token latency distributions",
                       f"Cumulative share of the step's completed requests (TTFT) and of their token gaps (ITL); "
                       f"grey line at 95 %. Steps: {where}.", distribution_chart))  # fmt: skip
    if any(data.timeline.engine.values()):
        makers.append(("kv_and_queue", "KV cache and queue over time",
                       "From the engines' /metrics." + (" Shaded bands: the steps, labelled by level." if data.timeline.steps else ""), kv_chart))  # fmt: skip
    what, series = data.timeline.memory
    if any(series.values()):
        makers.append(("memory", f"Memory per variant: {what}",
                       "Per engine, summed over its processes (and GPUs)." if data.timeline.gpu_mib else
                       "Host memory, not GPU memory: "
                       + ("NVML listed none of the engines' processes (a container hides them)."
                          if data.timeline.gpu_seen else "no GPU was seen."), memory_chart))  # fmt: skip
    if data.cost is not None and data.rows:
        held = [o for o, c in zip(data.operating, data.capacities, strict=True) if c.max_conc_meeting_slo]
        at_slo = (
            "Ringed: each variant at the largest level it holds within the SLO (equal p95)."
            if held
            else "No variant held a level within the SLO, so there is no cost at equal p95."
            if data.slo_ms
            else "No SLO was set, so there is no cost at equal p95."
        )
        makers.append(("cost_at_slo", "Cost per 1M output tokens at equal p95",
                       f"$/1M output tokens at each step, GPU at ${data.cost.gpu_usd_per_hour:,.2f}/h. {at_slo}",
                       cost_chart))  # fmt: skip
    if data.triage is not None:
        makers.append(("triage_flags", "Quality triage: flagged answers by category",
                       f"{data.triage.prompts} prompts; automatic flags per answer.", triage_chart))  # fmt: skip
    if data.profiles:
        makers.append(("compute_decode", "Compute graph: where a decode step's time goes",
                       "Self time per category from each variant's profiled generation.", compute_chart))  # fmt: skip
    charts = []
    for name, title, caption, make in makers:
        fig = make(data, palette)
        charts.append(Chart(name, title, caption, svg_text(fig), fig))
    return charts
