"""The compiled kernels run without bounds checks: every public wrapper checks
its arguments first, and every allocation failure is reported.

Each argument test would read or write outside an array on the old code
(``exact_jaccard`` with an index past the end returned 0.0).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedup import _kernels
from dedup.cluster import connected_components, group_clusters
from dedup.lsh import band_keys, candidate_pairs, choose_bands, pairs_from_band_columns, to_lean_minhashes
from dedup.minhash import compute_signatures
from dedup.normalize import normalize_batch
from dedup.pipeline import sketch_texts
from dedup.shingle import ShingleSpec, shingle_batch
from dedup.similarity import estimate_jaccard, exact_jaccard

VALUES = np.array([1, 2, 3, 2, 3, 4], dtype=np.uint64)
STARTS = np.array([0, 3, 6], dtype=np.int64)


def _i64(*xs: int) -> np.ndarray:
    return np.array(xs, dtype=np.int64)


@pytest.mark.parametrize(
    ("starts", "left", "right", "message"),
    [
        (STARTS, _i64(0), _i64(2), r"right holds 2, outside \[0, 2\)"),
        (STARTS, _i64(-1), _i64(1), r"left holds -1, outside \[0, 2\)"),
        (STARTS, _i64(0, 1), _i64(1), "left and right must have the same shape"),
        (_i64(0, 4, 3), _i64(0), _i64(1), r"starts decreases: starts\[1\] is 4, starts\[2\] is 3"),
        (_i64(-1, 3, 6), _i64(0), _i64(1), r"starts\[0\] is -1"),
        (_i64(0, 3, 7), _i64(0), _i64(1), "starts ends at 7, past the 6 values"),
        (_i64(), _i64(), _i64(), "starts must be a non-empty 1-D array"),
    ],
)
def test_exact_jaccard_checks(starts: np.ndarray, left: np.ndarray, right: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        exact_jaccard(VALUES, starts, left, right)


def test_exact_jaccard_accepts_the_edges() -> None:
    assert exact_jaccard(VALUES, STARTS, _i64(1), _i64(0)).tolist() == [0.5]
    assert exact_jaccard(VALUES, _i64(0), _i64(), _i64()).shape == (0,)  # no documents, no pairs


@pytest.mark.parametrize(
    ("starts", "message"),
    [
        (_i64(0, 4, 2, 6), r"starts decreases: starts\[1\] is 4, starts\[2\] is 2"),
        (_i64(0, 3, 9), "starts ends at 9, past the 6 values"),
        (_i64(-2, 6), r"starts\[0\] is -2"),
        (np.zeros((2, 2), dtype=np.int64), "starts must be a non-empty 1-D array"),
    ],
)
def test_compute_signatures_checks(starts: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compute_signatures(VALUES, starts, num_perm=8)


@pytest.mark.parametrize(
    ("n_docs", "left", "right", "message"),
    [
        (3, _i64(0), _i64(3), r"right holds 3, outside \[0, 3\)"),
        (3, _i64(-1), _i64(2), r"left holds -1, outside \[0, 3\)"),
        (3, _i64(0, 1), _i64(2), "left and right must have the same shape"),
        (-1, _i64(), _i64(), "n_docs must not be negative"),
    ],
)
def test_connected_components_checks(n_docs: int, left: np.ndarray, right: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        connected_components(n_docs, left, right)


@pytest.mark.parametrize(
    ("offsets", "message"),
    [
        (_i64(0, 8, 4), r"offsets decreases: offsets\[1\] is 8, offsets\[2\] is 4"),
        (_i64(0, 100), "offsets ends at 100, past the 12 bytes of buf"),
        (_i64(-5, 4), r"offsets\[0\] is -5"),
        (_i64(), "offsets must be a non-empty 1-D array"),
    ],
)
def test_shingle_batch_checks(offsets: np.ndarray, message: str) -> None:
    buf = np.frombuffer(b"mot hai ba a", dtype=np.uint8)
    with pytest.raises(ValueError, match=message):
        shingle_batch(buf, offsets, ShingleSpec("word", 2))


def test_script_check_stays_inside_each_document() -> None:
    """A 3- or 4-byte UTF-8 lead at a document's end is not decoded with the
    next document's bytes (which would make it Thai U+0E01 or Han U+20000
    and the document shingled by characters)."""
    for first, second in [(b"\xe0\xb8", b"\x81"), (b"\xf0\xa0\x80", b"\x80")]:
        buf = np.frombuffer(first + second, dtype=np.uint8)
        offsets = _i64(0, len(first), len(first) + len(second))
        assert _kernels.shingle_kernel(buf, offsets, 0, 5, 1)[2].tolist() == [0, 0]
        whole = _i64(0, len(first) + len(second))
        assert _kernels.shingle_kernel(buf, whole, 0, 5, 1)[2].tolist() == [1]


@pytest.mark.parametrize(
    ("left", "right", "message"),
    [
        (_i64(-1), _i64(0), r"left holds -1, outside \[0, 3\)"),  # numpy would wrap to the last row
        (_i64(0), _i64(3), r"right holds 3, outside \[0, 3\)"),
        (_i64(0), _i64(1, 2), "left and right must have the same shape"),
    ],
)
def test_estimate_jaccard_checks(left: np.ndarray, right: np.ndarray, message: str) -> None:
    signatures = np.arange(12, dtype=np.uint32).reshape(3, 4)
    with pytest.raises(ValueError, match=message):
        estimate_jaccard(signatures, left, right)
    with pytest.raises(ValueError, match="signatures must be 2-D"):
        estimate_jaccard(signatures.ravel(), _i64(0), _i64(1))


def test_lsh_checks_shapes() -> None:
    with pytest.raises(ValueError, match="signatures must be 2-D"):
        candidate_pairs(np.zeros(8, dtype=np.uint32), 2, 4)
    with pytest.raises(ValueError, match="signatures must be 2-D"):
        band_keys(np.zeros((2, 2, 2), dtype=np.uint32), 1, 1)
    columns = [np.zeros(4, dtype=np.uint64), np.zeros(3, dtype=np.uint64)]
    with pytest.raises(ValueError, match=r"band 1's column has shape \(3,\), expected \(4,\)"):
        pairs_from_band_columns(columns, 4)
    with pytest.raises(ValueError, match="n_docs must not be negative"):
        pairs_from_band_columns([], -1)


# Allocation failures: one allocation site of one document fails.

TEXTS = [f"bài {i} " + "nội dung tin tức hôm nay " * (1 + i % 5) for i in range(200)]


@pytest.mark.parametrize("site", [_kernels.SITE_TEXT, _kernels.SITE_BOUNDS, _kernels.SITE_HASHES])
@pytest.mark.parametrize("doc", [0, 77, 199])
@pytest.mark.usefixtures("failing")
def test_sketch_reports_out_of_memory_on_any_thread(site: int, doc: int) -> None:
    """A failed allocation on any thread raises MemoryError (the shared flag
    was lastprivate: only the last iteration's survived)."""
    _kernels.fail_allocation_for_tests(doc, site)
    with pytest.raises(MemoryError, match=f"the first at position {doc}"):
        sketch_texts(TEXTS, workers=4)


@pytest.mark.parametrize("doc", [0, 77, 199])
@pytest.mark.usefixtures("failing")
def test_shingle_reports_out_of_memory(doc: int) -> None:
    buf, offsets = normalize_batch(TEXTS)
    _kernels.fail_allocation_for_tests(doc, _kernels.SITE_BOUNDS)
    with pytest.raises(MemoryError, match=f"the first at position {doc}"):
        shingle_batch(buf, offsets, ShingleSpec("word", 5), workers=4)


@pytest.mark.usefixtures("failing")
def test_no_failure_means_same_result() -> None:
    expected = sketch_texts(TEXTS, workers=4)
    _kernels.fail_allocation_for_tests(-1, _kernels.SITE_TEXT)
    for got, want in zip(sketch_texts(TEXTS, workers=1), expected, strict=True):
        np.testing.assert_array_equal(got, want)


# Casts that would change a value (numpy truncates floats and wraps integers
# silently), wrong dimensions and non-arrays: refused, naming the argument.

F = np.array([0.7])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((VALUES, STARTS, F, _i64(1)), "left must hold integers, got float64"),
        ((VALUES, STARTS, _i64(1), F), "right must hold integers, got float64"),
        ((VALUES, np.array([0, 2.5, 6]), _i64(0), _i64(1)), "starts must hold integers, got float64"),
        ((VALUES.astype(np.float64), STARTS, _i64(0), _i64(1)), "values must hold integers, got float64"),
        ((VALUES.astype(np.int64) - 2, STARTS, _i64(0), _i64(1)), "values holds -1, outside the uint64 range"),
        ((VALUES, STARTS, np.array([True]), _i64(1)), "left must hold integers, got bool"),
        ((VALUES, STARTS, np.array([2**64 - 1], dtype=np.uint64), _i64(1)), "left holds 18446744073709551615"),
        ((VALUES.reshape(2, 3), STARTS, _i64(0), _i64(1)), r"values must be 1-D, got shape \(2, 3\)"),
        ((VALUES, STARTS, [[0], [1, 2]], _i64(1)), "left must be an array"),
        ((VALUES, STARTS, 0, _i64(1)), r"left must be 1-D, got shape \(\)"),
    ],
)
def test_exact_jaccard_refuses_unsafe_casts(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        exact_jaccard(*args)  # wrong types on purpose


def test_exact_jaccard_accepts_safe_casts() -> None:
    want = exact_jaccard(VALUES, STARTS, _i64(0), _i64(1)).tolist()
    assert exact_jaccard(VALUES.astype(np.int64), [0, 3, 6], [0], np.array([1], np.uint8)).tolist() == want
    assert exact_jaccard(VALUES, STARTS, [], []).shape == (0,)  # np.asarray([]) is float64, but empty


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (np.array([1, 3, 2, 2, 3, 4], dtype=np.uint64), r"document 0 has values\[1\] = 3, then values\[2\] = 2"),
        (np.array([1, 2, 3, 2, 4, 4], dtype=np.uint64), r"document 1 has values\[4\] = 4, then values\[5\] = 4"),
    ],
)
def test_exact_jaccard_checks_sorted_sets(values: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match="values must be sorted ascending and distinct within each document"):
        exact_jaccard(values, STARTS, _i64(0), _i64(1))
    with pytest.raises(ValueError, match=message):
        exact_jaccard(values, STARTS, _i64(0), _i64(1))


def test_exact_jaccard_sorted_check_ignores_boundaries() -> None:
    """Order across documents, and values outside every document, do not matter."""
    values = np.array([9, 5, 6, 1, 2, 7, 0], dtype=np.uint64)
    starts = _i64(1, 3, 3, 6)  # [5, 6], [], [1, 2, 7]; 9 and 0 unused
    assert exact_jaccard(values, starts, _i64(0, 1), _i64(2, 1)).tolist() == [0.0, 1.0]


@pytest.mark.parametrize(
    ("values", "starts", "message"),
    [
        (np.array([1.5, 2.0]), _i64(0, 2), "values must hold integers, got float64"),
        (VALUES, np.array([0, 2.5, 6]), "starts must hold integers, got float64"),
        (np.array([-1, 2]), _i64(0, 2), "values holds -1, outside the uint64 range"),
        (VALUES.reshape(2, 3), STARTS, r"values must be 1-D, got shape \(2, 3\)"),
    ],
)
def test_compute_signatures_refuses_unsafe_casts(values: np.ndarray, starts: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compute_signatures(values, starts, num_perm=8)


@pytest.mark.parametrize(("num_perm", "seed"), [(8.0, 1), (True, 1), (8, 1.5), (8, "1")])
def test_compute_signatures_refuses_non_integer_parameters(num_perm: object, seed: object) -> None:
    with pytest.raises(ValueError, match=r"(num_perm|seed) must be an integer"):
        compute_signatures(VALUES, STARTS, num_perm=num_perm, seed=seed)  # on purpose


@pytest.mark.parametrize(
    ("buf", "offsets", "message"),
    [
        (np.array([300, 301]), _i64(0, 2), r"buf holds 300, outside the uint8 range \[0, 255\]"),
        (np.array([97.0, 98.0]), _i64(0, 2), "buf must hold integers, got float64"),
        (np.zeros((2, 2), dtype=np.uint8), _i64(0, 2), r"buf must be 1-D, got shape \(2, 2\)"),
        (np.frombuffer(b"ab", dtype=np.uint8), np.array([0.0, 1.5]), "offsets must hold integers, got float64"),
    ],
)
def test_shingle_batch_refuses_unsafe_casts(buf: np.ndarray, offsets: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        shingle_batch(buf, offsets, ShingleSpec("word", 2))


def test_estimate_jaccard_refuses_unsafe_casts_and_accepts_lists() -> None:
    signatures = np.arange(12, dtype=np.uint32).reshape(3, 4)
    with pytest.raises(ValueError, match="left must hold integers, got float64"):
        estimate_jaccard(signatures, np.array([0.9]), _i64(1))
    with pytest.raises(ValueError, match="signatures must hold integers, got float64"):
        estimate_jaccard(signatures.astype(np.float64), _i64(0), _i64(1))
    as_list = signatures.tolist()
    same = [[1, 2], [1, 3]]
    assert estimate_jaccard(same, [0], [1]).tolist() == [0.5]  # a list on purpose
    assert estimate_jaccard(as_list, [0], [0]).tolist() == [1.0]  # a list on purpose


def test_band_keys_checks_signatures_and_bands() -> None:
    signatures = np.arange(16, dtype=np.uint32).reshape(2, 8)
    with pytest.raises(ValueError, match="signatures must hold integers, got float64"):
        band_keys(signatures.astype(np.float64), 2, 4)
    with pytest.raises(ValueError, match="signatures holds -1, outside the uint32 range"):
        band_keys(signatures.astype(np.int64) - 1, 2, 4)
    with pytest.raises(ValueError, match=r"num_bands must be an integer, got 2\.0"):
        band_keys(signatures, 2.0, 4)  # a float on purpose
    with pytest.raises(ValueError, match="rows_per_band must be an integer"):
        band_keys(signatures, 2, True)
    # A list, or integers of another dtype that fit, give the same keys.
    want = band_keys(signatures, 2, 4)
    np.testing.assert_array_equal(band_keys(signatures.tolist(), 2, 4), want)  # a list
    np.testing.assert_array_equal(band_keys(signatures.astype(np.int64), 2, 4), want)


def test_lsh_checks_parameters() -> None:
    columns = [np.zeros(4, dtype=np.uint64)]
    for bad in (0, -1):
        with pytest.raises(ValueError, match=f"max_bucket must be at least 1, got {bad}"):
            pairs_from_band_columns(columns, 4, max_bucket=bad)
    with pytest.raises(ValueError, match="n_docs must be an integer"):
        pairs_from_band_columns(columns, 4.0)  # a float on purpose
    left, right, _, _ = pairs_from_band_columns([[7, 7, 8, 7]], 4)  # a list on purpose
    assert (left.tolist(), right.tolist()) == ([0, 0, 1], [1, 3, 3])
    for target in (2, 0, -0.5, float("nan")):
        with pytest.raises(ValueError, match="target must be in"):
            choose_bands(0.8, 128, target=target)
    with pytest.raises(ValueError, match="num_perm must be an integer"):
        choose_bands(0.8, 128.0)  # a float on purpose
    bands, rows = choose_bands(0.8, 128, target=1.0)  # the edge is allowed
    assert bands * rows <= 128


def test_to_lean_minhashes_checks_signatures() -> None:
    with pytest.raises(ValueError, match=r"signatures must be 2-D, got shape \(4,\)"):
        to_lean_minhashes(np.arange(4, dtype=np.uint32), 1)
    with pytest.raises(ValueError, match="signatures must hold integers, got float64"):
        to_lean_minhashes(np.zeros((1, 4)), 1)


@pytest.mark.parametrize(
    ("n_docs", "left", "right", "message"),
    [
        (2.5, _i64(0), _i64(1), r"n_docs must be an integer, got 2\.5"),
        (3, np.array([0.5]), _i64(1), "left must hold integers, got float64"),
        (3, _i64(0), np.array([-1], dtype=np.int8), r"right holds -1, outside \[0, 3\)"),
    ],
)
def test_connected_components_checks_types(n_docs: object, left: np.ndarray, right: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        connected_components(n_docs, left, right)  # wrong types on purpose


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([5, 5], r"labels holds 5, outside \[0, 2\)"),
        ([-1, 0], r"labels holds -1, outside \[0, 2\)"),
        ([1, 0], r"labels\[0\] is 1, labels\[1\] is 0"),  # points at a document that is not a label
        ([1, 1], r"labels\[0\] is 1, labels\[1\] is 1"),  # a label past the first member
        ([0, 0.5], "labels must hold integers"),
        (np.zeros((1, 1), dtype=np.int64), "labels must be 1-D"),
    ],
)
def test_group_clusters_checks_labels(labels: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        group_clusters(labels)  # wrong labels on purpose


def test_group_clusters_checks_lengths() -> None:
    labels = _i64(0, 0, 2)
    with pytest.raises(ValueError, match=r"lengths must have shape \(3,\) like labels, got \(2,\)"):
        group_clusters(labels, keep="longest", lengths=_i64(1, 2))
    assert [c.keep for c in group_clusters([0, 0, 2], keep="longest", lengths=[1, 2, 3])] == [1]


@pytest.mark.parametrize(("n", "message"), [(2.5, "2.5"), ("5", "'5'"), (True, "True"), (None, "None")])
def test_shingle_spec_requires_an_integer_size(n: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"shingle size must be an integer, got {message}")):
        ShingleSpec("word", n)  # wrong types on purpose


def test_a_string_is_not_a_batch_of_texts() -> None:
    for call in (normalize_batch, sketch_texts):
        with pytest.raises(ValueError, match="texts must be a sequence of strings, not a string"):
            call("abc")
    assert normalize_batch(("abc",))[1].tolist() == [0, 3]


@given(
    st.integers(0, 6).flatmap(
        lambda n: st.lists(st.lists(st.integers(0, 2**32 - 1), min_size=12, max_size=12), min_size=n, max_size=n)
    ),
    st.sampled_from([(1, 1), (3, 4), (12, 1), (1, 12), (2, 5)]),
)
def test_band_keys_equal_the_numpy_definition(rows: list[list[int]], shape: tuple[int, int]) -> None:
    """The compiled band keys are the mixing hash as written in numpy."""
    num_bands, rows_per_band = shape
    signatures = np.array(rows, dtype=np.uint32).reshape(len(rows), 12)
    mix = np.uint64(0x9E3779B97F4A7C15)
    cols = signatures[:, : num_bands * rows_per_band].astype(np.uint64).reshape(len(rows), num_bands, rows_per_band)
    want = np.broadcast_to(np.arange(num_bands, dtype=np.uint64), (len(rows), num_bands)).copy()
    for r in range(rows_per_band):
        want = (want ^ cols[:, :, r]) * mix
        want ^= want >> np.uint64(29)
    np.testing.assert_array_equal(band_keys(signatures, num_bands, rows_per_band), want)
    np.testing.assert_array_equal(band_keys(np.asfortranarray(signatures), num_bands, rows_per_band), want)
