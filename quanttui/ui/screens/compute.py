"""The Compute screen: where each variant's step time goes, side by side (issue 18).

Drawn from the fold's profiles (`LiveState.fold.compute`), so a live session, a replay and the
report show the same numbers: per phase, one stacked bar per variant on one scale, the top ops with
each variant's ms per step (an op whose time differs, or that one variant does not run, is
marked), each step's duration in order, and the findings `compute_graphs.md` writes. `r` profiles
the variants of a live session (the ramp pauses meanwhile); `tab` turns to the next phase.
Op names come from trace files: shown literally (`safe_text`, `rich.text.Text`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color, ColorParseError
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from quanttui.core.compute_words import bullets
from quanttui.core.literal import safe_text
from quanttui.core.live import LiveState
from quanttui.ui.compute_view import (
    CATEGORY_LOOK,
    Segment,
    legend,
    phases_of,
    spark,
    stacked_bar,
    status_line,
    top_rows,
)
from quanttui.ui.screens.help import HELP_AND_QUIT
from quanttui.ui.widgets.footer import FooterOrder, KeyFooter
from quanttui.ui.widgets.text import LiteralLine

NAME_CELLS = 8  # a variant's name column at least; up to 20 when a name is longer


def name_cells(names: list[str]) -> int:
    return min(20, max([NAME_CELLS, *(len(n) for n in names)]))


class ComputeScreen(FooterOrder, Screen[None]):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"compute--differs", "compute--heading", "compute--muted"}
    BINDINGS = [replace(b, priority=True) for b in [
        *HELP_AND_QUIT,
        Binding("r", "profile", "Profile"),
        Binding("tab", "next_phase", "Phase"),
        Binding("escape,g", "close_compute", "Back", key_display="esc"),
    ]]  # fmt: skip

    def __init__(self, state: LiveState) -> None:
        super().__init__(id="compute")
        self.state = state
        self.phase_index = 0
        self._shown: tuple[int, int, int, str] | None = None
        self._composed = False

    def compose(self) -> ComposeResult:
        yield LiteralLine("", id="cpu-header")
        with VerticalScroll(id="cpu-body"):
            yield Static("", id="cpu-text")
        yield KeyFooter()

    def on_mount(self) -> None:
        self._composed = True
        self.show_state(force=True)

    def on_resize(self) -> None:
        self.show_state(force=True)

    # -- drawing -------------------------------------------------------------------------------
    def _can_profile(self) -> bool:
        app: Any = self.app
        return bool(app.info.can_profile) and app.mode == "live"

    def _variant_order(self) -> tuple[str, ...]:
        return tuple(self.state.fold.aggregator.variants) or tuple(self.state.names())

    def show_state(self, force: bool = False) -> None:
        if not (self._composed and self.is_attached and self in self.app.screen_stack):
            return
        compute = self.state.fold.compute
        key = (compute.version, self.phase_index, self.size.width, self.app.theme)
        if not force and key == self._shown:
            return
        self._shown = key
        order = self._variant_order()
        asked = len(set(order) | set(compute.profiles) | set(compute.unavailable))
        header = f" COMPUTE  {safe_text(status_line(compute, self._can_profile(), asked))}"
        self.query_one("#cpu-header", LiteralLine).show(header)
        self.query_one("#cpu-text", Static).update(self._body())

    def _colour(self, variable: str) -> Style:
        value = self.app.theme_variables.get(variable)
        try:
            return Style(color=Color.parse(value).rich_color) if value else Style()
        except ColorParseError:
            return Style()

    def _segments(self, text: Text, segments: list[Segment]) -> None:
        for s in segments:
            style = self._colour(CATEGORY_LOOK[s.category][0]) if s.category else Style()
            text.append(s.text, style)

    def _body(self) -> Text:
        compute = self.state.fold.compute
        variants = compute.variants(self._variant_order())
        heading = self.get_component_rich_style("compute--heading", partial=True)
        muted = self.get_component_rich_style("compute--muted", partial=True)
        text = Text()
        for name in compute.unavailable:
            text.append(f"{safe_text(name)}: ", heading)
            text.append(safe_text(compute.problem(name) or "") + "\n")
        phases = phases_of(variants)
        if not phases:
            return text
        phase = phases[self.phase_index % len(phases)]
        body = self.query_one("#cpu-body").scrollable_content_region.width or self.size.width - 4
        cells = name_cells([v.variant for v in variants])
        # " name  12345.6 ms " before the bar, and room for the scrollbar the body may grow
        width = max(10, body - cells - 17)
        shown = [(v, v.profile.phase(phase)) for v in variants]
        shown = [(v, p) for v, p in shown if p is not None]
        scale = max(p.step_ms_mean for _, p in shown)
        others = f"  (tab: {', '.join(p for p in phases if p != phase)})" if len(phases) > 1 else ""
        text.append(f"{phase.capitalize()} step: where the time goes (bars on one scale){others}\n", heading)
        for v, p in shown:
            text.append(f" {safe_text(v.variant)[:cells]:<{cells}} {p.step_ms_mean:8.1f} ms ")
            self._segments(text, stacked_bar(p, width, scale))
            text.append("\n")
        text.append(" ")
        self._segments(text, legend(variants, phase))
        text.append("\n\n")
        names = [safe_text(v.variant) for v, _ in shown]
        col = min(16, max(10, *(len(n) + 1 for n in names)))
        name_w = max(16, min(39, body - col * len(names) - 4))
        text.append(
            f"{'Top ops, ms per step':<{name_w + 1}}"
            + "".join(f"{n[: col - 1]:>{col}}" for n in names)
            + "\n",
            heading,
        )
        for row in top_rows([v for v, _ in shown], phase):
            line = f" {safe_text(row.name)[: name_w - 1]:<{name_w}}" + "".join(
                f"{row.cell(i):>{col}}" for i in range(len(row.ms_per_step))
            )
            if row.differs:
                text.append(line + "  ◆\n", self.get_component_rich_style("compute--differs", partial=True))
            else:
                text.append(line + "\n")
        text.append(
            " ◆ differs by over 25 % and 2 % of the step, or runs in one only · <x: under its top 15\n\n",
            muted,
        )
        top = max(max(p.step_ms) for _, p in shown if p.step_ms) if any(p.step_ms for _, p in shown) else 0.0
        if top:
            text.append(f"Each {phase} step in order (0-{top:.0f} ms), and its gaps\n", heading)
            strip = max(10, body - cells - 22)  # "  p50 1234.5 ms" after it
            for v, p in shown:
                text.append(f" {safe_text(v.variant)[:cells]:<{cells}} ")
                text.append(spark(p.step_ms, strip, top))
                text.append(f"  p50 {p.step_ms_p50:.1f} ms\n")
                text.append(f" {'gaps':<{cells}} ", muted)
                text.append(
                    spark(p.step_gap_ms, strip, top), self._colour(CATEGORY_LOOK["gaps (no op running)"][0])
                )
                text.append(f"  {p.gap_share:.0%} of the step\n", muted)
            text.append("\n")
        text.append("What it says (decode steps)\n", heading)
        for line in bullets(variants):
            text.append(f" • {safe_text(line)}\n")
        return text

    # -- keys ----------------------------------------------------------------------------------
    def action_profile(self) -> None:
        app: Any = self.app
        compute = self.state.fold.compute
        if not self._can_profile():
            self.notify(
                "nothing to profile here: a replay shows the profiles it recorded", severity="warning"
            )
            return
        if compute.running is not None:
            self.notify("a profile is running: its results appear here when it ends", severity="warning")
            return
        if not self.state.fold.aggregator.variants:
            self.notify("no engine is ready yet: profile once they serve", severity="warning")
            return
        app.profile_variants()
        self.notify("profiling one generation per variant; a running ramp pauses until it ends")

    def action_next_phase(self) -> None:
        self.phase_index += 1
        self.show_state(force=True)

    def action_close_compute(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
