"""Normalization: examples from real news, a pure-Python reference, properties."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedup._unicode import TABLES_FILE, build_tables, fold_accent_char, fold_case_char, is_word_char
from dedup.normalize import normalize_batch, normalize_text
from tests.strategies import news_texts, unicode_texts

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
