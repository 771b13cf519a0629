"""A DCGM-format exporter for tests: a real HTTP server on 127.0.0.1 serving a page of DCGM
exporter's exposition (tests/data/dcgm/), whose values a test can change, or that answers 500.
Run by the tests in a thread, or as `python tests/dcgm_exporter.py PORT PAGE` for a process."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAGE = Path(__file__).parent / "data" / "dcgm" / "two-l4-in-kubernetes.txt"


class DcgmExporter:
    def __init__(self, page: Path = PAGE, port: int = 0) -> None:
        self.text = page.read_text()
        self.status = 200
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = exporter.text.encode() if self.path == "/metrics" else b"not found"
                status = exporter.status if self.path == "/metrics" else 404
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> DcgmExporter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def set_used(self, gpu: str, mib: int) -> None:
        """DCGM_FI_DEV_FB_USED of one GPU."""
        lines = []
        for line in self.text.splitlines():
            if line.startswith("DCGM_FI_DEV_FB_USED{") and f'gpu="{gpu}"' in line:
                line = line.rsplit(" ", 1)[0] + f" {mib}"
            lines.append(line)
        self.text = "\n".join(lines) + "\n"


if __name__ == "__main__":
    exporter = DcgmExporter(Path(sys.argv[2]) if len(sys.argv) > 2 else PAGE, int(sys.argv[1]))
    exporter.server.serve_forever()
