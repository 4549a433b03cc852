"""64-bit hashing of byte strings: XXH64, compiled, and the xxhash reference.

:func:`xxh64_slice` is XXH64 (seed 0) written for numba so the shingle kernel
can hash byte slices of a normalized batch without building Python strings.
It must agree bit for bit with the ``xxhash`` library, which is the reference
(:func:`xxh64_reference`); a hypothesis test compares the two.

All arithmetic is on uint64 and wraps modulo 2**64, which is what XXH64
specifies. Every constant and intermediate is kept uint64 on purpose: numba
promotes ``uint64 op int64`` to float64, which would silently break the hash.

Example:
    >>> xxh64_reference(b"hello world")
    5020219685658847592
"""

from __future__ import annotations

import numba as nb
import numpy as np
import numpy.typing as npt
import xxhash

__all__ = ["xxh64_reference", "xxh64_slice"]

_P1 = np.uint64(0x9E3779B185EBCA87)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
_P4 = np.uint64(0x85EBCA77C2B2AE63)
_P5 = np.uint64(0x27D4EB2F165667C5)


def xxh64_reference(data: bytes) -> int:
    """Return XXH64 (seed 0) of ``data`` from the xxhash library."""
    return xxhash.xxh64_intdigest(data)


@nb.njit(cache=True, inline="always")
def _rotl(x: np.uint64, r: int) -> np.uint64:
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


@nb.njit(cache=True, inline="always")
def _read64(buf: npt.NDArray[np.uint8], i: int) -> np.uint64:
    return (
        np.uint64(buf[i])
        | (np.uint64(buf[i + 1]) << np.uint64(8))
        | (np.uint64(buf[i + 2]) << np.uint64(16))
        | (np.uint64(buf[i + 3]) << np.uint64(24))
        | (np.uint64(buf[i + 4]) << np.uint64(32))
        | (np.uint64(buf[i + 5]) << np.uint64(40))
        | (np.uint64(buf[i + 6]) << np.uint64(48))
        | (np.uint64(buf[i + 7]) << np.uint64(56))
    )


@nb.njit(cache=True, inline="always")
def _read32(buf: npt.NDArray[np.uint8], i: int) -> np.uint64:
    return (
        np.uint64(buf[i])
        | (np.uint64(buf[i + 1]) << np.uint64(8))
        | (np.uint64(buf[i + 2]) << np.uint64(16))
        | (np.uint64(buf[i + 3]) << np.uint64(24))
    )


@nb.njit(cache=True, inline="always")
def _round(acc: np.uint64, lane: np.uint64) -> np.uint64:
    acc = acc + lane * _P2
    acc = _rotl(acc, 31)
    return acc * _P1


@nb.njit(cache=True, inline="always")
def _merge_round(acc: np.uint64, val: np.uint64) -> np.uint64:
    acc = acc ^ _round(np.uint64(0), val)
    return acc * _P1 + _P4


@nb.njit(cache=True, nogil=True)
def xxh64_slice(buf: npt.NDArray[np.uint8], start: int, end: int) -> np.uint64:
    """XXH64 (seed 0) of ``buf[start:end]``, compiled.

    Args:
        buf: uint8 array, shape ``(n,)``.
        start: First byte of the slice.
        end: One past the last byte.

    Returns:
        The hash as a numpy uint64, equal to ``xxh64_reference(bytes(buf[start:end]))``.
    """
    length = end - start
    i = start
    if length >= 32:
        v1 = _P1 + _P2
        v2 = _P2
        v3 = np.uint64(0)
        v4 = np.uint64(0) - _P1
        limit = end - 32
        while i <= limit:
            v1 = _round(v1, _read64(buf, i))
            v2 = _round(v2, _read64(buf, i + 8))
            v3 = _round(v3, _read64(buf, i + 16))
            v4 = _round(v4, _read64(buf, i + 24))
            i += 32
        h = _rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)
        h = _merge_round(h, v1)
        h = _merge_round(h, v2)
        h = _merge_round(h, v3)
        h = _merge_round(h, v4)
    else:
        h = _P5
    h = h + np.uint64(length)
    while i + 8 <= end:
        h = h ^ _round(np.uint64(0), _read64(buf, i))
        h = _rotl(h, 27) * _P1 + _P4
        i += 8
    if i + 4 <= end:
        h = h ^ (_read32(buf, i) * _P1)
        h = _rotl(h, 23) * _P2 + _P3
        i += 4
    while i < end:
        h = h ^ (np.uint64(buf[i]) * _P5)
        h = _rotl(h, 11) * _P1
        i += 1
    h = h ^ (h >> np.uint64(33))
    h = h * _P2
    h = h ^ (h >> np.uint64(29))
    h = h * _P3
    h = h ^ (h >> np.uint64(32))
    return h
