"""Which variant a GPU seen by a DCGM exporter belongs to.

Local NVML lists the processes on a GPU, so an engine quanttui launched is found by its pids. An
exporter on another host lists none: the operator says which GPUs serve which variant, by the
exporter's host and the GPUs' indices or UUIDs ("awq=gpu-a:0,1"), or by the labels DCGM puts on
each series in Kubernetes ("awq=pod~awq-.*", a regular expression the whole label must match).
Pure: specs in, a variant (or None) out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

# The labels a map entry may match: those the readers keep from DCGM exporter's series (through
# Prometheus also `instance`); any other name would silently match nothing.
MAP_LABELS = ("Hostname", "modelName", "device", "pod", "container", "namespace", "instance")
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


class GpuMapError(ValueError):
    """A GPU map entry that cannot be used; the message names the entry."""


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a telemetry source's address, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"{url!r} is not an http:// or https:// URL with a host"
    return None


def matchers_problem(matchers: str) -> str | None:
    """A PromQL label-matcher list as quanttui puts it inside {...}; Prometheus judges the rest."""
    if not matchers.strip() or any(c in matchers for c in "{}\n"):
        return f'{matchers!r} is not a list of label matchers like job="awq"'
    return None


def host_name_problem(host: str) -> str | None:
    """Why `host` cannot name a GPU host (it is matched in map entries and records), or None."""
    if not _HOST.fullmatch(host):
        return f"{host!r} is not a host name (letters, digits, '.', '_', '-'; at most 63)"
    return None


@dataclass(frozen=True)
class GpuMatch:
    variant: str
    host: str | None = None  # the exporter's host, as named in --gpu-metrics HOST=URL
    gpus: tuple[str, ...] = ()  # indices ("0") or UUIDs ("GPU-…"); empty: every GPU of the host
    labels: tuple[tuple[str, re.Pattern[str]], ...] = ()  # label -> what its whole value must match

    def matches(self, host: str, index: int, uuid: str, labels: Mapping[str, str]) -> bool:
        if self.host is not None and self.host != host:
            return False
        if self.gpus and str(index) not in self.gpus and uuid not in self.gpus:
            return False
        return all(name in labels and pattern.fullmatch(labels[name]) for name, pattern in self.labels)


def parse_gpu_match(text: str, hosts: Sequence[str] = ()) -> GpuMatch:
    """One `--gpu-map` entry: `VARIANT=HOST[:GPU,GPU...]` or `VARIANT=LABEL~REGEX[,LABEL~REGEX...]`.
    `hosts`: the exporters' names, so a typo in one is caught here, not as an empty chart."""
    variant, sep, spec = text.partition("=")
    variant, spec = variant.strip(), spec.strip()
    if not sep or not variant or not spec:
        raise GpuMapError(f"{text!r}: expected VARIANT=HOST[:GPU,...] or VARIANT=LABEL~REGEX")
    if "~" in spec:
        labels = []
        for part in re.split(r",(?=\s*\w+\s*~)", spec):  # a comma inside an expression ({1,3}) stays
            name, tilde, pattern = part.partition("~")
            if not tilde or not name.strip():
                raise GpuMapError(f"{text!r}: {part!r} is not LABEL~REGEX")
            if name.strip() not in MAP_LABELS:
                raise GpuMapError(
                    f"{text!r}: no label {name.strip()!r} to match (labels: {', '.join(MAP_LABELS)})"
                )
            try:
                labels.append((name.strip(), re.compile(pattern)))
            except re.error as exc:
                raise GpuMapError(f"{text!r}: {pattern!r} is not a regular expression ({exc})") from None
        return GpuMatch(variant, labels=tuple(labels))
    host, colon, gpus = spec.partition(":")
    host = host.strip()
    problem = host_name_problem(host)
    if problem is not None:
        raise GpuMapError(f"{text!r}: {problem}")
    if hosts and host not in hosts:
        raise GpuMapError(f"{text!r}: no exporter named {host!r} (--gpu-metrics gives {', '.join(hosts)})")
    chosen = tuple(g.strip() for g in gpus.split(",") if g.strip())
    if colon and not chosen:
        raise GpuMapError(
            f"{text!r}: no GPU after ':' (give indices or UUIDs, or leave ':' out for every GPU)"
        )
    return GpuMatch(variant, host=host, gpus=chosen)


def map_gpu(
    matches: Sequence[GpuMatch], host: str, index: int, uuid: str, labels: Mapping[str, str]
) -> str | None:
    """The first variant whose entry matches this GPU, or None (its memory is nobody's)."""
    return next((m.variant for m in matches if m.matches(host, index, uuid, labels)), None)
