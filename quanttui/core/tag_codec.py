"""One tag as one JSON line, and back, with field-level validation (no IO)."""

from __future__ import annotations

import json

from quanttui.core.triage import VERDICTS, Tag

JOURNAL_FORMAT = "quanttui-tags"
JOURNAL_SCHEMA = 1
_FIELDS = ("prompt_id", "variant", "verdict", "symptom", "notes", "at")


class TagCodecError(ValueError):
    """`field: message` of a line that is not a valid tag."""


def header_line() -> str:
    return json.dumps({"format": JOURNAL_FORMAT, "schema": JOURNAL_SCHEMA}, sort_keys=True)


def check_header(data: object) -> None:
    if not isinstance(data, dict) or data.get("format") != JOURNAL_FORMAT:
        raise TagCodecError(f"format: not a quanttui tag journal (expected format {JOURNAL_FORMAT!r})")
    schema = data.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool):
        raise TagCodecError("schema: expected an integer")
    if schema > JOURNAL_SCHEMA:
        raise TagCodecError(
            f"schema: version {schema} is newer than this quanttui reads ({JOURNAL_SCHEMA}); upgrade"
        )


def encode_tag(tag: Tag) -> str:
    return json.dumps({name: getattr(tag, name) for name in _FIELDS}, sort_keys=True)  # ASCII: safe to cat


def decode_tag(data: object) -> Tag:
    if not isinstance(data, dict):
        raise TagCodecError("(line): expected a JSON object")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise TagCodecError(f"{unknown[0]}: unknown field")
    values = {}
    for name in _FIELDS:
        value = data.get(name, "")
        if not isinstance(value, str):
            raise TagCodecError(f"{name}: expected a string")
        values[name] = value
    for name in ("prompt_id", "variant"):
        if not values[name]:
            raise TagCodecError(f"{name}: must not be empty")
    if values["verdict"] not in VERDICTS:
        raise TagCodecError(f"verdict: {values['verdict']!r} is not one of {', '.join(VERDICTS)}")
    return Tag(**values)
