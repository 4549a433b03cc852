"""Exact Jaccard agrees with Python sets; estimates count equal values."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dedup.similarity import estimate_jaccard, exact_jaccard

sets = st.lists(st.sets(st.integers(0, 60), max_size=30), min_size=1, max_size=6)


@given(sets, st.data())
def test_exact_matches_python_sets(doc_sets: list[set[int]], data: st.DataObject) -> None:
    values = np.array([v for s in doc_sets for v in sorted(s)], dtype=np.uint64)
    starts = np.zeros(len(doc_sets) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in doc_sets], out=starts[1:])
    index = st.integers(0, len(doc_sets) - 1)
    pairs = data.draw(st.lists(st.tuples(index, index), max_size=10))
    left = np.array([p[0] for p in pairs], dtype=np.int64)
    right = np.array([p[1] for p in pairs], dtype=np.int64)
    got = exact_jaccard(values, starts, left, right)
    for (i, j), value in zip(pairs, got, strict=True):
        a, b = doc_sets[i], doc_sets[j]
        expected = len(a & b) / len(a | b) if a | b else 1.0
        assert value == expected


def test_estimate_is_fraction_of_equal_values() -> None:
    sig = np.array([[1, 2, 3, 4], [1, 2, 0, 0], [9, 9, 9, 9]], dtype=np.uint32)
    got = estimate_jaccard(sig, np.array([0, 0]), np.array([1, 2]))
    assert got.tolist() == [0.5, 0.0]
    assert estimate_jaccard(sig, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)).shape == (0,)


@given(st.integers(1, 8), st.integers(1, 200), st.integers(0, 2**32 - 1), st.sampled_from([1, 2]))
def test_estimate_equals_the_mean_of_the_comparison(docs: int, width: int, seed: int, workers: int) -> None:
    """The compiled count over the width is numpy's mean of the comparison,
    to the bit, for any width (a few distinct values: many agree)."""
    rng = np.random.default_rng(seed)
    sig = rng.integers(0, 3, size=(docs, width)).astype(np.uint32)
    left, right = rng.integers(0, docs, size=20), rng.integers(0, docs, size=20)
    expected = np.mean(sig[left] == sig[right], axis=1)
    assert estimate_jaccard(sig, left, right, workers=workers).tolist() == expected.tolist()
