"""Server-sent events on a chunked HTTP response, as the simulated server writes them."""

from __future__ import annotations

import asyncio
import contextlib

from quanttui.sim.faults import Fault
from quanttui.sim.httpwire import ClientGone, Connection
from quanttui.sim.sendlog import RequestTrace


class SseWriter:
    """Writes SSE events as HTTP chunks, shaped by the framing faults (crlf, pings, splits).

    With a trace (the server's --send-log), each token event is stamped just before its bytes go
    to the transport, whose write() sends on the socket at once when nothing is queued."""

    def __init__(self, conn: Connection, fault: Fault, trace: RequestTrace | None = None) -> None:
        self.conn = conn
        self.trace = trace
        self.eol = b"\r\n" if fault.is_("crlf") else b"\n"
        self.split = fault.is_("split_json")
        self.count = 0
        self._last_write = asyncio.get_running_loop().time()
        self._pinger: asyncio.Task[None] | None = None
        if fault.is_("keepalive_comments"):
            self._pinger = asyncio.create_task(self._ping_while_silent(max(fault.value, 0.001)))

    async def _send(self, data: bytes) -> None:
        self._last_write = asyncio.get_running_loop().time()
        await self.conn.send_chunk(data)

    async def _ping(self) -> None:
        await self._send(b": ping" + self.eol + self.eol)

    async def _ping_while_silent(self, interval: float) -> None:
        """A comment event after every `interval` s of silence (queue, prefill, stalls), as proxies
        and servers send to keep idle connections open."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ClientGone):
            while True:
                await asyncio.sleep(max(0.0, self._last_write + interval - loop.time()))
                if loop.time() - self._last_write >= interval:
                    await self._ping()

    def stop_pings(self) -> None:
        if self._pinger is not None:
            self._pinger.cancel()

    async def event(self, payload: bytes, due: float | None = None) -> None:
        """One `data:` event; `due` (the token's loop.time() target) marks a token event."""
        if self._pinger is not None and self.count:
            await self._ping()
        self.count += 1
        data = b"data: " + payload + self.eol + self.eol
        if due is not None and self.trace is not None:
            self.trace.token_written(due)
        if not self.split:
            await self._send(data)
            return
        cuts = [0, len(data) // 3, 2 * len(data) // 3, len(data)]
        for i, (start, end) in enumerate(zip(cuts, cuts[1:], strict=False)):
            if i:
                await asyncio.sleep(0.001)
            await self._send(data[start:end])
