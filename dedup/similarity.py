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

from dedup._kernels import agreement_kernel, as_array, as_offsets, check_pairs, jaccard_kernel
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
        ValueError: an argument that is not a 1-D array of integers, or
            holds a value its dtype cannot (a float, a negative hash);
            ``starts`` empty, negative, decreasing or past the end of
            ``values``; ``values`` not sorted ascending and distinct within
            a document; ``left`` and ``right`` of different lengths or
            holding an index outside ``[0, n_docs)``.
    """
    values = as_array(values, np.uint64, "values", 1)
    starts = as_offsets(starts, len(values), "starts", "values")
    _check_sets(values, starts)
    left = as_array(left, np.int64, "left", 1)
    right = as_array(right, np.int64, "right", 1)
    check_pairs(left, right, len(starts) - 1)
    return jaccard_kernel(values, starts, left, right, resolve_workers(workers))


def _check_sets(values: npt.NDArray[np.uint64], starts: npt.NDArray[np.int64]) -> None:
    """Check that each document's values are sorted ascending and distinct:
    the kernel's merge counts the intersection only under that precondition.

    Raises:
        ValueError: naming the first document out of order.
    """
    lo = int(starts[0])
    used = values[lo : int(starts[-1])]
    bad = used[1:] <= used[:-1]
    # bad[i] compares used[i] with used[i + 1]: across a document boundary
    # (used[i + 1] starts a document) the order does not matter.
    across = starts[1:-1] - lo - 1
    bad[across[(across >= 0) & (across < len(bad))]] = False
    if bad.any():
        i = lo + int(np.argmax(bad)) + 1
        doc = int(np.searchsorted(starts, i, side="right")) - 1
        raise ValueError(
            "values must be sorted ascending and distinct within each document: "
            f"document {doc} has values[{i - 1}] = {values[i - 1]}, then values[{i}] = {values[i]}"
        )


def estimate_jaccard(
    signatures: npt.NDArray[np.uint32],
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    *,
    workers: int | None = None,
) -> npt.NDArray[np.float64]:
    """MinHash estimate of Jaccard similarity for document pairs.

    Args:
        signatures: uint32, shape ``(n_docs, num_perm)``.
        left: int64, shape ``(n_pairs,)``.
        right: int64, shape ``(n_pairs,)``.
        workers: Threads (default: all cores); the result does not depend on it.

    Returns:
        float64, shape ``(n_pairs,)``: the fraction of equal signature values.

    Raises:
        ValueError: ``signatures`` not 2-D or holding a value outside uint32;
            ``left`` or ``right`` not 1-D integers, of different lengths or
            holding an index outside ``[0, n_docs)`` (numpy would wrap a
            negative one silently).
    """
    signatures = as_array(signatures, np.uint32, "signatures", 2)
    left = as_array(left, np.int64, "left", 1)
    right = as_array(right, np.int64, "right", 1)
    check_pairs(left, right, len(signatures))
    return agreement_kernel(signatures, left, right, resolve_workers(workers))
