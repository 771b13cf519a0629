"""safe_text: escape sequences from engines and models are removed, controls made visible."""

import pytest
from rich.console import Console
from rich.text import Text

from quanttui.core.literal import safe_text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[31mred\x1b[0m", "red"),  # SGR colour
        ("\x1b[2J\x1b[Hcleared", "cleared"),  # clear screen, cursor home
        ("a\x1b]0;window title\x07b", "ab"),  # OSC title, BEL-terminated
        ("\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\", "click"),  # OSC 8 hyperlink, ST-terminated
        ("x\x1bPq#0;2;0;0;0\x1b\\y", "xy"),  # DCS (sixel)
        ("tail \x1b]0;unterminated", "tail "),
        ("lone \x1b", "lone "),
        ("8-bit \x9b31mcsi", "8-bit csi"),
        ("bell\x07 nul\x00 bs\x08 del\x7f", "bell␇ nul␀ bs␈ del␡"),
        ("one\ntwo\r\nthree", "one two three"),
        ("over\rwrite", "over␍write"),
        ("a\tb", "a   b"),
        ("rtl \u202eevil\u202c ok \u2066x\u2069", "rtl evil ok x"),
        ("[bold red]not markup[/] [link=x]y[/link]", "[bold red]not markup[/] [link=x]y[/link]"),
        ("unicode é 中文 🎉", "unicode é 中文 🎉"),
    ],
)
def test_safe_text(raw, shown):
    assert safe_text(raw) == shown


def test_newlines_can_be_kept_for_multi_line_output():
    assert safe_text("a\r\nb\n\x1b[1mc", keep_newlines=True) == "a\nb\nc"


def test_result_rendered_with_text_shows_markup_characters_literally():
    console = Console(width=80, force_terminal=True, color_system="truecolor", record=True)
    console.print(Text(safe_text("[bold]hi[/bold] \x1b[31mred")))
    out = console.export_text()
    assert out.strip() == "[bold]hi[/bold] red"
