"""A real Prometheus server for tests (Debian's `prometheus` package): started on 127.0.0.1 with a
generated config that scrapes the given targets every second, stopped at the end."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import httpx
from waiting import wait_until

PROMETHEUS = shutil.which("prometheus")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrometheusServer:
    def __init__(self, folder: Path, targets: list[str] | dict[str, list[str]], interval: str = "1s") -> None:
        """`targets`: host:port to scrape, as job "dcgm", or per job name."""
        assert PROMETHEUS is not None
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "prometheus.yml"
        jobs = targets if isinstance(targets, dict) else {"dcgm": targets}
        text = f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\nscrape_configs:\n"
        for job, hosts in jobs.items():
            text += f"  - job_name: {job}\n    static_configs:\n      - targets: [{', '.join(repr(t) for t in hosts)}]\n"
        config.write_text(text)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "prometheus.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def wait_for(self, query: str, timeout_s: float = 60.0) -> None:
        """Until the query has an answer (the targets were scraped at least once)."""

        def answered() -> bool:
            assert self.process.poll() is None, self.log.read_text()
            try:
                body = httpx.get(f"{self.url}/api/v1/query", params={"query": query}, timeout=2).json()
            except (httpx.HTTPError, ValueError):
                return False
            return bool(body.get("data", {}).get("result"))

        wait_until(answered, timeout_s, f"Prometheus at {self.url} to answer {query}", poll=0.5,
                   detail=lambda: self.log.read_text()[-2000:])  # fmt: skip

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
