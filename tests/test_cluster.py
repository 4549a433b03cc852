"""Clusters partition the documents; keep policies."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedup.cluster import component_order, connected_components, group_clusters


def _reference_components(n: int, edges: list[tuple[int, int]]) -> list[set[int]]:
    comps = [{i} for i in range(n)]
    for a, b in edges:
        ca = next(c for c in comps if a in c)
        cb = next(c for c in comps if b in c)
        if ca is not cb:
            ca |= cb
            comps.remove(cb)
    return comps


@given(
    st.integers(1, 30).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40))
    )
)
def test_clusters_partition(case: tuple[int, list[tuple[int, int]]]) -> None:
    n, edges = case
    left = np.array([e[0] for e in edges], dtype=np.int64)
    right = np.array([e[1] for e in edges], dtype=np.int64)
    labels = connected_components(n, left, right)
    clusters = group_clusters(labels)
    expected = sorted(sorted(c) for c in _reference_components(n, edges) if len(c) > 1)
    assert [c.members for c in clusters] == expected  # ordered by first member, members ascending
    seen = [m for c in clusters for m in c.members]
    assert len(seen) == len(set(seen))  # disjoint
    assert all(c.keep == c.members[0] for c in clusters)


def test_keep_longest() -> None:
    labels = connected_components(4, np.array([0, 1]), np.array([1, 2]))
    clusters = group_clusters(labels, keep="longest", lengths=np.array([10, 30, 30, 5]))
    assert clusters[0].members == [0, 1, 2] and clusters[0].keep == 1  # tie -> first


@given(
    st.integers(1, 30).flatmap(
        lambda n: st.tuples(
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40),
            st.lists(st.integers(0, 4), min_size=n, max_size=n),
        )
    )
)
def test_keep_longest_is_the_first_of_the_longest(case: tuple[list[tuple[int, int]], list[int]]) -> None:
    """Few distinct lengths, so clusters have ties: the kept member is the
    first (in input order) of those with the greatest length."""
    edges, lengths = case
    left = np.array([e[0] for e in edges], dtype=np.int64)
    right = np.array([e[1] for e in edges], dtype=np.int64)
    labels = connected_components(len(lengths), left, right)
    clusters = group_clusters(labels, keep="longest", lengths=np.array(lengths, dtype=np.int64))
    assert [c.members for c in clusters] == [c.members for c in group_clusters(labels)]
    for c in clusters:
        assert c.keep == max(c.members, key=lambda m: (lengths[m], -m))


def test_keep_validation() -> None:
    labels = np.array([0, 0])
    with pytest.raises(ValueError, match="keep"):
        group_clusters(labels, keep="newest")
    with pytest.raises(ValueError, match="lengths"):
        group_clusters(labels, keep="longest")


@given(
    st.integers(1, 30).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40))
    )
)
def test_component_order_keeps_groups_together(case: tuple[int, list[tuple[int, int]]]) -> None:
    """Each component's pairs come as one run, runs by first document, the
    pairs of a run in their given order."""
    n, edges = case
    left = np.array([e[0] for e in edges], dtype=np.int64)
    right = np.array([e[1] for e in edges], dtype=np.int64)
    order = component_order(n, left, right)
    assert sorted(order.tolist()) == list(range(len(edges)))
    labels = connected_components(n, left, right)[left[order]]
    assert labels.tolist() == sorted(labels.tolist())
    for label in set(labels.tolist()):
        run = order[labels == label].tolist()
        assert run == sorted(run)
