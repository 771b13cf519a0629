"""Session configuration files (TOML): the variants to launch and the load to drive.

```toml
[load]
concurrency = [1, 2, 4, 8]
requests_per_step = 32
max_tokens = 128
ignore_eos = true
slo_p95_ms = 3000

[variants.bf16]
model = "/models/qwen2.5-1.5b-instruct"
dtype = "bfloat16"
gpu_memory_utilization = 0.42
port = 8001
```

Every key is checked: an unknown key, a wrong type or a bad value is one line naming the file,
the line (where the key is found in the text) and the field.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quanttui.core.loadplan import parse_slo
from quanttui.core.names import variant_count_problem, variant_name_problem
from quanttui.core.secrets import redact_argv
from quanttui.io.fleet_config import check_attached, check_one_kind
from quanttui.io.telemetry_config import read_telemetry
from quanttui.io.variant_config import (
    DEFAULT_COMMAND,
    ENGINE_KINDS,
    LLAMA_CPP_COMMAND,
    VLLM_ONLY_KEYS,
    VariantConfig,
)

# What other modules import from here (a variant's engine lives in io/variant_config.py).
__all__ = [
    "DEFAULT_COMMAND", "LLAMA_CPP_COMMAND", "MAX_LOAD_WORKERS", "ConfigError", "SessionFile", "VariantConfig",
    "load_config", "redact_argv",
]  # fmt: skip


class ConfigError(ValueError):
    pass


_SPEC: dict[str, tuple[type | tuple[type, ...], str]] = {
    "model": (str, "a model path or id"),
    "served_name": (str, "a name"),
    "precision": (str, "a label such as bf16 or awq"),
    "quantization": (str, "a vLLM quantization name"),
    "dtype": (str, "a dtype such as bfloat16"),
    "max_model_len": (int, "an integer"),
    "gpu_memory_utilization": ((int, float), "a fraction in (0, 1]"),
    "kv_cache_memory_bytes": (int, "a number of bytes"),
    "max_num_seqs": (int, "an integer"),
    "enforce_eager": (bool, "true or false"),
    "host": (str, "an address"),
    "port": (int, "a port number"),
    "command": (list, "a list of strings"),
    "extra_args": (list, "a list of strings"),
    "env": (dict, "a table of strings"),
    "startup_timeout_s": ((int, float), "seconds"),
    "stop_grace_s": ((int, float), "seconds"),
    "engine": (str, f"one of {', '.join(ENGINE_KINDS)}"),
    "urls": (list, "a list of URLs"),
    "balance": (str, "round-robin or least-outstanding"),
}


def _line_of(text: str, table: str, key: str) -> int | None:
    """Best-effort line number of `key =` inside `[table]` (tomllib does not keep positions)."""
    in_table = False
    header = re.compile(r"^\s*\[\s*" + re.escape(table).replace(r"\.", r"\s*\.\s*") + r"\s*\]\s*$")
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            in_table = bool(header.match(line))
            continue
        if in_table and re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return number
    return None


class _Reader:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text

    def error(self, table: str, key: str, message: str) -> ConfigError:
        line = _line_of(self.text, table, key)
        where = f"{self.path}:{line}" if line else str(self.path)
        return ConfigError(f"{where}: field '{table}.{key}': {message}")

    def variant(self, name: str, data: Any) -> VariantConfig:
        table = f"variants.{name}"
        problem = variant_name_problem(name)
        if problem is not None:
            raise ConfigError(f"{self.path}: field '{table}': {problem}")
        if not isinstance(data, dict):
            raise ConfigError(f"{self.path}: field '{table}': expected a table")
        for key, value in data.items():
            if key not in _SPEC:
                raise self.error(table, key, f"unknown key (known: {', '.join(sorted(_SPEC))})")
            kinds, what = _SPEC[key]
            if isinstance(value, bool) and kinds is not bool:
                raise self.error(table, key, f"expected {what}")
            if not isinstance(value, kinds):
                raise self.error(table, key, f"expected {what}")
        if "urls" in data:
            check_attached(self, table, data)
            return VariantConfig(
                name=name, model=data.get("model", ""), served_name=data.get("model", ""),
                precision=data.get("precision", ""), urls=tuple(u.strip() for u in data["urls"]),
                balance=data.get("balance", "round-robin"),
            )  # fmt: skip
        if "balance" in data:
            raise self.error(table, "balance", "needs urls (the replicas of a fleet to spread the load over)")
        if "model" not in data:
            raise ConfigError(f"{self.path}: field '{table}.model': missing")
        engine = data.get("engine", "vllm")
        if engine not in ENGINE_KINDS:
            raise self.error(table, "engine", f"expected one of {', '.join(ENGINE_KINDS)}, got {engine!r}")
        if engine != "vllm":
            for key in VLLM_ONLY_KEYS:
                if key in data:
                    raise self.error(table, key, f"not used by engine {engine!r} (a vLLM setting)")
        for key in ("command", "extra_args"):
            if key in data and not all(isinstance(a, str) for a in data[key]):
                raise self.error(table, key, "expected a list of strings")
        if "command" in data and not data["command"]:
            raise self.error(table, "command", "must not be empty")
        if "env" in data and not all(isinstance(v, str) for v in data["env"].values()):
            raise self.error(table, "env", "every value must be a string")
        fraction = data.get("gpu_memory_utilization")
        if fraction is not None and not 0 < fraction <= 1:
            raise self.error(table, "gpu_memory_utilization", f"must be within (0, 1], got {fraction}")
        for key in (
            "max_model_len",
            "kv_cache_memory_bytes",
            "max_num_seqs",
            "startup_timeout_s",
            "stop_grace_s",
        ):
            if key in data and not data[key] > 0:
                raise self.error(table, key, f"must be > 0, got {data[key]}")
        if "port" in data and not 1 <= data["port"] <= 65535:
            raise self.error(table, "port", f"must be within 1..65535, got {data['port']}")
        values = {k: v for k, v in data.items()}
        for key in ("command", "extra_args"):
            if key in values:
                values[key] = tuple(values[key])
        values.setdefault("served_name", name)
        if engine == "llama-cpp":
            values.setdefault("command", LLAMA_CPP_COMMAND)
        if "gpu_memory_utilization" in values:
            values["gpu_memory_utilization"] = float(values["gpu_memory_utilization"])
        return VariantConfig(name=name, **values)


@dataclass(frozen=True)
class SessionFile:
    path: Path
    variants: tuple[VariantConfig, ...]
    load: dict[str, Any]
    cost: dict[str, Any] = field(default_factory=dict)  # gpu_usd_per_hour, tokens_per_day, utilization
    hardware: dict[str, Any] = field(default_factory=dict)  # memory_bandwidth_gbps
    telemetry: dict[str, Any] = field(default_factory=dict)  # [telemetry]: io/telemetry_config.py


MAX_LOAD_WORKERS = 64
_LOAD_KEYS = {
    "concurrency": list,
    "requests_per_step": int,
    "step_seconds": (int, float),
    "warmup_requests": int,
    "max_tokens": int,
    "ignore_eos": bool,
    "temperature": (int, float),
    "seed": int,
    "slo_p95_ms": (int, float),
    "slo_metric": str,
    "slo": str,
    "confidence": (int, float),
    "max_step_requests": int,
    "max_step_seconds": (int, float),
    "schedule": str,
    "trials": int,
    "max_error_rate": (int, float),
    "prompts": str,
    "load_workers": int,
    "ray": str,
    "rate": list,
    "arrivals": str,
    "burstiness": (int, float),
    "arrival_seed": int,
    "max_concurrency": int,
    "workload": str,
    "input_lengths": list,
    "prefix_tokens": int,
    "output_tokens": (str, int),
    "input_tokens": (str, int),
    "length_seed": int,
    "history": str,
    "tokenizer": str,
}


_COST_KEYS = {"gpu_usd_per_hour": (int, float), "tokens_per_day": (int, float), "utilization": (int, float)}
_HARDWARE_KEYS = {"memory_bandwidth_gbps": (int, float)}


def _table(
    reader: _Reader, path: Path, data: dict[str, Any], name: str, keys: dict[str, Any]
) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: field '{name}': expected a table")
    for key, value in table.items():
        kinds = keys.get(key)
        if kinds is None:
            raise reader.error(name, key, f"unknown key (known: {', '.join(sorted(keys))})")
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise reader.error(name, key, "wrong type")
        if name != "load" and not value > 0:
            raise reader.error(name, key, "must be > 0")
    return dict(table)


def load_config(path: Path) -> SessionFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    reader = _Reader(path, text)
    unknown = sorted(set(data) - {"variants", "load", "cost", "hardware", "telemetry"})
    if unknown:
        raise ConfigError(
            f"{path}: field '{unknown[0]}': unknown table (known: cost, hardware, load, telemetry, variants)"
        )
    variants_data = data.get("variants", {})
    if not isinstance(variants_data, dict) or not variants_data:
        raise ConfigError(f"{path}: field 'variants': at least one [variants.NAME] table is needed")
    variants = tuple(reader.variant(name, table) for name, table in variants_data.items())
    check_one_kind(reader, variants_data)
    count = variant_count_problem(len(variants))
    if count is not None:
        raise ConfigError(f"{path}: field 'variants': {count}")
    ports = [(v.host, v.port) for v in variants if not v.urls]
    for v in variants:
        if v.urls:
            continue
        if ports.count((v.host, v.port)) > 1:
            raise reader.error(f"variants.{v.name}", "port", f"{v.port} is used by another variant")
    load = data.get("load", {})
    if not isinstance(load, dict):
        raise ConfigError(f"{path}: field 'load': expected a table")
    for key, value in load.items():
        kinds = _LOAD_KEYS.get(key)
        if kinds is None:
            raise reader.error("load", key, f"unknown key (known: {', '.join(sorted(_LOAD_KEYS))})")
        if (isinstance(value, bool) and kinds is not bool) or not isinstance(value, kinds):
            raise reader.error("load", key, "wrong type")
    metric = load.get("slo_metric")
    if metric is not None and metric not in {"e2e", "ttft", "tpot", "itl"}:
        raise reader.error("load", "slo_metric", f"{metric!r} is not one of e2e, ttft, tpot, itl")
    if "slo" in load:
        try:
            parse_slo(load["slo"])
        except ValueError as exc:
            raise reader.error("load", "slo", str(exc)) from None
    workers = load.get("load_workers")
    if workers is not None and not 0 <= workers <= MAX_LOAD_WORKERS:
        raise reader.error(
            "load", "load_workers", f"must be 0 (the session's own loop) to {MAX_LOAD_WORKERS}, got {workers}"
        )
    ray = load.get("ray")
    if ray is not None and (not ray.strip() or any(c.isspace() for c in ray.strip()) or workers == 0):
        why = (
            "needs at least one load worker"
            if workers == 0
            else f"{ray!r} is not host:port, ray://host:port or auto"
        )
        raise reader.error("load", "ray", why)
    schedule = load.get("schedule")
    if schedule is not None and schedule not in {"simultaneous", "alternate"}:
        raise reader.error("load", "schedule", f"{schedule!r} is not one of simultaneous, alternate")
    cost = _table(reader, path, data, "cost", _COST_KEYS)
    if cost.get("utilization", 1) > 1:
        raise reader.error("cost", "utilization", "must be in (0, 1]")
    hardware = _table(reader, path, data, "hardware", _HARDWARE_KEYS)
    telemetry = read_telemetry(reader, data, [v.name for v in variants])
    return SessionFile(path, variants, load, cost, hardware, telemetry)
