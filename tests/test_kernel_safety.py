"""The compiled kernels run without bounds checks: every public wrapper checks
its arguments first, and every allocation failure is reported.

Each argument test would read or write outside an array on the old code
(``exact_jaccard`` with an index past the end returned 0.0).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from dedup import _kernels
from dedup.cluster import connected_components
from dedup.lsh import band_keys, candidate_pairs, pairs_from_band_columns
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


@pytest.fixture
def failing() -> Iterator[None]:
    try:
        yield
    finally:
        _kernels.fail_allocation_for_tests(-1, -1)


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
