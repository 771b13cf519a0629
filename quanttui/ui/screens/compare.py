"""The Compare screen: one prompt, every variant's answer side by side, differences highlighted.

Words that differ from the reference's answer are marked, the first point of divergence stands
out, the automatic flags sit under each answer with their evidence, next to the operator's own
tag (the flags are suggestions; the tag is the judgement). Everything shown from a model is
literal text (`safe_text` + `rich.text.Text`); the diff styles come from the theme. When the
session also ran load steps, the knee chart heads the screen, so quality and capacity are one
glance apart.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Static

from quanttui.core.literal import safe_text
from quanttui.core.live import LiveState
from quanttui.core.triage import Tag
from quanttui.core.triage_state import PromptRow, TriageState
from quanttui.core.word_diff import WordDiff, word_diff
from quanttui.ui.load_chart import load_chart
from quanttui.ui.screens.help import HELP_AND_QUIT
from quanttui.ui.widgets.footer import FooterOrder, KeyFooter
from quanttui.ui.widgets.plots import MetricPlot
from quanttui.ui.widgets.text import LiteralLine

PROMPT_PREVIEW_CHARS = 900
FILTER_WORDS = {"all": "shown", "different": "different", "flagged": "flagged", "untagged": "untagged"}
# Footer groups: an 80-column footer shows every Compare key after Help and Quit.
MOVE = Binding.Group("Move", compact=True)
FILTER = Binding.Group("Filter", compact=True)


def preview(text: str, limit: int = PROMPT_PREVIEW_CHARS) -> str:
    """Long-context prompts would fill the screen: keep the start and the end (the question)."""
    if len(text) <= limit:
        return text
    head, tail = text[: limit // 2], text[-limit // 2 :]
    return f"{head}\n[… {len(text) - len(head) - len(tail):,} characters of context …]\n{tail}"


class AnswerPane(Vertical):
    def __init__(self, variant: str) -> None:
        super().__init__(classes="answer-pane")
        self.variant = variant

    def compose(self) -> ComposeResult:
        yield LiteralLine(self.variant, classes="answer-title")
        with VerticalScroll(classes="answer-scroll"):
            yield Static("", classes="answer-text")
        yield Static("", classes="answer-notes")


class CompareScreen(FooterOrder, Screen[None]):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "diff--changed",
        "diff--first",
        "flag--kind",
        "tag--issue",
        "tag--ok",
    }
    # Priority bindings run as the app dispatches each key, so a burst typed ahead over a slow link
    # ("j t 0 enter enter": the next prompt, tagged ok) acts in the order typed, and the tag dialog
    # is on the stack before the key after "t" is dispatched (ui/screens/tag.py).
    BINDINGS = [replace(b, priority=True) for b in [
        *HELP_AND_QUIT,
        Binding("j,down", "move(1)", "Next", key_display="j/", group=MOVE),  # "j/k Move" in the footer
        Binding("k,up", "move(-1)", "Prev", key_display="k", group=MOVE),
        Binding("tab", "next_variant", "Pane"),
        Binding("o", "tag_ok", "OK"),
        Binding("t", "tag", "Tag"),
        Binding("a", "filter('all')", "All", key_display="a/", group=FILTER),  # "a/d/f/u Filter"
        Binding("d", "filter('different')", "Diff", key_display="d/", group=FILTER),
        Binding("f", "filter('flagged')", "Flagged", key_display="f/", group=FILTER),
        Binding("u", "filter('untagged')", "Untagged", group=FILTER),
        Binding("e", "export_catalog", "Export"),
        Binding("r", "run_triage", "Run", show=False),
        Binding("escape,c", "back", "Back", key_display="esc"),
    ]]  # fmt: skip

    def __init__(self, state: TriageState, load: LiveState | None = None) -> None:
        super().__init__(id="compare")
        self.state = state
        self.load = load  # the session's load steps, for the knee chart strip
        self._load_shown = -1
        self._rebuilding: tuple[str, ...] | None = None  # variants whose panes are being mounted
        self.selected = 1  # index into variants of the pane being tagged (the first quantized one)
        self._shown: tuple[int, int, tuple[str, ...]] | None = None
        self.panes: list[str] = []
        self._composed = False  # on_mount ran: the widgets exist

    def compose(self) -> ComposeResult:
        yield LiteralLine("", id="cmp-header")
        yield MetricPlot(id="cmp-knee")
        with VerticalScroll(id="cmp-prompt"):
            yield Static("", id="cmp-prompt-text")
        yield Horizontal(id="cmp-panes")
        yield LiteralLine("", id="cmp-info")
        yield KeyFooter()

    def on_mount(self) -> None:
        self._composed = True
        self.show_state(force=True)

    def _drawable(self) -> bool:
        """Composed and still on the app's stack. `c` or escape pops the screen, which is then taken
        apart widget by widget, possibly while a pane rebuild is under way: drawing on it then
        would fail inside the rebuild's worker, and a failed worker ends the app."""
        return self._composed and self.is_attached and self in self.app.screen_stack

    # -- drawing -------------------------------------------------------------------------------
    def _style(self, name: str) -> Any:
        return self.get_component_rich_style(name, partial=True)

    async def _ensure_panes(self, variants: tuple[str, ...]) -> None:
        if list(variants) == self.panes:
            return
        holder = self.query_one("#cmp-panes", Horizontal)
        await holder.remove_children()
        await holder.mount_all([AnswerPane(v) for v in variants])
        self.panes = list(variants)

    def show_state(self, force: bool = False) -> None:
        if not self._drawable():
            return
        self._show_load()
        variants = self.state.variants
        if list(variants) != self.panes:
            if self._rebuilding != variants:  # one rebuild per set of variants, not one per frame
                self._rebuilding = variants
                self.run_worker(self._recompose_panes(variants), group="panes", exclusive=True)
            return
        key = (self.state.version, self.selected, variants)
        if not force and key == self._shown:
            return
        self._shown = key
        self._draw()

    def _show_load(self) -> None:
        load = self.load
        try:
            knee = self.query_one("#cmp-knee", MetricPlot)
        except NoMatches:
            return  # being taken apart (see _drawable): nothing to draw on
        knee.display = load is not None and bool(load.step_rows)
        if load is not None and knee.display and load.version != self._load_shown:
            self._load_shown = load.version
            knee.show(load_chart(load))

    async def _recompose_panes(self, variants: tuple[str, ...]) -> None:
        try:
            await self._ensure_panes(variants)
        except Exception:
            if self._drawable():
                raise
            return  # popped meanwhile: its widgets went away under the rebuild
        finally:
            self._rebuilding = None
        if self._drawable():
            self._shown = None
            self._draw()

    def _draw(self) -> None:
        state = self.state
        row = state.current()
        counts = state.counts()
        visible = len(state.visible())
        where = f"{state.position + 1}/{visible}" if row else f"0/{visible}"
        status = (
            "running"
            if state.started and not state.finished
            else (state.finished.reason if state.finished else "no triage yet")
        )
        header = (
            f" COMPARE  {where} · filter {state.filter} · {counts['prompts']} prompts · {counts['different']} differ · "
            f"{counts['flagged']} flagged · {counts['untagged']} untagged · {status}"
        )
        self.query_one("#cmp-header", LiteralLine).show(header)
        prompt_text = self.query_one("#cmp-prompt-text", Static)
        if row is None:
            if state.rows:  # prompts there are, the filter hides them all
                hint = f"No prompt is {FILTER_WORDS[state.filter]}.  Press a to show every prompt."
            else:
                hint = "No prompts yet." + (
                    "  Press r to run the quality prompts on the endpoints." if self._can_run() else ""
                )
            prompt_text.update(Text(hint))
            self.query_one("#cmp-info", LiteralLine).show("")
            for pane in self.query(AnswerPane):
                pane.query_one(".answer-text", Static).update(Text(""))
                pane.query_one(".answer-notes", Static).update(Text(""))
            return
        prompt_text.update(
            Text(
                f"{row.prompt.prompt_id} · {row.prompt.category}\n"
                + safe_text(preview(row.prompt_text), keep_newlines=True)
            )
        )
        self._draw_answers(row)

    def _draw_answers(self, row: PromptRow) -> None:
        variants = list(self.state.variants)
        reference = self.state.reference or (variants[0] if variants else "")
        ref_answer = row.answers.get(reference)
        ref_text = safe_text(ref_answer.text, keep_newlines=True) if ref_answer else ""
        info = ""
        for index, pane in enumerate(self.query(AnswerPane)):
            answer = row.answers.get(pane.variant)
            pane.set_class(index == self.selected % max(1, len(variants)), "-selected")
            title = pane.query_one(".answer-title", LiteralLine)
            text_widget = pane.query_one(".answer-text", Static)
            notes = pane.query_one(".answer-notes", Static)
            role = "reference" if pane.variant == reference else "compared"
            if answer is None:
                title.show(f"{pane.variant} ({role}) · waiting…")
                text_widget.update(Text(""))
                notes.update(Text(""))
                continue
            tokens = f"{answer.output_tokens} tok" if answer.output_tokens is not None else "? tok"
            title.show(f"{pane.variant} ({role}) · {tokens} · finish {answer.finish_reason or '-'}")
            body = (
                safe_text(answer.text, keep_newlines=True)
                if not answer.error
                else f"request failed: {safe_text(answer.error)}"
            )
            if pane.variant == reference or ref_answer is None or answer.error:
                text_widget.update(Text(body))
            else:
                diff = word_diff(ref_text, body)
                text_widget.update(self._diff_text(diff))
                if diff.first_divergence is None:
                    info = f"{pane.variant}: identical to {reference}"
                elif not info:
                    word, left, _ = diff.first_divergence
                    info = f"first divergence from {reference}: word {word + 1} (character {left + 1})"
            notes.update(self._notes(row, pane.variant))
        self.query_one("#cmp-info", LiteralLine).show(info)

    def _diff_text(self, diff: WordDiff) -> Text:
        out = Text()
        changed, first = self._style("diff--changed"), self._style("diff--first")
        marked_first = False
        for segment in diff.right:
            if segment.kind == "equal":
                out.append(segment.text)
            else:
                out.append(segment.text, style=first if not marked_first else changed)
                marked_first = True
        return out

    def _notes(self, row: PromptRow, variant: str) -> Text:
        answer = row.answers[variant]
        out = Text()
        tag = self.state.tags.get((row.prompt.prompt_id, variant))
        if tag is None:
            out.append("tag: untagged (o ok, t tag)\n")
        else:
            style = self._style("tag--ok" if tag.verdict == "ok" else "tag--issue")
            out.append("tag: ")
            out.append(tag.verdict, style=style)
            if tag.symptom:
                out.append(f" · {safe_text(tag.symptom)}")
            if tag.notes:
                out.append(f" · {safe_text(tag.notes)}")
            out.append("\n")
        for flag in answer.flags:
            out.append("⚑ ")
            out.append(flag.kind, style=self._style("flag--kind"))
            out.append(f": {safe_text(flag.evidence)}\n")
        divergence = row.divergences.get(variant)
        if divergence is not None:
            if divergence.mean_kl is not None and divergence.top1_agreement is not None:
                out.append(f"KL {divergence.mean_kl:.4f} nats · top-1 {divergence.top1_agreement:.0%} "
                           f"over {divergence.positions} tokens\n")  # fmt: skip
            else:
                out.append(f"divergence: n/a ({safe_text(divergence.detail)})\n")
        return out

    # -- keys ----------------------------------------------------------------------------------
    def action_move(self, delta: int) -> None:
        self.state.move(delta)
        self.show_state()

    def action_next_variant(self) -> None:
        if self.state.variants:
            self.selected = (self.selected + 1) % len(self.state.variants)
            self.show_state()

    def action_filter(self, name: str) -> None:
        self.state.set_filter(name)
        self.show_state()

    def _target(self) -> tuple[str, str] | None:
        row = self.state.current()
        variants = self.state.variants
        if row is None or not variants:
            return None
        return row.prompt.prompt_id, variants[self.selected % len(variants)]

    def action_tag_ok(self) -> None:
        target = self._target()
        if target:
            self._send_tag(Tag(target[0], target[1], "ok"))
        else:
            self._nothing_to_tag()

    def _nothing_to_tag(self) -> None:
        why = "the filter hides every prompt (a shows all)" if self.state.rows else "no prompts yet"
        self.notify(f"nothing to tag: {why}", severity="warning", timeout=4)

    def action_tag(self) -> None:
        from quanttui.ui.screens.tag import TagScreen

        target = self._target()
        if target is None:
            self._nothing_to_tag()
            return

        def apply(tag: Tag | None) -> None:
            if tag is not None:
                self._send_tag(tag)

        self.app.push_screen(TagScreen(target[0], target[1], self.state.tags.get(target)), apply)

    def _send_tag(self, tag: Tag) -> None:
        app: Any = self.app
        try:
            app.send_tag(tag)
        except Exception as exc:  # a journal that cannot be written must be seen, not swallowed
            self.notify(f"tag not saved: {exc}", severity="error", timeout=30)
            return
        # Journaled (fsynced): shown now. The session also publishes it, but a triage that has
        # finished has closed its stream, so the event would never come; the exports read the
        # journal, so the screen and every export agree.
        self.state.load_tags({(tag.prompt_id, tag.variant): tag})
        self.show_state()

    def _can_run(self) -> bool:
        """The session can run a triage and none has started (as its events say)."""
        app: Any = self.app
        return bool(app.info.can_triage) and self.state.started is None

    def action_run_triage(self) -> None:
        app: Any = self.app
        if not self._can_run():
            self.notify("nothing to run here (a replay, or a triage already ran)", severity="warning")
            return
        app.start_triage()
        self.notify("running the quality prompts on every variant (they add load to a running ramp)")

    def action_export_catalog(self) -> None:
        app: Any = self.app
        app.export_catalog()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
