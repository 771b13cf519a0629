"""Do the variants' GPU memory fractions fit on one GPU before anything starts?

vLLM's `--gpu-memory-utilization F` is the fraction of the *total* device memory one instance may
take, and each instance checks at start that that much is free. Two instances on one GPU therefore
need F1 + F2 <= 1 - (memory others already use) / total, or the second one fails minutes later.
"""

from __future__ import annotations


def check_fractions(fractions: dict[str, float], total_mib: float, used_mib: float) -> str | None:
    """None when they fit; otherwise one line saying by how much they do not."""
    if not fractions or total_mib <= 0:
        return None
    wanted = sum(fractions.values())
    free_fraction = max(0.0, 1.0 - used_mib / total_mib)
    if wanted <= free_fraction + 1e-9:
        return None
    parts = " + ".join(f"{name} {value:g}" for name, value in fractions.items())
    return (
        f"gpu_memory_utilization {parts} = {wanted:.2f} of {total_mib:.0f} MiB, but only {free_fraction:.2f} "
        f"is free ({used_mib:.0f} MiB already in use); lower the fractions"
    )
