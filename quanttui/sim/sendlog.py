"""The simulator's own send times, the ground truth a client's timing is judged against.

With `--send-log PATH` the server notes, per streamed request, when it received the request and
when it handed each token chunk to the socket (`time.perf_counter_ns()`, CLOCK_MONOTONIC on Linux,
so comparable with a client process's stamps), plus when each token was due by the pacing
schedule. Records stay in memory (a few hundred bytes per request) and are appended to PATH when
the server closes: writing while serving would itself delay chunks.

PATH gets one JSON line per request, times in ns:
`{"recv": <received>, "t": [<token write - received>, ...], "late": [<write - due>, ...],
"end": <last byte - received or null>, "fin": <finish reason or null>}`.
"""

from __future__ import annotations

import json
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(eq=False)
class RequestTrace:
    """One request's send times (absolute perf_counter_ns values)."""

    received_ns: int
    token_ns: array = field(default_factory=lambda: array("q"))
    due_ns: array = field(default_factory=lambda: array("q"))
    end_ns: int | None = None
    finish: str | None = None

    def token_written(self, due_s: float) -> None:
        """Stamp a token chunk about to be written; `due_s` is its loop.time() target."""
        self.token_ns.append(time.perf_counter_ns())
        self.due_ns.append(round(due_s * 1e9))

    def to_json(self) -> dict[str, Any]:
        recv = self.received_ns
        return {
            "recv": recv,
            "t": [t - recv for t in self.token_ns],
            "late": [t - d for t, d in zip(self.token_ns, self.due_ns, strict=True)],
            "end": None if self.end_ns is None else self.end_ns - recv,
            "fin": self.finish,
        }


class SendLog:
    """Every streamed request's trace, written out once at shutdown."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.traces: list[RequestTrace] = []

    def start(self) -> RequestTrace:
        trace = RequestTrace(time.perf_counter_ns())
        self.traces.append(trace)
        return trace

    def write(self) -> int:
        """Append the buffered traces to the file; returns how many were written."""
        traces, self.traces = self.traces, []
        with self.path.open("a", encoding="utf-8") as out:
            for trace in traces:
                out.write(json.dumps(trace.to_json(), separators=(",", ":")) + "\n")
        return len(traces)


def read_send_log(path: str | Path) -> list[dict[str, Any]]:
    """The records of a send log, in the order the server received the requests."""
    with Path(path).open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    return sorted(records, key=lambda r: r["recv"])
