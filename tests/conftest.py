"""Shared fixtures: simulated vLLM servers in real child processes, and a port nobody listens on.

Layout: tests/core (pure domain), tests/io (files, HTTP, processes), tests/session (sessions and the
CLI end to end), tests/ui (the console), tests/engine (real engines, marker `engine`). The helper
modules stay here at the top (session_helpers, live_events): pytest's default
"prepend" import mode puts this folder on sys.path when it imports this conftest, so tests in every
sub-folder import them by name. Only tests/engine is a package (its basenames repeat others); the
other folders must not get an __init__.py ("io" would shadow the standard library), so test module
basenames stay unique across them.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from quanttui.demo.paths import DATA_DIR_ENV, default_data_dir
from quanttui.sim.process import SimServer, start_sim_server

# Resolved once, from the operator's own environment, before any test changes HOME: the engine tests
# must still find the demo models and venvs `quanttui demo prepare` built there.
DEMO_DATA_DIR = default_data_dir()


@pytest.fixture(autouse=True)
def isolated_home(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test (and every process it starts) gets its own empty HOME and XDG config, data and cache
    folders, so the operator's themes, config and data are neither read nor written; only the demo data
    directory stays where it was."""
    root = tmp_path_factory.mktemp("home")  # not under tmp_path: tests list what they write there
    for name, sub in (("HOME", "home"), ("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                      ("XDG_CACHE_HOME", "cache")):  # fmt: skip
        (root / sub).mkdir()
        monkeypatch.setenv(name, str(root / sub))
    monkeypatch.setenv(DATA_DIR_ENV, str(DEMO_DATA_DIR))
    return root


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
