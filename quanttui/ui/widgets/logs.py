"""The engines' logs: a pane per variant, and a one-line ticker where the panes do not fit.

Lines are shown literally (never as markup or escapes), with vLLM's prefix folded to the level's
initial and the time (core/log_view.py); quanttui's own /metrics scrape lines are left out and
counted in the pane's subtitle.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.widgets import RichLog

from quanttui.core.live_variant import VariantLive
from quanttui.core.log_view import fold_line
from quanttui.ui.widgets.text import LiteralLine


def hidden_text(v: VariantLive) -> str:
    return f"{v.scrape_lines:,} /metrics lines hidden" if v.scrape_lines else ""


class LogPane(RichLog, can_focus=False):
    """Appends what arrived since the last frame; the keyboard stays with the console's keys
    (the monitor scrolls the panes)."""

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
        subtitle = hidden_text(v)
        if subtitle != self.border_subtitle:
            self.border_subtitle = subtitle
        new = v.log_count - self._seen
        if new <= 0:
            return
        entries = list(v.logs)[-min(new, len(v.logs)) :]
        for entry in entries:
            self.write(Text(fold_line(entry.text), style="italic" if entry.stream == "stderr" else ""))
        self._seen = v.log_count

    @property
    def texts(self) -> list[str]:
        """The lines shown (for tests and screenshots)."""
        return [strip.text.rstrip() for strip in self.lines]


class LogTicker(LiteralLine):
    """The newest log line of any engine, named by its variant (small terminals: the panes are
    one key away)."""

    def follow(self, variants: Mapping[str, VariantLive]) -> None:
        newest: tuple[float, str, str] | None = None
        for name, v in variants.items():
            if v.logs and (newest is None or v.logs[-1].t >= newest[0]):
                newest = (v.logs[-1].t, name, v.logs[-1].text)
        hidden = sum(v.scrape_lines for v in variants.values())
        if newest is None:
            self.show(f"no engine log yet · L logs{f' · {hidden:,} /metrics lines hidden' if hidden else ''}")
        else:
            self.show(f"{newest[1]} │ {fold_line(newest[2])}")
