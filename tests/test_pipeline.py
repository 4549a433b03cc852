"""End-to-end behaviour of find_duplicates on real news and generated text."""

from __future__ import annotations

import gc
import random
import textwrap
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dedup
from dedup import Document, Skipped, find_duplicates, pipeline
from dedup.similarity import estimate_jaccard, exact_jaccard
from tests.strategies import edit_chains, long_news_texts, mixed_script_texts, near_duplicate, unspaced_texts

OLD_TO_NEW = {"hòa": "hoà", "Hòa": "Hoà", "thủy": "thuỷ", "khỏe": "khoẻ", "hóa": "hoá", "họa": "hoạ"}


def _old_style_rewritten(text: str) -> str:
    for old, new in OLD_TO_NEW.items():
        text = text.replace(old, new)
    return text


def _rewrapped_upper(text: str) -> str:
    return "\n\n".join(textwrap.fill(p, 50) for p in text.split("\n\n")).upper()


def _edited(text: str, fraction: float = 0.005, seed: int = 0) -> str:
    words = text.split(" ")
    rng = random.Random(seed)
    for i in rng.sample(range(len(words)), max(1, round(len(words) * fraction))):
        words[i] = "chỉnh"
    return " ".join(words) + "\n\nTheo VOV.VN (bản quyền thuộc về tác giả)\n"


@pytest.mark.parametrize(
    "variant",
    [lambda t: unicodedata.normalize("NFD", t), _old_style_rewritten, _rewrapped_upper, _edited],
    ids=["nfd", "old-style-tones", "rewrapped-upper", "edited-credit"],
)
@pytest.mark.parametrize("seed_name", ["000", "001", "003"])
def test_republished_copy_clusters_with_original(seed_texts: dict[str, str], variant, seed_name: str) -> None:  # type: ignore[no-untyped-def]
    original = seed_texts[seed_name]
    copy = variant(original)
    assert copy != original
    result = find_duplicates([("original", original), ("copy", copy)])
    assert [c.ids for c in result.clusters] == [["original", "copy"]]
    cluster = result.clusters[0]
    assert cluster.keep_id == "original" and cluster.similarities[0] == 1.0
    assert cluster.similarities[1] >= 0.8


def test_different_stories_same_topic_stay_apart(seed_texts: dict[str, str]) -> None:
    result = find_duplicates(list(seed_texts.values()))
    assert result.clusters == []
    assert result.documents == 3


def test_pairs_have_exact_similarity_and_estimate(seed_texts: dict[str, str]) -> None:
    original = seed_texts["003"]
    result = find_duplicates([("a", original), ("b", _edited(original, 0.01))])
    (pair,) = result.pairs
    values, starts, _ = dedup.sketch_texts([original, _edited(original, 0.01)])
    exact = dedup.exact_jaccard(values, starts, np.array([0]), np.array([1]))[0]
    assert (pair.a, pair.b) == ("a", "b") and pair.similarity == exact
    assert abs(pair.estimate - exact) < 0.2


def test_nothing_lost() -> None:
    items = [
        Document("a", "Một hai ba bốn năm sáu bảy"),
        Skipped("bad.jsonl", 3, "line is not JSON"),
        Document("b", "!!! ... ???"),
        "Một hai ba bốn năm sáu bảy",
    ]
    result = find_duplicates(items)
    assert result.documents == 2
    assert [s.location for s in result.skipped] == ["bad.jsonl:3", "b"]
    assert [c.ids for c in result.clusters] == [["a", "3"]]


def test_keep_longest_and_options() -> None:
    base = "Đại sứ Khalilzad tới Qatar thúc đẩy hòa đàm Mỹ Taliban tại thủ đô Doha hôm nay"
    longer = base + " thủ đô"
    result = find_duplicates([("short", base), ("long", longer)], keep="longest", threshold=0.5)
    assert result.clusters[0].keep_id == "long"
    with pytest.raises(ValueError, match="threshold"):
        find_duplicates([], threshold=2.0)
    with pytest.raises(TypeError):
        find_duplicates([], thresold=0.5)


def test_fold_accents_matches_unaccented_copy() -> None:
    story = "Bộ trưởng Quốc phòng Mỹ đến thăm Hà Nội trong chuyến công du châu Á kéo dài một tuần lễ"
    plain = "Bo truong Quoc phong My den tham Ha Noi trong chuyen cong du chau A keo dai mot tuan le"
    assert find_duplicates([story, plain]).clusters == []
    assert [c.ids for c in find_duplicates([story, plain], fold_accents=True).clusters] == [["0", "1"]]


@st.composite
def corpora(draw: st.DrawFn) -> list[str]:
    originals = draw(st.lists(long_news_texts, min_size=1, max_size=6))
    docs = list(originals)
    for text in originals:
        for _ in range(draw(st.integers(0, 2))):
            docs.insert(draw(st.integers(0, len(docs))), draw(near_duplicate(text)))
    return docs


def _canonical(result: dedup.ScanResult) -> tuple[object, ...]:
    return (
        [(c.ids, c.keep_id, c.similarities) for c in result.clusters],
        result.pairs,
        result.documents,
    )


@given(corpora(), st.integers(1, 7), st.sampled_from([1, 2]), st.sampled_from([0, 3000, 1 << 30]))
def test_independent_of_batch_size_workers_and_memory(
    docs: list[str], batch_size: int, workers: int, memory: int
) -> None:
    reference = find_duplicates(docs, batch_size=4096, workers=1, memory=1 << 30)  # nothing spilled
    other = find_duplicates(docs, batch_size=batch_size, workers=workers, memory=memory)
    assert _canonical(other) == _canonical(reference)
    # Clusters partition a subset of the documents, each ordered, with similarity 1.0 for keep.
    seen = [i for c in reference.clusters for i in c.ids]
    assert len(seen) == len(set(seen))
    for c in reference.clusters:
        assert c.ids == sorted(c.ids, key=int) and c.similarities[c.members.index(c.keep)] == 1.0
    for p in reference.pairs:
        assert p.similarity >= 0.8


@given(edit_chains(), st.sampled_from(["first", "longest"]), st.booleans(), st.sampled_from([0, 1 << 30]))
def test_similarity_to_kept_is_measured_for_every_member(docs: list[str], keep: str, verify: bool, memory: int) -> None:
    """A member's similarity to the kept document is the exact Jaccard (the
    MinHash estimate without verification) of the two, also when they are
    only linked through other members (threshold 0.5: chains are common):
    looked up among the verified pairs where it is one, computed otherwise."""
    result = find_duplicates(docs, threshold=0.5, keep=keep, verify=verify, memory=memory)
    values, starts, signatures = dedup.sketch_texts(docs)
    for c in result.clusters:
        kept = np.full(len(c.members), c.keep, dtype=np.int64)
        members = np.array(c.members, dtype=np.int64)
        if verify:
            expected = exact_jaccard(values, starts, kept, members)
        else:
            expected = estimate_jaccard(signatures, kept, members)
        assert c.similarities == expected.tolist()


@given(
    st.lists(st.one_of(long_news_texts, unspaced_texts, mixed_script_texts, st.text(max_size=60)), max_size=6),
    st.sampled_from(["word:5", "word:1", "char:3", "char:7"]),
    st.sampled_from([1, 16, 128]),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)
def test_fused_sketch_equals_the_stages(
    texts: list[str], shingle: str, num_perm: int, seed: int, fold_accents: bool
) -> None:
    """sketch_texts runs one fused kernel; it must equal the three stages."""
    from dedup.minhash import compute_signatures
    from dedup.normalize import normalize_batch
    from dedup.shingle import parse_shingle_spec, shingle_batch

    values, starts, signatures = dedup.sketch_texts(
        texts, shingle=shingle, num_perm=num_perm, seed=seed, fold_accents=fold_accents
    )
    buf, offsets = normalize_batch(texts, fold_accents=fold_accents)
    ref_values, ref_starts = shingle_batch(buf, offsets, parse_shingle_spec(shingle))
    np.testing.assert_array_equal(starts, ref_starts)
    np.testing.assert_array_equal(values, ref_values)
    np.testing.assert_array_equal(signatures, compute_signatures(ref_values, ref_starts, num_perm=num_perm, seed=seed))


def test_progress_and_stage_callbacks() -> None:
    seen: list[object] = []
    find_duplicates(["một hai ba bốn năm sáu"] * 5, batch_size=2, progress=seen.append, on_stage=seen.append)
    assert seen == [2, 4, 5, "matching"]


def test_scan_pauses_the_garbage_collector_only_over_its_own_work(tmp_path: Path) -> None:
    """The collector runs while a scan reads the caller's iterable (which
    may make reference cycles), is paused while it reads with dedup's own
    reader and while it matches, and is enabled after it, on success and on
    error alike (and left off when it was off)."""
    seen = []

    def texts() -> Iterator[str]:
        seen.append(gc.isenabled())
        yield "một hai ba bốn năm sáu"
        yield "một hai ba bốn năm sáu"

    def failing() -> Iterator[str]:
        yield "một hai ba bốn năm sáu"
        raise RuntimeError("the source broke")

    real_match = pipeline._match_sealed

    def match(*args: Any) -> Any:
        seen.append(gc.isenabled())
        return real_match(*args)

    dump = tmp_path / "d.jsonl"
    dump.write_text('{"text": "một hai ba bốn năm sáu"}\n' * 2, encoding="utf-8")
    stream = dedup.read_documents([dump])
    real_packed = stream.packed

    def packed() -> Iterator[Any]:
        for item in real_packed():
            seen.append(gc.isenabled())
            yield item

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "_match_sealed", match)
        patch.setattr(stream, "packed", packed)
        assert find_duplicates(texts()).duplicates == 1
        assert seen == [True, False]
        assert find_duplicates(stream).duplicates == 1
        assert seen[2:] == [False, False]
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        find_duplicates(failing())
    assert gc.isenabled()
    gc.disable()
    try:
        find_duplicates(texts())
        assert not gc.isenabled()
    finally:
        gc.enable()
