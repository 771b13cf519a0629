"""A Static that only ever shows literal text, and only repaints when the text changes."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class LiteralLine(Static):
    """Shows `rich.text.Text(value)`: square brackets and the like are never read as markup."""

    def __init__(self, value: str = "", *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(Text(value), id=id, classes=classes)
        self.value = value

    def show(self, value: str) -> None:
        if value != self.value:
            self.value = value
            self.update(Text(value))
