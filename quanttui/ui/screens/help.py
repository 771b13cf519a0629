"""The help screen: what each key does in this mode, and what the panels mean."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen

from quanttui.ui.widgets.text import LiteralLine

KEYS = {
    "live": [
        ("s", "start the ramp"),
        ("p", "pause / resume the ramp (in-flight requests finish)"),
        ("x", "stop the ramp (engines keep running until you quit)"),
        ("+ / -", "step concurrency up / down"),
        ("l", "set the p95 SLO (ms)"),
        ("R", "restart engines that failed or stopped (they rejoin at the next step)"),
    ],
    "replay": [
        ("space", "pause / resume playback"),
        (". or n", "one step forward while paused"),
        ("← / →", "seek 10 s back / forward"),
        ("[ / ]", "slower / faster"),
    ],
    "both": [
        ("c", "Compare: answers side by side (j/k prompts, o/t tag, d/f/u filters, e export, r run)"),
        ("?", "this help (esc closes it)"),
        ("ctrl+p", "command palette: themes, export summary + sweep.csv, screenshot"),
        ("q", "quit (a live session stops its engines first; q again forces)"),
    ],
}

PANELS = (
    "Columns: engine state and start-up phases, GPU memory of the engine's processes (or process RSS "
    "when there is no GPU), KV-cache usage of its capacity, running / waiting / preemptions, client tok/s "
    "(tokens as they streamed, 5 s mean) and the server's own generation rate, TTFT and E2E p50/p95 over the "
    "last 30 s (▲ = over the SLO), errors by class. ◆ knee = first step whose p95 went over the SLO. "
    "The strip between the columns compares each variant with the first."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(self, mode: str) -> None:
        super().__init__(id="help")
        self.mode = mode

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield LiteralLine(f"quanttui · {self.mode} keys", classes="help-title")
            for key, what in KEYS[self.mode] + KEYS["both"]:
                with Horizontal(classes="help-row"):
                    yield LiteralLine(key, classes="help-key")
                    yield LiteralLine(what, classes="help-what")
            yield LiteralLine(PANELS, classes="help-panels")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
