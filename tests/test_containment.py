"""The containment measure: LSH Ensemble candidates, exact verification,
clusters by container, and the acceptance corpus against an exact oracle."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import dedup
from dedup import dask_engine
from dedup.cli import app
from dedup.ensemble import (
    band_shapes,
    container_clusters,
    containment_candidates,
    containment_from_jaccard,
    jaccard_floor,
    orient,
    partition_by_size,
)
from dedup.errors import UsageError
from dedup.generate import CONTAINMENT_KINDS, containment_corpus, generate_dump
from dedup.lsh import catch_probability, choose_bands
from dedup.metrics import exact_containment as containment_of_pairs
from tests.conftest import SHARED
from tests.strategies import containment_corpora

BBC = SHARED / "corpora" / "bbc_news" / "bbc.jsonl.gz"
runner = CliRunner()


def _stories(count: int) -> list[str]:
    """Real BBC stories (paragraphs on lines), else generated ones."""
    if BBC.is_file():
        with gzip.open(BBC, "rt", encoding="utf-8") as f:
            return [json.loads(line)["text"] for _, line in zip(range(count), f, strict=False)]
    import io

    out = io.StringIO()
    generate_dump(out, docs=count, dup_rate=0.0, seed=5)
    return [json.loads(line)["text"] for line in out.getvalue().splitlines()]


def exact_containment(texts: list[str]) -> dict[tuple[int, int], float]:
    """Oracle: containment of every pair sharing a shingle, ``(i, j)`` with
    ``i < j``, from a sparse document x shingle product (independent of the
    verification kernel)."""
    values, starts, _ = dedup.sketch_texts(texts)
    a, b, values_c = containment_of_pairs(values, starts)
    return {(int(i), int(j)): float(c) for i, j, c in zip(a, b, values_c, strict=True)}


@pytest.fixture(scope="module")
def acceptance() -> tuple[list[dict[str, str]], dict[tuple[int, int], float]]:
    records = containment_corpus(_stories(700), seed=14)
    return records, exact_containment([r["text"] for r in records])


@pytest.mark.parametrize("threshold", [0.8, 0.5])
def test_acceptance_recall_and_precision(
    acceptance: tuple[list[dict[str, str]], dict[tuple[int, int], float]], threshold: float
) -> None:
    records, oracle = acceptance
    assert {r["kind"] for r in records} == set(CONTAINMENT_KINDS)
    truth = {pair for pair, c in oracle.items() if c >= threshold}
    result = dedup.find_duplicates([r["text"] for r in records], measure="containment", threshold=threshold)
    found = {tuple(sorted((int(p.contained), int(p.container)))) for p in result.contained}
    assert len(truth) > 200
    assert found <= truth  # precision 1.0
    assert len(found & truth) >= 0.99 * len(truth)
    for p in result.contained:
        i, j = sorted((int(p.contained), int(p.container)))
        assert p.containment == pytest.approx(oracle[(i, j)], abs=1e-12)


def _canonical(result: dedup.ScanResult) -> tuple[object, ...]:
    return ([(c.ids, c.keep_id, c.similarities) for c in result.clusters], result.contained, result.documents)


@given(containment_corpora(), st.integers(1, 7), st.sampled_from([1, 2]), st.sampled_from([0, 3000, 1 << 30]))
def test_independent_of_batch_size_workers_and_memory(
    docs: list[str], batch_size: int, workers: int, memory: int
) -> None:
    options = {"measure": "containment", "threshold": 0.5}
    reference = dedup.find_duplicates(docs, batch_size=4096, workers=1, memory=1 << 30, **options)
    other = dedup.find_duplicates(docs, batch_size=batch_size, workers=workers, memory=memory, **options)
    assert _canonical(other) == _canonical(reference)
    seen = [i for c in reference.clusters for i in c.ids]
    assert len(seen) == len(set(seen))
    oracle = exact_containment(docs)
    for p in reference.contained:
        i, j = sorted((int(p.contained), int(p.container)))
        assert p.containment >= 0.5 and p.containment == pytest.approx(oracle[(i, j)], abs=1e-12)
    for c in reference.clusters:
        assert c.similarities[c.members.index(c.keep)] == 1.0


def test_teaser_inside_story_is_found_where_jaccard_is_not(seed_texts: dict[str, str]) -> None:
    story = seed_texts["000"]
    teaser = " ".join(story.split()[:150])
    docs = [("story", story), ("teaser", teaser)]
    assert dedup.find_duplicates(docs).clusters == []
    result = dedup.find_duplicates(docs, measure="containment")
    assert [(p.contained, p.container, p.containment) for p in result.contained] == [("teaser", "story", 1.0)]
    assert result.contained[0].jaccard < 0.5
    assert [(c.ids, c.keep_id) for c in result.clusters] == [(["story", "teaser"], "story")]
    assert result.pairs == []


def test_partitions_are_equi_depth_and_never_split_a_size() -> None:
    sizes = np.array([3, 3, 3, 3, 9, 1, 50, 7, 7, 2], dtype=np.int64)
    part, upper = partition_by_size(sizes, 4)
    for s in np.unique(sizes):
        assert len(set(part[sizes == s].tolist())) == 1
    assert sorted(set(part.tolist())) == list(range(len(upper)))
    assert upper.tolist() == [int(sizes[part == p].max()) for p in range(len(upper))]
    assert np.all(np.diff(upper) > 0)
    assert partition_by_size(np.zeros(0, dtype=np.int64))[1].tolist() == []


def test_band_shapes_are_choose_bands() -> None:
    s = np.linspace(0.001, 1.0, 500)
    bands, rows = band_shapes(s, 128)
    assert [choose_bands(float(x), 128) for x in s] == list(zip(bands.tolist(), rows.tolist(), strict=True))


def test_jaccard_floor_is_the_jaccard_of_a_pair_at_the_threshold() -> None:
    # 20 of a 40-shingle teaser inside a 400-shingle container: C = 0.5.
    assert jaccard_floor(0.5, np.array([40]), 400.0)[0] == pytest.approx(20 / (40 + 400 - 20))


@given(st.integers(1, 10_000), st.integers(1, 10_000), st.data())
def test_containment_from_jaccard_is_exact(a: int, b: int, data: st.DataObject) -> None:
    common = data.draw(st.integers(0, min(a, b)))
    jaccard = np.array([common / (a + b - common)])
    got = containment_from_jaccard(jaccard, np.array([a]), np.array([b]))
    assert got[0] == common / min(a, b)


def test_orient_puts_the_smaller_set_inside_and_keeps_the_earlier_of_equals() -> None:
    sizes = np.array([10, 5, 10])
    contained, container = orient(np.array([0, 0]), np.array([1, 2]), sizes)
    assert contained.tolist() == [1, 2] and container.tolist() == [0, 0]


def test_clusters_by_best_container_then_up_the_chain() -> None:
    # 3 is in 1 (0.9) and in 2 (0.95): it goes with 2. 2 is in 0, so 0 keeps
    # 0, 2, 3; 4 is in 5 and 6 at the same containment: the larger (6).
    sizes = np.array([100, 60, 50, 10, 5, 20, 30])
    contained = np.array([3, 3, 2, 4, 4])
    container = np.array([1, 2, 0, 5, 6])
    containment = np.array([0.9, 0.95, 0.8, 0.6, 0.6])
    clusters = container_clusters(7, contained, container, containment, sizes)
    assert [(c.members, c.keep) for c in clusters] == [([0, 2, 3], 0), ([4, 6], 6)]
    # Equal containment and size: the earlier container.
    same = container_clusters(3, np.array([2, 2]), np.array([1, 0]), np.array([1.0, 1.0]), np.array([9, 9, 1]))
    assert [(c.members, c.keep) for c in same] == [([0, 2], 0)]


def test_capped_bucket_pairs_with_its_first_document() -> None:
    signatures = np.zeros((5, 8), dtype=np.uint32)  # every band key equal
    sizes = np.full(5, 10, dtype=np.int64)
    left, right, stats = containment_candidates(sizes, lambda d: signatures[d], 0.8, 8, max_bucket=2)
    assert list(zip(left.tolist(), right.tolist(), strict=True)) == [(0, 1), (0, 2), (0, 3), (0, 4)]
    assert stats.capped_buckets > 0
    left, right, _ = containment_candidates(sizes, lambda d: signatures[d], 0.8, 8)
    assert len(left) == 10


def test_every_shape_catches_its_floor_when_it_can() -> None:
    """Per (query size, partition), the chosen shape catches a pair at the
    Jaccard floor with probability >= 0.99 whenever 128 permutations allow it."""
    for q in [5, 20, 100, 400]:
        for u in [q, 2 * q, 10 * q]:
            floor = float(jaccard_floor(0.5, np.array([q]), float(u))[0])
            bands, rows = band_shapes(np.array([floor]), 128)
            p = catch_probability(floor, int(bands[0]), int(rows[0]))
            assert p >= 0.99 or (int(rows[0]) == 1 and math.isclose(p, catch_probability(floor, 128, 1)))


def test_options_that_do_not_apply_are_refused() -> None:
    with pytest.raises(UsageError, match=r"^measure"):
        dedup.ScanConfig(measure="cosine").validate()
    with pytest.raises(UsageError, match=r"^keep"):
        dedup.ScanConfig(measure="containment", keep="longest").validate()
    with pytest.raises(UsageError, match=r"^verify"):
        dedup.ScanConfig(measure="containment", verify=False).validate()
    with pytest.raises(UsageError, match=r"^measure containment is not supported by the Dask engine") as err:
        dask_engine.find_duplicates(["a b c"], measure="containment", scheduler="inline")
    assert err.value.option == "measure"


def _write(folder: Path, seed_texts: dict[str, str]) -> None:
    story = seed_texts["000"]
    (folder / "a-story.txt").write_text(story, encoding="utf-8")
    (folder / "b-teaser.txt").write_text(" ".join(story.split()[:120]), encoding="utf-8")
    (folder / "c-other.txt").write_text(seed_texts["001"], encoding="utf-8")


def test_cli_records(tmp_path: Path, seed_texts: dict[str, str]) -> None:
    _write(tmp_path, seed_texts)
    out = runner.invoke(app, ["scan", str(tmp_path), "--measure", "containment", "--pairs", "--format", "jsonl", "-q"])
    assert out.exit_code == 0
    record = json.loads(out.stdout)
    assert list(record) == ["contained", "container", "containment", "jaccard"]
    assert (record["contained"], record["container"], record["containment"]) == ("b-teaser.txt", "a-story.txt", 1.0)
    out = runner.invoke(app, ["scan", str(tmp_path), "--measure", "containment", "--format", "csv", "-q"])
    assert out.stdout.splitlines() == [
        "cluster,id,keep,containment",
        "0,a-story.txt,a-story.txt,1.0",
        "0,b-teaser.txt,a-story.txt,1.0",
    ]
    out = runner.invoke(app, ["scan", str(tmp_path), "--measure", "containment", "--engine", "dask"])
    assert out.exit_code == 2 and "--measure containment is not supported" in out.stderr


def test_jaccard_is_the_default_and_unchanged(tmp_path: Path, seed_texts: dict[str, str]) -> None:
    _write(tmp_path, seed_texts)
    (tmp_path / "d-copy.txt").write_text(seed_texts["000"].upper(), encoding="utf-8")
    default = runner.invoke(app, ["scan", str(tmp_path), "--format", "jsonl", "-q"])
    explicit = runner.invoke(app, ["scan", str(tmp_path), "--format", "jsonl", "-q", "--measure", "jaccard"])
    assert default.stdout == explicit.stdout
    assert json.loads(default.stdout)["members"][1] == {"id": "d-copy.txt", "similarity": 1.0}


def test_queries_no_band_shape_catches_are_answered_exactly() -> None:
    # A 4-shingle teaser inside a 2,000-shingle story: Jaccard 0.002, which
    # 16 one-row bands would catch 3% of the time. Signatures that never
    # agree make the LSH find nothing: only the exact path can.
    story = np.arange(2000, dtype=np.uint64)
    teaser = np.array([5, 6, 7, 99999], dtype=np.uint64)
    values = np.concatenate([story, teaser])
    starts = np.array([0, 2000, 2004], dtype=np.int64)
    sizes = np.diff(starts)
    signatures = np.array([[1] * 16, [2] * 16], dtype=np.uint32)

    def shingles(docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        parts = [values[starts[d] : starts[d + 1]] for d in docs.tolist()]
        return np.concatenate(parts), np.concatenate(([0], np.cumsum([len(p) for p in parts])))

    def read(docs: np.ndarray) -> np.ndarray:
        return signatures[docs]

    assert len(containment_candidates(sizes, read, 0.5, 16)[0]) == 0
    left, right, _ = containment_candidates(sizes, read, 0.5, 16, shingles=shingles)
    assert (left.tolist(), right.tolist()) == ([0], [1])
    assert len(containment_candidates(sizes, read, 0.8, 16, shingles=shingles)[0]) == 0  # 3 of 4 < 0.8


def test_exact_candidates_hold_bounded_memory_when_shingles_are_common(monkeypatch: pytest.MonkeyPatch) -> None:
    # At a low threshold every query is matched exactly by its shingles; a
    # shingle in all n documents gave n * n matches at once (char:5 " the "
    # on 2,225 BBC articles at --threshold 0.01: 23 GB, killed).
    import tracemalloc

    from dedup import ensemble

    common = " ".join(f"w{i}" for i in range(60))
    values, starts, signatures = dedup.sketch_texts([f"{common} only{i}" for i in range(300)])
    sizes = np.diff(starts)

    def shingles(which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        runs = [values[starts[i] : starts[i + 1]] for i in which.tolist()]
        return np.concatenate(runs), np.concatenate(([0], np.cumsum([len(r) for r in runs]))).astype(np.int64)

    def run() -> tuple[np.ndarray, np.ndarray, float]:
        tracemalloc.start()
        try:
            left, right, _ = containment_candidates(sizes, lambda w: signatures[w], 0.01, 128, shingles=shingles)
            return left, right, tracemalloc.get_traced_memory()[1] / 1e6
        finally:
            tracemalloc.stop()

    monkeypatch.setattr(ensemble, "_MATCHES_PER_STEP", 1 << 14, raising=False)
    left, right, peak_mb = run()
    assert len(left) == 300 * 299 // 2  # 5 million shingle matches, every pair found
    assert peak_mb < 40
    monkeypatch.setattr(ensemble, "_MATCHES_PER_STEP", 1 << 30, raising=False)
    whole_left, whole_right, _ = run()
    assert np.array_equal(left, whole_left) and np.array_equal(right, whole_right)


def test_verbose_says_when_no_band_shape_was_used(tmp_path: Path) -> None:
    common = " ".join(f"w{i}" for i in range(20))
    for i in range(3):
        (tmp_path / f"{i}.txt").write_text(f"{common} only{i}", encoding="utf-8")
    args = ["scan", str(tmp_path), "--measure", "containment", "--threshold", "0.01", "-v"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0
    assert "lsh: ensemble of 1 size partition, every set matched exactly by its shingles; " in done.stderr
    assert "x 0 rows" not in done.stderr
