"""Shingle hashes equal xxhash of the shingle strings built the slow way."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedup.hashing import xxh64_reference
from dedup.normalize import normalize_batch, normalize_text
from dedup.shingle import ShingleSpec, parse_shingle_spec, shingle_batch
from tests.strategies import news_texts, unicode_texts


def reference_shingles(text: str, spec: ShingleSpec) -> list[int]:
    normalized = normalize_text(text)
    if not normalized:
        return []
    units = normalized.split(" ") if spec.kind == "word" else list(normalized)
    joiner = " " if spec.kind == "word" else ""
    if len(units) < spec.n:
        grams = [normalized]
    else:
        grams = [joiner.join(units[i : i + spec.n]) for i in range(len(units) - spec.n + 1)]
    return sorted({xxh64_reference(g.encode("utf-8")) for g in grams})


specs = st.builds(ShingleSpec, st.sampled_from(["word", "char"]), st.integers(1, 7))


@given(st.lists(st.one_of(news_texts, unicode_texts), max_size=6), specs)
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
