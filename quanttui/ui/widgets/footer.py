"""The key footer, fitted to the terminal's width: compact below 120 columns, and without the
palette key below 100 (the help lists ctrl+p), so an 80-column footer keeps every key of its
screen, Help and Quit first."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.binding import Binding
from textual.widgets import Footer

COMPACT_BELOW = 120  # columns
PALETTE_KEY_FROM = 100  # columns


class KeyFooter(Footer):
    def on_resize(self, event: events.Resize) -> None:
        compact, palette = event.size.width < COMPACT_BELOW, event.size.width >= PALETTE_KEY_FROM
        if (self.compact, self.show_command_palette) != (compact, palette):
            self.compact, self.show_command_palette = compact, palette
            self.refresh(recompose=True)


class FooterOrder:
    """A Screen mixin: the footer lists keys in the order the screen declares its bindings, then
    the app's (Textual's own order follows the focused widget's bindings and the base classes',
    which put Help and Quit anywhere). Only the footer reads this order; keys dispatch as usual."""

    @property
    def active_bindings(self) -> dict[str, Any]:
        bindings: dict[str, Any] = super().active_bindings  # type: ignore[misc]
        declared = [
            key.strip()
            for source in (type(self).BINDINGS, self.app.BINDINGS)  # type: ignore[attr-defined]
            for binding in source
            if isinstance(binding, Binding)
            for key in binding.key.split(",")
        ]
        rank = {key: i for i, key in reversed(list(enumerate(declared)))}
        return dict(sorted(bindings.items(), key=lambda item: rank.get(item[0], len(rank))))
