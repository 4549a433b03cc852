"""Time what a scan does after its last document is sketched: the matching
stages (``dedup.pipeline._match``) and then everything until the process
ends (the spill folder's removal, writing and syncing the output).

Runs the ``dedup`` command line in this process with the given arguments and
prints, to stderr, wall and CPU seconds (all threads) of both parts.

Usage (from a checkout, so that its ``dedup`` is the one imported)::

    PYTHONPATH=. .venv/bin/python benchmarks/time_matching.py scan DUMP --format jsonl -o OUT -q
"""

from __future__ import annotations

import atexit
import sys
import time
from typing import Any

import dedup.pipeline
from dedup.__main__ import main

_marks: dict[str, tuple[float, float]] = {}
_match = dedup.pipeline._match


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _timed_match(*args: Any, **kwargs: Any) -> Any:
    _marks["start"] = _now()
    try:
        return _match(*args, **kwargs)
    finally:
        _marks["matched"] = _now()


def _report() -> None:
    if "matched" not in _marks:
        return
    end = _now()
    (w0, c0), (w1, c1) = _marks["start"], _marks["matched"]
    print(
        f"matching: {w1 - w0:.3f} s wall, {c1 - c0:.3f} s CPU; after it: {end[0] - w1:.3f} s wall, "
        f"{end[1] - c1:.3f} s CPU; together: {end[0] - w0:.3f} s wall, {end[1] - c0:.3f} s CPU",
        file=sys.stderr,
    )


if __name__ == "__main__":
    dedup.pipeline._match = _timed_match  # type: ignore[assignment]
    atexit.register(_report)
    sys.argv = ["dedup", *sys.argv[1:]]
    main()
