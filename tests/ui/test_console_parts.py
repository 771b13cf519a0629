"""Console parts without running the app: theme files, stylesheets, panel wording, plot colours."""

import re
from pathlib import Path

import pytest
from live_events import PLAN, session_events

from quanttui.core.events import GpuProcess, GpuSample, GpuUnavailable, ProcessSample
from quanttui.core.live import LiveState
from quanttui.ui import format as fmt
from quanttui.ui.themes import (
    DEFAULT_THEME_DIR,
    ThemeFileError,
    default_theme_dirs,
    load_theme,
    load_theme_dirs,
    load_themes,
)
from quanttui.ui.views import delta_lines, delta_row, status_view, variant_view
from quanttui.ui.widgets.plots import plotext_colour

UI = Path(__file__).parents[2] / "quanttui" / "ui"


def test_theme_files_load_and_cover_dark_light_and_16_colours():
    themes, errors = load_themes(DEFAULT_THEME_DIR)
    assert errors == []
    by_name = {t.name: t for t in themes}
    assert set(by_name) >= {"quanttui-dark", "quanttui-light", "quanttui-ansi"}
    assert by_name["quanttui-dark"].dark and not by_name["quanttui-light"].dark
    ansi = by_name["quanttui-ansi"]
    assert ansi.ansi and all(v.startswith("ansi_") for k, v in ansi.variables.items() if "style" not in k)
    for theme in themes:
        assert {"variant-1", "variant-2", "variant-3", "variant-4", "slo-line", "knee", "bar-track"} <= set(
            theme.variables
        )


def test_an_operator_theme_replaces_a_shipped_one_of_the_same_name(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    mine = tmp_path / "quanttui" / "themes"
    mine.mkdir(parents=True)
    (mine / "dark.toml").write_text('name = "quanttui-dark"\nprimary = "ansi_green"\n', encoding="utf-8")
    (mine / "broken.toml").write_text('name = "b"\n', encoding="utf-8")
    assert default_theme_dirs()[-1] == mine
    themes, errors = load_theme_dirs(default_theme_dirs())
    by_name = {t.name: t for t in themes}
    assert by_name["quanttui-dark"].primary == "ansi_green"
    assert "quanttui-light" in by_name
    assert len(errors) == 1 and "broken.toml" in errors[0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('name = "x"\nprimary = "#123456"\ncolour = "red"\n', "field 'colour'"),
        ('name = "x"\nprimary = "not-a-colour"\n', "field 'primary'"),
        ('primary = "#123456"\n', "field 'name'"),
        ('name = "x"\n', "field 'primary'"),
        ('name = "x"\nprimary = "#123456"\ndark = "yes"\n', "field 'dark'"),
        ('name = "x"\nprimary = \n', "x.toml"),
    ],
)
def test_a_bad_theme_file_is_named_with_its_field(tmp_path, body, message):
    path = tmp_path / "x.toml"
    path.write_text(body)
    with pytest.raises(ThemeFileError, match=re.escape(message)):
        load_theme(path)
    themes, errors = load_themes(tmp_path)
    assert themes == [] and len(errors) == 1


def test_stylesheets_use_theme_variables_only():
    colour_props = re.compile(
        r"^\s*(color|background|border[a-z-]*|outline[a-z-]*|scrollbar-[a-z-]*)\s*:\s*(.+?);"
    )
    for sheet in UI.rglob("*.tcss"):
        text = sheet.read_text()
        assert not re.search(r"#[0-9a-fA-F]{3,8}\s*[;\s]", text.replace("\n", " ;")), sheet
        assert "rgb(" not in text and "hsl(" not in text, sheet
        for line in text.splitlines():
            match = colour_props.match(line)
            if match and match.group(1) not in ("scrollbar-size",):
                value = match.group(2)
                assert "$" in value or value in ("none", "hidden"), f"{sheet}: {line.strip()}"


def test_variant_view_words_the_panel():
    state = LiveState(PLAN)
    state.apply_all(session_events())
    bf16 = variant_view(state, "bf16")
    assert bf16.title == "bf16" and bf16.subtitle == "m-bf16"
    assert bf16.state_class == "ready" and bf16.phase is None
    assert bf16.kv_text == " 50.0% of 1,024 tok" and bf16.kv_level == "ok"
    assert bf16.queue_text == "run 2 wait 1 preempt 2"
    assert bf16.over_slo and bf16.slo_line == "e2e"
    # A live window says its length in every form (it is not the step's p95).
    assert bf16.e2e_texts == (
        "E2E (last 30 s) p50 530 p95 933 ms ▲",
        "E2E (30 s) p50 530 p95 933 ms ▲",
        "E2E (30 s) p95 933 ms ▲",
    )
    assert bf16.tok_texts[0] == "tok/s (last 5 s) 18.0 · srv 40.0"
    # The request counts of its last step, from the step result (the CSV's requests, warmup, errors).
    assert bf16.step_texts == (
        "c=2: 5 measured · 0 warm-up · 1 err",
        "c=2: 5 measured · 0 warm-up",
        "c=2: 5 measured",
    )
    assert bf16.errors_text == "session errors: timeout_idle 1" and bf16.has_errors
    # Capacity from the decisions: c=1's 4 requests cannot decide "meets", so bf16 is undecided
    # there, with that step's interval (its top open: too few requests; widened, as so few requests
    # cannot measure correlation and a design effect of 2 is assumed), though c=2 breached.
    assert bf16.capacity_texts == (
        "holds none · undecided at 1: p95 e2e 257 ms [220–—] n=4",
        "holds none · undecided at 1: 257 [220–—]",
        "holds none · undecided at 1",
    )
    assert bf16.capacity_class == "undecided"
    assert bf16.decision_texts[0] == "c=2: p95 e2e 942 ms [850–—] n=5 · breaches"
    assert bf16.decision_texts[-1] == "c=2: breaches" and bf16.decision_class == "breaches"
    assert all("undecided" in t for t in bf16.capacity_texts)  # every form keeps the decision word
    assert all("breaches" in t for t in bf16.decision_texts)
    assert bf16.retired_text == "retired: slo at c=2"
    assert bf16.mem_text == "GPU —"
    state.apply(GpuSample(t=9.7, index=0, name="L4", mem_total_mib=23000, mem_used_mib=9000, util_pct=None,
                          power_w=None, processes=(GpuProcess(11, 3000), GpuProcess(12, 512.5))))  # fmt: skip
    assert variant_view(state, "bf16").mem_text == "GPU 3,512 MiB · pid 11: 3,000 · 12: 512"
    assert variant_view(state, "awq").mem_text == "GPU used 9,000 MiB / 22.46 GiB (all)"  # none of its pids
    state.apply(GpuUnavailable(t=9.7, reason="no NVML"))
    state.apply(ProcessSample(t=9.7, variant="awq", rss_mib=20_480, cpu_pct=None, pids=1))
    assert variant_view(state, "bf16").mem_text == "no GPU"
    assert variant_view(state, "awq").mem_text == "no GPU · RSS 20.00 GiB"
    lines = delta_lines(state)
    # The sweep is over: the ratios are the last level's step results, and say so.
    assert lines[:5] == ["awq vs bf16", "steps at c=2", "tok/s     ×1.92", "srv       —", "p95       ×0.32"]
    assert lines[8:] == [
        "capacity",
        " bf16 holds none",
        "  undecided at 1",
        " awq holds none",
        "  undecided at 1",
    ]
    assert all(len(line) <= 16 for line in lines)  # the strip is 16 cells wide on 80 columns
    assert delta_row(state).startswith(
        "awq/bf16 steps at c=2: tok/s ×1.92 · p95 ×0.32 · KV free 3,072 vs 512"
    )
    assert delta_row(state).endswith(" · awq undecided at 1 vs bf16 undecided at 1")


def test_a_stopped_engine_shows_no_live_value_and_a_stop_by_sigterm_is_no_failure():
    from quanttui.core.events import InstanceState
    from quanttui.session.wiring import echo_states
    from quanttui.ui.views import stop_detail

    state = LiveState(PLAN)
    state.apply_all(session_events())
    state.apply(ProcessSample(t=9.7, variant="bf16", rss_mib=2000, cpu_pct=194.0, pids=4))
    assert variant_view(state, "bf16").mem_text == "RSS 2,000 MiB · CPU 194% · 4 proc"
    state.apply(InstanceState(t=9.8, variant="bf16", state="stopped", detail="exit code -15"))
    bf16 = variant_view(state, "bf16")
    assert bf16.state_class == "stopped" and bf16.state_text == "● stopped · on SIGTERM (code -15)"
    assert bf16.mem_text == "RSS —" and bf16.kv_percent is None and bf16.kv_text == "— of 1,024 tok"
    assert bf16.queue_text == "run — wait — preempt 2"  # the session's count stays: it is no live value
    assert bf16.tok_texts[0] == "tok/s (last 5 s) — · srv —"
    assert bf16.e2e_texts[0] == "E2E (last 30 s) —" and not bf16.over_slo
    assert bf16.decision_texts[0].startswith("c=2: p95 e2e 942 ms")  # the step result stays
    lines = delta_lines(state)
    assert lines[6] == " bf16         —"  # its KV headroom is gone with it
    assert (stop_detail("exit code 0"), stop_detail("exit code -9")) == (
        "exit code 0",
        "killed after its grace period (SIGKILL, code -9)",
    )
    assert (
        stop_detail("exit code -2") == "by SIGINT (code -2)" and stop_detail("exit code 1") == "exit code 1"
    )
    said: list[str] = []  # the headless progress line words it the same way
    echo_states(lambda _event: None, said.append)(
        InstanceState(t=9.9, variant="gguf", state="stopped", detail="exit code -15")
    )
    assert said == ["[gguf] stopped: on SIGTERM (code -15)"]


def test_step_lines_word_the_decision_interval_and_a_busy_host():
    from dataclasses import replace

    from quanttui.core.loadplan import SloMetric
    from quanttui.ui.capacity_words import step_texts

    state = LiveState(PLAN)
    state.apply_all(session_events())
    row = replace(state.step_rows[("awq", 2)], host_busy=True)
    texts = step_texts(row, "c=2", SloMetric.E2E, now=True)
    assert texts[0] == "c=2 now: p95 e2e 300 ms [300–—] n=4 · undecided · busy host"
    assert texts[-1] == "c=2 now: undecided" and all("undecided" in t for t in texts)
    assert "c=2 now: undecided · busy host" in texts and "c=2 now: undecided · busy" in texts
    no_slo = replace(row, slo_decision=None, slo_percentile=None, slo_pct_ms=None, host_busy=None)
    assert step_texts(no_slo, "c=2", SloMetric.E2E, now=False)[0] == "c=2: p95 e2e 300 ms [300–—] n=4"
    assert step_texts(None, "c=8", SloMetric.E2E, now=True) == (
        "c=8 now: undecided · measuring",
        "c=8 now: undecided",
    )


def test_status_view_for_live_and_replay():
    state = LiveState(PLAN)
    live = status_view(state, "live", 75.2, paused=False, ramp_started=False)
    assert (live.mode, live.progress, live.slo) == ("LIVE", "1:15 · no step yet", "SLO p95 e2e 500 ms")
    assert live.flags == "press s to start the ramp" and live.capacity == "" and live.verdict == ""
    state.apply_all(session_events())
    replay = status_view(state, "replay", 0, paused=True, position=(9.6, 60.0, 0.0), dropped=3)
    assert replay.progress == "0:09/1:00 max · step 2/2 c=2"  # the ramp's level, not the step's number
    assert replay.flags == "PAUSED · sweep completed"
    assert replay.capacity == "◆ bf16 undecided at 1 · awq undecided at 1"
    assert replay.counters.endswith("· 3 dropped")
    assert replay.verdict.startswith("inconclusive at p95 e2e <= 500 ms: bf16 holds none, undecided at 1 (")
    assert "To decide: " in replay.verdict and not replay.verdict_decided  # the sweep has ended


def test_number_formats():
    assert (fmt.num(1234.5), fmt.num(1234.5, 1), fmt.num(None, width=3)) == ("1,234", "1,234.5", "  —")
    assert (fmt.ms(1350.4), fmt.ms(9.25), fmt.pct(0.123)) == ("1,350", "9.2", "12.3%")
    assert (fmt.clock(75), fmt.clock(3725), fmt.times(2.371)) == ("1:15", "1:02:05", "×2.37")
    assert (fmt.mib(812.4), fmt.mib(20_480)) == ("812 MiB", "20.00 GiB")


def test_plot_colours_keep_ansi_colours_as_names():
    assert plotext_colour("ansi_bright_cyan") == "cyan+"
    assert plotext_colour("ansi_red") == "red"
    assert plotext_colour("#5FA8F0") == (95, 168, 240)
    assert plotext_colour(None) == "default" and plotext_colour("nonsense") == "default"


def test_an_engine_without_metrics_says_so_instead_of_zeros():
    from quanttui.core.events import EndpointInfo, EngineSample, MetricsUnavailable

    state = LiveState(PLAN)
    state.apply_all(session_events())
    state.apply(EndpointInfo(t=9.7, variant="gguf", url="http://127.0.0.1:9", model="m", precision="gguf"))
    reason = "not exported by this engine (HTTP 404 from http://127.0.0.1:9/metrics)"
    state.apply(MetricsUnavailable(t=9.8, variant="gguf", reason=reason))
    gguf = variant_view(state, "gguf")
    assert gguf.kv_text == "not exported by this engine" and gguf.kv_percent is None
    assert gguf.queue_text == "run/wait not exported by this engine"
    assert gguf.state_text.endswith("· no /metrics") and "HTTP 404" not in gguf.state_text
    # a scrape that failed is not the same thing: its reason is shown as it is
    state.apply(MetricsUnavailable(t=9.9, variant="bf16", reason="timeout after 2 s (ReadTimeout)"))
    assert "/metrics: timeout after 2 s" in variant_view(state, "bf16").state_text
    state.apply(EngineSample(10.0, "gguf", 0.25, 1.0, 0.0, None, None, None))
    assert variant_view(state, "gguf").kv_text.startswith(" 25.0%")


def test_a_step_line_shows_goodput_when_the_slo_has_several_bounds():
    from dataclasses import replace

    from quanttui.core.capacity import VariantCapacity  # noqa: F401  (the vocabulary's home)
    from quanttui.core.loadplan import SloMetric
    from quanttui.core.stepstats import StepStats
    from quanttui.ui.capacity_words import step_texts

    base = StepStats(
        variant="a", precision="", step=0, conc=4, requests=64, ok=64, errors=0, error_rate=0.0, duration_s=10.0,
        output_tokens=640, tok_s=64.0, req_s=6.4, ttft_p50_ms=None, ttft_p95_ms=None, ttft_p99_ms=None,
        itl_p50_ms=None, itl_p95_ms=None, itl_p99_ms=None, tpot_p50_ms=None, tpot_p95_ms=None, p50_ms=None,
        p95_ms=900.0, p99_ms=None, kv_cache_peak=None, running_peak=None, waiting_peak=None, preemptions=None,
        server_tok_s=None, gpu_mem_peak_mib=None, tokens_estimated=0, slo_p95_ms=1000.0, slo_metric="e2e",
        slo_met=True, slo_decision="meets", slo_percentile=95.0, slo_pct_ms=900.0, slo_pct_ms_lo=880.0,
        slo_pct_ms_hi=950.0, goodput_req_s=5.5,
    )  # fmt: skip
    assert "goodput" not in step_texts(base, "c=4", SloMetric.E2E, now=False)[0]  # one bound: the p95 says it
    several = replace(base, bounds={"ttft_p95_decision": "meets"})
    assert step_texts(several, "c=4", SloMetric.E2E, now=False)[0].endswith("· meets · goodput 5.50 req/s")
