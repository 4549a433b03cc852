"""Input discovery, formats, ids and order; atomic output."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from dedup.document import Document, Skipped
from dedup.io import InputError, atomic_writer, collect_input_files, read_documents


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_folder_order_hidden_and_relative_ids(tmp_path: Path) -> None:
    _write(tmp_path / "b.txt", "bê")
    _write(tmp_path / "a" / "z.md", "zét")
    _write(tmp_path / "a.txt", "a")
    _write(tmp_path / ".hidden.txt", "secret")
    _write(tmp_path / ".git" / "x.txt", "secret")
    _write(tmp_path / "notes.pdf", "ignored")
    docs = list(read_documents([tmp_path]))
    # Code point order of the relative path: "." (0x2E) sorts before "/" (0x2F).
    assert [d.id for d in docs] == ["a.txt", "a/z.md", "b.txt"]
    assert all(isinstance(d, Document) for d in docs)


def test_paths_in_argument_order_and_direct_file_names(tmp_path: Path) -> None:
    one = _write(tmp_path / "one.txt", "một")
    folder = tmp_path / "dir"
    _write(folder / "two.txt", "hai")
    docs = list(read_documents([folder, one]))
    assert [d.id for d in docs] == ["two.txt", str(one)]


def test_jsonl_ids_fields_and_bad_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "x1", "text": "một"}),
        json.dumps({"text": "hai"}),
        "not json",
        json.dumps(["a list"]),
        json.dumps({"id": 7, "body": "ba"}),
        json.dumps({"id": 8, "text": 42}),
        "",
        json.dumps({"id": 9, "text": "   "}),
        json.dumps({"id": 10, "text": "bốn"}),
    ]
    _write(tmp_path / "d.jsonl", "\n".join(lines) + "\n")
    got = list(read_documents([tmp_path]))
    assert got == [
        Document("x1", "một"),
        Document("d.jsonl:2", "hai"),
        Skipped(f"{tmp_path}/d.jsonl", 3, "line is not valid JSON"),
        Skipped(f"{tmp_path}/d.jsonl", 4, "line is not a JSON object"),
        Skipped(f"{tmp_path}/d.jsonl", 5, "no 'text' field"),
        Skipped(f"{tmp_path}/d.jsonl", 6, "'text' is not a string"),
        Skipped(f"{tmp_path}/d.jsonl", 8, "empty document"),
        Document("10", "bốn"),
    ]


def test_custom_fields(tmp_path: Path) -> None:
    _write(tmp_path / "d.ndjson", json.dumps({"key": "k", "body": "nội dung"}) + "\n")
    assert list(read_documents([tmp_path], text_field="body", id_field="key")) == [Document("k", "nội dung")]


def test_compressed_inputs(tmp_path: Path) -> None:
    payload = (json.dumps({"id": "g", "text": "nén gzip"}) + "\n").encode()
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(payload))
    (tmp_path / "b.txt.zst").write_bytes(zstandard.ZstdCompressor().compress("nén zstd".encode()))
    assert list(read_documents([tmp_path])) == [Document("g", "nén gzip"), Document("b.txt.zst", "nén zstd")]


def test_truncated_gzip_keeps_documents_before_the_cut(tmp_path: Path) -> None:
    payload = "".join(json.dumps({"id": str(i), "text": f"tài liệu số {i} " * 20}) + "\n" for i in range(200))
    blob = gzip.compress(payload.encode())
    (tmp_path / "cut.jsonl.gz").write_bytes(blob[: len(blob) // 2])
    got = list(read_documents([tmp_path]))
    docs = [d for d in got if isinstance(d, Document)]
    assert 0 < len(docs) < 200
    assert [d.id for d in docs] == [str(i) for i in range(len(docs))]
    assert isinstance(got[-1], Skipped) and "truncated" in got[-1].reason


def test_bad_text_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    (tmp_path / "bin.txt").write_bytes(b"abc\x00def")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_bytes(b" \n\t\n")
    (tmp_path / "latin.txt").write_bytes("café".encode("cp1252"))
    os.symlink(tmp_path / "missing", tmp_path / "broken.txt")
    results = list(read_documents([tmp_path]))
    got = {s.path.removeprefix(f"{tmp_path}/"): s.reason for s in results if isinstance(s, Skipped)}
    assert got == {
        "bin.txt": "binary content (NUL bytes)",
        "blank.txt": "empty document",
        "broken.txt": got["broken.txt"],
        "empty.txt": "empty document",
    }
    assert got["broken.txt"].startswith("cannot read")
    # A legacy encoding is detected and decoded, not skipped.
    assert [d for d in results if isinstance(d, Document)] == [Document("latin.txt", "café")]


def test_symlink_loop_terminates(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "x.txt", "x")
    os.symlink(tmp_path / "a", tmp_path / "a" / "loop")
    assert [d.id for d in read_documents([tmp_path])] == ["a/x.txt"]


def test_missing_path_raises_before_reading(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        collect_input_files([tmp_path / "nope"])


def test_atomic_writer(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_writer(target) as out:
        out.write("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]
    with atomic_writer(target) as out:
        out.write("new")
    assert target.read_text() == "new"


@given(st.binary(max_size=300).map(lambda b: b.replace(b"\x01", b"\n")), st.lists(st.integers(1, 40), max_size=30))
def test_lines_any_chunking(data: bytes, cuts: list[int]) -> None:
    from dedup.io import _lines

    chunks, pos = [], 0
    for size in cuts:
        chunks.append(data[pos : pos + size])
        pos += size
    chunks.append(data[pos:])
    expected = data.split(b"\n")
    if expected and expected[-1] == b"":
        expected.pop()
    assert list(_lines(iter(chunks))) == expected


def test_a_folder_that_cannot_be_listed_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "a.txt", "một")
    _write(tmp_path / "locked" / "b.txt", "hai")
    real_scandir = os.scandir

    def scandir(path: object) -> object:
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")  # what a 0700 folder of another user gives
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    got = list(read_documents([tmp_path]))
    assert got == [
        Document("a.txt", "một"),
        Skipped(f"{tmp_path}/locked", None, "cannot read folder: Permission denied"),
    ]
