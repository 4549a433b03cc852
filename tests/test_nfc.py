"""NFC in the kernel: equal to ``unicodedata.normalize("NFC")`` on every code
point, on base + mark pairs and triples and on random text and bytes, and
the scan's sketches equal to those made through Python's NFC."""

from __future__ import annotations

import codecs
import unicodedata
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedup import _kernels
from dedup._kernels import nfc_kernel, normalize_kernel, sketch_kernel
from dedup._unicode import nfc_table
from dedup.minhash import permutations
from dedup.normalize import encode_texts, kernel_tables, normalize_batch
from dedup.shingle import ShingleSpec
from dedup.stages import sketch_units
from tests.strategies import NFC_MARKS, nfc_soup, nfc_texts

_EMPTY = np.zeros(0, dtype=np.uint32)


def _read_as_kernel(error: UnicodeError) -> tuple[str, int]:
    """Decode error handler: a surrogate as "surrogatepass" reads it, any
    other byte that starts no valid sequence as a space (the kernel's reading)."""
    assert isinstance(error, UnicodeDecodeError)
    try:
        return error.object[error.start : error.start + 3].decode("utf-8", "surrogatepass"), error.start + 3
    except UnicodeDecodeError:
        return " ", error.start + 1


codecs.register_error("dedup-test-kernel-read", _read_as_kernel)


def _pack(docs: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    starts = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in docs], out=starts[1:])
    return np.frombuffer(b"".join(docs), dtype=np.uint8), starts


def _split(buf: np.ndarray, offsets: np.ndarray) -> list[bytes]:
    data, bounds = buf.tobytes(), offsets.tolist()
    return [data[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]


def _python_nfc(docs: list[bytes]) -> list[bytes]:
    """Python's NFC of each document as the kernel reads it."""
    return [
        unicodedata.normalize("NFC", d.decode("utf-8", "dedup-test-kernel-read")).encode("utf-8", "surrogatepass")
        for d in docs
    ]


def _kernel_nfc(docs: list[bytes]) -> list[bytes]:
    return _split(*nfc_kernel(*_pack(docs), nfc_table(), 2))


def _assert_normalized_alike(docs: list[bytes], fold_accents: bool = False) -> None:
    """The normalize kernel composing NFC itself equals the kernel without
    the check on Python's NFC; no document is left to Python."""
    case, accent, stable, tones = kernel_tables(fold_accents)
    got, got_offsets, needs = normalize_kernel(
        *_pack(docs), case, accent, stable, nfc_table(), fold_accents, True, tones, 2
    )
    want, want_offsets, _ = normalize_kernel(
        *_pack(_python_nfc(docs)), case, accent, stable, _EMPTY, fold_accents, False, tones, 2
    )
    assert not needs.any()
    assert _split(got, got_offsets) == _split(want, want_offsets)


def test_every_code_point_composes_as_python() -> None:
    """Each code point alone (surrogates included: NFC leaves them)."""
    docs = [chr(c).encode("utf-8", "surrogatepass") for c in range(0x110000)]
    assert _kernel_nfc(docs) == _python_nfc(docs)
    _assert_normalized_alike(docs)


def _latin_bases() -> list[str]:
    letters = [chr(c) for c in range(0x41, 0x250) if chr(c).isalpha()]
    return letters + [chr(c) for c in range(0x1E00, 0x1F00)] + [chr(c) for c in range(0x370, 0x530) if chr(c).isalpha()]


def test_base_and_mark_pairs_compose_as_python() -> None:
    """Every Latin (Vietnamese precomposed included), Greek and Cyrillic
    letter with every combining mark of the marks block and some others."""
    docs = [(b + m).encode() for b in _latin_bases() for m in NFC_MARKS]
    assert _kernel_nfc(docs) == _python_nfc(docs)
    _assert_normalized_alike(docs)


def test_vietnamese_base_and_two_marks_compose_as_python() -> None:
    """Vietnamese vowels (plain and with their vowel mark) and the Latin
    letters that compose, with every ordered pair of the marks U+0300-U+0345:
    the order a tone and a vowel mark come in, blocked and unblocked."""
    vowels = "aăâeêioôơuưyAĂÂEÊIOÔƠUƯYđĐ"
    composing = {unicodedata.normalize("NFD", b)[0] for b in _latin_bases() if len(unicodedata.normalize("NFD", b)) > 1}
    bases = sorted(set(vowels) | {c for c in composing if c.isascii()})
    marks = [chr(c) for c in range(0x300, 0x346)]
    docs = [(b + m1 + m2).encode() for b in bases for m1 in marks for m2 in marks]
    assert _kernel_nfc(docs) == _python_nfc(docs)
    _assert_normalized_alike(docs[::7], fold_accents=True)


def test_hangul_composes_as_python() -> None:
    """Jamo L V T (modern and not) and syllables followed by T jamo or marks."""
    jamo = [chr(c) for c in range(0x10FF, 0x1200)]
    docs = [(a + b + c).encode() for a in jamo[:0x20] for b in jamo[0x5E:0x80] for c in jamo[0xA5:0xC8]]
    docs += [(chr(s) + t).encode() for s in range(0xAC00, 0xD7A4, 13) for t in [*jamo[0xA5:0xC8], "\u0301", "\u302e"]]
    assert _kernel_nfc(docs) == _python_nfc(docs)


def test_long_runs_of_marks_sort_as_python() -> None:
    """Runs longer than the insertion sort takes (linear sort) and leading marks."""
    marks = [*NFC_MARKS[:20], "\u0345", "\u031b", "\u0327", "\u302a", "\u3099"]
    docs = [
        "".join(marks[(i * 7 + k * k) % len(marks)] for k in range(n)) for i in range(20) for n in (31, 33, 200, 3000)
    ]
    docs = [d.encode() for d in docs + ["ư" + d for d in docs]]
    assert _kernel_nfc(docs) == _python_nfc(docs)


@given(st.lists(nfc_soup, max_size=6))
def test_nfc_equals_python_on_any_bytes(docs: list[bytes]) -> None:
    """Invalid bytes pass through as starters that compose with nothing:
    read back as the kernel reads them, Python's NFC of the text."""
    got = [d.decode("utf-8", "dedup-test-kernel-read") for d in _kernel_nfc(docs)]
    assert got == [d.decode("utf-8", "surrogatepass") for d in _python_nfc(docs)]
    _assert_normalized_alike(docs)


@given(
    st.lists(nfc_soup, max_size=6),
    st.sampled_from([(0, 5), (0, 1), (1, 3)]),
    st.booleans(),
    st.sampled_from([1, 2]),
)
def test_sketch_kernel_composes_as_python_on_any_bytes(
    docs: list[bytes], shingle: tuple[int, int], fold_accents: bool, workers: int
) -> None:
    """The fused kernel with its NFC equals it without the check on Python's NFC."""
    kind, n = shingle
    case, accent, stable, tones = kernel_tables(fold_accents)
    a, b = permutations(16, 7)
    got = sketch_kernel(
        *_pack(docs), case, accent, stable, nfc_table(), fold_accents, True, tones, kind, n, a, b, workers
    )
    want = sketch_kernel(
        *_pack(_python_nfc(docs)), case, accent, stable, _EMPTY, fold_accents, False, tones, kind, n, a, b, 1
    )
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


@given(st.lists(nfc_texts, max_size=8), st.sampled_from(["word:5", "word:1", "char:3"]), st.booleans())
def test_sketch_units_equal_with_and_without_python_nfc(texts: list[str], shingle: str, fold_accents: bool) -> None:
    """Today's path (Python's NFC for the documents that fail the quick
    check, when the kernel has no NFC table) and the kernel's give the same
    sketches, byte for byte."""
    kind, n = shingle.split(":")
    spec = ShingleSpec(kind, int(n))
    text, starts = encode_texts(texts)
    got = sketch_units(text, starts, spec, 16, 7, fold_accents, 2)
    with mock.patch("dedup.stages.nfc_table", lambda: _EMPTY):
        want = sketch_units(text, starts, spec, 16, 7, fold_accents, 2)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_normalize_batch_composes_nfd_vietnamese() -> None:
    text = "Đại sứ Khalilzad thúc đẩy HOÀ ĐÀM tại Qatar, thuỷ điện khoẻ, Quý"
    buf, offsets = normalize_batch([unicodedata.normalize("NFD", text), text])
    first, second = _split(buf, offsets)
    assert first == second == "đại sứ khalilzad thúc đẩy hòa đàm tại qatar thủy điện khỏe quý".encode()


@pytest.mark.parametrize("doc", [0, 41])
@pytest.mark.usefixtures("failing")
def test_nfc_reports_out_of_memory(doc: int) -> None:
    """A failed allocation of the NFC scratch raises MemoryError (and only
    documents that need NFC allocate it)."""
    texts = [unicodedata.normalize("NFD", f"tin tức {i} hòa bình") for i in range(60)]
    text, starts = encode_texts(texts)
    _kernels.fail_allocation_for_tests(doc, _kernels.SITE_NFC)
    with pytest.raises(MemoryError, match=f"the first at position {doc}"):
        sketch_units(text, starts, ShingleSpec("word", 2), 16, 7, False, 2)
    with pytest.raises(MemoryError, match=f"the first at position {doc}"):
        normalize_batch(texts, workers=2)
    normalize_batch(["tin tức hòa bình"] * 60, workers=2)


def test_packed_table_is_checked() -> None:
    text, starts = encode_texts(["a\u0301"])
    with pytest.raises(ValueError, match="not a packed NFC table"):
        nfc_kernel(text, starts, nfc_table()[8:], 1)
