"""Normalization: examples from real news, a pure-Python reference, properties."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedup._kernels import WORD_SIMD, WORD_SIMD512, word_chunk_for_tests, word_steps_for_tests
from dedup._unicode import TABLES_FILE, build_tables, fold_accent_char, fold_case_char, is_word_char
from dedup.normalize import normalize_batch, normalize_text, normalize_utf8
from tests.strategies import news_texts, unicode_texts, utf8_soup

_NEW_TO_OLD = {
    "oà": "òa", "oá": "óa", "oả": "ỏa", "oã": "õa", "oạ": "ọa",
    "oè": "òe", "oé": "óe", "oẻ": "ỏe", "oẽ": "õe", "oẹ": "ọe",
    "uỳ": "ùy", "uý": "úy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy",
}  # fmt: skip


def reference_normalize(text: str, fold_accents: bool = False) -> str:
    """Character-by-character Python statement of the normalization rules."""
    chars = []
    for ch in unicodedata.normalize("NFC", text):
        if 0xD800 <= ord(ch) <= 0xDFFF or not is_word_char(ch):
            chars.append(" ")
            continue
        c = fold_case_char(ch)
        if fold_accents:
            c = fold_accent_char(c)
        chars.append(c)
    words = [w for w in "".join(chars).split(" ") if w]
    if not fold_accents:
        for i, w in enumerate(words):
            tail = w[-2:]
            if tail in _NEW_TO_OLD and (len(w) == 2 or w[-3] != "q"):
                words[i] = w[:-2] + _NEW_TO_OLD[tail]
    return " ".join(words)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mỹ và Taliban nối lại đàm phán hòa bình", "mỹ và taliban nối lại đàm phán hòa bình"),
        ("Hoà bình, thuỷ điện; KHOẺ!", "hòa bình thủy điện khỏe"),
        ("Hoàng Quý uỷ ban", "hoàng quý ủy ban"),
        ("Mỹ-Taliban…(VOV.VN)", "mỹ taliban vov vn"),
        ("  tab\there\r\nnew   line  ", "tab here new line"),
        ("snake_case", "snake case"),
        ("", ""),
        ("…!?", ""),
    ],
)
def test_normalize_examples(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


def test_nfd_and_nfc_normalize_alike() -> None:
    text = "Đại sứ Khalilzad thúc đẩy hòa đàm tại Qatar, thủy điện khỏe"
    assert normalize_text(unicodedata.normalize("NFD", text)) == normalize_text(text)


def test_tone_styles_normalize_alike() -> None:
    for old, new in [("hòa", "hoà"), ("thủy", "thuỷ"), ("khỏe", "khoẻ"), ("Hóa", "HOÁ")]:
        assert normalize_text(old) == normalize_text(new)
    # A final consonant means one spelling only: left alone.
    assert normalize_text("hoàng") == "hoàng"


def test_fold_accents() -> None:
    assert normalize_text("Bộ trưởng Quốc phòng Đức", fold_accents=True) == "bo truong quoc phong duc"
    assert normalize_text("bo truong quoc phong", fold_accents=True) == normalize_text(
        "BỘ TRƯỞNG QUỐC PHÒNG", fold_accents=True
    )


@given(unicode_texts, st.booleans())
def test_kernel_matches_reference(text: str, fold_accents: bool) -> None:
    assert normalize_text(text, fold_accents=fold_accents) == reference_normalize(text, fold_accents)


@given(unicode_texts, st.booleans())
def test_idempotent(text: str, fold_accents: bool) -> None:
    once = normalize_text(text, fold_accents=fold_accents)
    assert normalize_text(once, fold_accents=fold_accents) == once


@given(st.lists(st.one_of(news_texts, unicode_texts), max_size=8))
def test_batch_equals_one_by_one(texts: list[str]) -> None:
    buf, offsets = normalize_batch(texts)
    assert offsets.dtype == np.int64 and buf.dtype == np.uint8
    got = [buf[offsets[i] : offsets[i + 1]].tobytes().decode("utf-8") for i in range(len(texts))]
    assert got == [normalize_text(t) for t in texts]


def test_lone_surrogates_become_spaces() -> None:
    assert normalize_text("a\udcffb") == "a b"


def test_shipped_tables_match_this_python() -> None:
    """Regenerate with `python -m dedup._unicode` when this fails after a Python upgrade."""
    fresh = build_tables()
    with np.load(TABLES_FILE, allow_pickle=False) as shipped:
        assert sorted(shipped.files) == sorted(fresh)
        for key, value in fresh.items():
            np.testing.assert_array_equal(shipped[key], value, err_msg=key)


def test_nfc_stable_code_points_are_nfc_in_any_order() -> None:
    """Text made only of NFC-stable code points is already NFC: the kernel
    may skip Python's NFC for it."""
    from dedup._unicode import nfc_stable_table

    stable = nfc_stable_table()
    chars = "".join(chr(c) for c in np.flatnonzero(stable).tolist() if not 0xD800 <= c < 0xE000)
    assert unicodedata.is_normalized("NFC", chars)
    assert unicodedata.is_normalized("NFC", chars[::-1])
    assert stable[:0x300].all() and stable[0x1EA0:0x1EFA].all()  # ASCII, Latin, precomposed Vietnamese
    assert not stable[[0x300, 0x301, 0x303, 0x309, 0x323, 0x1161, 0x11A8]].any()


def test_kernel_matches_reference_on_every_code_point() -> None:
    """Each code point, alone and between letters a tone mark may join, as
    the Python reference normalizes it (NFC by Python where needed)."""
    cps = [c for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    for template in ("o{}\u0301a",):
        texts = [template.format(chr(c)) for c in cps]
        buf, offsets = normalize_batch(texts)
        bounds = offsets.tolist()
        words = [buf[bounds[i] : bounds[i + 1]].tobytes().decode("utf-8") for i in range(len(texts))]
        assert words == [reference_normalize(t) for t in texts]


def test_normalized_utf8_is_at_most_twice_as_long() -> None:
    """The kernels' scratch bound: a code point's fold never takes more than
    twice its UTF-8 bytes (an ASCII one stays one byte)."""
    from dedup._unicode import accent_table, case_table

    for table in (case_table(), accent_table()):
        cps = np.arange(0x110000)
        ok = (cps < 0xD800) | (cps >= 0xE000)
        size = lambda a: 1 + (a >= 0x80) + (a >= 0x800) + (a >= 0x10000)  # noqa: E731
        assert (size(table[ok].astype(np.int64)) <= 2 * size(cps[ok]))[cps[ok] >= 0x80].all()
        assert (table[:0x80] < 0x80).all()


# Word steps (dedup/_kernels.pyx): 64 bytes at a time from a word's start,
# the last 63 bytes of a document and the words they cannot take character
# by character. Mode 0 is the character steps alone; 1 the word steps with
# the plain classification; 2 with AVX2 and 3 with AVX-512BW (where the
# build has them). Texts must be longer than 64 bytes for the word steps to
# run at all.
WORD_MODES = [0, 1] + ([2] if WORD_SIMD else []) + ([3] if WORD_SIMD512 else [])

# Bytes the word steps judge: separators (one and more, ASCII and not),
# upper case, digits, 2- and 3-byte letters (Vietnamese, upper case folding
# in place), letters folding to another UTF-8 length (İ, Ⱥ), tone-mark
# pairs (some rewritten shorter: uỳ -> ùy), NFD marks, 4-byte, U+0800-U+0FFF (E0) and Hangul (ED) sequences,
# unspaced scripts, and bytes that are not UTF-8 (stray continuation, cut
# sequences, overlong forms, surrogates).
WORD_PIECES = [
    b" ",
    b", ",
    b" - ",
    b"\t\n",
    b"A",
    b"Zq",
    b"7",
    b"_",
    "Đ".encode(),
    "ộ".encode(),
    "Ộ".encode(),
    "ư".encode(),
    "hoà".encode(),
    "HOÀ".encode(),
    "quý".encode(),
    "uỷ".encode(),
    "thuỳ".encode(),
    "Tuỹ".encode(),
    "\u201c".encode(),
    "\u00a0".encode(),
    "\u0130".encode(),
    "\u023a".encode(),
    "a\u0301".encode(),
    "\U0001d11e".encode(),
    "\u0e01\u0e02".encode(),
    "\ud55c".encode(),
    "中文".encode(),
    "\u1000".encode(),
    "\u3000".encode(),
    b"\x80",
    b"\xc3",
    b"\xe1\xbb",
    b"\xc0\xaf",
    b"\xe0\x80\x80",
    "\ud800".encode("utf-8", "surrogatepass"),
    "\ud83d\ude00".encode("utf-8", "surrogatepass"),
    b"\xff",
]
_WORD_BASE = "Bộ trưởng Quốc phòng hoà bình, thuỷ điện 2024 ABC người dân Việt Nam khoẻ mạnh. ".encode() * 3


@contextmanager
def _word_mode(mode: int) -> Iterator[None]:
    was = word_steps_for_tests(mode)
    try:
        yield
    finally:
        word_steps_for_tests(was)


def _normalize_in_each_mode(docs: list[bytes], fold_accents: bool) -> list[bytes]:
    """The documents normalized in each mode, checked equal; mode 0's."""
    text = np.frombuffer(b"".join(docs), dtype=np.uint8)
    starts = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in docs], out=starts[1:])
    got = []
    for mode in WORD_MODES:
        with _word_mode(mode):
            buf, offsets = normalize_utf8(text, starts, fold_accents=fold_accents, workers=1)
        bounds = offsets.tolist()
        got.append([buf[bounds[i] : bounds[i + 1]].tobytes() for i in range(len(docs))])
    for mode, result in zip(WORD_MODES[1:], got[1:], strict=True):
        assert result == got[0], f"word steps mode {mode}"
    return got[0]


def _check_reference(docs: list[bytes], normalized: list[bytes], fold_accents: bool) -> None:
    for doc, out in zip(docs, normalized, strict=True):
        try:
            text = doc.decode("utf-8")
        except UnicodeDecodeError:
            continue
        assert out.decode("utf-8") == reference_normalize(text, fold_accents)


def test_word_steps_are_on_where_built() -> None:
    """On by default with the widest SIMD classification the build has; off
    (character steps, faster than the plain classification) in a build
    without any."""
    assert word_steps_for_tests(WORD_MODES[-1]) == (3 if WORD_SIMD512 else 2 if WORD_SIMD else 0)


# Every byte value at every position of a chunk (where the masks' bits and
# the SIMD halves meet), and chunks of Vietnamese text cut anywhere.
_chunks = st.one_of(
    st.binary(min_size=64, max_size=64),
    st.lists(st.sampled_from(list(range(256))), min_size=64, max_size=64).map(bytes),
    st.integers(0, len(_WORD_BASE) - 64).map(lambda k: _WORD_BASE[k : k + 64]),
    st.lists(st.sampled_from([0x2F, 0x30, 0x39, 0x3A, 0x40, 0x41, 0x5A, 0x5B, 0x60, 0x61, 0x7A, 0x7B, 0x7F, 0x80,
                              0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xFF,
                              0x4F, 0x6F, 0x55, 0x75]), min_size=64, max_size=64).map(bytes),
)  # fmt: skip


@given(_chunks)
def test_word_chunk_classified_alike_in_every_mode(chunk: bytes) -> None:
    """The 64-byte classification (copy and masks) is the same plain, AVX2
    and AVX-512BW, bit for bit."""
    got = []
    for mode in WORD_MODES[1:]:
        with _word_mode(mode):
            got.append(word_chunk_for_tests(np.frombuffer(chunk, dtype=np.uint8)))
    for mode, result in zip(WORD_MODES[2:], got[1:], strict=True):
        assert result == got[0], f"word steps mode {mode}"
    copy, (sep, high, *_) = got[0]
    assert sep == sum(1 << k for k, c in enumerate(chunk) if c < 0x80 and not chr(c).isalnum())
    assert high == sum(1 << k for k, c in enumerate(chunk) if c >= 0x80)
    assert copy == bytes(
        0x20 if (sep >> k) & 1 else (c | 0x20 if 0x41 <= c <= 0x5A else c) for k, c in enumerate(chunk)
    )


@pytest.mark.parametrize("fold_accents", [False, True])
def test_word_steps_at_every_offset_of_a_chunk(fold_accents: bool) -> None:
    """Each piece at every offset of the first two 64-byte chunks (cutting
    the text's sequences too): every mode gives the character steps' result,
    and the Python reference's where the bytes are UTF-8."""
    docs = [_WORD_BASE[:k] + piece + _WORD_BASE[k:] for piece in WORD_PIECES for k in range(140)]
    _check_reference(docs, _normalize_in_each_mode(docs, fold_accents), fold_accents)


@pytest.mark.parametrize("fold_accents", [False, True])
def test_word_lengths_around_the_chunk(fold_accents: bool) -> None:
    """Words of 1 to 80 bytes (ASCII, upper case, 2- and 3-byte letters,
    ending in a tone-mark pair, one rewritten shorter) between separator
    runs of 1 to 3 bytes, and
    every length of text from 0 to 200 bytes (ending mid-chunk, mid-word)."""
    docs = []
    for letters in ("x", "Ab", "ộa", "ưƠ", "9"):
        for length in range(1, 81):
            for pair in ("oà", "uỳ"):
                word = (letters * length).encode()[:length].decode("utf-8", "ignore") + pair
                for sep in (" ", ". ", ' "- '):
                    docs.append((sep.join([word] * 5) + sep).encode())
                    docs.append(sep.join(["tin", word, "hoà", word, "thuỳ", "a"]).encode())
    docs += [_WORD_BASE[:k] for k in range(201)]
    _check_reference(docs, _normalize_in_each_mode(docs, fold_accents), fold_accents)


@given(st.lists(st.lists(utf8_soup, min_size=1, max_size=6).map(b"".join), min_size=1, max_size=6), st.booleans())
def test_word_steps_equal_character_steps_on_any_bytes(docs: list[bytes], fold_accents: bool) -> None:
    _normalize_in_each_mode(docs, fold_accents)


def test_word_steps_fold_every_code_point_as_character_steps() -> None:
    """Every code point of the Basic Multilingual Plane (the word steps'
    fold table covers those below U+2000, the rest go by the rare path) at a
    word's start, middle and end and after an o (a tone-mark pair), at three
    offsets of a chunk and followed by more than a chunk without it (the
    word steps alone see it there): each mode gives the character steps'
    result."""
    cps = [c for c in range(0x80, 0x10000) if not 0xD800 <= c < 0xE000]
    tail = "hoà bình, thuỷ điện Việt Nam; " * 3
    docs = [
        f"{head}o{chr(c)} b{chr(c)}x {chr(c)}a, {tail}".encode()
        for head in ("", "tin ", "Bộ trưởng Quốc phòng ")
        for c in cps
    ]
    _normalize_in_each_mode(docs, fold_accents=False)
