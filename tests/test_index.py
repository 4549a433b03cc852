"""The persistent index: same answers as a scan, durable, concurrent, safe on bad files."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedup import Index, find_duplicates
from dedup.errors import DedupError, InputError, OutputError, UsageError
from dedup.generate import write_dump
from dedup.index import FORMAT_VERSION, MATCH_OPTIONS
from dedup.lsh import MAX_BUCKET
from tests.strategies import long_news_texts, near_duplicate

DEDUP = [sys.executable, "-m", "dedup"]


@st.composite
def corpora(draw: st.DrawFn) -> list[tuple[str, str]]:
    """Documents with unique ids: a few stories, each with some edited
    copies (so pairs exist on both sides of the threshold), in random order.
    Far fewer than MAX_BUCKET, so the scan pairs every bucket in full."""
    docs: list[str] = []
    for _ in range(draw(st.integers(1, 5))):
        story = draw(long_news_texts)
        docs.append(story)
        for _ in range(draw(st.integers(0, 4))):
            docs.append(draw(near_duplicate(story, max_edits=6)))
    docs = draw(st.permutations(docs))
    assert len(docs) < MAX_BUCKET
    return [(f"d{i}", text) for i, text in enumerate(docs)]


def _scan_pairs(docs: list[tuple[str, str]], **options: object) -> dict[frozenset[str], float]:
    return {frozenset((p.a, p.b)): p.similarity for p in find_duplicates(docs, **options).pairs}


def _reported(matches: list[object]) -> dict[frozenset[str], float]:
    out: dict[frozenset[str], float] = {}
    for m in matches:
        for other, sim in m.matches:  # type: ignore[attr-defined]
            key = frozenset((m.id, other))  # type: ignore[attr-defined]
            assert key not in out, "a pair reported twice"
            out[key] = sim
    return out


@given(
    docs=corpora(),
    cuts=st.lists(st.integers(0, 40), max_size=4),
    batch_size=st.integers(1, 7),
    threshold=st.sampled_from([0.5, 0.7, 0.9]),
)
def test_adding_in_any_split_reports_exactly_the_scan_pairs(
    docs: list[tuple[str, str]], cuts: list[int], batch_size: int, threshold: float
) -> None:
    options = {"threshold": threshold, "num_perm": 64}
    expected = _scan_pairs(docs, **options)
    bounds = sorted({0, len(docs), *(min(c, len(docs)) for c in cuts)})
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "x.index")
        Index.create(path, **options).close()
        matches = []
        for lo, hi in itertools.pairwise(bounds):
            with Index.open(path) as index:  # reopened: nothing lives in memory between calls
                result = index.add(docs[lo:hi], batch_size=batch_size)
            assert result.documents == hi - lo and not result.skipped
            matches.extend(result.matches)
        assert _reported(matches) == expected
        # Querying every document finds every pair from both sides (and itself).
        with Index.open(path, readonly=True) as index:
            found = index.query(docs).matches
        queried = {frozenset((m.id, o)): s for m in found for o, s in m.matches if o != m.id}
        assert queried == expected


def test_matches_are_ordered_and_top_keeps_the_best(seed_texts: dict[str, str], tmp_path: Path) -> None:
    words = seed_texts["000"].split()[:200]
    story = " ".join(words)
    edited = [" ".join(words[: len(words) - k]) for k in (0, 40, 20)]
    with Index.create(tmp_path / "i", threshold=0.5) as index:
        added = index.add([("full", edited[0]), ("cut40", edited[1]), ("cut20", edited[2])])
        assert [m.id for m in added.matches] == ["cut40", "cut20"]
        assert [i for i, _ in added.matches[1].matches] == ["full", "cut40"]
        found = index.query([("q", story)]).matches
        assert [i for i, _ in found[0].matches] == ["full", "cut20", "cut40"]
        sims = [s for _, s in found[0].matches]
        assert sims == sorted(sims, reverse=True) and sims[0] == 1.0
        assert index.query([("q", story)], top=1).matches[0].matches == [("full", 1.0)]
        with pytest.raises(UsageError, match="top must be a positive integer"):
            index.query([("q", story)], top=0)


def _documents_table(path: Path) -> list[tuple[object, ...]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT doc, id, length, text FROM documents ORDER BY doc").fetchall()
    finally:
        db.close()


def test_query_changes_nothing(seed_texts: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "news.index"
    with Index.create(path) as index:
        index.add(list(seed_texts.items()))
    before_bytes, before_rows = path.read_bytes(), _documents_table(path)
    with Index.open(path, readonly=True) as index:
        assert len(index.query([("q", seed_texts["000"])]).matches) == 1
        with pytest.raises(UsageError, match="read-only"):
            index.add([("new", "một văn bản mới")])
    assert path.read_bytes() == before_bytes
    with Index.open(path) as index:
        index.query(list(seed_texts.values()))
    assert _documents_table(path) == before_rows


def test_id_already_indexed_is_skipped_or_replaced(seed_texts: dict[str, str], tmp_path: Path) -> None:
    a, b = seed_texts["000"], seed_texts["003"]
    with Index.create(tmp_path / "i") as index:
        index.add([("x", a)])
        again = index.add([("x", b), ("y", a)])
        assert [(s.path, s.reason) for s in again.skipped] == [("x", "id already indexed")]
        assert again.documents == 1 and [(m.id, m.matches) for m in again.matches] == [("y", [("x", 1.0)])]
        assert index.query([("q", b)]).matches == []
        replaced = index.add([("x", b)], replace=True)
        assert replaced.documents == 1 and not replaced.skipped and replaced.matches == []
        assert [(m.id, m.matches) for m in index.query([("q", b)]).matches] == [("q", [("x", 1.0)])]
        assert [(m.id, m.matches) for m in index.query([("q", a)]).matches] == [("q", [("y", 1.0)])]
        assert index.info().documents == 2


def test_remove_then_query(seed_texts: dict[str, str], tmp_path: Path) -> None:
    story = seed_texts["000"]
    with Index.create(tmp_path / "i") as index:
        index.add([("a", story), ("b", story + " Thêm một câu."), ("c", seed_texts["003"])])
        unknown: list[str] = []
        assert index.remove(["a", "nope", "a"], on_unknown=unknown.append) == 1
        assert unknown == ["nope"]
        assert [i for i, _ in index.query([("q", story)]).matches[0].matches] == ["b"]
        assert index.remove(["b"]) == 1
        assert index.query([("q", story)]).matches == []
        # Numbers are never reused, and no band key of a removed document is left.
        index.add([("a", story)])
        db = sqlite3.connect(tmp_path / "i")
        assert db.execute("SELECT doc FROM documents ORDER BY doc").fetchall() == [(2,), (3,)]
        assert db.execute("SELECT DISTINCT doc FROM bands ORDER BY doc").fetchall() == [(2,), (3,)]
        db.close()
        with pytest.raises(TypeError, match="single string"):
            index.remove("a")


def test_info_and_stored_options(tmp_path: Path) -> None:
    path = tmp_path / "i"
    Index.create(path, threshold=0.7, num_perm=64, shingle="char:4", seed=7, fold_accents=True, workers=1).close()
    with Index.open(path) as index:
        info = index.info()
        assert info.options == {
            "threshold": 0.7,
            "num_perm": 64,
            "shingle": "char:4",
            "seed": 7,
            "fold_accents": True,
        }
        assert tuple(info.options) == MATCH_OPTIONS
        assert (info.documents, info.format_version) == (0, FORMAT_VERSION)
        wal = Path(f"{path}-wal")
        assert info.size == path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        assert index.config.shingle == "char:4" and index.config.fold_accents


def test_version_mismatch_and_corrupt_files_are_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "i"
    Index.create(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '1' WHERE key = 'format_version'")
    db.commit()
    db.close()
    with pytest.raises(DedupError, match=r"index format version 1, this dedup reads version 2$"):
        Index.open(path)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(DedupError, match="is not a dedup index") as err:
        Index.open(garbage)
    assert "\n" not in str(err.value)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t(x)").connection.close()
    with pytest.raises(DedupError, match="is not a dedup index"):
        Index.open(other)
    with pytest.raises(InputError, match="no such index"):
        Index.open(tmp_path / "missing")
    with pytest.raises(InputError, match="folder"):
        Index.open(tmp_path)


def test_failed_create_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    existing = tmp_path / "taken"
    existing.write_bytes(b"keep me")
    with pytest.raises(UsageError, match="already exists"):
        Index.create(existing)
    assert existing.read_bytes() == b"keep me"
    with pytest.raises(OutputError, match="cannot write"):
        Index.create(tmp_path / "no" / "such" / "folder.index")
    with pytest.raises(UsageError, match="threshold"):
        Index.create(tmp_path / "bad", threshold=2.0)

    def fail(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("dedup.index._initialize", fail)
    with pytest.raises(OutputError, match="No space left"):
        Index.create(tmp_path / "new.index")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_query_reads_one_snapshot_while_another_connection_adds(seed_texts: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "i"
    first, later = ("a", seed_texts["000"]), ("b", seed_texts["003"])
    with Index.create(path) as writer:
        writer.add([first])

        def queries() -> Iterator[tuple[str, str]]:
            yield ("q1", first[1])
            writer.add([later])  # committed while the query runs
            yield ("q2", later[1])
            yield ("q3", first[1])

        with Index.open(path, readonly=True) as reader:
            found = reader.query(queries())
        assert [m.id for m in found.matches] == ["q1", "q3"]
        with Index.open(path, readonly=True) as reader:
            assert [m.id for m in reader.query(queries()).matches] == ["q1", "q2", "q3"]


def test_an_add_matches_documents_another_writer_commits_between_its_batches(
    seed_texts: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "i"
    Index.create(path).close()
    story = seed_texts["003"]
    with Index.open(path) as first, Index.open(path) as second:

        def documents() -> Iterator[tuple[str, str]]:
            yield ("a1", seed_texts["000"])
            yield ("a2", seed_texts["001"])
            # Between the first call's transactions: takes the next number.
            assert second.add([("b", story)]).documents == 1
            yield ("a3", story.upper())

        added = first.add(documents(), batch_size=1)
    assert [(m.id, m.matches) for m in added.matches] == [("a3", [("b", 1.0)])]
    assert _rows(path, "SELECT count(*) FROM bands_pending") == [(0,)]
    assert _banded(path) == [0, 1, 2, 3]


def test_a_query_during_an_add_finds_every_committed_document(seed_texts: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "i"
    texts = [seed_texts[k] for k in ("000", "001", "003")]
    with Index.create(path) as writer:
        writer.add([("old", texts[0])])
        seen: list[list[str]] = []

        def documents() -> Iterator[tuple[str, str]]:
            for i, text in enumerate(texts[1:]):
                yield (f"new{i}", text)
            yield ("filler", "một văn bản khác hẳn " * 10)
            # new0 and new1 are committed, their band rows still pending.
            assert _rows(path, "SELECT count(*) FROM bands_pending") != [(0,)]
            with Index.open(path, readonly=True) as reader:
                found = reader.query([(str(i), t) for i, t in enumerate(texts)]).matches
            seen.extend([o for o, _ in m.matches] for m in found)

        writer.add(documents(), batch_size=1)
    assert seen == [["old"], ["new0"], ["new1"]]


# --- real processes -----------------------------------------------------------


def _dump(path: Path, docs: int, seed: int) -> list[str]:
    write_dump(path, docs=docs, seed=seed)
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]


def _count(path: Path) -> int:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return int(db.execute("SELECT count(*) FROM documents").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        db.close()


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _banded(path: Path) -> list[int]:
    """Documents with band rows, merged or pending (segments of int64 arrays)."""
    merged = {int(doc) for (doc,) in _rows(path, "SELECT DISTINCT doc FROM bands")}
    for (docs,) in _rows(path, "SELECT docs FROM bands_pending"):
        merged.update(np.frombuffer(docs, dtype="<i8").tolist())
    return sorted(merged)


def test_kill_9_mid_add_keeps_whole_batches(tmp_path: Path) -> None:
    dump, path, batch = tmp_path / "d.jsonl", tmp_path / "i", 200
    ids = _dump(dump, 12000, seed=3)
    Index.create(path).close()
    proc = subprocess.Popen(
        [*DEDUP, "index", "add", str(path), str(dump), "--batch-size", str(batch), "-q", "-o", os.devnull]
    )
    try:
        deadline = time.monotonic() + 60
        while _count(path) < 2 * batch and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    stored = [row[0] for row in _rows(path, "SELECT id FROM documents ORDER BY doc")]
    assert len(stored) >= 2 * batch and len(stored) % batch == 0 and len(stored) < len(ids)
    assert stored == ids[: len(stored)] and _banded(path) == list(range(len(stored)))
    # The killed call's band rows are still pending, owned by it.
    assert _rows(path, "SELECT count(*) FROM bands_pending")[0][0] > 0
    texts = [json.loads(line)["text"] for line in dump.read_text(encoding="utf-8").splitlines()]
    probes = [0, len(stored) // 2, len(stored) - 1]
    with Index.open(path, readonly=True) as index:
        assert index.info().documents == len(stored)
        found = {m.id: m.matches for m in index.query([(f"q{i}", texts[i]) for i in probes]).matches}
        assert all((ids[i], 1.0) in found.get(f"q{i}", []) for i in probes)
        assert [m.id for m in index.query([("q", "x")]).matches] == []
    with Index.open(path) as index:
        # The rest can be added after the crash; the next write merges the
        # killed call's pending rows.
        rest = index.add([(i, texts[n]) for n, i in enumerate(ids[len(stored) : len(stored) + 3], len(stored))])
        assert rest.documents == 3
        assert _rows(path, "SELECT count(*) FROM bands_pending") == [(0,)]
        assert _banded(path) == list(range(len(stored) + 3))
        found = {m.id: m.matches for m in index.query([(f"q{i}", texts[i]) for i in probes]).matches}
        assert all((ids[i], 1.0) in found.get(f"q{i}", []) for i in probes)


def test_two_adding_processes_wait_for_each_other(tmp_path: Path) -> None:
    path = tmp_path / "i"
    dumps = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    ids = [_dump(dumps[0], 3000, seed=1), _dump(dumps[1], 3000, seed=2)]
    # Distinct ids: the second dump's records are renamed by their line.
    text = dumps[1].read_text(encoding="utf-8").replace('"id": "', '"id": "b-')
    dumps[1].write_text(text, encoding="utf-8")
    Index.create(path).close()
    procs = [
        subprocess.Popen(
            [*DEDUP, "index", "add", str(path), str(d), "--batch-size", "100", "-q", "--format", "jsonl"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for d in dumps
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e.decode() for _, e in outs]
    assert _count(path) == len(ids[0]) + len(ids[1])


# --- the command line ---------------------------------------------------------


def _cli(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    from typer.testing import CliRunner

    from dedup.cli import app

    result = CliRunner().invoke(app, ["index", *args], input=stdin)
    assert "Traceback" not in result.stderr
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def archive(tmp_path: Path, seed_texts: dict[str, str]) -> tuple[Path, Path, Path]:
    """An index, a first dump (two stories and a copy) and a second one (a
    copy of an indexed story, a new story, a bad line)."""
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text(
        "".join(
            json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n"
            for i, t in [("a", seed_texts["000"]), ("b", seed_texts["003"]), ("a-copy", seed_texts["000"].upper())]
        ),
        encoding="utf-8",
    )
    second.write_text(
        json.dumps({"id": "new-b", "text": seed_texts["003"] + " Hết."}, ensure_ascii=False)
        + "\n{oops\n"
        + json.dumps({"id": "other", "text": seed_texts["001"]}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    index = tmp_path / "news.index"
    code, _, err = _cli("create", str(index), "--threshold", "0.8")
    assert code == 0 and f"created {index} (threshold 0.8" in err
    return index, first, second


def test_cli_round_trip_in_every_format(archive: tuple[Path, Path, Path], tmp_path: Path) -> None:
    index, first, second = archive
    code, out, err = _cli("add", str(index), str(first), "--format", "jsonl")
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [
        {"id": "a-copy", "matches": [{"id": "a", "similarity": 1.0}]}
    ]
    assert "3 documents added, 0 skipped, 1 document with matches" in err
    code, out, err = _cli("query", str(index), str(second), "--format", "csv", "--fail-on-duplicates")
    assert code == 3
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["id", "match", "similarity"] and [r[:2] for r in rows[1:]] == [["new-b", "b"]]
    assert 0.8 <= float(rows[1][2]) < 1.0
    assert f"skipped {second}:2: line is not valid JSON" in err
    assert "2 documents queried, 1 skipped (line is not valid JSON: 1), 1 document with matches" in err
    code, out, _ = _cli("query", str(index), str(first), "--top", "1")
    assert code == 0 and "a-copy" in out and "3 documents with matches" in out
    code, out, err = _cli("add", str(index), str(first), "--format", "table", "-q")
    assert code == 0 and "No near-duplicates in the index for 0 documents added." in out
    assert err.count("id already indexed") == 3
    report = tmp_path / "report.jsonl"
    code, _, _ = _cli("add", str(index), str(second), "--replace", "--format", "jsonl", "-o", str(report))
    assert code == 0 and json.loads(report.read_text())["id"] == "new-b"
    code, out, _ = _cli("info", str(index), "--format", "jsonl")
    info = json.loads(out)
    assert info["documents"] == 5 and info["format_version"] == FORMAT_VERSION and info["size"] > 0
    assert info["options"] == {"threshold": 0.8, "num_perm": 128, "shingle": "word:5", "seed": 1, "fold_accents": False}
    code, out, _ = _cli("info", str(index), "--format", "csv")
    assert code == 0 and out.splitlines()[1].split(",")[1] == "5"
    code, out, _ = _cli("info", str(index))
    assert code == 0 and "documents" in out and "size on disk" in out
    ids = tmp_path / "ids.txt"
    ids.write_text("b\n\nnope\n", encoding="utf-8")
    code, _, err = _cli("remove", str(index), "a", "--ids-from", str(ids))
    assert code == 0 and "warning: id 'nope' is not in the index" in err
    assert "2 documents removed, 1 not in the index" in err
    code, out, _ = _cli("query", str(index), str(first), "--format", "jsonl")
    assert [(r["id"], [m["id"] for m in r["matches"]]) for r in map(json.loads, out.splitlines())] == [
        ("a", ["a-copy"]),
        ("b", ["new-b"]),
        ("a-copy", ["a-copy"]),
    ]


def test_cli_errors(archive: tuple[Path, Path, Path], tmp_path: Path) -> None:
    index, first, _ = archive
    code, _, err = _cli("create", str(index))
    assert code == 2 and "already exists" in err
    code, _, err = _cli("add", str(tmp_path / "missing.index"), str(first))
    assert code == 2 and err == f"dedup: error: {tmp_path / 'missing.index'}: no such index\n"
    corrupt = tmp_path / "corrupt.index"
    corrupt.write_bytes(b"\x00garbage" * 1000)
    code, _, err = _cli("query", str(corrupt), str(first))
    assert code == 1 and "is not a dedup index" in err and err.count("\n") == 1
    code, _, err = _cli("add", str(index), str(first), "-o", str(index))
    assert code == 2 and "is an input file" in err
    assert Index.open(index).info().documents == 0
    code, _, err = _cli("query", str(index), str(first), "--top", "0")
    assert code == 2 and "--top must be a positive integer" in err
    code, _, err = _cli("remove", str(index))
    assert code == 2 and "give the ids to remove" in err
    code, _, err = _cli("create", str(tmp_path / "x.index"), "--threshold", "1.5")
    assert code == 2 and "--threshold must be in (0, 1]" in err and not (tmp_path / "x.index").exists()
    for command in ("create", "add", "query", "remove", "info"):
        code, out, _ = _cli(command, "-h")
        assert code == 0 and "INDEX" in out
