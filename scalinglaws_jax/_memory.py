"""How much memory the host has left, for refusing a computation before it is allocated."""

from __future__ import annotations

import os


def host_available_bytes() -> float:
    """MemAvailable of /proc/meminfo (bytes); the physical memory where that is not known."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError):
        return float("inf")
