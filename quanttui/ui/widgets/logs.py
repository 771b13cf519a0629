"""A variant's engine log: the newest lines, shown literally (never as markup or escapes)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from quanttui.core.live_variant import VariantLive


class LogPane(RichLog, can_focus=False):
    """Appends what arrived since the last frame; the keyboard stays with the console's keys."""

    def __init__(self, name: str, index: int, max_lines: int = 200) -> None:
        super().__init__(
            id=f"log-{index}", classes=f"log-pane -v{index % 4 + 1}", max_lines=max_lines, min_width=10, markup=False,
            highlight=False, wrap=False,
        )  # fmt: skip
        self.variant = name
        self.border_title = f"{name} log"
        self._seen = 0
        self._resets = 0

    def follow(self, v: VariantLive, resets: int) -> None:
        if resets != self._resets:
            self._resets, self._seen = resets, 0
            self.clear()
        new = v.log_count - self._seen
        if new <= 0:
            return
        entries = list(v.logs)[-min(new, len(v.logs)) :]
        for entry in entries:
            self.write(Text(entry.text, style="italic" if entry.stream == "stderr" else ""))
        self._seen = v.log_count

    @property
    def texts(self) -> list[str]:
        """The lines shown (for tests and screenshots)."""
        return [strip.text.rstrip() for strip in self.lines]
