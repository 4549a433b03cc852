"""dedup generate (deterministic, recoverable clusters) and dedup bench (end to end)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dedup import find_duplicates, read_documents
from dedup.cli import app
from dedup.generate import generate_dump
from dedup.metrics import clustering_scores

runner = CliRunner()


def _dump(**options: object) -> str:
    out = io.StringIO()
    generate_dump(out, **options)  # type: ignore[arg-type]
    return out.getvalue()


def test_generate_is_deterministic() -> None:
    assert _dump(docs=300, dup_rate=0.3, seed=7) == _dump(docs=300, dup_rate=0.3, seed=7)
    assert _dump(docs=300, dup_rate=0.3, seed=7) != _dump(docs=300, dup_rate=0.3, seed=8)
    records = [json.loads(line) for line in _dump(docs=300, dup_rate=0.3, seed=7).splitlines()]
    assert [r["id"] for r in records] == [f"doc-{i}" for i in range(300)]
    copies = [r for r in records if r["cluster"] != r["id"]]
    assert 60 <= len(copies) <= 120  # about 30%
    ids = {r["id"] for r in records}
    assert all(r["cluster"] in ids for r in copies)  # a copy points at an earlier original


def test_generate_cli_from_real_source(tmp_path: Path, seed_texts: dict[str, str]) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    for name, text in seed_texts.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for out in (first, second):
        result = runner.invoke(
            app, ["generate", str(out), "--docs", "40", "--source", str(folder), "--seed", "3", "-q"]
        )
        assert result.exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    texts = [json.loads(line)["text"] for line in first.read_text(encoding="utf-8").splitlines()]
    assert texts[0] == seed_texts["000"]  # originals come from the source, in order


def test_generated_clusters_are_recovered(tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    dump.write_text(_dump(docs=3000, dup_rate=0.2, seed=11), encoding="utf-8")
    records = [json.loads(line) for line in dump.read_text(encoding="utf-8").splitlines()]
    result = find_duplicates(read_documents([dump]))
    cluster_of = {doc_id: f"c{i}" for i, c in enumerate(result.clusters) for doc_id in c.ids}
    predicted = [cluster_of.get(r["id"], r["id"]) for r in records]
    recall, precision, ari = clustering_scores([r["cluster"] for r in records], predicted)
    assert recall >= 0.97 and precision >= 0.97 and ari >= 0.97


def test_bench_cli_json() -> None:
    result = runner.invoke(app, ["bench", "--sizes", "150,300", "--thresholds", "0.7,0.9", "--format", "json", "-q"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    runs = {(r["method"], r["size"]): r for r in report["runs"]}
    assert set(runs) == {(m, s) for m in ("dedup", "datasketch", "exact") for s in (150, 300)}
    for size in (150, 300):
        assert runs[("dedup", size)]["recall"] == 1.0 and runs[("dedup", size)]["precision"] == 1.0
        assert runs[("dedup", size)]["pairs"] == runs[("exact", size)]["pairs"]
        assert runs[("datasketch", size)]["recall"] is not None
        assert runs[("dedup", size)]["peak_mib"] > 0
    assert [t["threshold"] for t in report["thresholds"]] == [0.7, 0.9]
    assert all(shape["catch"] >= 0.99 for t in report["thresholds"] for shape in t["shapes"])


def test_bench_usage_errors() -> None:
    assert runner.invoke(app, ["bench", "--sizes", "ten"]).exit_code == 2
    assert runner.invoke(app, ["bench", "/no/such/dump.jsonl"]).exit_code == 2


def test_bench_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "bench.png"
    result = runner.invoke(app, ["bench", "--sizes", "100,200", "--thresholds", "0.8", "--plot", str(png), "-q"])
    assert result.exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
