"""MinHash signatures for a whole batch of documents in one compiled pass.

The permutation scheme is datasketch 2.x's ``"affine32"``, reproduced exactly:
the 32-bit input hash ``h`` (here the low 32 bits of a shingle's XXH64) is
pre-mixed once with the MurmurHash3 32-bit finalizer, then permutation ``k``
maps it to ``a[k] * h + b[k] mod 2**32`` with ``a[k]`` odd (a bijection), and
the signature keeps the minimum per permutation. ``a`` and ``b`` are drawn
from ``numpy.random.RandomState(seed)`` exactly as datasketch draws them, so a
signature row is bit-for-bit ``datasketch.MinHash(num_perm, seed,
hashfunc=low32_xxh64, scheme="affine32")`` after ``update_batch`` of the
same shingles (a hypothesis test checks it).

The input is shingle hashes (uint64 arrays), never text.

Example:
    >>> import numpy as np
    >>> values = np.array([1, 2, 3, 2, 3, 4], dtype=np.uint64)
    >>> starts = np.array([0, 3, 6])
    >>> sig = compute_signatures(values, starts, num_perm=128, seed=1)
    >>> sig.shape, sig.dtype.name
    ((2, 128), 'uint32')
    >>> float(np.mean(sig[0] == sig[1]))  # estimates J = 2/4
    0.546875
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dedup._kernels import as_array, as_offsets, check_int, mt19937_uint32, signature_kernel
from dedup._threads import resolve_workers

__all__ = ["EMPTY_HASH", "compute_signatures", "compute_signatures_reference", "permutations"]

EMPTY_HASH = np.uint32(0xFFFFFFFF)
"""Signature value of an empty document (datasketch's empty sentinel)."""


def permutations(num_perm: int, seed: int) -> npt.NDArray[np.uint32]:
    """Return the affine permutation parameters, shape ``(2, num_perm)``, uint32.

    Row 0 is ``a`` (odd), row 1 is ``b``; drawn like ``datasketch.MinHash``
    with ``scheme="affine32"`` so that the same seed gives the same values.

    Raises:
        ValueError: ``num_perm`` is not a positive integer or ``seed`` not an
            integer in ``[0, 2**32)``.
    """
    check_int(num_perm, "num_perm")
    check_int(seed, "seed")
    if num_perm <= 0:
        raise ValueError(f"num_perm must be positive, got {num_perm}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    # numpy.random.RandomState(seed).randint(0, 2**31, num_perm) then
    # randint(0, 2**32, num_perm), as datasketch draws them: both ranges are
    # powers of two, so each value is one MT19937 output (masked for a).
    drawn = mt19937_uint32(seed, 2 * num_perm)
    a = (drawn[:num_perm] & np.uint32(0x7FFFFFFF)) * np.uint32(2) + np.uint32(1)
    return np.array([a, drawn[num_perm:]], dtype=np.uint32)


def _fmix32(h: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    # uint32 multiplication wraps modulo 2**32: that is the finalizer's definition.
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def compute_signatures(
    values: npt.NDArray[np.uint64],
    starts: npt.NDArray[np.int64],
    *,
    num_perm: int = 128,
    seed: int = 1,
    workers: int | None = None,
) -> npt.NDArray[np.uint32]:
    """Compute MinHash signatures of a batch of shingle-hash sets.

    Args:
        values: uint64, shape ``(total,)``: shingle hashes of all documents back
            to back (duplicates allowed).
        starts: int64, shape ``(n_docs + 1,)``: document ``i`` owns
            ``values[starts[i]:starts[i + 1]]``.
        num_perm: Number of permutations (signature width).
        seed: Seed of the permutations.
        workers: Threads (default: all cores); the result does not depend on it.

    Returns:
        uint32, shape ``(n_docs, num_perm)``; an empty document's row is all
        :data:`EMPTY_HASH`.

    Raises:
        ValueError: ``num_perm`` or ``seed`` out of range; ``values`` or
            ``starts`` not a 1-D array of integers, or holding a value its
            dtype cannot (a float, a negative hash); ``starts`` empty,
            negative, decreasing or past the end of ``values``.
    """
    perms = permutations(num_perm, seed)
    values = as_array(values, np.uint64, "values", 1)
    starts = as_offsets(starts, len(values), "starts", "values")
    return signature_kernel(values, starts, perms[0], perms[1], resolve_workers(workers))


def compute_signatures_reference(
    values: npt.NDArray[np.uint64],
    starts: npt.NDArray[np.int64],
    *,
    num_perm: int = 128,
    seed: int = 1,
) -> npt.NDArray[np.uint32]:
    """Plain numpy version of :func:`compute_signatures`, for tests.

    Vectorized over shingles x permutations with a segment reduction
    (``np.minimum.reduceat``); memory is ``O(total * num_perm)``, so it suits
    small batches only.
    """
    perms = permutations(num_perm, seed)
    n_docs = len(starts) - 1
    out = np.full((n_docs, num_perm), EMPTY_HASH, dtype=np.uint32)
    if len(values) == 0:
        return out
    h = _fmix32((values & np.uint64(0xFFFFFFFF)).astype(np.uint32))
    permuted = h[:, None] * perms[0][None, :] + perms[1][None, :]
    nonempty = np.flatnonzero(np.diff(starts) > 0)
    out[nonempty] = np.minimum.reduceat(permuted, starts[nonempty], axis=0)
    return out
