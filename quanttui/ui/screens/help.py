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
    "last 30 s (▲ = that reading is over the SLO: a reading, not a decision), errors by class. "
    "The strip between the columns compares each variant with the first."
)
DECISIONS = (
    "Capacity, from each step's SLO decision at the plan's confidence (the same words as the report): "
    '"holds 4" = every step up to c=4 was decided to meet the SLO; "breaches at 8" = at c=8 the SLO\'s '
    'percentile was decided to be over it (only a decided breach retires a variant); "undecided at 8" = '
    "its interval still straddles the SLO, so the capacity above what it holds is inconclusive (run that "
    'step longer or with more trials); "holds ≥ 8 (limit not reached)" = every step met, the limit is '
    'higher. The step line reads "c=8 now: p95 e2e 1,234 ms [1,100–1,420] n=37 · undecided": the step in '
    "progress, its percentile so far, the two-sided interval of that percentile ([low–high]; — = an end "
    "too few requests can bound), the measured requests (warm-up excluded) and the decision so far; "
    'after the step it shows the last finished step. "busy host" = the step ran while other processes '
    "loaded this machine (noise). ↗ bends = where p95 starts to climb much faster: a shape, not a verdict. "
    "The line under the status line is the capacity sentence once every variant is decided, else "
    '"inconclusive" and what to run to decide.'
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
            yield LiteralLine(DECISIONS, classes="help-panels")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
