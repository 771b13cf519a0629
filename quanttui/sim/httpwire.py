"""Hand-written HTTP/1.1 framing: the simulator needs byte-level control of what goes on the wire.

Behaves like uvicorn as vLLM runs it: keep-alive by default (idle connections closed after a
timeout), request bodies by Content-Length or chunked, responses with Content-Length or
`transfer-encoding: chunked` (one chunk per write, so an SSE event is one chunk unless a fault
splits it), lower-case header names, `server: uvicorn`, `vary: Origin` as in the captures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 32 * 1024 * 1024


class BadRequest(Exception):
    """The request cannot be parsed; answered with 400 and the connection closed."""


class ClientGone(Exception):
    """The client closed or reset the connection while its request was in progress."""


@dataclass
class Request:
    method: str
    path: str
    query: str
    version: str
    headers: dict[str, str]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


def dump_json(obj: Any) -> bytes:
    """Compact JSON with raw UTF-8, as Starlette's JSONResponse and pydantic write it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request | None:
    """The next request on a connection, or None when the client closed it between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise BadRequest("connection closed inside the request head") from None
        return None
    except asyncio.LimitOverrunError:
        raise BadRequest("request head too large") from None
    except ConnectionError:
        return None
    request_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(f"bad request line {request_line[:80]!r}")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(f"bad header line {line[:80]!r}")
        headers[name.lower()] = value.strip()
    path, _, query = target.partition("?")
    if headers.get("expect", "").lower() == "100-continue":  # curl waits 1 s for this on big bodies
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    body = await _read_body(reader, headers)
    return Request(method, path, query, version, headers, body)


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    try:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return await _read_chunked_body(reader)
        raw_length = headers.get("content-length", "0")
        if not raw_length.isdigit() or int(raw_length) > MAX_BODY_BYTES:
            raise BadRequest(f"bad content-length {raw_length[:40]!r}")
        return await reader.readexactly(int(raw_length))
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        raise BadRequest("truncated or malformed request body") from None


async def _read_chunked_body(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        if len(body) > MAX_BODY_BYTES:
            raise BadRequest("request body too large")
        await reader.readexactly(2)


def response_head(status: int, headers: list[tuple[str, str]], server: str = "uvicorn") -> bytes:
    reason = HTTPStatus(status).phrase
    lines = [f"HTTP/1.1 {status} {reason}", f"date: {formatdate(usegmt=True)}", f"server: {server}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Connection:
    """One client connection: response writers plus disconnect detection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.close_after_response = False

    @property
    def gone(self) -> bool:
        """True once the peer closed or reset; the transport keeps reading in the background."""
        return self.reader.at_eof() or self.reader.exception() is not None or self.writer.is_closing()

    async def send(self, data: bytes) -> None:
        if self.writer.is_closing():
            raise ClientGone()
        self.writer.write(data)
        try:
            await self.writer.drain()
        except ConnectionError as exc:
            raise ClientGone() from exc

    async def respond(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = "application/json",
        extra: list[tuple[str, str]] | None = None,
        server: str = "uvicorn",
    ) -> None:
        """A whole response with Content-Length (header order as uvicorn writes it)."""
        headers = [("content-length", str(len(body)))]
        if content_type:
            headers.append(("content-type", content_type))
        headers += [*(extra or []), ("vary", "Origin")]
        if self.close_after_response:
            headers.append(("connection", "close"))
        await self.send(response_head(status, headers, server) + body)

    async def respond_json(self, status: int, obj: Any, extra: list[tuple[str, str]] | None = None) -> None:
        await self.respond(status, dump_json(obj), "application/json", extra)

    async def start_chunked(self, status: int, content_type: str) -> None:
        headers = [("content-type", content_type), ("vary", "Origin"), ("transfer-encoding", "chunked")]
        if self.close_after_response:
            headers.append(("connection", "close"))
        await self.send(response_head(status, headers))

    async def send_chunk(self, data: bytes) -> None:
        if data:
            await self.send(b"%x\r\n%b\r\n" % (len(data), data))

    async def end_chunked(self) -> None:
        await self.send(b"0\r\n\r\n")

    def reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0), the way a crashed process or a proxy drops a client."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
