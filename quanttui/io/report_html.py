"""report.html: one self-contained page (charts inline as SVG, nothing fetched) and a PNG per chart.

The page is a Jinja template with autoescaping on: every string from a recording (variant names,
categories, model answers, tags) is escaped, and foreign text goes through `safe_text` first so
control characters and bidi overrides show as what they are. The report's words are the same
markdown the .md files hold, rendered by markdown-it with raw HTML, images and links off, so the
HTML and the markdown cannot disagree and no text from a recording can make the page fetch
anything or link anywhere (a `[text](url)` shows as written). A
Content-Security-Policy forbids any fetch or script even if something slipped through.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import jinja2
import markupsafe
from markdown_it import MarkdownIt

from quanttui import __version__
from quanttui.core.literal import safe_text
from quanttui.core.report_data import ReportData
from quanttui.io.chart_base import drawing, save_png
from quanttui.io.export import write_text_export
from quanttui.io.report_charts import draw_charts
from quanttui.io.report_palette import Palette

HTML_FILE = "report.html"
PNG_DIR = "charts"
TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates"
_HEADING = re.compile(r"^(#{1,5}) ", re.MULTILINE)


def markdown_html(text: str) -> str:
    """The report's markdown as HTML, one heading level down (the page has its own h1)."""
    renderer = (
        MarkdownIt("commonmark", {"html": False}).enable("table").disable(["image", "link", "autolink"])
    )
    return renderer.render(_HEADING.sub(r"#\1 ", text))


def page_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
    )
    env.finalize = _literal
    return env


def _literal(value: object) -> object:
    """Foreign text shown as it is: control characters made visible (autoescape then escapes it);
    markup the page made itself (the charts, the rendered markdown) passes untouched."""
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return safe_text(value, keep_newlines=True)
    return value


def render_report_html(
    data: ReportData, palette: Palette, out_dir: Path, source: str = "", png: bool = True
) -> Path:
    """Writes report.html (and charts/*.png unless `png` is off) into `out_dir`; returns the page."""
    with drawing():
        charts = draw_charts(data, palette)
        if png:
            (out_dir / PNG_DIR).mkdir(parents=True, exist_ok=True)
            for chart in charts:
                save_png(chart.figure, out_dir / PNG_DIR / f"{chart.name}.png")
    caps = data.capacities
    slo_text = f"p{data.percentile:g} {data.metric} <= {data.slo_ms:,.0f} ms" if data.slo_ms else "not set"
    no_verdict = "no step was measured" if not caps else "one variant only, so nothing to compare"
    page = page_environment().get_template("report.html.j2").render(
        data=data, palette=palette, charts=charts, version=__version__, source=source,
        page_title=f"quanttui report: {data.title}", slo_text=slo_text, png_dir=PNG_DIR,
        decided=all(c.decided for c in caps) and len(caps) >= 2, no_verdict=no_verdict,
        business_html=markdown_html(data.markdown.get("business_case", "")),
        capacity_html=markdown_html(data.markdown.get("capacity", "")),
        cost_html=markdown_html(data.markdown.get("cost", "")),
        compute_html=markdown_html(data.markdown["compute"]) if data.markdown.get("compute") else "",
    )  # fmt: skip
    path = out_dir / HTML_FILE
    write_whole(path, page)
    return path


def write_whole(path: Path, text: str) -> None:
    """The page appears whole or not at all: a reader never opens half a report (written beside,
    then renamed over the old one)."""
    partial = path.with_name(f".{path.name}.partial")
    write_text_export(partial, text)
    os.replace(partial, path)
