"""Shingling: normalized documents to sets of 64-bit shingle hashes.

A shingle is a run of ``n`` consecutive words (``word:n``, the default
``word:5``) or code points (``char:n``) of the normalized text. Its hash is
XXH64 of its UTF-8 bytes: because normalized text has exactly one space
between words, a word n-gram is a contiguous byte slice, so the kernel hashes
slices in place and never builds a string. The reference is
``xxhash.xxh64_intdigest(" ".join(words[i:i + n]).encode())``.

A document shorter than one shingle (fewer than ``n`` words or code points)
has one shingle, its whole text, so short documents still match each other.

Example:
    >>> from dedup.normalize import normalize_batch
    >>> buf, offsets = normalize_batch(["Một hai ba bốn năm sáu", "x"])
    >>> values, starts = shingle_batch(buf, offsets, ShingleSpec("word", 5))
    >>> starts.tolist()
    [0, 2, 3]
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np
import numpy.typing as npt

from dedup.hashing import xxh64_slice

__all__ = ["ShingleSpec", "parse_shingle_spec", "shingle_batch"]

_WORD = 0
_CHAR = 1


@dataclass(frozen=True)
class ShingleSpec:
    """What a shingle is: ``kind`` ``"word"`` or ``"char"``, and its size ``n``."""

    kind: str = "word"
    n: int = 5

    def __post_init__(self) -> None:
        if self.kind not in ("word", "char"):
            raise ValueError(f"shingle kind must be 'word' or 'char', got {self.kind!r}")
        if not 1 <= self.n <= 64:
            raise ValueError(f"shingle size must be between 1 and 64, got {self.n}")

    def __str__(self) -> str:
        return f"{self.kind}:{self.n}"


def parse_shingle_spec(text: str) -> ShingleSpec:
    """Parse ``"word:5"`` or ``"char:5"``.

    Raises:
        ValueError: ``text`` is not ``KIND:N`` with KIND word or char and N in 1..64.
    """
    kind, sep, size = text.partition(":")
    if not sep or not size.isdigit():
        raise ValueError(f"shingle must look like 'word:5' or 'char:5', got {text!r}")
    return ShingleSpec(kind, int(size))


@nb.njit(cache=True, nogil=True)
def _boundaries(doc: npt.NDArray[np.uint8], kind: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Start and end byte of every word (kind 0) or code point (kind 1)."""
    m = doc.shape[0]
    count = 0
    for i in range(m):
        b = doc[i]
        if kind == _WORD:
            if b != 0x20 and (i == 0 or doc[i - 1] == 0x20):
                count += 1
        elif (b & 0xC0) != 0x80:
            count += 1
    starts = np.empty(count, dtype=np.int64)
    ends = np.empty(count, dtype=np.int64)
    k = 0
    for i in range(m):
        b = doc[i]
        if kind == _WORD:
            if b != 0x20 and (i == 0 or doc[i - 1] == 0x20):
                starts[k] = i
                if k > 0:
                    ends[k - 1] = i - 1  # the space before this word
                k += 1
        elif (b & 0xC0) != 0x80:
            starts[k] = i
            if k > 0:
                ends[k - 1] = i
            k += 1
    if count > 0:
        ends[count - 1] = m
    return starts, ends


@nb.njit(cache=True, nogil=True)
def _count_shingles(doc: npt.NDArray[np.uint8], kind: int, n: int) -> int:
    if doc.shape[0] == 0:
        return 0
    units = 0
    for i in range(doc.shape[0]):
        b = doc[i]
        if kind == _WORD:
            if b != 0x20 and (i == 0 or doc[i - 1] == 0x20):
                units += 1
        elif (b & 0xC0) != 0x80:
            units += 1
    return max(units - n + 1, 1)


@nb.njit(cache=True, parallel=True)
def _shingle_kernel(
    buf: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], kind: int, n: int
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    n_docs = offsets.shape[0] - 1
    counts = np.empty(n_docs, dtype=np.int64)
    for d in nb.prange(n_docs):
        counts[d] = _count_shingles(buf[offsets[d] : offsets[d + 1]], kind, n)
    bounds = np.zeros(n_docs + 1, dtype=np.int64)
    for d in range(n_docs):
        bounds[d + 1] = bounds[d] + counts[d]
    raw = np.empty(bounds[n_docs], dtype=np.uint64)
    unique = np.empty(n_docs, dtype=np.int64)
    for d in nb.prange(n_docs):
        lo = offsets[d]
        doc = buf[lo : offsets[d + 1]]
        out = raw[bounds[d] : bounds[d + 1]]
        if out.shape[0] == 0:
            unique[d] = 0
            continue
        starts, ends = _boundaries(doc, kind)
        units = starts.shape[0]
        if units < n:
            out[0] = xxh64_slice(doc, 0, doc.shape[0])
        else:
            for s in range(units - n + 1):
                out[s] = xxh64_slice(doc, starts[s], ends[s + n - 1])
        out.sort()
        k = 1
        for s in range(1, out.shape[0]):
            if out[s] != out[k - 1]:
                out[k] = out[s]
                k += 1
        unique[d] = k
    starts_out = np.zeros(n_docs + 1, dtype=np.int64)
    for d in range(n_docs):
        starts_out[d + 1] = starts_out[d] + unique[d]
    values = np.empty(starts_out[n_docs], dtype=np.uint64)
    for d in nb.prange(n_docs):
        values[starts_out[d] : starts_out[d + 1]] = raw[bounds[d] : bounds[d] + unique[d]]
    return values, starts_out


def shingle_batch(
    buf: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], spec: ShingleSpec
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """Hash the shingles of a batch of normalized documents.

    Args:
        buf: uint8, shape ``(total_bytes,)``: normalized UTF-8 documents back
            to back, as returned by :func:`dedup.normalize.normalize_batch`.
        offsets: int64, shape ``(n_docs + 1,)``: document ``i`` is
            ``buf[offsets[i]:offsets[i + 1]]``.
        spec: The shingle kind and size.

    Returns:
        ``(values, starts)``: ``values`` is uint64, every document's distinct
        shingle hashes sorted ascending, back to back; ``starts`` is int64,
        shape ``(n_docs + 1,)``, document ``i`` owning
        ``values[starts[i]:starts[i + 1]]`` (empty for an empty document).
    """
    kind = _WORD if spec.kind == "word" else _CHAR
    return _shingle_kernel(buf, offsets, kind, spec.n)
