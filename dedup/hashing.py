"""64-bit hashing of byte strings: XXH64, compiled, and the xxhash reference.

The shingle kernel hashes byte slices of a normalized batch with its own
compiled XXH64 (seed 0, ``dedup/_kernels.pyx``), so no Python string is built
per shingle. It must agree bit for bit with the ``xxhash`` library, the
reference (:func:`xxh64_reference`); a hypothesis test compares the two
through :func:`xxh64_slice`.

Example:
    >>> xxh64_reference(b"hello world")
    5020219685658847592
    >>> import numpy as np
    >>> xxh64_slice(np.frombuffer(b"[hello world]", dtype=np.uint8), 1, 12)
    5020219685658847592
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import xxhash

from dedup._kernels import xxh64_buffer

__all__ = ["xxh64_reference", "xxh64_slice"]


def xxh64_reference(data: bytes) -> int:
    """Return XXH64 (seed 0) of ``data`` from the xxhash library."""
    return xxhash.xxh64_intdigest(data)


def xxh64_slice(buf: npt.NDArray[np.uint8], start: int, end: int) -> int:
    """XXH64 (seed 0) of ``buf[start:end]`` with the compiled kernel.

    Args:
        buf: uint8, shape ``(n,)``, C-contiguous.
        start: First byte.
        end: One past the last byte.

    Raises:
        ValueError: the slice is not inside ``buf``.
    """
    if not 0 <= start <= end <= len(buf):
        raise ValueError(f"slice [{start}:{end}] is outside a buffer of {len(buf)} bytes")
    return xxh64_buffer(np.ascontiguousarray(buf, dtype=np.uint8), start, end)
