"""LSH: band choice meets the recall target; candidates equal a brute force;
exported LeanMinHash objects work in datasketch's MinHashLSH."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from hypothesis import given
from hypothesis import strategies as st

from dedup.lsh import candidate_pairs, catch_probability, choose_bands, pairs_from_band_columns, to_lean_minhashes
from dedup.minhash import compute_signatures


@pytest.mark.parametrize("threshold", [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95])
@pytest.mark.parametrize("num_perm", [64, 128, 256])
def test_band_choice_catches_threshold_pairs(threshold: float, num_perm: int) -> None:
    bands, rows = choose_bands(threshold, num_perm)
    assert bands * rows <= num_perm
    assert catch_probability(threshold, bands, rows) >= 0.99
    # Widest such bands: one more row per band would miss the target.
    wider = rows + 1
    assert catch_probability(threshold, num_perm // wider, wider) < 0.99 or num_perm // wider == 0


def test_default_shape() -> None:
    assert choose_bands(0.8, 128) == (21, 6)
    assert catch_probability(0.8, 9, 13) < 0.41  # datasketch's own choice


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_rejects_threshold(bad: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        choose_bands(bad, 128)


@given(st.integers(1, 40), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_candidates_equal_brute_force(n_docs: int, bands: int, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    sig = rng.integers(0, 3, size=(n_docs, bands * rows)).astype(np.uint32)
    left, right, stats = candidate_pairs(sig, bands, rows)
    expected = [
        (i, j)
        for i, j in itertools.combinations(range(n_docs), 2)
        if any((sig[i, b * rows : (b + 1) * rows] == sig[j, b * rows : (b + 1) * rows]).all() for b in range(bands))
    ]
    assert list(zip(left.tolist(), right.tolist(), strict=True)) == expected
    assert stats.candidates == len(expected)


def test_lean_minhash_interop() -> None:
    rng = np.random.default_rng(3)
    base = rng.choice(2**40, size=200, replace=False).astype(np.uint64)
    near = base.copy()
    near[:8] = rng.choice(2**40, size=8).astype(np.uint64)
    other = rng.choice(2**40, size=200, replace=False).astype(np.uint64)
    values = np.concatenate([base, near, other])
    starts = np.array([0, 200, 400, 600])
    sig = compute_signatures(values, starts, num_perm=128, seed=7)
    lean = to_lean_minhashes(sig, seed=7)
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    for i, m in enumerate(lean):
        lsh.insert(str(i), m)
    assert sorted(lsh.query(lean[0])) == ["0", "1"]
    # Same estimate as the signatures, and as a datasketch MinHash fed the same hashes.
    assert lean[0].jaccard(lean[1]) == float(np.mean(sig[0] == sig[1]))
    m = MinHash(num_perm=128, seed=7, hashfunc=lambda v: v & 0xFFFFFFFF, scheme="affine32")
    m.update_batch(base.tolist())
    assert m.jaccard(lean[1]) == lean[0].jaccard(lean[1])


def test_oversized_buckets_pair_star_wise() -> None:
    """3,000 identical signatures make one bucket per band: all pairs would be
    4.5 million; capped, each member pairs with the first document only."""
    sig = np.zeros((3000, 12), dtype=np.uint32)
    sig[2990:] = np.arange(12, dtype=np.uint32) + 1  # a second, small bucket
    left, right, stats = candidate_pairs(sig, 4, 3)
    assert stats.capped_buckets == 4  # the big bucket, in each of the 4 bands
    big = [(a, b) for a, b in zip(left.tolist(), right.tolist(), strict=True) if b < 2990]
    assert big == [(0, b) for b in range(1, 2990)]
    small = [(a, b) for a, b in zip(left.tolist(), right.tolist(), strict=True) if a >= 2990]
    assert len(small) == 45  # 10 documents, all pairs


def test_many_identical_documents_cluster_without_blowing_up() -> None:
    from dedup import find_duplicates

    text = "Mời quý độc giả theo dõi VOV.VN trên các nền tảng mạng xã hội"
    result = find_duplicates([text] * 2500 + ["một câu chuyện hoàn toàn khác hẳn về thời tiết hôm nay"])
    (cluster,) = result.clusters
    assert cluster.size == 2500 and cluster.similarities == [1.0] * 2500
    assert result.stats.capped_buckets > 0 and len(result.pairs) == 2499


def _reference_band_pairs(columns: list[np.ndarray], max_bucket: int) -> tuple[list[tuple[int, int]], int, int]:
    """Every band's buckets paired the slow way (a star over max_bucket), as
    ``(distinct pairs, collisions, capped buckets)``."""
    pairs: set[tuple[int, int]] = set()
    collisions = capped = 0
    for column in columns:
        buckets: dict[int, list[int]] = {}
        for doc, key in enumerate(column.tolist()):
            buckets.setdefault(key, []).append(doc)
        for members in buckets.values():
            if len(members) > max_bucket:
                capped += 1
                band = [(members[0], m) for m in members[1:]]
            else:
                band = list(itertools.combinations(members, 2))
            collisions += len(band)
            pairs.update(band)
    return sorted(pairs), collisions, capped


@given(st.integers(0, 40), st.integers(0, 6), st.integers(1, 4), st.integers(2, 6), st.integers(0, 2**32 - 1))
def test_band_pairs_equal_brute_force(n_docs: int, bands: int, keys: int, max_bucket: int, seed: int) -> None:
    """Few distinct keys: the same pairs collide in many bands, and buckets
    go over the cap; merged band by band, each pair still comes out once."""
    rng = np.random.default_rng(seed)
    columns = [rng.integers(0, keys, size=n_docs).astype(np.uint64) for _ in range(bands)]
    left, right, collisions, capped = pairs_from_band_columns(iter(columns), n_docs, max_bucket)
    expected, expected_collisions, expected_capped = _reference_band_pairs(columns, max_bucket)
    assert list(zip(left.tolist(), right.tolist(), strict=True)) == expected
    assert (collisions, capped) == (expected_collisions, expected_capped)


@given(st.integers(0, 3000), st.integers(1, 40), st.integers(0, 2**32 - 1), st.sampled_from([1, 2]))
def test_band_pairs_of_hash_keys_equal_brute_force(n_docs: int, share: int, seed: int, workers: int) -> None:
    """Keys spread over all 64 bits, as band keys are (the compiled grouping
    buckets them by their top bits), with runs of a repeated key among them
    (a repeated page) large enough to go through the radix path and the cap."""
    rng = np.random.default_rng(seed)
    columns = []
    for _ in range(3):
        keys = rng.integers(0, 2**64 - 1, size=n_docs, dtype=np.uint64, endpoint=True)
        copies = rng.integers(0, max(n_docs // share, 1), size=n_docs)
        keys[copies < n_docs // (4 * share) + 1] = keys[0] if n_docs else 0
        keys[rng.integers(0, 4, size=n_docs) == 0] = np.uint64(2**64 - 1)
        columns.append(keys)
    left, right, collisions, capped = pairs_from_band_columns(iter(columns), n_docs, 50, workers=workers)
    expected, expected_collisions, expected_capped = _reference_band_pairs(columns, 50)
    assert list(zip(left.tolist(), right.tolist(), strict=True)) == expected
    assert (collisions, capped) == (expected_collisions, expected_capped)


def test_band_pairs_memory_is_distinct_pairs_plus_one_band() -> None:
    """30 bands with the same 79,800 pairs each: the pairs of all bands were
    held until one final unique (93 bytes a distinct pair at the peak); now
    each band is deduped into the running set as it comes."""
    import tracemalloc

    column = np.zeros(1000, dtype=np.uint64)
    column[400:] = np.arange(1, 601, dtype=np.uint64)  # one bucket of 400 documents
    columns = [column.copy() for _ in range(30)]
    tracemalloc.start()
    try:
        left, _, collisions, _ = pairs_from_band_columns(iter(columns), 1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(left) == 400 * 399 // 2 and collisions == 30 * len(left)
    assert peak < 20 * 8 * len(left)
