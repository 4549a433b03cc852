"""The per-document sort of shingle hashes: AVX-512 networks and the
portable bucket + insertion sort both equal np.sort on any uint64 array."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedup._kernels import SORT_SIMD, sort_hashes_for_tests, sort_runs_for_tests, sort_simd_for_tests
from tests.strategies import hash_arrays, news_texts
from tests.test_shingle import sketches_alike

SORT_MODES = [False, True] if SORT_SIMD else [False]


@contextmanager
def sorting(on: bool) -> Iterator[None]:
    """Sort by the AVX-512 networks (on) or bucket + insertion sort."""
    was = sort_simd_for_tests(on)
    try:
        yield
    finally:
        sort_simd_for_tests(was)


@pytest.fixture(params=SORT_MODES, ids=lambda on: "networks" if on else "insertion")
def sort_mode(request: pytest.FixtureRequest) -> Iterator[bool]:
    with sorting(request.param):
        yield request.param


@given(hash_arrays())
def test_sort_equals_np_sort(values: npt.NDArray[np.uint64]) -> None:
    for on in SORT_MODES:
        out = values.copy()
        with sorting(on):
            sort_hashes_for_tests(out)
        np.testing.assert_array_equal(out, np.sort(values))


@given(hash_arrays(), st.lists(st.integers(0, 5000), max_size=6))
def test_sorting_runs_leaves_each_run_sorted_in_its_place(values: npt.NDArray[np.uint64], cuts: list[int]) -> None:
    """One scratch serves runs of every length; nothing outside a run moves."""
    starts = np.array([0, *sorted(c % (len(values) + 1) for c in cuts), len(values)], dtype=np.int64)
    for on in SORT_MODES:
        out = values.copy()
        with sorting(on):
            sort_runs_for_tests(out, starts)
        for lo, hi in itertools.pairwise(starts):
            np.testing.assert_array_equal(out[lo:hi], np.sort(values[lo:hi]))


@pytest.mark.parametrize("length", [16, 11])
def test_the_network_sorts_every_two_valued_input(sort_mode: bool, length: int) -> None:
    """The 0-1 principle: a comparator network that sorts every input of
    two values sorts every input. Every such input of 16 (and of 11: empty
    lanes padded) values, the two on either side of 2**63, which a signed
    comparison would order the wrong way."""
    bits = (np.arange(2**length, dtype=np.uint64)[:, None] >> np.arange(length, dtype=np.uint64)) & np.uint64(1)
    rows = bits + np.uint64(2**63 - 1)
    out = rows.reshape(-1).copy()
    sort_runs_for_tests(out, np.arange(0, out.size + 1, length, dtype=np.int64))
    np.testing.assert_array_equal(out.reshape(rows.shape), np.sort(rows, axis=1))


def test_sort_switch_reports_the_build() -> None:
    was = sort_simd_for_tests(True)
    try:
        assert sort_simd_for_tests(True) is SORT_SIMD
    finally:
        sort_simd_for_tests(was)


@given(st.lists(news_texts, min_size=1, max_size=6), st.sampled_from([(0, 5), (0, 1), (1, 3)]))
def test_fused_kernel_equal_with_either_sort(docs: list[str], shingle: tuple[int, int]) -> None:
    """Any correct sort gives the same sorted distinct hashes and sketches."""
    kind, n = shingle
    sketches_alike([d.encode() for d in docs], kind, n, sort_simd_for_tests, SORT_MODES)
