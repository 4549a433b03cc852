"""MinHash: kernel == numpy reference == datasketch affine32, and unbiased."""

from __future__ import annotations

import math

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import given
from hypothesis import strategies as st

from dedup.minhash import EMPTY_HASH, compute_signatures, compute_signatures_reference, permutations

uint64s = st.integers(0, 2**64 - 1)
ragged = st.lists(st.lists(uint64s, max_size=40), min_size=1, max_size=8)


def _flatten(sets: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    values = np.array([v for s in sets for v in s], dtype=np.uint64)
    starts = np.zeros(len(sets) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in sets], out=starts[1:])
    return values, starts


def _low32(value: int) -> int:
    return value & 0xFFFFFFFF


@given(ragged, st.integers(1, 300), st.integers(0, 2**32 - 1))
def test_kernel_equals_reference_loop(sets: list[list[int]], num_perm: int, seed: int) -> None:
    values, starts = _flatten(sets)
    got = compute_signatures(values, starts, num_perm=num_perm, seed=seed)
    assert got.shape == (len(sets), num_perm) and got.dtype == np.uint32
    np.testing.assert_array_equal(got, compute_signatures_reference(values, starts, num_perm=num_perm, seed=seed))


@given(ragged, st.sampled_from([1, 16, 128]), st.integers(0, 2**32 - 1))
def test_bit_equal_to_datasketch_affine32(sets: list[list[int]], num_perm: int, seed: int) -> None:
    values, starts = _flatten(sets)
    got = compute_signatures(values, starts, num_perm=num_perm, seed=seed)
    for row, shingles in zip(got, sets, strict=True):
        m = MinHash(num_perm=num_perm, seed=seed, hashfunc=_low32, scheme="affine32")
        m.update_batch(shingles)
        np.testing.assert_array_equal(row, m.hashvalues)


def test_permutations_like_datasketch() -> None:
    m = MinHash(num_perm=64, seed=42, scheme="affine32")
    np.testing.assert_array_equal(permutations(64, 42), m.permutations)


def test_empty_document_row() -> None:
    values, starts = _flatten([[], [1, 2]])
    sig = compute_signatures(values, starts, num_perm=8)
    assert (sig[0] == EMPTY_HASH).all() and not (sig[1] == EMPTY_HASH).all()


@pytest.mark.parametrize(("num_perm", "seed"), [(0, 1), (8, -1), (8, 2**32)])
def test_rejects_bad_parameters(num_perm: int, seed: int) -> None:
    with pytest.raises(ValueError):
        compute_signatures(np.zeros(1, dtype=np.uint64), np.array([0, 1]), num_perm=num_perm, seed=seed)


@given(st.integers(20, 400), st.integers(0, 400), st.integers(0, 2**32 - 1))
def test_estimate_within_standard_error(common: int, extra: int, seed: int) -> None:
    """The estimate's standard error is sqrt(J(1-J)/num_perm); allow 4.5 sigma
    (plus one quantum) so the test fails only on a real bias, ~1 in 100,000 by chance."""
    rng = np.random.default_rng(seed)
    pool = rng.choice(2**62, size=common + 2 * extra, replace=False).astype(np.uint64)
    a = pool[: common + extra]
    b = np.concatenate([pool[:common], pool[common + extra :]])
    values = np.concatenate([a, b])
    starts = np.array([0, len(a), len(a) + len(b)])
    num_perm = 256
    sig = compute_signatures(values, starts, num_perm=num_perm, seed=seed)
    estimate = float(np.mean(sig[0] == sig[1]))
    exact = common / (common + 2 * extra)
    bound = 4.5 * math.sqrt(exact * (1 - exact) / num_perm) + 1 / num_perm
    assert abs(estimate - exact) <= bound


def test_mean_estimate_unbiased() -> None:
    """Averaged over 200 independent seeds the estimate sits on the exact value."""
    rng = np.random.default_rng(0)
    pool = rng.choice(2**62, size=300, replace=False).astype(np.uint64)
    a, b = pool[:200], pool[100:300]  # J = 100 / 300
    values, starts = np.concatenate([a, b]), np.array([0, 200, 400])
    estimates = [float(np.mean(np.equal(*compute_signatures(values, starts, num_perm=64, seed=s)))) for s in range(200)]
    exact = 1 / 3
    standard_error = math.sqrt(exact * (1 - exact) / (64 * 200))
    assert abs(np.mean(estimates) - exact) <= 4.5 * standard_error


@given(st.integers(0, 2**32 - 1), st.integers(1, 1300))
def test_permutations_are_numpys_random_state_draws(seed: int, num_perm: int) -> None:
    """The permutations come from a compiled MT19937 (the scan does not
    import numpy.random); they are the values numpy's RandomState draws,
    across the generator's 624-word refills."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    np.testing.assert_array_equal(permutations(num_perm, seed), np.array([a, b], dtype=np.uint32))
