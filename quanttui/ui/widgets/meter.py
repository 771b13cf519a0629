"""A one-line meter (KV usage, start-up phases) drawn from its current size at every render.

Textual's ProgressBar quantises its value against the width it had when the value was set, so
the same value can draw differently depending on layout timing; a meter that computes its cells
when it renders always draws the same value the same way (snapshots stay stable).
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


class Meter(Widget):
    """`fraction` (0..1) of the width filled; colours from the `meter--fill` / `meter--track` rules."""

    COMPONENT_CLASSES = {"meter--fill", "meter--track"}
    fraction: reactive[float] = reactive(0.0)

    def render(self) -> Text:
        width = self.size.width
        cells = round(max(0.0, min(1.0, self.fraction)) * width * 2) / 2
        full = int(cells)
        fill = "━" * full + ("╸" if cells - full else "")
        return Text.assemble(
            (fill, self.get_component_rich_style("meter--fill")),
            ("━" * (width - len(fill)), self.get_component_rich_style("meter--track")),
        )
