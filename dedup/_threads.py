"""How many threads the compiled kernels use."""

from __future__ import annotations

import os

__all__ = ["MAX_WORKERS", "resolve_workers"]

MAX_WORKERS = 256
"""More threads than this is a typo, not a machine: OpenMP would try to start
them all (libgomp aborts the process when it cannot)."""


def resolve_workers(workers: int | None) -> int:
    """Return ``workers``, or the number of usable cores when it is None.

    Raises:
        ValueError: ``workers`` is outside ``[1, MAX_WORKERS]``.
    """
    if workers is None:
        try:
            return min(MAX_WORKERS, max(1, len(os.sched_getaffinity(0))))
        except AttributeError:  # not on Linux
            return min(MAX_WORKERS, max(1, os.cpu_count() or 1))
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be between 1 and {MAX_WORKERS}, got {workers}")
    return workers
