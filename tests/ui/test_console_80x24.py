"""80x24 is a first-class size (issue 15), on the shipped real recordings: 2 variants side by side
and 4 two to a row; the body scrolls with the keyboard to what is below the fold (retired lines,
the delta rows); the roofline's number is never cut; plots and log panes give way to a one-line
log ticker, `L` shows the panes, which fold vLLM's prefix and leave out (and count) quanttui's
own /metrics scrapes. Snapshots of the same screens: tests/ui/test_console_snapshots_80x24.py."""

from __future__ import annotations

import json
from pathlib import Path

from console_helpers import replay_app, settle, wait_until
from rich.cells import cell_len

from quanttui.core.log_view import is_scrape_line
from quanttui.ui.run import finish_session
from quanttui.ui.widgets.logs import LogPane, LogTicker
from quanttui.ui.widgets.text import LiteralLine
from quanttui.ui.widgets.variant import VariantColumn

RECORDINGS = Path(__file__).parents[2] / "recordings"
TWO = RECORDINGS / "demo-vllm-cpu-bf16-awq.jsonl"
FOUR = RECORDINGS / "demo-vllm-cpu-all.jsonl"


def scrapes_in(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        event = json.loads(line)
        if event.get("type") == "LogLine" and is_scrape_line(event["line"]):
            counts[event["variant"]] = counts.get(event["variant"], 0) + 1
    return counts


def within(widget, body) -> bool:
    """The widget is inside the body's visible region (not scrolled out of it)."""
    return body.region.y <= widget.region.y and widget.region.bottom <= body.region.bottom


async def test_four_variants_at_80x24_scroll_with_the_keyboard_and_keep_the_roofline_number(tmp_path):
    app = replay_app(tmp_path, FOUR)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot, timeout=60)
            screen, body = app.screen, app.screen.query_one("#body")
            columns = {c.variant: c for c in screen.query(VariantColumn)}
            assert list(columns) == ["bf16", "awq", "gptq", "gguf"]
            assert len({c.region.y for c in columns.values()}) == 2  # two to a row
            retired = columns["gptq"].query_one(".retired-line", LiteralLine)
            assert retired.display and retired.value == "retired: slo at c=1"
            assert body.max_scroll_y > 0 and body.scroll_y == 0 and not within(retired, body)
            await pilot.press("end")
            await wait_until(pilot, lambda: body.scroll_y == body.max_scroll_y, what="the end of the body")
            await pilot.pause()
            assert within(retired, body)
            await pilot.press("home")
            await wait_until(pilot, lambda: body.scroll_y == 0, what="the top")
            await pilot.press("pagedown")
            await wait_until(pilot, lambda: body.scroll_y > 0, what="a page down")
            await pilot.press("up")
            await wait_until(pilot, lambda: 0 < body.scroll_y < body.max_scroll_y, what="a line up")
            for column in columns.values():  # the number is never cut, however narrow the column
                roof = column.query_one(".roof-line", LiteralLine)
                number = roof.value.partition(" [")[0]
                assert number.startswith("roofline ") and "% of " in number and "tok/s bound" in number
                assert cell_len(number) <= roof.content_size.width
    finally:
        await finish_session(app, grace_s=10)


async def test_logs_at_80x24_a_ticker_then_the_panes_folded_without_scrapes(tmp_path):
    app = replay_app(tmp_path, TWO)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot, timeout=60)
            screen = app.screen
            ticker = screen.query_one(LogTicker)
            assert ticker.display and not screen.query_one("#logs").display
            assert not screen.query_one("#plots").display
            assert ticker.value.split(" │ ")[0] in ("bf16", "awq") and "GET /metrics" not in ticker.value
            await pilot.press("L")
            await wait_until(pilot, lambda: screen.query_one("#logs").display, what="the log panes")
            await pilot.pause()
            assert not ticker.display and not screen.query_one("#columns").display
            panes = {p.variant: p for p in screen.query(LogPane)}
            expected = scrapes_in(TWO)
            assert set(expected) == {"bf16", "awq"} and min(expected.values()) > 10
            for name, pane in panes.items():
                assert pane.region.height > 12  # the body, not a 4-line strip
                assert pane.border_subtitle == f"{expected[name]:,} /metrics lines hidden"
                texts = pane.texts
                assert texts and not any("GET /metrics" in t for t in texts)
                assert not any(t.startswith("(APIServer pid=") for t in texts)
                assert any(t.startswith("I ") and t[2:10].count(":") == 2 for t in texts)  # "I 22:23:45 ..."
            pane = panes["bf16"]
            await pilot.press("home")  # scrolling up stops following new lines; end follows again
            await wait_until(pilot, lambda: pane.scroll_y == 0, what="the panes at their top")
            assert not pane.auto_scroll
            await pilot.press("end")
            await wait_until(pilot, lambda: pane.scroll_y == pane.max_scroll_y, what="the panes at the end")
            assert pane.auto_scroll
            await pilot.press("L")
            await wait_until(pilot, lambda: ticker.display, what="the ticker again")
            assert screen.query_one("#columns").display and not screen.query_one("#logs").display
    finally:
        await finish_session(app, grace_s=10)


async def test_two_variants_at_80x24_side_by_side_with_nothing_cut(tmp_path):
    app = replay_app(tmp_path, TWO)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot, timeout=60)
            columns = list(app.screen.query(VariantColumn))
            assert [c.variant for c in columns] == ["bf16", "awq"] and columns[0].region.y == columns[
                1
            ].region.y
            for column in columns:
                for line in column.query(LiteralLine):
                    if line.display and line.has_class("roof-line"):
                        assert cell_len(line.value.partition(" [")[0]) <= line.content_size.width
    finally:
        await finish_session(app, grace_s=10)
