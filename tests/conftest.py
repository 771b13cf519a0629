"""Shared fixtures: simulated vLLM servers in real child processes, and a port nobody listens on."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from quanttui.sim.process import SimServer, start_sim_server


@pytest.fixture
def sim_server() -> Iterator[Callable[..., SimServer]]:
    """Factory: `sim_server(model="a", ttft_ms=200, itl_ms=20, max_num_seqs=4, fault=...)` starts a
    simulator (keywords are SimConfig fields, plus `cpus`); all are stopped at teardown."""
    started: list[SimServer] = []

    def start(model: str = "sim", **config: Any) -> SimServer:
        server = start_sim_server(model, **config)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def free_port() -> int:
    """A loopback port that was free a moment ago (connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
