"""The three time-series charts (tok/s, p95 against the SLO, KV usage) built from `LiveState`.

Pure data: how a chart is laid out at a size (robust axes, the SLO tick, units, the legend
outside the plot) is `plot_layout.py`'s job.
"""

from __future__ import annotations

from quanttui.core.live import LiveState
from quanttui.ui.format import ms
from quanttui.ui.plot_layout import Chart, Series


def _colour(index: int) -> str:
    return f"variant-{index % 4 + 1}"


def _xy(points: list[tuple[int, float]]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return tuple(float(x) for x, _ in points), tuple(round(y, 3) for _, y in points)


def _xlim(state: LiveState) -> tuple[float, float]:
    end = max(10.0, float(int(state.now) + 1))
    return (max(0.0, end - state.history_s), end)


def throughput_chart(state: LiveState) -> Chart:
    series: list[Series] = []
    for i, (name, v) in enumerate(state.variants.items()):
        series.append(Series(name, *_xy(v.client_tok.trailing_mean(state.rate_s)), _colour(i)))
        srv = Series(f"{name} srv", *_xy(v.server_tok.points()), _colour(i), marker="dot", legend=False)
        series.append(srv)
    return Chart(
        f"lines: client ({state.rate_s} s mean) · dots: server",
        f"{state.rate_s} s mean · dots: srv",
        "tok/s",
        tuple(series),
        xlim=_xlim(state),
    )


def latency_chart(state: LiveState) -> Chart:
    series = tuple(
        Series(name, *_xy(v.slo_p95.points()), _colour(i))
        for i, (name, v) in enumerate(state.variants.items())
    )
    hlines = ((state.slo_ms, "slo-line"),) if state.slo_ms else ()
    vlines = []
    for name in state.variants:  # where a variant's first breach was decided (the step's end)
        steps = sorted(
            s for (n, s), row in state.step_rows.items() if n == name and row.slo_decision == "breaches"
        )
        window = state.fold.aggregator.steps.get(steps[0]) if steps else None
        if window is not None and window.finished is not None:
            vlines.append((window.finished, "knee"))
    slo = f" · SLO {ms(state.slo_ms)}" if state.slo_ms else ""
    title = f"p95 {state.slo_metric} ({state.window_s:g} s window){slo}"
    short = f"p95 {state.slo_metric} ({state.window_s:g} s){slo}"
    return Chart(title, short, "ms", series, hlines, tuple(vlines), xlim=_xlim(state))


def kv_chart(state: LiveState) -> Chart:
    series = tuple(
        Series(name, *_xy(v.kv_pct.points()), _colour(i))
        for i, (name, v) in enumerate(state.variants.items())
    )
    return Chart("KV cache usage", "KV cache", "%", series, ylim=(0.0, 100.0), xlim=_xlim(state))
