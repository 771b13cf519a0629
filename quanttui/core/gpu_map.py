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


class GpuMapError(ValueError):
    """A GPU map entry that cannot be used; the message names the entry."""


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
        return all(pattern.fullmatch(labels.get(name, "")) for name, pattern in self.labels)


def parse_gpu_match(text: str, hosts: Sequence[str] = ()) -> GpuMatch:
    """One `--gpu-map` entry: `VARIANT=HOST[:GPU,GPU...]` or `VARIANT=LABEL~REGEX[,LABEL~REGEX...]`.
    `hosts`: the exporters' names, so a typo in one is caught here, not as an empty chart."""
    variant, sep, spec = text.partition("=")
    variant, spec = variant.strip(), spec.strip()
    if not sep or not variant or not spec:
        raise GpuMapError(f"{text!r}: expected VARIANT=HOST[:GPU,...] or VARIANT=LABEL~REGEX")
    if "~" in spec:
        labels = []
        for part in spec.split(","):
            name, tilde, pattern = part.partition("~")
            if not tilde or not name.strip():
                raise GpuMapError(f"{text!r}: {part!r} is not LABEL~REGEX")
            try:
                labels.append((name.strip(), re.compile(pattern)))
            except re.error as exc:
                raise GpuMapError(f"{text!r}: {pattern!r} is not a regular expression ({exc})") from None
        return GpuMatch(variant, labels=tuple(labels))
    host, _, gpus = spec.partition(":")
    host = host.strip()
    if hosts and host not in hosts:
        raise GpuMapError(f"{text!r}: no exporter named {host!r} (--gpu-metrics gives {', '.join(hosts)})")
    chosen = tuple(g.strip() for g in gpus.split(",") if g.strip()) if gpus else ()
    return GpuMatch(variant, host=host, gpus=chosen)


def map_gpu(
    matches: Sequence[GpuMatch], host: str, index: int, uuid: str, labels: Mapping[str, str]
) -> str | None:
    """The first variant whose entry matches this GPU, or None (its memory is nobody's)."""
    return next((m.variant for m in matches if m.matches(host, index, uuid, labels)), None)
