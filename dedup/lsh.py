"""Locality-sensitive hashing over MinHash signatures, and datasketch interop.

Signatures are cut into ``num_bands`` bands of ``rows_per_band`` values; two
documents become a candidate pair when all values of at least one band agree.
A pair of Jaccard similarity ``s`` becomes a candidate with probability
``1 - (1 - s**rows_per_band)**num_bands``. :func:`choose_bands` picks the
shape so that a pair exactly at the threshold is caught with probability at
least 0.99: every candidate is verified exactly afterwards, so extra
candidates cost only verification, while a missed pair is lost for good.
(datasketch's own choice at 0.8 with 128 permutations, 9 x 13, catches 40% of
the pairs exactly at the threshold.)

Candidate pairs come from sorting each band's keys and pairing the members of
every run of equal keys, in compiled code, one band per thread.

This is the only module that imports datasketch (lazily: a scan never needs it).

Example:
    >>> choose_bands(0.8, 128)
    (21, 6)
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from dedup._kernels import as_array, band_keys_kernel, band_pairs_kernel, check_int
from dedup._threads import resolve_workers

if TYPE_CHECKING:
    from datasketch import LeanMinHash

__all__ = [
    "MAX_BUCKET",
    "LSHStats",
    "band_keys",
    "candidate_pairs",
    "catch_probability",
    "choose_bands",
    "datasketch_pairs",
    "pairs_from_band_columns",
    "pairs_in_buckets",
    "to_lean_minhashes",
]

_TARGET_RECALL = 0.99


def catch_probability(similarity: float, num_bands: int, rows_per_band: int) -> float:
    """Probability that a pair of the given Jaccard similarity becomes a candidate."""
    return float(1.0 - (1.0 - similarity**rows_per_band) ** num_bands)


def choose_bands(threshold: float, num_perm: int, target: float = _TARGET_RECALL) -> tuple[int, int]:
    """Choose ``(num_bands, rows_per_band)`` for a similarity threshold.

    The widest bands (fewest false candidates) whose catch probability at
    ``threshold`` is at least ``target``, using as many bands as fit in
    ``num_perm``. When no shape reaches the target, one row per band (the most
    sensitive shape) is returned.

    Raises:
        ValueError: ``threshold`` or ``target`` outside ``(0, 1]``;
            ``num_perm`` not an integer or < 1.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target must be in (0, 1], got {target}")
    check_int(num_perm, "num_perm")
    if num_perm < 1:
        raise ValueError(f"num_perm must be positive, got {num_perm}")
    return _widest_bands(float(threshold), int(num_perm), float(target))


@functools.lru_cache(maxsize=64)
def _widest_bands(threshold: float, num_perm: int, target: float) -> tuple[int, int]:
    # Cached: a scan asks once a batch, and the search tries every width.
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if catch_probability(threshold, bands, rows) >= target:
            return bands, rows
    return num_perm, 1


@dataclass(frozen=True)
class LSHStats:
    """What the LSH stage did: the band shape and how many pairs it proposed."""

    num_bands: int
    rows_per_band: int
    band_collisions: int
    candidates: int
    capped_buckets: int = 0


def band_keys(signatures: npt.NDArray[np.uint32], num_bands: int, rows_per_band: int) -> npt.NDArray[np.uint64]:
    """Hash each band of each signature to one 64-bit key.

    Args:
        signatures: uint32, shape ``(n_docs, num_perm)``.
        num_bands: Number of bands; ``num_bands * rows_per_band <= num_perm``.
        rows_per_band: Signature values per band.

    Returns:
        uint64, shape ``(n_docs, num_bands)``.

    Raises:
        ValueError: ``signatures`` is not 2-D or holds a value outside
            uint32 (a float, a negative number); ``num_bands`` or
            ``rows_per_band`` is not an integer, or the bands do not fit in
            the signature width.
    """
    signatures = as_array(signatures, np.uint32, "signatures", 2)
    check_int(num_bands, "num_bands")
    check_int(rows_per_band, "rows_per_band")
    num_perm = signatures.shape[1]
    if num_bands * rows_per_band > num_perm or num_bands < 1 or rows_per_band < 1:
        raise ValueError(f"{num_bands} bands x {rows_per_band} rows do not fit {num_perm} permutations")
    # Each band folds its rows into the band's number: (key ^ value) * MIX,
    # then key ^= key >> 29, in wrapping uint64 (a mixing hash, not
    # arithmetic). Two different bands colliding on one key (odds ~2**-64
    # per pair) only adds a candidate, which verification then rejects.
    return band_keys_kernel(np.ascontiguousarray(signatures), num_bands, rows_per_band)


MAX_BUCKET = 1000
"""Band buckets larger than this pair their members with the bucket's first
document only (see :func:`pairs_from_band_columns`)."""


def _pairs_in_runs(
    order: npt.NDArray[np.int64], keys_sorted: npt.NDArray[np.uint64], n: int, max_bucket: int
) -> tuple[npt.NDArray[np.int64], int]:
    """Pairs inside each run of equal sorted keys, as ``min * n + max`` codes
    of the original indices; and how many runs were over ``max_bucket``."""
    size = len(order)
    if size < 2:
        return np.zeros(0, dtype=np.int64), 0
    boundary = np.flatnonzero(keys_sorted[1:] != keys_sorted[:-1]) + 1
    run_starts = np.concatenate(([0], boundary))
    run_ends = np.concatenate((boundary, [size]))
    lengths = run_ends - run_starts
    big = lengths > max_bucket
    small = (lengths > 1) & ~big
    parts = []
    # A bucket of k documents has k(k-1)/2 pairs: thousands of identical pages
    # would mean millions of pairs per band. Over max_bucket, each member is
    # paired with the bucket's first (smallest) document only: clusters stay
    # connected, and only members that match each other but not that first
    # document can be missed.
    for start, end in zip(run_starts[big].tolist(), run_ends[big].tolist(), strict=True):
        a = np.full(end - start - 1, order[start], dtype=np.int64)
        parts.append((a, order[start + 1 : end]))
    run_starts, run_ends, lengths = run_starts[small], run_ends[small], lengths[small]
    if len(run_starts):
        # For each element p of a run, its partners are the later elements p+1..end-1.
        run_of = np.repeat(np.arange(len(run_starts)), lengths)
        pos = np.arange(len(run_of)) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(run_starts, lengths)
        partners = run_ends[run_of] - pos - 1
        first = np.repeat(pos, partners)
        offset_in_block = np.arange(len(first)) - np.repeat(np.cumsum(partners) - partners, partners)
        parts.append((order[first], order[first + 1 + offset_in_block]))
    if not parts:
        return np.zeros(0, dtype=np.int64), int(big.sum())
    a = np.concatenate([p[0] for p in parts])
    b = np.concatenate([p[1] for p in parts])
    codes: npt.NDArray[np.int64] = np.minimum(a, b) * np.int64(n) + np.maximum(a, b)
    return codes, int(big.sum())


def pairs_in_buckets(
    docs: npt.NDArray[np.int64], keys: npt.NDArray[np.uint64], n_docs: int, max_bucket: int = MAX_BUCKET
) -> tuple[npt.NDArray[np.int64], int]:
    """The pairs of one band's buckets, for an engine that holds only some of
    them (a key range): the rule of :func:`pairs_from_band_columns`.

    Args:
        docs: int64, shape ``(m,)``: document numbers sorted by key, and in
            input order inside a key (a stable sort), so a capped bucket's
            centre is its first document.
        keys: uint64, shape ``(m,)``: their band keys, ascending. Every
            bucket must be whole (all documents with that key).
        n_docs: Number of documents in all (for the pair codes).
        max_bucket: As in :func:`pairs_from_band_columns`.

    Returns:
        ``(codes, capped)``: int64 ``min * n_docs + max`` per colliding pair
        (repeats possible, unsorted), and the number of buckets over
        ``max_bucket``.
    """
    return _pairs_in_runs(docs, keys, n_docs, max_bucket)


def candidate_pairs(
    signatures: npt.NDArray[np.uint32], num_bands: int, rows_per_band: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], LSHStats]:
    """Find candidate pairs: documents that agree on every row of some band.

    Args:
        signatures: uint32, shape ``(n_docs, num_perm)``.
        num_bands: Number of bands; ``num_bands * rows_per_band <= num_perm``.
        rows_per_band: Signature values per band.

    Returns:
        ``(left, right, stats)``: int64 arrays of shape ``(n_candidates,)``
        with ``left < right``, sorted by ``(left, right)``, each pair once.

    Raises:
        ValueError: ``signatures`` is not 2-D, or the bands do not fit in the
            signature width.
    """
    keys = band_keys(signatures, num_bands, rows_per_band)
    columns = (np.ascontiguousarray(keys[:, band]) for band in range(num_bands))
    left, right, collisions, capped = pairs_from_band_columns(columns, len(signatures))
    return left, right, LSHStats(num_bands, rows_per_band, collisions, len(left), capped)


def pairs_from_band_columns(
    columns: Iterable[npt.NDArray[np.uint64]],
    n_docs: int,
    max_bucket: int = MAX_BUCKET,
    *,
    workers: int | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int, int]:
    """Candidate pairs from band keys, a few bands at a time.

    Each band's keys are sorted with their document numbers (a stable radix
    sort in compiled code, one band per thread), and the members of every
    run of equal keys are paired.

    Args:
        columns: For each band, uint64 keys of shape ``(n_docs,)`` (a column
            of :func:`band_keys`); an iterable, so a caller can read one band
            at a time from disk (as many are held at once as there are
            threads).
        n_docs: Number of documents.
        max_bucket: Buckets with more documents pair each member with the
            first one only (a star instead of all pairs).
        workers: Threads (default: all cores); the result does not depend on it.

    Returns:
        ``(left, right, band_collisions, capped_buckets)``: pairs sharing a
        key in some band, ``left < right``, sorted, each once; the number of
        (pair, band) collisions before de-duplication; the number of buckets
        over ``max_bucket``.

    Raises:
        ValueError: ``n_docs`` is not an integer or is negative;
            ``max_bucket`` is not an integer >= 1; a column's shape is not
            ``(n_docs,)`` or it holds a value outside uint64; ``workers``
            out of range.
        MemoryError: a band's scratch memory could not be allocated.
    """
    check_int(n_docs, "n_docs")
    if n_docs < 0:
        raise ValueError(f"n_docs must not be negative, got {n_docs}")
    check_int(max_bucket, "max_bucket", low=1)
    threads = resolve_workers(workers)
    distinct = np.zeros(0, dtype=np.int64)
    collisions = capped = 0
    bands = enumerate(columns)
    while group := list(itertools.islice(bands, threads)):
        block = np.empty((len(group), n_docs), dtype=np.uint64)
        for row, (band, keys) in enumerate(group):
            column = as_array(keys, np.uint64, f"band {band}'s column", 1)
            if column.shape != (n_docs,):
                raise ValueError(f"band {band}'s column has shape {column.shape}, expected ({n_docs},)")
            block[row] = column
        del group
        parts, group_collisions, group_capped = band_pairs_kernel(block, max_bucket, threads)
        collisions += group_collisions
        capped += group_capped
        # Deduped group by group: memory is the distinct pairs plus a few
        # bands, not every band's collisions at once.
        for codes in parts:
            distinct = _merge_sorted(distinct, codes)
    return distinct // max(n_docs, 1), distinct % max(n_docs, 1), collisions, capped


def _merge_sorted(distinct: npt.NDArray[np.int64], new: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Union of two sorted arrays of distinct codes, sorted, in linear time
    plus ``len(new) * log(len(distinct))``."""
    if len(distinct) == 0:
        return new
    pos = np.searchsorted(distinct, new)
    seen = pos < len(distinct)
    seen[seen] = distinct[pos[seen]] == new[seen]
    fresh = ~seen
    # np.insert places each value before the given index; ties keep the
    # order of new, which is sorted.
    return np.insert(distinct, pos[fresh], new[fresh])


def datasketch_pairs(
    texts: Iterable[str], *, threshold: float = 0.8, num_perm: int = 128, n: int = 5
) -> list[tuple[int, int]]:
    """The pipeline a datasketch user writes, for comparison (``dedup bench``).

    NFC + casefold + punctuation folding with ``re``, word n-gram strings,
    ``MinHash(num_perm).update_batch``, ``MinHashLSH(threshold)`` insert and
    query. Unverified LSH matches, as datasketch returns them.

    Returns:
        Pairs ``(i, j)``, ``i < j``, of positions in ``texts``, sorted.
    """
    import re
    import unicodedata

    from datasketch import MinHash, MinHashLSH

    punct = re.compile(r"[\W_]+")
    sketches = []
    for text in texts:
        words = punct.sub(" ", unicodedata.normalize("NFC", text).casefold()).split()
        shingles = (
            [" ".join(words)] if len(words) < n else [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
        )
        m = MinHash(num_perm=num_perm)
        m.update_batch([s.encode("utf-8") for s in shingles])
        sketches.append(m)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    for i, m in enumerate(sketches):
        lsh.insert(i, m)
    return sorted({(i, j) for i, m in enumerate(sketches) for j in lsh.query(m) if j > i})


def to_lean_minhashes(signatures: npt.NDArray[np.uint32], seed: int) -> list[LeanMinHash]:
    """Export signatures as ``datasketch.LeanMinHash`` objects (scheme ``affine32``).

    The objects work with ``datasketch.MinHashLSH`` and give the same Jaccard
    estimates as the signatures.

    Args:
        signatures: uint32, shape ``(n_docs, num_perm)``, from
            :func:`dedup.minhash.compute_signatures` with this ``seed``.
        seed: The seed the signatures were computed with.

    Returns:
        One LeanMinHash per row.

    Raises:
        ValueError: ``signatures`` is not 2-D or holds a value outside uint32.
    """
    signatures = as_array(signatures, np.uint32, "signatures", 2)
    # Imported here: datasketch pulls in scipy (~50 MB resident, ~0.5 s),
    # which a scan never needs.
    from datasketch import LeanMinHash

    return [LeanMinHash(seed=seed, hashvalues=row, scheme="affine32") for row in signatures]
