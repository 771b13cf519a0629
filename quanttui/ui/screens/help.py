"""The help screen: what each key does in this mode, and what the panels mean.

Its rows are made from the Binding objects the app and its screens use, worded by
`controls.help_text`, so a key cannot be listed that the console does not bind (and a bound key
of this mode cannot be missing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen

from quanttui.ui import controls
from quanttui.ui.widgets.text import LiteralLine

# First in the monitor's and the Compare screen's bindings: a narrow footer never cuts them.
HELP_AND_QUIT = [
    Binding("question_mark", "app.help", "Help", key_display="?"),
    Binding("q", "app.quit", "Quit"),
]


def help_rows(
    bindings: Iterable[Binding], mode: str, display: Callable[[Binding], str]
) -> list[tuple[str, str]]:
    """(keys as shown, what they do) for every binding that applies in `mode`, in binding order."""
    rows: list[tuple[str, str]] = []
    for binding in bindings:
        what = controls.help_text(binding.action, mode)
        if what is not None:
            keys = " ".join(display(Binding(key.strip(), binding.action)) for key in binding.key.split(","))
            rows.append((keys, what))
    return rows


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
    'loaded this machine (noise); "client-bound" = quanttui\'s own load client ran late or flat out, so its '
    "latencies may be overstated: run that step with fewer streams per load process (--load-workers N). "
    "↗ bends = where p95 starts to climb much faster: a shape, not a verdict. "
    "The line under the status line is the capacity sentence once every variant is decided, else "
    '"inconclusive" and what to run to decide.'
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(
        self,
        mode: str,
        keys: list[tuple[str, str]],
        compare_keys: list[tuple[str, str]],
        compute_keys: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(id="help")
        self.mode = mode
        self.keys = keys
        self.compare_keys = compare_keys
        self.compute_keys = compute_keys or []

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield LiteralLine(f"quanttui · {self.mode} keys", classes="help-title")
            yield from self._rows(self.keys)
            yield LiteralLine("Compare screen", classes="help-title")
            yield from self._rows(self.compare_keys)
            if self.compute_keys:
                yield LiteralLine("Compute screen", classes="help-title")
                yield from self._rows(self.compute_keys)
            yield LiteralLine(PANELS, classes="help-panels")
            yield LiteralLine(DECISIONS, classes="help-panels")

    def _rows(self, rows: list[tuple[str, str]]) -> ComposeResult:
        for key, what in rows:
            with Horizontal(classes="help-row"):
                yield LiteralLine(key, classes="help-key")
                yield LiteralLine(what, classes="help-what")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
