"""How many threads the compiled kernels use."""

from __future__ import annotations

import os

__all__ = ["resolve_workers"]


def resolve_workers(workers: int | None) -> int:
    """Return ``workers``, or the number of usable cores when it is None.

    Raises:
        ValueError: ``workers`` is less than 1.
    """
    if workers is None:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    return workers
