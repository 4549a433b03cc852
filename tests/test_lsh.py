"""LSH: band choice meets the recall target; candidates equal a brute force;
exported LeanMinHash objects work in datasketch's MinHashLSH."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from hypothesis import given
from hypothesis import strategies as st

from dedup.lsh import candidate_pairs, catch_probability, choose_bands, to_lean_minhashes
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
