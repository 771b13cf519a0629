"""report.html and compare.html in a real browser: Debian's chromium, driven over the DevTools
protocol by Playwright (its own browsers are never downloaded; it launches /usr/bin/chromium).

Each page is opened from a file:// path as a reader would after scp: it must render with no console
error and fetch nothing, each chart must be on the screenshot (in the theme's colours, not pixel
for pixel), the verdict must be in the page's text, and hostile text from answers, tags and
categories must show as text, never run or fetch.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from quanttui.core.events import EndpointInfo, RequestResult, StepFinished, StepStarted, SweepFinished
from quanttui.core.loadplan import LoadPlan, Slo
from quanttui.core.recording import RecordingHeader
from quanttui.core.triage import Flag
from quanttui.core.triage_events import (
    TriageAnswer,
    TriageDivergence,
    TriagePrompt,
    TriageStarted,
    TriageTagged,
)
from quanttui.core.verdict import fold_verdict
from quanttui.io.recording_file import Recorder, fold_recording
from quanttui.io.report_palette import load_palette

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"
)
playwright = pytest.importorskip("playwright.sync_api")

RECORDINGS = Path(__file__).resolve().parents[2] / "recordings"
DEMO = RECORDINGS / "demo-vllm-cpu-bf16-awq.jsonl"
ALL = RECORDINGS / "demo-vllm-cpu-all.jsonl"
TRIAGE_ALL = RECORDINGS / "demo-vllm-cpu-triage-all.jsonl"
PROFILE = RECORDINGS / "demo-vllm-cpu-profile.jsonl"
# The held strings of the hardening tests (tests/core/test_catalog.py), and ones that would fetch.
HOSTILE = "a | b\nline two <script>alert(1)</script> ```x``` `````y [bold red]R[/] \x1b[31mred\x1b[0m é 雨"
FETCHING = (
    '<img src="http://127.0.0.1:9/img.png" onerror="alert(2)"> ![x](http://127.0.0.1:9/md.png) '
    "[click](https://evil.example/phish) <https://evil.example/auto>"
)


@dataclass
class Opened:
    text: str
    requests: list[str]
    problems: list[str]
    screenshot: Image.Image
    charts: dict[str, Image.Image] = field(default_factory=dict)
    scripts: int = 0
    images: int = 0
    links: list[str] = field(default_factory=list)  # every link leaving the page
    pdf_bytes: int = 0


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def open_page(browser, path: Path, pdf: bool = False) -> Opened:
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on(
        "console",
        lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
    charts = {}
    for figure in page.query_selector_all("figure[data-chart]"):
        charts[figure.get_attribute("data-chart")] = Image.open(io.BytesIO(figure.screenshot())).convert(
            "RGB"
        )
    opened = Opened(page.inner_text("body"), requests, problems, shot, charts,
                    page.evaluate("document.scripts.length"), page.evaluate("document.images.length"),
                    page.evaluate("[...document.links].map(a => a.href).filter(h => !h.startsWith('file:'))"))  # fmt: skip
    if pdf:
        opened.pdf_bytes = len(page.pdf(format="A4"))
    page.close()
    return opened


def quanttui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "quanttui", *args], capture_output=True, text=True, timeout=300
    )


def _hex(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def has_colour(image: Image.Image, colour: str, tolerance: int = 24, at_least: int = 30) -> bool:
    """At least `at_least` pixels within `tolerance` of the colour (anti-aliasing shifts edges)."""
    r, g, b = _hex(colour)
    found = 0
    for count, (pr, pg, pb) in image.getcolors(maxcolors=1 << 20) or []:
        if abs(pr - r) <= tolerance and abs(pg - g) <= tolerance and abs(pb - b) <= tolerance:
            found += count
    return found >= at_least


def test_the_report_of_the_shipped_demo_renders_offline_with_every_chart(browser, tmp_path):
    done = quanttui("report", str(DEMO), "--out", str(tmp_path), "--gpu-usd-per-hour", "0.85")
    assert done.returncode == 0, done.stderr
    opened = open_page(browser, tmp_path / "report.html", pdf=True)
    assert opened.problems == []
    assert opened.requests == [(tmp_path / "report.html").resolve().as_uri()]  # nothing fetched
    assert opened.scripts == 0
    expected = {"slo_vs_load", "throughput_vs_load", "latency_distributions", "kv_and_queue", "cost_at_slo"}
    assert set(opened.charts) == expected  # no memory chart: that recording has no memory samples
    palette = load_palette()
    for name, image in opened.charts.items():
        assert image.width > 600 and image.height > 150, name
        assert len(image.getcolors(maxcolors=1 << 20) or []) > 50, name  # drawn, not a blank box
        assert has_colour(image, palette.variants[0]) and has_colour(image, palette.variants[1]), name
    assert has_colour(opened.charts["slo_vs_load"], palette.slo_line)  # the SLO line
    # the verdict, word for word as the fold gives it
    verdict = fold_verdict(fold_recording(DEMO).fold)
    assert verdict.sentences and all(s in opened.text for s in verdict.sentences)
    assert "The INT4 business case" in opened.text and "Cost model" in opened.text
    assert opened.pdf_bytes > 50_000  # printable: chromium lays it out on A4
    for name in expected:  # a PNG per chart, for slides, drawn without a browser
        png = Image.open(tmp_path / "charts" / f"{name}.png")
        assert png.format == "PNG" and png.width >= 1000


def test_the_four_variant_report_draws_memory_triage_and_compute(browser, tmp_path):
    done = quanttui("report", str(ALL), "--triage", str(TRIAGE_ALL), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    opened = open_page(browser, tmp_path / "report.html")
    assert opened.problems == [] and len(opened.requests) == 1
    assert {"memory", "triage_flags", "kv_and_queue"} <= set(opened.charts)
    palette = load_palette()
    for index in range(4):  # four variants, four theme colours
        assert has_colour(opened.charts["memory"], palette.variants[index]), index
    assert "The three most telling examples" in opened.text and "mean KL" in opened.text
    assert "host memory" in opened.text  # no GPU: said, not passed off as GPU memory
    profiled = quanttui("report", str(PROFILE), "--out", str(tmp_path / "profile"))
    assert profiled.returncode == 0, profiled.stderr
    page = open_page(browser, tmp_path / "profile" / "report.html")
    assert "compute_decode" in page.charts and "Compute graphs" in page.text
    assert has_colour(page.charts["compute_decode"], palette.compute["compute-gemm"])


def hostile_recording(path: Path) -> None:
    plan = LoadPlan(concurrencies=(1,), requests_per_step=1, slo=Slo(1000.0))
    header = RecordingHeader(started_utc="2026-12-05T00:00:00+00:00", quanttui="0",
                             config={"plan": plan.to_dict(), "prompts": FETCHING})  # fmt: skip
    category = f"cat {FETCHING}"
    events = [
        EndpointInfo(t=0.0, variant="bf16", url="http://127.0.0.1:1", model=HOSTILE, precision="bf16"),
        EndpointInfo(t=0.0, variant="awq", url="http://127.0.0.1:2", model="m", precision="awq"),
        StepStarted(t=0.2, step=0, concurrency=1, requests=1, seconds=None, warmup_requests=0, variants=("bf16", "awq")),
        RequestResult(t=0.5, variant="bf16", step=0, index=0, warmup=False, start=0.2, ok=True, ttft=0.1, e2e=0.3,
                      itl_us=(1000, 2000), output_tokens=3),
        RequestResult(t=0.6, variant="awq", step=0, index=0, warmup=False, start=0.2, ok=False, error="http",
                      http_status=500, error_detail=HOSTILE),
        StepFinished(t=0.7, step=0),
        TriageStarted(t=1.0, quality_set="q", prompts=1, variants=("bf16", "awq"), reference="bf16", top_logprobs=5),
        TriagePrompt(t=1.1, prompt_id="p1", category=category, messages=(("user", f"q {HOSTILE} {FETCHING}"),)),
        TriageAnswer(t=1.2, prompt_id="p1", variant="bf16", text=f"answer {HOSTILE}"),
        TriageAnswer(t=1.3, prompt_id="p1", variant="awq", text=f"{FETCHING} {HOSTILE}",
                     flags=(Flag("repetition", HOSTILE),)),
        TriageDivergence(t=1.4, prompt_id="p1", variant="awq", reference="bf16", positions=3, mean_kl=0.5,
                         top1_agreement=0.5),
        TriageTagged(t=1.5, prompt_id="p1", variant="awq", verdict="wrong", symptom=FETCHING, notes=HOSTILE),
        SweepFinished(t=2.0, reason="completed"),
    ]  # fmt: skip
    recorder = Recorder(path, header)
    recorder.open()
    recorder.write_batch(events)
    recorder.close()


def test_hostile_text_shows_as_text_and_fetches_nothing(browser, tmp_path):
    recording = tmp_path / "run" / "recording.jsonl"
    hostile_recording(recording)
    done = quanttui("report", str(recording), "--out", str(tmp_path / "rep"))
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "<script>alert" not in html and '<img src="http' not in html and "\x1b" not in html
    opened = open_page(browser, tmp_path / "rep" / "report.html")
    assert opened.problems == []  # no alert ran, no blocked fetch complained
    assert len(opened.requests) == 1 and opened.scripts == 0 and opened.images == 0
    assert opened.links == []  # the markdown's links are off: "[click](https://...)" shows as written
    assert "[click](https://evil.example/phish) <https://evil.example/auto>" in opened.text
    # shown literally: tags, brackets and markup as text; terminal escapes dropped (core/literal.py)
    assert "line two <script>alert(1)</script>" in opened.text
    assert '<img src="http://127.0.0.1:9/img.png" onerror="alert(2)">' in opened.text
    assert "cat <img" in opened.text  # the category, in the triage table and the example
    assert "```x``` `````y [bold red]R[/] red é 雨" in opened.text and "\x1b" not in opened.text


def test_compare_of_the_two_shipped_demo_runs(browser, tmp_path):
    rerun = RECORDINGS / "demo-vllm-cpu-rerun.jsonl"
    done = quanttui("compare", str(DEMO), str(rerun), "--out", str(tmp_path / "same"),
                    "--label", "first", "--label", "rerun", "--gpu-usd-per-hour", "0.85")  # fmt: skip
    assert done.returncode == 0, done.stderr
    opened = open_page(browser, tmp_path / "same" / "compare.html")
    assert opened.problems == [] and len(opened.requests) == 1
    assert set(opened.charts) == {"compare_slo_vs_load", "compare_throughput_vs_load", "compare_cost_vs_load"}
    # same settings, and every capacity and common step's interval overlaps: "do not differ"
    assert "Settings differ" not in opened.text
    assert (
        "first: bf16 on this CPU (no GPU) holds none (undecided above) for $0.85/h; rerun: bf16 on this CPU "
        "(no GPU) holds none (undecided above) for $0.85/h: their capacities do not differ"
    ) in opened.text
    assert (
        "their capacities do not differ" in opened.text
        and "do not differ (the 95 % intervals overlap)" in opened.text
    )
    # different settings are flagged, not silently compared
    flagged = quanttui("compare", str(DEMO), str(ALL), "--out", str(tmp_path / "differ"))
    assert flagged.returncode == 0, flagged.stderr
    markdown = (tmp_path / "differ" / "compare.md").read_text()
    assert "| SLO | p95 e2e <= 8,000 ms | p95 e2e <= 12,000 ms |" in markdown
    assert "| output tokens | 96 (ignore_eos) | 48 (ignore_eos) |" in markdown
    assert (
        markdown.count("Settings differ (SLO, output tokens): not a like-for-like comparison.") == 8
    )  # 2 x 4 pairs
