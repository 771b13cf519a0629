"""What crosses the pipes between the session and its load worker processes (io/load_pool.py,
io/load_worker.py): small dataclasses, pickled in length-prefixed frames.

Pickle is safe here because both ends are this package, talking over a private pipe to its own
child; nothing pickled is ever written to a file (recordings are JSON, core/recording.py).
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from dataclasses import dataclass
from typing import Any

from quanttui.io.loop_probe import ProbeWindow
from quanttui.io.openai_client import RequestOptions, Timeouts
from quanttui.io.stream_outcome import StreamOutcome

_LENGTH = struct.Struct("!I")


@dataclass(frozen=True)
class OpenEndpoint:
    key: str
    root: str
    api_key: str | None
    concurrency: int
    timeouts: Timeouts


@dataclass(frozen=True)
class Send:
    request_id: int
    key: str
    model: str
    messages: list[dict[str, str]]
    options: RequestOptions


@dataclass(frozen=True)
class Ready:
    pid: int
    event_loop: str  # "uvloop" or "asyncio"


@dataclass(frozen=True)
class Done:
    request_id: int
    outcome: StreamOutcome


@dataclass(frozen=True)
class Sample:
    window: ProbeWindow


def frame(message: Any) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(body)) + body


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """The next message, or None at the end of the pipe."""
    try:
        head = await reader.readexactly(_LENGTH.size)
        (size,) = _LENGTH.unpack(head)
        return pickle.loads(await reader.readexactly(size))
    except asyncio.IncompleteReadError:
        return None
