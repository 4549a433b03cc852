"""dedup generate (deterministic, recoverable clusters) and dedup bench (end to end)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from pathlib import Path

import pytest
import zstandard
from typer.testing import CliRunner

from dedup import find_duplicates, read_documents
from dedup.bench import BenchReport, MethodRun, ThresholdRun, report_figure, run_bench
from dedup.cli import app
from dedup.document import Document, Skipped
from dedup.errors import UsageError
from dedup.generate import generate_dump, write_dump
from dedup.metrics import clustering_scores

runner = CliRunner()

# check_outputs (dedup/output.py) is a stub on main until the output work lands; then these pass.


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


def _unzstd(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


def test_generate_compresses_by_suffix(tmp_path: Path) -> None:
    plain = tmp_path / "dump.jsonl"
    assert runner.invoke(app, ["generate", str(plain), "--docs", "120", "--seed", "4", "-q"]).exit_code == 0
    assert plain.read_bytes() == _dump(docs=120, seed=4).encode()  # plain JSONL, as before
    for suffix, decompress in ((".gz", gzip.decompress), (".zst", _unzstd)):
        first, second = tmp_path / f"a.jsonl{suffix}", tmp_path / f"b.jsonl{suffix}"
        for out in (first, second):
            result = runner.invoke(app, ["generate", str(out), "--docs", "120", "--seed", "4", "-q"])
            assert result.exit_code == 0, result.stderr
        assert first.read_bytes() == second.read_bytes()  # no time and no name in the header
        assert decompress(first.read_bytes()) == plain.read_bytes()
        docs = [d for d in read_documents([first]) if isinstance(d, Document)]
        assert [d.id for d in docs] == [f"doc-{i}" for i in range(120)]
    header = (tmp_path / "a.jsonl.gz").read_bytes()[:10]
    assert header[3] == 0 and header[4:8] == b"\0\0\0\0"  # no FNAME flag, mtime 0
    scanned = runner.invoke(app, ["scan", str(tmp_path / "a.jsonl.gz"), "--format", "jsonl"])
    assert scanned.exit_code == 0 and "120 documents read, 0 skipped" in scanned.stderr


def test_generate_empty_source_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('not json\n{"text": ""}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    for source in (empty, bad):
        result = runner.invoke(app, ["generate", str(out), "--docs", "5", "--source", str(source)])
        assert result.exit_code == 2
        assert f"source {source} holds no documents" in result.stderr
        assert not out.exists()
    assert f"skipped {bad}:1: line is not valid JSON" in result.stderr
    assert f"skipped {bad}:2: empty document" in result.stderr
    stream = io.StringIO()
    with pytest.raises(UsageError, match="holds no documents"):
        generate_dump(stream, docs=0, sources=[empty])
    assert stream.getvalue() == ""


def test_generate_refuses_its_source_as_output(tmp_path: Path, seed_texts: dict[str, str]) -> None:
    source = tmp_path / "src.jsonl"
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in seed_texts.values()), encoding="utf-8")
    before = source.read_bytes()
    result = runner.invoke(app, ["generate", str(source), "--docs", "5", "--source", str(tmp_path)])
    assert result.exit_code == 2
    assert str(source) in result.stderr
    assert source.read_bytes() == before


@pytest.mark.parametrize(
    ("option", "value", "parameter", "message"),
    [
        ("--seed", "-1", "seed", "must be in [0, 2**32)"),
        ("--seed", str(2**32), "seed", "must be in [0, 2**32)"),
        ("--docs", "-1", "docs", "must not be negative"),
        ("--dup-rate", "1", "dup_rate", "must be in [0, 1)"),
        ("--dup-rate", "-0.1", "dup_rate", "must be in [0, 1)"),
    ],
)
def test_generate_usage_errors(tmp_path: Path, option: str, value: str, parameter: str, message: str) -> None:
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["generate", str(out), option, value])
    # The command line names the flag; the library, the parameter.
    assert result.exit_code == 2 and f"{option} {message}" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()
    with pytest.raises(UsageError, match=re.escape(f"{parameter} {message}")):
        write_dump(out, **{"docs": 1, parameter: float(value)})  # type: ignore[arg-type]


def test_generate_accepts_every_scan_seed(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert runner.invoke(app, ["generate", str(out), "--docs", "3", "--seed", str(2**32 - 1), "-q"]).exit_code == 0
    assert runner.invoke(app, ["scan", str(out), "--seed", str(2**32 - 1), "-q"]).exit_code == 0


SUMMARY = re.compile(
    r"dedup bench: (\d+) documents read, (\d+) skipped(?: \([^)]*\))?, (\d+) runs(?:, (\d+) thresholds)? \("
)


def test_bench_cli_jsonl_output_and_plot(tmp_path: Path) -> None:
    out, png = tmp_path / "bench.jsonl", tmp_path / "bench.png"
    args = ["--sizes", "50,100", "--thresholds", "0.7,0.9", "--format", "jsonl", "--output", str(out)]
    result = runner.invoke(app, ["bench", *args, "--plot", str(png)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    runs = {(r["method"], r["size"]): r for r in records if r["kind"] == "run"}
    assert set(runs) == {(m, s) for m in ("dedup", "datasketch", "exact") for s in (50, 100)}
    for size in (50, 100):
        assert runs[("dedup", size)]["recall"] == 1.0 and runs[("dedup", size)]["precision"] == 1.0
        assert runs[("dedup", size)]["pairs"] == runs[("exact", size)]["pairs"] > 0
        assert runs[("datasketch", size)]["recall"] is not None
        assert runs[("dedup", size)]["peak_mib"] > 0 and runs[("dedup", size)]["threshold"] == 0.8
    curve = [r for r in records if r["kind"] == "threshold"]
    assert [r["kind"] for r in records] == ["run"] * 6 + ["threshold"] * 2  # runs first, then the S-curve
    assert [t["threshold"] for t in curve] == [0.7, 0.9]
    assert all(shape["catch"] >= 0.99 for t in curve for shape in t["shapes"])
    summary = SUMMARY.search(result.stderr)
    assert summary is not None and summary.group(1, 2, 3, 4) == ("100", "0", "6", "2")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _dump_with_bad_lines(tmp_path: Path) -> Path:
    path = tmp_path / "dump.jsonl"
    good = _dump(docs=60, dup_rate=0.3, seed=2).splitlines(keepends=True)
    path.write_text("".join(good[:10]) + "{broken\n" + "".join(good[10:]) + '{"id": "e", "text": " "}\n', "utf-8")
    return path


def test_bench_cli_csv_reports_skipped_input(tmp_path: Path) -> None:
    dump = _dump_with_bad_lines(tmp_path)
    result = runner.invoke(app, ["bench", str(dump), "--sizes", "50,500", "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    expected = [(method, size) for size in ("50", "60") for method in ("dedup", "datasketch", "exact")]
    assert [(r["method"], r["size"]) for r in rows] == expected
    assert rows[2]["recall"] == "" and float(rows[0]["recall"]) == 1.0
    assert f"skipped {dump}:11: line is not valid JSON" in result.stderr
    assert f"skipped {dump}:62: empty document" in result.stderr
    assert "note: the input has 60 documents; larger sizes were capped" in result.stderr
    summary = SUMMARY.search(result.stderr)
    assert summary is not None and summary.group(1, 2, 3) == ("60", "2", "6")


def test_bench_cli_table_to_output(tmp_path: Path) -> None:
    dump, out = _dump_with_bad_lines(tmp_path), tmp_path / "bench.txt"
    result = runner.invoke(app, ["bench", str(dump), "--sizes", "40", "--exact-limit", "0", "--output", str(out), "-q"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and "dedup bench:" not in result.stderr  # -q: no progress, no summary
    table = out.read_text(encoding="utf-8")
    assert "datasketch" in table and "exact" not in table.split("\n", 2)[2]
    assert "note:" not in result.stderr  # notes are part of the summary -q hides


def test_bench_without_documents_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('not json\n{"text": ""}\n', encoding="utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    for path in (bad, empty):
        result = runner.invoke(app, ["bench", str(path), "--sizes", "10"])
        assert result.exit_code == 1
        assert f"{path} holds no documents" in result.stderr and "Traceback" not in result.stderr
    result = runner.invoke(app, ["bench", str(bad), "--sizes", "10"])
    assert f"skipped {bad}:1: line is not valid JSON" in result.stderr
    assert f"skipped {bad}:2: empty document" in result.stderr


def test_bench_refuses_its_input_as_output(tmp_path: Path) -> None:
    dump = _dump_with_bad_lines(tmp_path)
    before = dump.read_bytes()
    for option in ("--output", "--plot"):
        result = runner.invoke(app, ["bench", str(dump), "--sizes", "10", option, str(dump)])
        assert result.exit_code == 2 and str(dump) in result.stderr
        assert dump.read_bytes() == before


@pytest.mark.parametrize("target", ["0", "1", "1.5", "-0.2"])
def test_bench_target_recall_outside_0_1_is_a_usage_error(target: str) -> None:
    result = runner.invoke(app, ["bench", "--sizes", "10", "--target-recall", target])
    assert result.exit_code == 2 and "--target-recall must be in (0, 1)" in result.stderr
    with pytest.raises(UsageError, match=r"target_recall must be in \(0, 1\)"):
        run_bench(None, sizes=[10], target_recall=float(target))


def test_bench_usage_errors() -> None:
    assert runner.invoke(app, ["bench", "--sizes", "ten"]).exit_code == 2
    assert runner.invoke(app, ["bench", "/no/such/dump.jsonl"]).exit_code == 2
    assert runner.invoke(app, ["bench", "--format", "json"]).exit_code == 2  # table|jsonl|csv like every command
    assert runner.invoke(app, ["bench", "--seed", "-1", "--sizes", "10"]).exit_code == 2
    for bad in ({"sizes": [1]}, {"threshold": 0.0}, {"methods": ["minhash"]}, {"exact_limit": -1}):
        with pytest.raises(UsageError):
            run_bench(None, **bad)  # type: ignore[arg-type]


def _report(thresholds: list[ThresholdRun]) -> BenchReport:
    runs = [
        MethodRun("dedup", 100, 0.1, 1000.0, 40.0, 10, 1.0, 1.0),
        MethodRun("datasketch", 100, 0.5, 200.0, 80.0, 7, 0.9, 0.7),
        MethodRun("exact", 100, 0.2, 500.0, 50.0, 10),
        MethodRun("dedup", 1000, 0.5, 2000.0, 45.0, 90, 1.0, 0.98),
        MethodRun("datasketch", 1000, 4.0, 250.0, 90.0, 60, 0.95, 0.6),
        MethodRun("exact", 1000, 1.0, 1000.0, 60.0, 92),
    ]
    skipped = [Skipped("x.jsonl", 3, "empty document")]
    return BenchReport("x.jsonl", 0.8, runs, thresholds, [], 1000, skipped)


def test_bench_plot_draws_recall_against_size(tmp_path: Path) -> None:
    # matplotlib comes with the test extras: a missing one must fail, not skip.
    import matplotlib.pyplot as plt

    fig = report_figure(_report([]))
    try:
        throughput, accuracy = fig.axes
        assert [ax.get_xlabel() for ax in fig.axes] == ["documents", "documents"]
        lines = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in accuracy.get_lines()}
        assert lines["dedup recall"] == ([100, 1000], [1.0, 0.98])
        assert lines["datasketch recall"] == ([100, 1000], [0.7, 0.6])
        assert lines["datasketch precision"] == ([100, 1000], [0.9, 0.95])
        assert not any("exact" in label for label in lines)  # the oracle has no recall of its own
        speed = {line.get_label(): list(line.get_ydata()) for line in throughput.get_lines()}
        assert speed["exact"] == [500.0, 1000.0]
        assert "memory" not in " ".join(ax.get_ylabel().lower() for ax in fig.axes)
    finally:
        plt.close(fig)
    from dedup.bench import plot_report

    curve = [ThresholdRun(0.8, 10, 10, 1.0, 1.0), ThresholdRun(0.9, 5, 5, 1.0, 0.8)]
    titles = plot_report(_report(curve), tmp_path / "b.png")
    assert titles == ["Throughput", "Recall and precision", "S-curve: dedup by threshold"]
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_report_formats() -> None:
    report = _report([ThresholdRun(0.8, 10, 10, 1.0, 1.0, [{"num_perm": 128, "bands": 9, "rows": 13}])])
    records = [json.loads(line) for line in report.to_jsonl().splitlines()]
    assert [r["kind"] for r in records] == ["run"] * 6 + ["threshold"]
    assert records[2] == {
        "kind": "run",
        "method": "exact",
        "size": 100,
        "threshold": 0.8,
        "seconds": 0.2,
        "docs_per_second": 500.0,
        "peak_mib": 50.0,
        "pairs": 10,
        "precision": None,
        "recall": None,
    }
    assert records[-1]["target_recall"] == 0.99 and records[-1]["shapes"][0]["bands"] == 9
    rows = report.to_csv().splitlines()
    assert rows[0] == "method,size,threshold,seconds,docs_per_second,peak_mib,pairs,precision,recall"
    assert rows[3] == "exact,100,0.8,0.2,500.0,50.0,10,,"
    assert json.loads(report.to_json())["skipped"] == [{"path": "x.jsonl", "line": 3, "reason": "empty document"}]
