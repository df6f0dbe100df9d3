"""Peak resident memory of a benchmark's stage (Linux ``/proc/self``), shared by the scripts here."""

from __future__ import annotations

from pathlib import Path


def status_kib(field: str) -> float:
    """A ``/proc/self/status`` field in KiB (``VmRSS``, ``VmHWM``); NaN where not available."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return float("nan")
    for line in lines:
        if line.startswith(field + ":"):
            return float(line.split()[1])
    return float("nan")


def reset_peak() -> float:
    """Reset the peak (VmHWM) to the current resident memory; return that in MiB."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return status_kib("VmRSS") / 1024


def peak_mib() -> float:
    """Peak resident memory since the last :func:`reset_peak`, MiB."""
    return status_kib("VmHWM") / 1024
