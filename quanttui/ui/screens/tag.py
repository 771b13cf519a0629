"""The tag dialog: the operator's verdict on one output, a symptom line and notes.

Keys only: a digit (0 ok, 1-9 an issue of the taxonomy) or arrows + enter choose the verdict, then
the symptom is typed, enter moves to the notes, enter saves; tab / shift+tab move between the
fields, escape cancels.

Why the dialog reads every key itself (screens/dialog.py): operators over a slow SSH link type
ahead ("t", "7", the symptom, enter, enter, "j") before the dialog is drawn; keys typed while it was
mounted, right after a focus change or right after it closed went to a widget that dropped them
(#15). The app hands this dialog each key in the order typed, and it moves between its fields and
closes itself synchronously.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from quanttui.core.triage import VERDICTS, Tag
from quanttui.ui.screens.dialog import KeyDialog
from quanttui.ui.widgets.text import LiteralLine

FIELDS = ("verdicts", "symptom", "notes")


class TagScreen(KeyDialog[Tag | None]):
    def __init__(self, prompt_id: str, variant: str, current: Tag | None) -> None:
        super().__init__(id="tag")
        self.prompt_id, self.variant, self.current = prompt_id, variant, current
        self.verdict = current.verdict if current else None
        self.texts = {
            "symptom": current.symptom if current else "",
            "notes": current.notes if current else "",
        }
        self.field = "verdicts"
        self.highlighted = VERDICTS.index(self.verdict) if self.verdict in VERDICTS else 0

    def compose(self) -> ComposeResult:
        fields = (
            OptionList(*(Option(f"{i}  {v}", id=v) for i, v in enumerate(VERDICTS)), id="tag-verdicts"),
            Input(placeholder="symptom (one line)", id="tag-symptom"),
            Input(placeholder="notes", id="tag-notes"),
        )
        for field in fields:
            field.can_focus = False  # the screen reads the keys (see the module's docstring)
        with Vertical(id="tag-body"):
            yield LiteralLine(
                f"tag {self.variant} on {self.prompt_id}: 0-9 or arrows + enter, then symptom, notes"
            )
            yield from fields
            yield LiteralLine("", id="tag-chosen")

    def on_mount(self) -> None:
        self._show()
        if self.verdict is not None:
            self.query_one("#tag-chosen", LiteralLine).show(f"verdict: {self.verdict}")

    # -- keys ------------------------------------------------------------------------------------
    def read_key(self, event: events.Key) -> None:
        key = event.key
        if key == "escape":
            self.dismiss(None)
        elif key == "tab":
            self._move(1)
        elif key == "shift+tab":
            self._move(-1)
        elif self.field == "verdicts":
            self._verdict_key(key, event.character)
        elif key == "enter":
            self._move(1) if self.field == "symptom" else self._save()
        elif key == "backspace":
            self.texts[self.field] = self.texts[self.field][:-1]
        elif key == "ctrl+u":
            self.texts[self.field] = ""
        elif key in ("up", "down"):
            self._move(1 if key == "down" else -1)
        elif event.is_printable and event.character:
            self.texts[self.field] += event.character
        self._show()

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        if self.field != "verdicts":
            self.texts[self.field] += " ".join(event.text.splitlines())
            self._show()

    def _verdict_key(self, key: str, character: str | None) -> None:
        if character is not None and character.isdigit() and int(character) < len(VERDICTS):
            self._choose(VERDICTS[int(character)])
        elif key in ("up", "k"):
            self.highlighted = (self.highlighted - 1) % len(VERDICTS)
        elif key in ("down", "j"):
            self.highlighted = (self.highlighted + 1) % len(VERDICTS)
        elif key == "enter":
            self._choose(VERDICTS[self.highlighted])

    def _choose(self, verdict: str) -> None:
        self.verdict = verdict
        self.highlighted = VERDICTS.index(verdict)
        self.field = "symptom"
        if self.is_mounted:
            self.query_one("#tag-chosen", LiteralLine).show(f"verdict: {verdict}")

    def _move(self, step: int) -> None:
        self.field = FIELDS[(FIELDS.index(self.field) + step) % len(FIELDS)]

    def _save(self) -> None:
        if self.verdict is None:
            self.field = "verdicts"
            if self.is_mounted:
                self.query_one("#tag-chosen", LiteralLine).show("choose a verdict first (0-9)")
            return
        symptom = " ".join(self.texts["symptom"].split())
        notes = self.texts["notes"].strip()
        self.dismiss(Tag(self.prompt_id, self.variant, self.verdict, symptom, notes))

    # -- drawing ---------------------------------------------------------------------------------
    def _show(self) -> None:
        """The fields as the keys left them; the active one is marked (no widget holds the focus)."""
        if not self.is_mounted:
            return
        options = self.query_one("#tag-verdicts", OptionList)
        options.highlighted = self.highlighted
        options.set_class(self.field == "verdicts", "-active")
        for name in ("symptom", "notes"):
            field = self.query_one(f"#tag-{name}", Input)
            field.value = self.texts[name]
            field.cursor_position = len(self.texts[name])
            field.set_class(self.field == name, "-active")
