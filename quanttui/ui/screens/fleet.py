"""The Fleet screen: a fleet's replicas side by side, under the variant's panel (issue 21).

The monitor shows each fleet as one engine (its replicas' queues and throughput summed by the
fold); `F` opens this drill-down: per replica, whether the balancer still sends to it (and why
not), its requests and share, errors, p95 E2E and TTFT over the console's window, output tok/s,
KV cache and queue. Drawn from `LiveState.fleet` (core/live_fleet.py); URLs and reasons come from
the network and the servers, so they are shown literally (`safe_text`, `rich.text.Text`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from quanttui.core.live import LiveState
from quanttui.core.live_fleet import ReplicaView
from quanttui.ui.format import DASH
from quanttui.ui.screens.help import HELP_AND_QUIT
from quanttui.ui.widgets.footer import FooterOrder, KeyFooter
from quanttui.ui.widgets.text import LiteralLine


def _ms(value: float | None) -> str:
    return DASH if value is None else f"{value:,.0f}"


def _num(value: float | None, digits: int = 0) -> str:
    return DASH if value is None else f"{value:,.{digits}f}"


# The columns after a replica's label: (heading, width), each right-aligned but the state.
COLUMNS = (("state", 8), ("req", 6), ("share", 6), ("err", 5), ("e2e p95", 8), ("ttft95", 7),
           ("tok/s", 7), ("KV", 5), ("run/wt", 7))  # fmt: skip
FIXED_CELLS = 1 + sum(width for _, width in COLUMNS)


def replica_line(r: ReplicaView, label_cells: int) -> str:
    """One replica's row under `header_line`."""
    cells = (
        "serving" if r.serving else "OUT",
        str(r.requests),
        DASH if r.share is None else f"{r.share:.0%}",
        str(r.errors),
        _ms(r.e2e_p95_ms),
        _ms(r.ttft_p95_ms),
        _num(r.tok_s, 1),
        DASH if r.kv_pct is None else f"{r.kv_pct:.0f}%",
        f"{_num(r.running)}/{_num(r.waiting)}",
    )
    return _row(r.label, cells, label_cells)


def header_line(label_cells: int) -> str:
    return _row("replica", tuple(name for name, _ in COLUMNS), label_cells)


def _row(label: str, cells: tuple[str, ...], label_cells: int) -> str:
    out = f" {label[:label_cells]:<{label_cells}} {cells[0]:<{COLUMNS[0][1] - 1}}"
    return out + "".join(f"{cell:>{width}}" for cell, (_, width) in zip(cells[1:], COLUMNS[1:], strict=True))


class FleetScreen(FooterOrder, Screen[None]):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"fleet--heading", "fleet--muted", "fleet--out"}
    BINDINGS = [replace(b, priority=True) for b in [
        *HELP_AND_QUIT,
        Binding("escape,F", "close_fleet", "Back", key_display="esc"),
    ]]  # fmt: skip

    def __init__(self, state: LiveState) -> None:
        super().__init__(id="fleet")
        self.state = state
        self._shown: tuple[int, int, str] | None = None
        self._composed = False

    def compose(self) -> ComposeResult:
        yield LiteralLine("", id="fleet-header")
        with VerticalScroll(id="fleet-body"):
            yield Static("", id="fleet-text")
        yield KeyFooter()

    def on_mount(self) -> None:
        self._composed = True
        self.show_state(force=True)

    def on_resize(self) -> None:
        self.show_state(force=True)

    def show_state(self, force: bool = False) -> None:
        if not (self._composed and self.is_attached and self in self.app.screen_stack):
            return
        key = (self.state.version, self.size.width, self.app.theme)
        if not force and key == self._shown:
            return
        self._shown = key
        fleets = [name for name in self.state.names() if self.state.fleet.is_fleet(name)]
        out = sum(n - s for s, n in (self.state.fleet.serving(name) for name in fleets))
        words = f"{len(fleets)} fleet{'s' if len(fleets) != 1 else ''}" if fleets else "no fleet"
        header = f" FLEET  {words}" + (f", {out} replica{'s' if out != 1 else ''} out" if out else "")
        self.query_one("#fleet-header", LiteralLine).show(header)
        self.query_one("#fleet-text", Static).update(self._body(fleets))

    def _balance(self, name: str) -> str:
        app: Any = self.app
        for entry in app.info.header.config.get("endpoints") or []:
            if (
                isinstance(entry, dict)
                and entry.get("name") == name
                and isinstance(entry.get("balance"), str)
            ):
                return f", {entry['balance']}"
        return ""

    def _body(self, fleets: list[str]) -> Text:
        heading = self.get_component_rich_style("fleet--heading", partial=True)
        muted = self.get_component_rich_style("fleet--muted", partial=True)
        out_style = self.get_component_rich_style("fleet--out", partial=True)
        text = Text()
        if not fleets:
            text.append(
                "No variant here is a fleet. Give a variant several replicas to see each one here:\n"
                "  --endpoint awq=http://10.0.0.7:8000,http://10.0.0.8:8000 (--balance awq=least-outstanding)\n",
                muted,
            )
            return text
        state = self.state
        body = self.query_one("#fleet-body").scrollable_content_region.width or self.size.width - 2
        cells = max(12, min(40, body - FIXED_CELLS - 2))
        for name in fleets:
            serving, total = state.fleet.serving(name)
            text.append(f"{name}: {total} replicas, {serving} serving{self._balance(name)}\n", heading)
            text.append(header_line(cells) + "\n", muted)
            for r in state.fleet.views(name, state.now, state.rate_s):
                text.append(replica_line(r, cells) + "\n", out_style if not r.serving else "")
                if r.detail:
                    text.append(f"   {'out' if not r.serving else 'note'}: {r.detail}\n", muted)
                if r.errors_text:
                    text.append(f"   errors: {r.errors_text}\n", muted)
                if r.metrics_problem:
                    text.append(f"   /metrics: {r.metrics_problem}\n", muted)
            text.append("\n")
        text.append(
            f"p95 over the last {state.window_s:g} s of each replica's answers; tok/s over the last "
            f"{state.rate_s} s; KV and run/wait from its own /metrics. The panels show each fleet as one engine.\n",
            muted,
        )
        return text

    def action_close_fleet(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
