"""The secrets quanttui knows, and scrubbing them out of everything it writes or shows.

A server may echo the API key it was sent (LiteLLM-style proxies answer 401 with "Received API
Key = Bearer sk-..."), and an engine may print its own command line or environment. quanttui
knows every secret it handles: the API key it reads from `--api-key-env`, the values of
`--api-key`-like flags in an engine's `extra_args`, and the values of an engine's `env` entries
whose names say they are secret (HF_TOKEN, *_KEY, *_SECRET, *PASSWORD*...). Each is replaced by
`MASK` wherever it appears: in every event (the session's stream scrubs before anything reads
it, so the recording, the console, exports, reports and catalogs never see one), in engine log
files, in progress lines and error messages.

Values shorter than `MIN_SECRET_LEN` are not treated as secrets: masking "1" everywhere would
destroy the data and protect nothing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

MASK = "<redacted>"
MIN_SECRET_LEN = 6
SECRET_NAME = re.compile(r"(key|token|secret|passw|credential|auth)", re.IGNORECASE)
SECRET_FLAG = re.compile(r"^--?[\w-]*(key|token|secret|password)[\w-]*$", re.IGNORECASE)

T = TypeVar("T")


def is_secret_name(name: str) -> bool:
    """An environment variable or flag name that says it holds a secret."""
    return bool(SECRET_NAME.search(name))


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A command line fit for a recording or a screen: the value of any --*key/token/secret/password*
    flag (e.g. vLLM's --api-key) masked, in both `--flag value` and `--flag=value` forms."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(MASK)
            hide_next = False
            continue
        flag, eq, _ = arg.partition("=")
        if SECRET_FLAG.match(flag):
            if eq:
                out.append(f"{flag}={MASK}")
                continue
            hide_next = True
        out.append(arg)
    return out


def secret_flag_values(argv: Sequence[str]) -> list[str]:
    """The values `redact_argv` masks (a value that looks like a flag itself is not one)."""
    masked = redact_argv(argv)
    values = []
    for original, shown in zip(argv, masked, strict=True):
        if shown == original:
            continue
        value = original.partition("=")[2] if shown.endswith(f"={MASK}") else original
        if value and not value.startswith("-"):
            values.append(value)
    return values


class Secrets:
    """The set of secret values; `scrub` and `scrub_event` mask them."""

    def __init__(self, values: Iterable[str | None] = ()) -> None:
        kept = {v for v in values if v and len(v) >= MIN_SECRET_LEN}
        self.values: tuple[str, ...] = tuple(sorted(kept, key=len, reverse=True))  # longest first

    @classmethod
    def collect(
        cls,
        api_key: str | None = None,
        argvs: Iterable[Sequence[str]] = (),
        envs: Iterable[Mapping[str, str]] = (),
    ) -> Secrets:
        values: list[str | None] = [api_key]
        for argv in argvs:
            values += secret_flag_values(argv)
        for env in envs:
            values += [value for name, value in env.items() if is_secret_name(name)]
        return cls(values)

    def __bool__(self) -> bool:
        return bool(self.values)

    def with_values(self, values: Iterable[str | None]) -> Secrets:
        return Secrets([*self.values, *values])

    def scrub(self, text: str) -> str:
        for value in self.values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def scrub_event(self, event: T) -> T:
        """The event with every secret masked in its text (nested values included); the same
        object when it held none."""
        if not self.values:
            return event
        return self._scrub_value(event)

    def _scrub_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, tuple):
            items = tuple(self._scrub_value(v) for v in value)
            return value if all(a is b for a, b in zip(items, value, strict=True)) else items
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {}
            for f in dataclasses.fields(value):
                old = getattr(value, f.name)
                new = self._scrub_value(old)
                if new is not old:
                    changes[f.name] = new
            return dataclasses.replace(value, **changes) if changes else value
        return value
