"""Helpers of the benchmark scripts; the metrics themselves live in :mod:`dedup.metrics`."""

from __future__ import annotations

import os

from dedup.metrics import (
    adjusted_rand_index,
    cluster_pairs,
    exact_containment,
    exact_pairs,
    f1,
    measure,
    normalize_pairs,
    precision_recall,
)

__all__ = [
    "adjusted_rand_index",
    "cluster_pairs",
    "exact_containment",
    "exact_pairs",
    "f1",
    "measure",
    "normalize_pairs",
    "precision_recall",
    "write_section",
]


def write_section(path: str | os.PathLike[str], name: str, text: str) -> None:
    """Replace (or append) the section ``name`` of a Markdown results file,
    delimited by ``<!-- section:name -->`` ... ``<!-- end:name -->``, so each
    benchmark script rewrites only its own figures."""
    begin, end = f"<!-- section:{name} -->", f"<!-- end:{name} -->"
    block = f"{begin}\n{text.rstrip()}\n{end}\n"
    try:
        with open(path, encoding="utf-8") as f:
            current = f.read()
    except FileNotFoundError:
        current = "# Benchmark results\n\n"
    if begin in current and end in current:
        head, rest = current.split(begin, 1)
        _, tail = rest.split(end, 1)
        current = head + block + tail.lstrip("\n")
    else:
        current = current.rstrip("\n") + "\n\n" + block
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(current)
    os.replace(tmp, path)
