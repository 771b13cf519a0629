"""How an engine's log line reads in a narrow pane: the message first, the noise folded.

vLLM prefixes every line with its process, pid, level, date, time and source file
("(APIServer pid=27229) INFO 11-23 22:23:45 [loggers.py:123] Engine 000: ..."), which fills a
pane of 40 columns before the message starts; uvicorn's access lines
('INFO:     127.0.0.1:51234 - "GET /metrics HTTP/1.1" 200 OK') are mostly quanttui's own
/metrics scrapes. `fold_line` keeps the level's initial and the time and shows the message;
`is_scrape_line` says which lines the console leaves out (and counts). The log files keep
every line as the engine wrote it.
"""

from __future__ import annotations

import re

_PROCESS = re.compile(r"^\((?P<proc>[\w.-]+) pid=\d+\)\s+")
_VLLM = re.compile(
    r"^(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+\d\d-\d\d\s+(?P<time>\d\d:\d\d:\d\d)(?:\.\d+)?\s+"
    r"(?:\[[^\]]*\]\s?)?(?P<msg>.*)$"
)
_UVICORN = re.compile(r"^(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL):\s+(?P<msg>.*)$")
_ACCESS = re.compile(
    r'^[\d.:\[\]a-fA-F]+ - "(?P<method>[A-Z]+) (?P<path>\S+)(?: HTTP/[\d.]+)?" (?P<status>.*)$'
)
_SCRAPE = re.compile(r'"GET /metrics[ ?/]')


def is_scrape_line(line: str) -> bool:
    """An HTTP access line for GET /metrics (quanttui's scraper asks every second or so)."""
    return "GET /metrics" in line and _SCRAPE.search(line) is not None


def fold_line(line: str) -> str:
    """The line with vLLM's or uvicorn's prefix folded to "I 22:23:45 " (level initial, time);
    other lines unchanged. The process is kept when it is not the API server."""
    rest, process = line, ""
    if (m := _PROCESS.match(rest)) is not None:
        rest = rest[m.end() :]
        process = "" if m["proc"] == "APIServer" else f"{m['proc']}: "
    if (m := _VLLM.match(rest)) is not None:
        return f"{m['level'][0]} {m['time']} {process}{m['msg']}"
    if (m := _UVICORN.match(rest)) is not None:
        message = m["msg"]
        if (a := _ACCESS.match(message)) is not None:
            message = f"{a['method']} {a['path']} {a['status']}"
        return f"{m['level'][0]} {process}{message}"
    return line
