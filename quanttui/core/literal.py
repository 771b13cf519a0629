"""Making foreign text (engine log lines, model output, error details) safe to show literally.

Text that comes from an engine or a model may hold terminal escape sequences (colours, cursor
moves, OSC 8 links, window titles), control characters and bidirectional overrides. Written to a
terminal they would be interpreted; shown in the console they must only be *shown*. Escape
sequences are removed, other control characters become visible Unicode control pictures.
Rich markup (``[bold]``) is not touched here: the UI wraps the result in ``rich.text.Text(...)``,
which never parses markup.
"""

from __future__ import annotations

import re

# ESC-based sequences: CSI (ESC [ ... final), OSC / DCS / SOS / PM / APC strings up to BEL or ST
# (or the end of the text when unterminated), then any other two-byte ESC sequence.
_ESCAPES = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]?            # CSI
    | \x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\|$)  # OSC, DCS, SOS, PM, APC
    | \x1b[ -/]*[0-~]?                  # nF / Fp / Fe / Fs escapes, or a lone ESC
    | \x9b[0-?]*[ -/]*[@-~]?            # 8-bit CSI
    | [\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c|$)  # 8-bit string controls
    """,
    re.VERBOSE,
)
# Bidirectional embeddings, overrides and isolates reorder what follows them on screen.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ .. ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"  # C1 controls have no picture


def safe_text(text: str, keep_newlines: bool = False, tab_size: int = 4) -> str:
    """`text` with escape sequences removed and other control characters made visible.

    Newlines become a space unless `keep_newlines` (a log pane shows one line per event); a CR
    is dropped before a newline and otherwise shown as ␍; tabs expand to spaces.
    """
    text = _ESCAPES.sub("", text)
    text = _BIDI.sub("", text)
    text = text.replace("\r\n", "\n")
    if not keep_newlines:
        text = text.replace("\n", " ")
    text = text.expandtabs(tab_size)
    return _CONTROLS.sub(_picture, text)


# What an exported file must not carry raw: C0 controls but tab and newline, DEL, C1 controls,
# bidirectional embeddings/overrides/isolates and the marks that flip direction.
_UNSAFE_IN_FILES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible_controls(text: str) -> str:
    """`text` fit for a file someone may `cat` or `head` in a terminal: every control character
    (but tab and newline) and every bidi control written as a visible escape (`\\x1b`, `\\u202e`),
    so the evidence stays readable and nothing is interpreted. CR becomes `\\x0d` too."""
    return _UNSAFE_IN_FILES.sub(_escaped, text)
