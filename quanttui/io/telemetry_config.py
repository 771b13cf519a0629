"""A session file's `[telemetry]` table: GPU telemetry beyond local NVML (issue 21).

```toml
[telemetry]
gpu_metrics = { gpu-a = "http://10.0.0.5:9400", gpu-b = "http://10.0.0.6:9400" }  # DCGM exporters
prometheus = "http://prometheus:9090"           # or a Prometheus server that scrapes them
prometheus_selector = 'namespace="serving"'
gpu_map = ["awq=gpu-a:0,1", "bf16=pod~bf16-.*"]  # which GPUs serve which variant (core/gpu_map.py)
engines = { awq = 'job="awq"' }                  # a variant's vllm:* series through Prometheus
```

Checked like every other table: one line naming the file, the line and the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from quanttui.core.gpu_map import (
    GpuMapError,
    host_name_problem,
    matchers_problem,
    parse_gpu_match,
    url_problem,
)

_KEYS: dict[str, type] = {
    "gpu_metrics": dict, "prometheus": str, "prometheus_selector": str, "gpu_map": list, "engines": dict,
}  # fmt: skip


class _Errors(Protocol):
    def error(self, table: str, key: str, message: str) -> Exception: ...


def read_telemetry(reader: _Errors, data: dict[str, Any], variants: Sequence[str]) -> dict[str, Any]:
    table = data.get("telemetry", {})
    if not isinstance(table, dict):
        raise reader.error("telemetry", "", "expected a table")
    for key, value in table.items():
        kind = _KEYS.get(key)
        if kind is None:
            raise reader.error("telemetry", key, f"unknown key (known: {', '.join(sorted(_KEYS))})")
        if not isinstance(value, kind):
            raise reader.error("telemetry", key, f"expected a {'table' if kind is dict else kind.__name__}")
    exporters = table.get("gpu_metrics", {})
    for host, url in exporters.items():
        problem = host_name_problem(host) or (url_problem(url) if isinstance(url, str) else "expected a URL")
        if problem:
            raise reader.error("telemetry", "gpu_metrics", f"{host}: {problem}")
    prometheus = table.get("prometheus")
    if prometheus is not None and url_problem(prometheus):
        raise reader.error("telemetry", "prometheus", str(url_problem(prometheus)))
    selector = table.get("prometheus_selector")
    if selector is not None and (prometheus is None or matchers_problem(selector)):
        raise reader.error(
            "telemetry", "prometheus_selector", matchers_problem(selector) or "needs prometheus"
        )
    entries = table.get("gpu_map", [])
    if entries and not exporters and prometheus is None:
        raise reader.error("telemetry", "gpu_map", "needs gpu_metrics or prometheus (the GPUs it maps)")
    for entry in entries:
        if not isinstance(entry, str):
            raise reader.error("telemetry", "gpu_map", 'expected strings like "awq=gpu-a:0"')
        try:
            match = parse_gpu_match(entry, [] if prometheus else list(exporters))
        except GpuMapError as exc:
            raise reader.error("telemetry", "gpu_map", str(exc)) from None
        if match.variant not in variants:
            raise reader.error("telemetry", "gpu_map", f"{entry!r}: no variant named {match.variant!r}")
    engines = table.get("engines", {})
    if engines and prometheus is None:
        raise reader.error("telemetry", "engines", "needs prometheus (the server that scrapes the engines)")
    for variant, matchers in engines.items():
        if variant not in variants:
            raise reader.error("telemetry", "engines", f"no variant named {variant!r}")
        if not isinstance(matchers, str) or matchers_problem(matchers):
            raise reader.error(
                "telemetry", "engines", f'{variant}: expected PromQL label matchers like job="awq"'
            )
    return dict(table)
