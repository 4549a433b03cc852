"""Shingling: normalized documents to sets of 64-bit shingle hashes.

A shingle is a run of ``n`` consecutive words (``word:n``, the default
``word:5``) or code points (``char:n``) of the normalized text. Its hash is
XXH64 of its UTF-8 bytes (``dedup.hashing``): because normalized text has exactly one space
between words, a word n-gram is a contiguous byte slice, so the kernel hashes
slices in place and never builds a string. The reference is
``xxhash.xxh64_intdigest(" ".join(words[i:i + n]).encode())``.

A document shorter than one shingle (fewer than ``n`` words or code points)
has one shingle, its whole text, so short documents still match each other.

Scripts written without spaces between words (Thai, Lao, Khmer, Myanmar,
Chinese, Japanese kana) would give a word scan one "word" per sentence, and so
no shingle in common between a story and its edited copy. In a word scan, a
document whose letters (non-space code points) are more than half in those
scripts is shingled by code points instead, with the same ``n`` (Korean uses
spaces and is shingled by words). Those hashes are XORed with
:data:`CHAR_FALLBACK_TAG`, so a document shingled by code points never shares a shingle with one
shingled by words: documents of different kinds never match. The choice is
made per document, from its normalized text, by the compiled kernel; an
explicit ``char:n`` scan is unchanged.

Example:
    >>> from dedup.normalize import normalize_batch
    >>> buf, offsets = normalize_batch(["Một hai ba bốn năm sáu", "x"])
    >>> values, starts = shingle_batch(buf, offsets, ShingleSpec("word", 5))
    >>> starts.tolist()
    [0, 2, 3]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dedup._kernels import FALLBACK_TAG, as_array, as_offsets, shingle_kernel
from dedup._threads import resolve_workers

__all__ = ["CHAR_FALLBACK_TAG", "SHINGLE_KINDS", "ShingleSpec", "parse_shingle_spec", "shingle_batch"]

SHINGLE_KINDS = {"word": 0, "char": 1}
"""Shingle kind codes understood by the compiled kernels."""

CHAR_FALLBACK_TAG: int = FALLBACK_TAG
"""XORed into every shingle hash of a document a word scan shingles by
characters (the fallback), so it never equals a word-shingle hash."""


@dataclass(frozen=True)
class ShingleSpec:
    """What a shingle is: ``kind`` ``"word"`` or ``"char"``, and its size ``n``.

    Raises:
        ValueError: ``kind`` is neither ``"word"`` nor ``"char"``, or ``n`` is
            not an integer (a bool is refused) between 1 and 64.
    """

    kind: str = "word"
    n: int = 5

    def __post_init__(self) -> None:
        if self.kind not in ("word", "char"):
            raise ValueError(f"shingle kind must be 'word' or 'char', got {self.kind!r}")
        # bool is an int: ShingleSpec("word", True) would be word:1.
        if isinstance(self.n, bool) or not isinstance(self.n, int):
            raise ValueError(f"shingle size must be an integer, got {self.n!r}")
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


def shingle_batch(
    buf: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], spec: ShingleSpec, *, workers: int | None = None
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """Hash the shingles of a batch of normalized documents.

    Args:
        buf: uint8, shape ``(total_bytes,)``: normalized UTF-8 documents back
            to back, as returned by :func:`dedup.normalize.normalize_batch`.
        offsets: int64, shape ``(n_docs + 1,)``: document ``i`` is
            ``buf[offsets[i]:offsets[i + 1]]``.
        spec: The shingle kind and size.
        workers: Threads (default: all cores); the result does not depend on it.

    Returns:
        ``(values, starts)``: ``values`` is uint64, every document's distinct
        shingle hashes sorted ascending, back to back; ``starts`` is int64,
        shape ``(n_docs + 1,)``, document ``i`` owning
        ``values[starts[i]:starts[i + 1]]`` (empty for an empty document).
        In a word scan, documents mostly in scripts written without spaces
        are shingled by code points (see the module docstring).

    Raises:
        ValueError: ``buf`` or ``offsets`` not a 1-D array of integers, or
            holding a value its dtype cannot (a float, a byte over 255);
            ``offsets`` empty, negative, decreasing or past the end of ``buf``.
    """
    kind = SHINGLE_KINDS[spec.kind]
    buf = as_array(buf, np.uint8, "buf", 1)
    offsets = as_offsets(offsets, len(buf), "offsets", "bytes of buf")
    values, starts, _ = shingle_kernel(buf, offsets, kind, spec.n, resolve_workers(workers))
    return values, starts
