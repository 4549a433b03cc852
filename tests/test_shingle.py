"""Shingle hashes equal xxhash of the shingle strings built the slow way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedup._kernels import (
    HASH_SIMD,
    WORD_SIMD,
    WORD_SIMD512,
    hash_simd_for_tests,
    normalize_kernel,
    shingle_kernel,
    signature_kernel,
    sketch_kernel,
    sort_hashes_for_tests,
    word_steps_for_tests,
)
from dedup._unicode import nfc_table
from dedup.hashing import xxh64_reference
from dedup.minhash import permutations
from dedup.normalize import kernel_tables, normalize_batch, normalize_text
from dedup.pipeline import find_duplicates, sketch_texts
from dedup.shingle import CHAR_FALLBACK_TAG, ShingleSpec, parse_shingle_spec, shingle_batch
from dedup.similarity import exact_jaccard
from tests.strategies import mixed_script_texts, news_texts, unicode_texts, unspaced_texts, utf8_soup

# Scripts written without spaces: Thai and Lao, Myanmar, Khmer, Khmer symbols,
# 々〆〇, kana, kana extensions, Han (extension A, unified, Myanmar extensions
# between), compatibility ideographs, halfwidth katakana, Han extensions B-H.
UNSPACED_RANGES = [
    (0x0E00, 0x0F00),
    (0x1000, 0x10A0),
    (0x1780, 0x1800),
    (0x19E0, 0x1A00),
    (0x3005, 0x3008),
    (0x3040, 0x3100),
    (0x31F0, 0x3200),
    (0x3400, 0x4DC0),
    (0x4E00, 0xA000),
    (0xA9E0, 0xAA00),
    (0xAA60, 0xAA80),
    (0xF900, 0xFB00),
    (0xFF66, 0xFFA0),
    (0x20000, 0x323B0),
]


def by_characters(normalized: str, spec: ShingleSpec) -> bool:
    """A word scan shingles by characters when more than half the letters
    are in scripts written without spaces."""
    letters = normalized.replace(" ", "")
    unspaced = sum(any(lo <= ord(c) < hi for lo, hi in UNSPACED_RANGES) for c in letters)
    return spec.kind == "word" and 2 * unspaced > len(letters)


def reference_shingles(text: str, spec: ShingleSpec) -> list[int]:
    normalized = normalize_text(text)
    if not normalized:
        return []
    fallback = by_characters(normalized, spec)
    words = spec.kind == "word" and not fallback
    units = normalized.split(" ") if words else list(normalized)
    joiner = " " if words else ""
    if len(units) < spec.n:
        grams = [normalized]
    else:
        grams = [joiner.join(units[i : i + spec.n]) for i in range(len(units) - spec.n + 1)]
    tag = CHAR_FALLBACK_TAG if fallback else 0
    return sorted({xxh64_reference(g.encode("utf-8")) ^ tag for g in grams})


specs = st.builds(ShingleSpec, st.sampled_from(["word", "char"]), st.integers(1, 7))


@given(st.lists(st.one_of(news_texts, unicode_texts, unspaced_texts, mixed_script_texts), max_size=6), specs)
def test_matches_reference(texts: list[str], spec: ShingleSpec) -> None:
    buf, offsets = normalize_batch(texts)
    values, starts = shingle_batch(buf, offsets, spec)
    assert values.dtype == np.uint64 and starts.shape == (len(texts) + 1,)
    for i, text in enumerate(texts):
        assert values[starts[i] : starts[i + 1]].tolist() == reference_shingles(text, spec)


def test_short_document_is_one_shingle() -> None:
    buf, offsets = normalize_batch(["Hà Nội", ""])
    values, starts = shingle_batch(buf, offsets, ShingleSpec("word", 5))
    assert starts.tolist() == [0, 1, 1]
    assert values[0] == xxh64_reference("hà nội".encode())


@pytest.mark.parametrize("bad", ["word", "word:", "word:0", "char:x", "line:3", "word:65"])
def test_parse_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="shingle"):
        parse_shingle_spec(bad)


def test_parse_accepts() -> None:
    assert parse_shingle_spec("char:3") == ShingleSpec("char", 3)
    assert str(parse_shingle_spec("word:5")) == "word:5"


# Real news sentences in scripts written without spaces, and an edited copy of
# each (a date or a word changed, a phrase added).
THAI = (
    "กรมอุตุนิยมวิทยาประกาศเตือนประชาชนให้ระวังอันตรายจากพายุฝนฟ้าคะนองและลมกระโชกแรงในหลายจังหวัดทางภาคเหนือ"
    "และภาคตะวันออกเฉียงเหนือ ตั้งแต่วันที่ 12 ถึงวันที่ 15 กันยายน "
    "โดยขอให้เกษตรกรเตรียมการป้องกันความเสียหายที่อาจเกิดขึ้นกับผลผลิตทางการเกษตร "
    "และขอให้ผู้ที่อาศัยอยู่บริเวณเชิงเขาและใกล้ทางน้ำไหลระวังน้ำป่าไหลหลากและดินถล่ม"
)
# Chinese is written with the fullwidth comma, which RUF001 takes for a confusable.
CHINESE = (
    "中央气象台今天上午发布暴雨蓝色预警，预计未来三天南方地区将出现大范围强降雨天气，"  # noqa: RUF001
    "其中广东、广西、福建等地的部分地区有大暴雨。气象专家提醒，"  # noqa: RUF001
    "公众应密切关注天气变化，尽量减少外出，注意防范强降雨可能引发的山洪、泥石流和城市内涝等灾害。"  # noqa: RUF001
)
JAPANESE = (
    "気象庁によりますと、非常に強い台風十号は今夜から明日にかけて九州南部にかなり接近する見込みです。"
    "九州南部では猛烈な風が吹き、海は猛烈にしけるおそれがあります。"
    "気象庁は、土砂災害や低い土地の浸水、河川の増水や氾濫に厳重に警戒するよう呼びかけています。"
)
EDITED = {
    THAI: THAI.replace("วันที่ 15", "วันที่ 16").replace("หลายจังหวัด", "หลาย ๆ จังหวัด"),
    CHINESE: CHINESE.replace("今天上午", "今天下午").replace("等灾害。", "等次生灾害。"),
    JAPANESE: JAPANESE.replace("今夜から", "今夜遅くから").replace("呼びかけています。", "呼びかけました。"),
}
VIETNAMESE = (
    "Trung tâm Dự báo khí tượng thủy văn quốc gia cho biết, do ảnh hưởng của bão số 3, "
    "các tỉnh miền Bắc có mưa to đến rất to, người dân cần đề phòng lũ quét và sạt lở đất."
)
KOREAN = "기상청은 오늘 태풍 10호가 내일 새벽 제주도 남쪽 해상을 지나 남해안에 상륙할 것으로 예상된다고 밝혔다."


@pytest.mark.parametrize("story", [THAI, CHINESE, JAPANESE], ids=["thai", "chinese", "japanese"])
def test_unspaced_near_duplicates_found_at_defaults(story: str) -> None:
    """One "word" per sentence gave an edited copy nothing in common at word:5."""
    result = find_duplicates([story, EDITED[story], VIETNAMESE, KOREAN])
    assert [c.members for c in result.clusters] == [[0, 1]]
    assert 0.8 <= result.clusters[0].similarities[1] < 1.0
    assert result.stats.char_fallback == 2


def test_fallback_is_per_document_by_majority() -> None:
    texts = [
        THAI,
        "COVID-19 ระบาด",  # 5 Thai letters of 12: words
        "WHO ประกาศเตือนภัย",  # 14 Thai letters of 17: characters
        KOREAN,  # Hangul is written with spaces
        VIETNAMESE,
        "",
        "日本",  # shorter than one shingle: its whole text, tagged
    ]
    buf, offsets = normalize_batch(texts)
    _, _, flags = shingle_kernel(buf, offsets, 0, 5, 2)
    assert flags.tolist() == [1, 0, 1, 0, 0, 0, 1]
    assert shingle_kernel(buf, offsets, 1, 5, 2)[2].tolist() == [0] * len(texts)  # char:5 asked for


def test_char_fallback_never_matches_word_shingles() -> None:
    """A Thai document (by characters) and a mostly Latin one holding the
    same Thai letters as one-letter words (by words) share no shingle."""
    values, starts, _ = sketch_texts(["ก ข ค", "ก ข ค a b c d"], shingle="word:1")
    assert exact_jaccard(values, starts, np.array([0]), np.array([1]))[0] == 0.0
    # Untagged, the two sets would share ก, ข and ค: J = 3/8.
    untagged = {int(v) ^ CHAR_FALLBACK_TAG for v in values[starts[0] : starts[1]]}
    assert len(untagged & set(values[starts[1] : starts[2]].tolist())) == 3


def test_explicit_char_scan_is_not_tagged() -> None:
    values, starts, _ = sketch_texts([CHINESE, VIETNAMESE], shingle="char:5")
    buf, offsets = normalize_batch([CHINESE, VIETNAMESE])
    assert values.tolist() == shingle_batch(buf, offsets, ShingleSpec("char", 5))[0].tolist()
    assert values[starts[0] : starts[1]].tolist() == reference_shingles(CHINESE, ShingleSpec("char", 5))


def test_mixed_corpus_is_deterministic_for_any_worker_count() -> None:
    texts = [THAI, VIETNAMESE, CHINESE, EDITED[THAI], JAPANESE, KOREAN, EDITED[CHINESE], EDITED[JAPANESE]] * 3
    runs = [find_duplicates(texts, workers=w, batch_size=b) for w, b in [(1, 512), (2, 3), (8, 1)]]
    for run in runs[1:]:
        assert run.clusters == runs[0].clusters and run.pairs == runs[0].pairs
        assert run.stats.char_fallback == runs[0].stats.char_fallback == 18
    # The Thai, Chinese and Japanese stories each form one cluster with their copies;
    # the Vietnamese and Korean stories (identical copies) one each.
    assert [c.members for c in runs[0].clusters] == [
        [0, 3, 8, 11, 16, 19],
        [1, 9, 17],
        [2, 6, 10, 14, 18, 22],
        [4, 7, 12, 15, 20, 23],
        [5, 13, 21],
    ]


def test_long_documents_match_reference() -> None:
    # Hundreds to thousands of shingles per document, with repeated passages
    # (equal hashes): the bucket sort's path, where the short texts above
    # take std::sort's.
    words = [f"từ{i}" for i in range(3000)]
    texts = [
        " ".join(words[:200]),
        " ".join(words[:700] * 3),
        " ".join(words) + " " + " ".join(words[:1500]),
        "Hà Nội mùa thu " * 400,
    ]
    buf, offsets = normalize_batch(texts)
    for spec in (ShingleSpec("word", 5), ShingleSpec("word", 1), ShingleSpec("char", 4)):
        values, starts = shingle_batch(buf, offsets, spec)
        for i, text in enumerate(texts):
            assert values[starts[i] : starts[i + 1]].tolist() == reference_shingles(text, spec)


@pytest.mark.parametrize("n", [0, 1, 63, 64, 65, 1000, 5000])
def test_sort_orders_skewed_values(n: int) -> None:
    rng = np.random.default_rng(n)
    cases = [
        rng.integers(0, 2**64, n, dtype=np.uint64),  # uniform, as hashes are
        rng.integers(0, 2**20, n, dtype=np.uint64),  # one bucket: the std::sort fallback
        np.full(n, 7, dtype=np.uint64),  # one value repeated
        np.arange(n, dtype=np.uint64)[::-1] << np.uint64(40),  # descending, a few per bucket
        rng.integers(0, 4, n, dtype=np.uint64) << np.uint64(62),  # four values, many repeats
    ]
    for values in cases:
        out = np.ascontiguousarray(values)
        sort_hashes_for_tests(out)
        assert out.tolist() == sorted(values.tolist())


def test_the_report_highlights_the_scripts_the_kernel_shingles_by_characters() -> None:
    from dedup import passages

    # dedup.passages keeps its own copy of the kernel's ranges (the kernel's are C code).
    assert passages._UNSPACED.tolist() == [list(r) for r in UNSPACED_RANGES]


@given(
    st.lists(utf8_soup, max_size=8),
    st.sampled_from([(0, 5), (0, 1), (1, 3)]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.sampled_from([1, 2]),
)
def test_fused_kernel_equals_the_stage_kernels_on_any_bytes(
    docs: list[bytes], shingle: tuple[int, int], fold_accents: bool, check_nfc: bool, compose: bool, workers: int
) -> None:
    """The fused kernel counts words and letters and finds word starts while
    normalizing, and hashes from padded scratch; the stage kernels find them
    again in the normalized text. Equal on any bytes: invalid UTF-8,
    surrogates, NFD (composed alike with the NFC table, flagged alike
    without), unspaced scripts."""
    kind, n = shingle
    text = np.frombuffer(b"".join(docs), dtype=np.uint8)
    starts = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in docs], out=starts[1:])
    case, accent, stable, tones = kernel_tables(fold_accents)
    nfc = nfc_table() if compose else np.zeros(0, dtype=np.uint32)
    a, b = permutations(16, 7)
    values, value_starts, signatures, by_chars, needs = sketch_kernel(
        text, starts, case, accent, stable, nfc, fold_accents, check_nfc, tones, kind, n, a, b, workers
    )
    buf, offsets, ref_needs = normalize_kernel(
        text, starts, case, accent, stable, nfc, fold_accents, check_nfc, tones, 1
    )
    ref_values, ref_starts, ref_by_chars = shingle_kernel(buf, offsets, kind, n, 1)
    np.testing.assert_array_equal(needs, ref_needs)
    np.testing.assert_array_equal(value_starts, ref_starts)
    np.testing.assert_array_equal(values, ref_values)
    np.testing.assert_array_equal(by_chars, ref_by_chars)
    np.testing.assert_array_equal(signatures, signature_kernel(ref_values, ref_starts, a, b, 1))


@given(
    st.lists(st.lists(utf8_soup, min_size=1, max_size=6).map(b"".join), min_size=1, max_size=6),
    st.sampled_from([(0, 5), (1, 3)]),
    st.booleans(),
)
def test_fused_kernel_equal_in_every_word_step_mode(
    docs: list[bytes], shingle: tuple[int, int], fold_accents: bool
) -> None:
    """The fused kernel's counts, word starts and sketches are the same
    whether it normalizes by word steps (plain or SIMD classification) or
    character by character, on any bytes long enough for the word steps."""
    kind, n = shingle
    _sketch_in_each_mode(docs, kind, n, fold_accents)


def test_fused_kernel_equal_in_every_word_step_mode_on_every_code_point() -> None:
    """Every code point of the Basic Multilingual Plane, alone and in words
    (what the word steps' fold table decides: its fold and whether it is in
    a script written without spaces, which makes a document shingled by
    code points): the same sketches in every mode."""
    cps = [c for c in range(0x80, 0x10000) if not 0xD800 <= c < 0xE000]
    docs = [
        (f"{chr(c)} {chr(c) * 3} a{chr(c)} {chr(c)}o, " * 3 + "hoà bình, thuỷ điện Việt Nam; " * 3).encode()
        for c in cps
    ]
    _sketch_in_each_mode(docs, 0, 2, False)


def _sketch_in_each_mode(docs: list[bytes], kind: int, n: int, fold_accents: bool) -> None:
    """Sketch the documents by the fused kernel in each word-step mode: all
    its results equal."""
    modes = [0, 1] + ([2] if WORD_SIMD else []) + ([3] if WORD_SIMD512 else [])
    sketches_alike(docs, kind, n, word_steps_for_tests, modes, fold_accents)


def sketches_alike(
    docs: list[bytes],
    kind: int,
    n: int,
    switch: Callable[[Any], Any],
    settings: Sequence[Any],
    fold_accents: bool = False,
) -> tuple[Any, ...]:
    """The fused kernel's results for the documents under each setting of a
    kernel switch (``switch(setting)`` returns the previous one), checked all
    equal; the first setting's results."""
    text = np.frombuffer(b"".join(docs), dtype=np.uint8)
    starts = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in docs], out=starts[1:])
    case, accent, stable, tones = kernel_tables(fold_accents)
    a, b = permutations(16, 7)
    results = []
    for setting in settings:
        was = switch(setting)
        try:
            results.append(
                sketch_kernel(
                    text, starts, case, accent, stable, nfc_table(), fold_accents, True, tones, kind, n, a, b, 1
                )
            )
        finally:
            switch(was)
    for got in results[1:]:
        for x, y in zip(got, results[0], strict=True):
            np.testing.assert_array_equal(x, y)
    return results[0]


# Words of 1 to 70 letters: word 5-grams from 9 to over 350 bytes, so the
# lanes of one group of eight take 0, 1, 2 or more 32-byte stripes and every
# tail (8-, 4- and 1-byte steps) in every mix.
_hash_words = st.lists(
    st.builds(lambda c, k: c * k, st.sampled_from(["a", "ư", "x9", "ệ", "亜"]), st.integers(1, 70)),
    min_size=1,
    max_size=40,
).map(" ".join)


@given(st.lists(st.one_of(_hash_words, news_texts), min_size=1, max_size=6), st.sampled_from([(0, 5), (0, 1), (1, 5)]))
def test_fused_kernel_equal_with_and_without_simd_hashing(docs: list[str], shingle: tuple[int, int]) -> None:
    """Hashing shingles eight at a time (AVX-512 builds) gives the values
    hashing them one at a time gives, for every mix of lengths in a group."""
    kind, n = shingle
    encoded = [d.encode() for d in docs]
    results = sketches_alike(encoded, kind, n, hash_simd_for_tests, [True, False])
    text = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    starts = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in encoded], out=starts[1:])
    case, accent, stable, tones = kernel_tables(False)
    values, value_starts, by_chars = results[0], results[1], results[3]
    buf, offsets, _ = normalize_kernel(text, starts, case, accent, stable, nfc_table(), False, True, tones, 1)
    for d in range(len(docs)):
        words = bytes(buf[offsets[d] : offsets[d + 1]]).split(b" ")
        if kind == 0 and not by_chars[d] and len(words) >= n:
            expected = {xxh64_reference(b" ".join(words[i : i + n])) for i in range(len(words) - n + 1)}
            assert set(values[value_starts[d] : value_starts[d + 1]].tolist()) == expected


def test_simd_hashing_switch_reports_the_build() -> None:
    was = hash_simd_for_tests(True)
    try:
        assert hash_simd_for_tests(True) is HASH_SIMD
    finally:
        hash_simd_for_tests(was)
