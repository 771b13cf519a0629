"""A session file's attached variants and fleets (issue 21): a variant with `urls` is not launched
but driven where it already runs, on one endpoint or on several replicas.

```toml
[variants.awq]
urls = ["http://10.0.0.7:8000", "http://10.0.0.8:8000"]  # two replicas: a fleet
balance = "least-outstanding"                            # or "round-robin" (the default)
model = "Qwen/Qwen2.5-1.5B-Instruct-AWQ"                 # the served id (default: the first listed)
precision = "awq"
```

A session's variants are all attached or all launched. Checked like the rest of the file: one
line naming the file, the line and the field.
"""

from __future__ import annotations

from typing import Any, Protocol

from quanttui.core.fleet import BALANCE_POLICIES
from quanttui.core.gpu_map import url_problem

ATTACHED_KEYS = frozenset({"urls", "balance", "model", "precision"})


class _Errors(Protocol):
    def error(self, table: str, key: str, message: str) -> Exception: ...


def check_attached(reader: _Errors, table: str, data: dict[str, Any]) -> None:
    """A variant with `urls`: its URLs (each once), its balance policy, nothing a launch needs."""
    urls = data["urls"]
    if not urls or not all(isinstance(u, str) for u in urls):
        raise reader.error(table, "urls", "expected a list of one or more URLs")
    roots = [u.strip().rstrip("/").removesuffix("/v1") for u in urls]
    for url, root in zip(urls, roots, strict=True):
        problem = url_problem(url)
        if problem:
            raise reader.error(table, "urls", problem)
        if roots.count(root) > 1:
            raise reader.error(table, "urls", f"{root} is given twice")
    balance = data.get("balance", "round-robin")
    if balance not in BALANCE_POLICIES:
        raise reader.error(table, "balance", f"{balance!r} is not one of {', '.join(BALANCE_POLICIES)}")
    for key in sorted(set(data) - ATTACHED_KEYS):
        raise reader.error(table, key, "not used by an attached variant (urls): it is not launched here")


def check_one_kind(reader: _Errors, variants: dict[str, dict[str, Any]]) -> None:
    """All attached or all launched: a session drives endpoints it finds or engines it starts."""
    attached = [name for name, data in variants.items() if "urls" in data]
    if attached and len(attached) != len(variants):
        launched = next(name for name in variants if name not in attached)
        raise reader.error(
            f"variants.{launched}", "model",
            f"a launched variant beside attached ones ({', '.join(attached)}): give every variant urls, or none",
        )  # fmt: skip
