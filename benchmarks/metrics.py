"""Accuracy metrics and measurement helpers shared by the benchmarks.

Example:
    >>> precision_recall({(0, 1), (2, 3)}, {(0, 1), (4, 5)})
    (0.5, 0.5)
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

Pair = tuple[int, int]


def normalize_pairs(pairs: Iterable[tuple[int, int]]) -> set[Pair]:
    """Pairs as a set of ``(min, max)`` tuples, self-pairs dropped."""
    return {(min(a, b), max(a, b)) for a, b in pairs if a != b}


def precision_recall(found: Iterable[tuple[int, int]], truth: Iterable[tuple[int, int]]) -> tuple[float, float]:
    """Precision and recall of ``found`` pairs against ``truth`` pairs.

    An empty ``found`` has precision 1.0; an empty ``truth`` has recall 1.0
    (nothing to find, nothing missed).
    """
    found_set = normalize_pairs(found)
    truth_set = normalize_pairs(truth)
    hits = len(found_set & truth_set)
    precision = hits / len(found_set) if found_set else 1.0
    recall = hits / len(truth_set) if truth_set else 1.0
    return precision, recall


def f1(precision: float, recall: float) -> float:
    """Harmonic mean of precision and recall (0.0 when both are 0)."""
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def exact_pairs(values: npt.NDArray[np.uint64], starts: npt.NDArray[np.int64], threshold: float) -> dict[Pair, float]:
    """All pairs with exact Jaccard >= threshold, by sparse matrix product.

    The oracle: every pair of documents sharing at least one shingle gets its
    intersection size from ``X @ X.T`` (X the document x shingle incidence
    matrix); all other pairs have similarity 0.

    Args:
        values: uint64, each document's distinct shingle hashes back to back.
        starts: int64, shape ``(n_docs + 1,)``.
        threshold: Minimum Jaccard.

    Returns:
        ``{(i, j): jaccard}`` with ``i < j``.
    """
    from scipy import sparse

    n_docs = len(starts) - 1
    _, columns = np.unique(values, return_inverse=True)
    x = sparse.csr_matrix(
        (np.ones(len(values), dtype=np.int32), columns.ravel(), starts),
        shape=(n_docs, int(columns.max(initial=-1)) + 1),
    )
    inter = sparse.triu(x @ x.T, k=1).tocoo()
    sizes = np.diff(starts)
    jaccard = inter.data / (sizes[inter.row] + sizes[inter.col] - inter.data)
    keep = jaccard >= threshold
    return {(int(i), int(j)): float(s) for i, j, s in zip(inter.row[keep], inter.col[keep], jaccard[keep], strict=True)}


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for p in pids:
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    pids.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return pids


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(cmd: Sequence[str], interval: float = 0.01) -> tuple[float, int]:
    """Run ``cmd``; return (wall seconds, peak resident KiB summed over its
    whole process tree, sampled every ``interval`` seconds).

    Raises:
        subprocess.CalledProcessError: the command failed.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, sum(_rss_kib(p) for p in _tree(proc.pid)))
        time.sleep(interval)
    elapsed = time.perf_counter() - start
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd, stderr=err)
    return elapsed, peak


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
