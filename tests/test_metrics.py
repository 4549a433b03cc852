"""The benchmark's metric helpers, on hand-made cases and against brute force."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.metrics import write_section
from dedup.metrics import (
    adjusted_rand_index,
    cluster_pairs,
    clustering_scores,
    exact_pairs,
    f1,
    measure,
    normalize_pairs,
    precision_recall,
)


def test_precision_recall_hand_made() -> None:
    truth = {(0, 1), (1, 2), (3, 4)}
    assert precision_recall(truth, truth) == (1.0, 1.0)
    assert precision_recall({(1, 0)}, truth) == (1.0, 1 / 3)  # order inside a pair does not matter
    assert precision_recall({(0, 1), (5, 6)}, truth) == (0.5, 1 / 3)
    assert precision_recall(set(), truth) == (1.0, 0.0)
    assert precision_recall({(0, 1)}, set()) == (0.0, 1.0)
    assert normalize_pairs([(2, 2), (3, 1)]) == {(1, 3)}


def test_f1() -> None:
    assert f1(1.0, 1.0) == 1.0
    assert f1(0.5, 1.0) == pytest.approx(2 / 3)
    assert f1(0.0, 0.0) == 0.0


@given(
    st.lists(st.sets(st.integers(0, 12), min_size=1, max_size=8), min_size=1, max_size=10),
    st.sampled_from([0.3, 0.5, 0.8]),
)
def test_exact_pairs_equals_brute_force(sets: list[set[int]], threshold: float) -> None:
    values = np.array([v for s in sets for v in sorted(s)], dtype=np.uint64)
    starts = np.zeros(len(sets) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in sets], out=starts[1:])
    expected = {}
    for i, j in itertools.combinations(range(len(sets)), 2):
        jac = len(sets[i] & sets[j]) / len(sets[i] | sets[j])
        if jac >= threshold:
            expected[(i, j)] = jac
    got = exact_pairs(values, starts, threshold)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value)


def test_measure_reports_memory_of_the_process_tree() -> None:
    # A parent that starts a child holding ~60 MiB: the peak counts both.
    child = "import time; b = bytearray(60 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(0.5)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}], check=True)"
    seconds, peak_kib = measure([sys.executable, "-c", parent])
    assert seconds > 0
    assert peak_kib > 60 * 1024


def test_write_section_replaces_only_its_own(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    write_section(path, "a", "alpha 1")
    write_section(path, "b", "beta 1")
    write_section(path, "a", "alpha 2")
    text = path.read_text()
    assert "alpha 2" in text and "alpha 1" not in text and "beta 1" in text
    assert text.index("alpha 2") < text.index("beta 1")


def test_adjusted_rand_index_hand_made() -> None:
    assert adjusted_rand_index([0, 0, 1, 1], ["a", "a", "b", "b"]) == 1.0  # label names do not matter
    assert adjusted_rand_index([0, 0, 0, 0], [0, 0, 0, 0]) == 1.0
    # Classic example: ARI of these two clusterings is 0.24242...
    truth = [0, 0, 0, 1, 1, 1]
    predicted = [0, 0, 1, 1, 2, 2]
    assert adjusted_rand_index(truth, predicted) == pytest.approx(0.2424242424)
    with pytest.raises(ValueError):
        adjusted_rand_index([0], [0, 1])


def test_cluster_pairs() -> None:
    assert cluster_pairs(["x", "y", "x", "x"]) == {(0, 2), (0, 3), (2, 3)}


def test_clustering_scores_hand_made() -> None:
    # Truth {0,1,2} {3}; predicted {0,1} {2,3}: true pairs 01 02 12, found 01 23.
    recall, precision, ari = clustering_scores(["a", "a", "a", "b"], [0, 0, 1, 1])
    assert (recall, precision) == (1 / 3, 1 / 2)
    assert ari == adjusted_rand_index(["a", "a", "a", "b"], [0, 0, 1, 1])
