"""Accuracy metrics (pairs and clusterings), the exact all-pairs oracle, and
process measurement, shared by ``dedup bench`` and ``benchmarks/``.

Example:
    >>> precision_recall({(0, 1), (2, 3)}, {(0, 1), (4, 5)})
    (0.5, 0.5)
    >>> adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 1])
    1.0
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "adjusted_rand_index",
    "cluster_pairs",
    "clustering_scores",
    "exact_containment",
    "exact_pairs",
    "f1",
    "measure",
    "normalize_pairs",
    "precision_recall",
]

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


def cluster_pairs(labels: Sequence[object]) -> set[Pair]:
    """Every pair of positions that share a label (pair-counting view of a clustering)."""
    members: dict[object, list[int]] = {}
    for i, label in enumerate(labels):
        members.setdefault(label, []).append(i)
    return {(a, b) for group in members.values() for i, a in enumerate(group) for b in group[i + 1 :]}


def adjusted_rand_index(truth: Sequence[object], predicted: Sequence[object]) -> float:
    """Adjusted Rand index of two clusterings given as one label per item
    (1.0 identical, ~0 for chance agreement).

    Raises:
        ValueError: the labelings differ in length.
    """
    if len(truth) != len(predicted):
        raise ValueError("both clusterings must label the same items")
    n = len(truth)
    if n < 2:
        return 1.0

    def comb2(x: int) -> int:
        return x * (x - 1) // 2

    contingency: dict[tuple[object, object], int] = {}
    rows: dict[object, int] = {}
    cols: dict[object, int] = {}
    for t, p in zip(truth, predicted, strict=True):
        contingency[(t, p)] = contingency.get((t, p), 0) + 1
        rows[t] = rows.get(t, 0) + 1
        cols[p] = cols.get(p, 0) + 1
    index = sum(comb2(v) for v in contingency.values())
    sum_rows = sum(comb2(v) for v in rows.values())
    sum_cols = sum(comb2(v) for v in cols.values())
    expected = sum_rows * sum_cols / comb2(n)
    maximum = (sum_rows + sum_cols) / 2
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)


def clustering_scores(truth: Sequence[object], predicted: Sequence[object]) -> tuple[float, float, float]:
    """``(recall, precision, ari)`` of a predicted clustering against the truth,
    one label per item: pair-counting recall and precision, and the adjusted Rand index.

    Raises:
        ValueError: the labelings differ in length.
    """
    precision, recall = precision_recall(cluster_pairs(predicted), cluster_pairs(truth))
    return recall, precision, adjusted_rand_index(truth, predicted)


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
    a, b, shared = _shared_shingles(values, starts)
    sizes = np.diff(starts)
    jaccard = shared / (sizes[a] + sizes[b] - shared)
    keep = jaccard >= threshold
    return {(int(i), int(j)): float(s) for i, j, s in zip(a[keep], b[keep], jaccard[keep], strict=True)}


def exact_containment(
    values: npt.NDArray[np.uint64], starts: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.float64]]:
    """Containment of every pair sharing a shingle, by the same sparse product
    as :func:`exact_pairs` (the oracle of ``--measure containment``).

    Args:
        values: uint64, each document's distinct shingle hashes back to back.
        starts: int64, shape ``(n_docs + 1,)``.

    Returns:
        ``(a, b, containment)``, arrays of shape ``(n_pairs,)`` with ``a < b``:
        the shared shingles over the smaller set's size (float64).
    """
    a, b, shared = _shared_shingles(values, starts)
    sizes = np.diff(starts)
    return a, b, shared / np.minimum(sizes[a], sizes[b])


def _shared_shingles(
    values: npt.NDArray[np.uint64], starts: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """``(a, b, shared)`` of every pair ``a < b`` sharing a shingle, from ``X @ X.T``."""
    from scipy import sparse

    n_docs = len(starts) - 1
    _, columns = np.unique(values, return_inverse=True)
    x = sparse.csr_matrix(
        (np.ones(len(values), dtype=np.int32), columns.ravel(), starts),
        shape=(n_docs, int(columns.max(initial=-1)) + 1),
    )
    inter = sparse.triu(x @ x.T, k=1).tocoo()
    return inter.row, inter.col, inter.data


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


def _peak_kib(pid: int) -> int:
    """The process's own high-water mark of resident memory (VmHWM)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(cmd: Sequence[str], interval: float = 0.01) -> tuple[float, int]:
    """Run ``cmd``; return (wall seconds, peak resident KiB of its process tree).

    Every ``interval`` seconds the tree is walked and each process's own
    high-water mark (VmHWM, kept by the kernel, so no short peak is missed)
    is recorded; the result is the sum over all processes seen. For one
    process that is its exact peak; for a pool it is an upper bound (the
    workers' peaks need not coincide).

    Raises:
        subprocess.CalledProcessError: the command failed.
    """
    start = time.perf_counter()
    peaks: dict[int, int] = {}
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        while proc.poll() is None:
            for pid in _tree(proc.pid):
                peaks[pid] = max(peaks.get(pid, 0), _peak_kib(pid))
            time.sleep(interval)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            err.seek(0)
            raise subprocess.CalledProcessError(proc.returncode, cmd, stderr=err.read())
    return elapsed, sum(peaks.values())
