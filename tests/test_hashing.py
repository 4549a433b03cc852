"""The compiled XXH64 agrees with the xxhash library bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dedup.hashing import xxh64_reference, xxh64_slice


@given(st.binary(max_size=200), st.integers(0, 7), st.integers(0, 7))
def test_slice_hash_equals_xxhash(data: bytes, before: int, after: int) -> None:
    buf = np.frombuffer(b"\xaa" * before + data + b"\x55" * after, dtype=np.uint8)
    assert int(xxh64_slice(buf, before, before + len(data))) == xxh64_reference(data)


def test_every_length_branch() -> None:
    data = bytes(range(256)) * 2
    buf = np.frombuffer(data, dtype=np.uint8)
    for length in range(0, 80):
        assert int(xxh64_slice(buf, 3, 3 + length)) == xxh64_reference(data[3 : 3 + length])
