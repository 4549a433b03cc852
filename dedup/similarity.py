"""Similarity of documents: exact Jaccard of shingle sets, and MinHash estimates.

Example:
    >>> import numpy as np
    >>> values = np.array([1, 2, 3, 2, 3, 4], dtype=np.uint64)
    >>> starts = np.array([0, 3, 6])
    >>> exact_jaccard(values, starts, np.array([0]), np.array([1])).tolist()
    [0.5]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dedup._kernels import check_offsets, check_pairs, jaccard_kernel
from dedup._threads import resolve_workers

__all__ = ["estimate_jaccard", "exact_jaccard"]


def exact_jaccard(
    values: npt.NDArray[np.uint64],
    starts: npt.NDArray[np.int64],
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    *,
    workers: int | None = None,
) -> npt.NDArray[np.float64]:
    """Exact Jaccard similarity of document pairs' shingle sets.

    Args:
        values: uint64, shape ``(total,)``: each document's shingle hashes,
            sorted ascending and distinct, back to back.
        starts: int64, shape ``(n_docs + 1,)``: document ``i`` owns
            ``values[starts[i]:starts[i + 1]]``.
        left: int64, shape ``(n_pairs,)``: first document of each pair.
        right: int64, shape ``(n_pairs,)``: second document of each pair.
        workers: Threads (default: all cores); the result does not depend on it.

    Returns:
        float64, shape ``(n_pairs,)``: ``|A & B| / |A | B|``; two empty sets
        count as identical (1.0).

    Raises:
        ValueError: ``starts`` empty, negative, decreasing or past the end of
            ``values``; ``left`` and ``right`` of different lengths or
            holding an index outside ``[0, n_docs)``.
    """
    values = np.ascontiguousarray(values, dtype=np.uint64)
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    check_offsets(starts, len(values), "starts", "values")
    left = np.ascontiguousarray(left, dtype=np.int64)
    right = np.ascontiguousarray(right, dtype=np.int64)
    check_pairs(left, right, len(starts) - 1)
    return jaccard_kernel(values, starts, left, right, resolve_workers(workers))


def estimate_jaccard(
    signatures: npt.NDArray[np.uint32], left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """MinHash estimate of Jaccard similarity for document pairs.

    Args:
        signatures: uint32, shape ``(n_docs, num_perm)``.
        left: int64, shape ``(n_pairs,)``.
        right: int64, shape ``(n_pairs,)``.

    Returns:
        float64, shape ``(n_pairs,)``: the fraction of equal signature values.

    Raises:
        ValueError: ``signatures`` not 2-D; ``left`` and ``right`` of
            different lengths or holding an index outside ``[0, n_docs)``
            (numpy would wrap a negative one silently).
    """
    if signatures.ndim != 2:
        raise ValueError(f"signatures must be 2-D (n_docs, num_perm), got shape {signatures.shape}")
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    check_pairs(left, right, len(signatures))
    if len(left) == 0:
        return np.zeros(0, dtype=np.float64)
    out = np.empty(len(left), dtype=np.float64)
    # Chunked so the (chunk, num_perm) comparison stays small.
    for lo in range(0, len(left), 65536):
        hi = lo + 65536
        out[lo:hi] = np.mean(signatures[left[lo:hi]] == signatures[right[lo:hi]], axis=1)
    return out
