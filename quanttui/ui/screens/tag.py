"""The tag dialog: the operator's verdict on one output, a symptom line and notes.

Keys only: a digit (0 ok, 1-9 an issue of the taxonomy) or arrows + enter choose the verdict,
then enter moves from symptom to notes and saves; escape cancels.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from quanttui.core.triage import VERDICTS, Tag
from quanttui.ui.widgets.text import LiteralLine


class TagScreen(ModalScreen[Tag | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")] + [
        Binding(str(i), f"choose({i})", show=False) for i in range(len(VERDICTS))
    ]

    def __init__(self, prompt_id: str, variant: str, current: Tag | None) -> None:
        super().__init__(id="tag")
        self.prompt_id, self.variant, self.current = prompt_id, variant, current
        self.verdict = current.verdict if current else None

    def compose(self) -> ComposeResult:
        with Vertical(id="tag-body"):
            yield LiteralLine(
                f"tag {self.variant} on {self.prompt_id}: 0-9 or arrows + enter, then symptom, notes"
            )
            yield OptionList(*(Option(f"{i}  {v}", id=v) for i, v in enumerate(VERDICTS)), id="tag-verdicts")
            yield Input(value=self.current.symptom if self.current else "", placeholder="symptom (one line)",
                        id="tag-symptom")  # fmt: skip
            yield Input(value=self.current.notes if self.current else "", placeholder="notes", id="tag-notes")
            yield LiteralLine("", id="tag-chosen")

    def on_mount(self) -> None:
        options = self.query_one("#tag-verdicts", OptionList)
        if self.verdict in VERDICTS:
            options.highlighted = VERDICTS.index(self.verdict)
        options.focus()

    def _chosen(self, verdict: str) -> None:
        self.verdict = verdict
        self.query_one("#tag-chosen", LiteralLine).show(f"verdict: {verdict}")
        self.query_one("#tag-symptom", Input).focus()

    def action_choose(self, index: int) -> None:
        if isinstance(self.focused, Input):
            return  # a digit typed into the symptom or notes is text
        self._chosen(VERDICTS[index])

    @on(OptionList.OptionSelected)
    def picked(self, event: OptionList.OptionSelected) -> None:
        self._chosen(str(event.option.id))

    @on(Input.Submitted, "#tag-symptom")
    def to_notes(self) -> None:
        self.query_one("#tag-notes", Input).focus()

    @on(Input.Submitted, "#tag-notes")
    def save(self) -> None:
        if self.verdict is None:
            self.query_one("#tag-chosen", LiteralLine).show("choose a verdict first (0-9)")
            self.query_one("#tag-verdicts", OptionList).focus()
            return
        symptom = " ".join(self.query_one("#tag-symptom", Input).value.split())
        notes = self.query_one("#tag-notes", Input).value.strip()
        self.dismiss(Tag(self.prompt_id, self.variant, self.verdict, symptom, notes))

    def action_cancel(self) -> None:
        self.dismiss(None)
