"""Fault names, their default arguments, and the `[[fault:NAME:ARG]]` directive parser.

The effects are implemented (and documented in a table) in `quanttui.sim.server`; this module only
knows the names, so a typo in a test or a benchmark fails loudly instead of silently streaming fine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# name -> default ARG (None: the fault takes no argument)
FAULTS: dict[str, float | None] = {
    "none": None,
    "http_500": None,
    "http_503": None,
    "http_503_html": None,
    "http_429": 1.0,
    "http_404": None,
    "echo_auth": None,
    "reset_before_headers": None,
    "stall_after_headers": 10.0,
    "stall_between_chunks": 10.0,
    "non_json": None,
    "error_mid_stream": None,
    "no_done": None,
    "reset_mid_stream": None,
    "crlf": None,
    "keepalive_comments": 0.1,
    "split_json": None,
    "no_usage": None,
    "invalid_utf8": None,
    "huge_output": 1.0,
}

_DIRECTIVE = re.compile(r"\[\[fault:([A-Za-z0-9_]+)(?::([^\]]*))?\]\]")


class FaultError(ValueError):
    """An unknown fault name or a bad argument."""


@dataclass(frozen=True)
class Fault:
    name: str = "none"
    arg: float | None = None

    @property
    def active(self) -> bool:
        return self.name != "none"

    def is_(self, name: str) -> bool:
        return self.name == name

    @property
    def value(self) -> float:
        """The argument, or the fault's default when none was given."""
        if self.arg is not None:
            return self.arg
        default = FAULTS.get(self.name)
        return 0.0 if default is None else default


NO_FAULT = Fault()


def parse_fault(spec: str | None) -> Fault:
    """`NAME` or `NAME:ARG` (ARG a number) into a Fault; None or "" is no fault."""
    if not spec:
        return NO_FAULT
    name, _, raw_arg = spec.strip().partition(":")
    if name not in FAULTS:
        raise FaultError(f"unknown fault {name!r} (known: {', '.join(sorted(FAULTS))})")
    if not raw_arg:
        return Fault(name)
    if FAULTS[name] is None:
        raise FaultError(f"fault {name!r} takes no argument, got {raw_arg!r}")
    try:
        arg = float(raw_arg)
    except ValueError:
        raise FaultError(f"fault {name!r}: argument must be a number, got {raw_arg!r}") from None
    if not arg >= 0:
        raise FaultError(f"fault {name!r}: argument must be >= 0, got {raw_arg!r}")
    return Fault(name, arg)


def find_directive(text: str) -> Fault | None:
    """The last `[[fault:NAME]]` / `[[fault:NAME:ARG]]` in a message, or None if there is none."""
    matches = _DIRECTIVE.findall(text)
    if not matches:
        return None
    name, arg = matches[-1]
    return parse_fault(f"{name}:{arg}" if arg else name)
