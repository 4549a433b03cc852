"""Dirty inputs: nothing lost, nothing hangs, no traceback (issue 5)."""

from __future__ import annotations

import csv
import gzip
import json
import os
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from dedup import Document, Skipped, find_duplicates, read_documents

_TONES = "\u0300\u0301\u0303\u0309\u0323"


def encode_cp1258(text: str) -> bytes:
    """Vietnamese as cp1258 writes it: base letters precomposed, tone marks combining."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONES))
            out += (base + "".join(c for c in parts if c in _TONES)).encode("cp1258")
    return bytes(out)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, seed_texts: dict[str, str]) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    a, b = seed_texts["000"], seed_texts["003"]
    (root / "story.txt").write_text(a, encoding="utf-8")
    (root / "tin-tức-đăng-lại.txt").write_text(a.upper() + "\nTheo VOV.VN\n", encoding="utf-8")
    (root / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 50)
    (root / "empty.txt").write_bytes(b"")
    (root / "blank.txt").write_text(" \n\t \r\n", encoding="utf-8")
    (root / "legacy-cp1258.txt").write_bytes(encode_cp1258(b))
    os.symlink(root / "nowhere.txt", root / "broken-link.txt")
    os.symlink(root / "loop-b.txt", root / "loop-a.txt")
    os.symlink(root / "loop-a.txt", root / "loop-b.txt")
    (root / "sub").mkdir()
    os.symlink(root, root / "sub" / "back-to-root")
    os.mkfifo(root / "fifo.txt")
    (root / "dir.txt").mkdir()
    (root / "dir.txt" / "inside.md").write_text(b, encoding="utf-8")
    lines = [
        json.dumps({"id": "j-good-1", "text": a}, ensure_ascii=False),
        "{not json",
        json.dumps(["an", "array"]),
        json.dumps({"id": "j-no-text", "body": "x"}),
        json.dumps({"id": "j-number", "text": 42}),
        json.dumps({"id": "j-good-2", "text": b + " Theo Tuổi Trẻ"}, ensure_ascii=False),
    ]
    data = ("\n".join(lines) + "\n").encode("utf-8").replace(b"{not json", b"{not json")
    data += b'{"id": "j-bad-utf8", "text": "\xff\xfe caf\xe9"}\n'
    (root / "mixed.jsonl").write_bytes(data)
    records = "".join(
        json.dumps({"id": f"gz-{i}", "text": f"bài số {i} " + "nội dung riêng " * 30}, ensure_ascii=False) + "\n"
        for i in range(300)
    ).encode()
    blob = gzip.compress(records)
    (root / "cut.jsonl.gz").write_bytes(blob[: len(blob) // 2])
    words = [f"từ{i % 9973}" for i in range(1_500_000)]
    (root / "huge.txt").write_text(" ".join(words), encoding="utf-8")
    return root


def test_scan_survives_everything(hostile: Path, tmp_path: Path) -> None:
    errors = tmp_path / "errors.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "dedup", "scan", str(hostile), "--format", "jsonl", "--errors", str(errors)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    clusters = [[m["id"] for m in json.loads(line)["members"]] for line in proc.stdout.splitlines()]
    assert ["j-good-1", "story.txt", "tin-tức-đăng-lại.txt"] in clusters
    assert ["dir.txt/inside.md", "legacy-cp1258.txt", "j-good-2"] in clusters  # input order
    expected_skips = {
        "binary.txt",
        "empty.txt",
        "blank.txt",
        "broken-link.txt",
        "loop-a.txt",
        "loop-b.txt",
        "fifo.txt",
        "mixed.jsonl:2",
        "mixed.jsonl:3",
        "mixed.jsonl:4",
        "mixed.jsonl:5",
        "mixed.jsonl:7",
        "cut.jsonl.gz",
    }
    stderr_skips = {
        line.split(": ")[0].removeprefix("skipped ").removeprefix(f"{hostile}/") for line in proc.stderr.splitlines()
    }
    assert expected_skips <= stderr_skips
    records = [json.loads(line) for line in errors.read_text(encoding="utf-8").splitlines()]
    where = {r["path"] if r["line"] is None else f"{r['path']}:{r['line']}" for r in records}
    assert {w.removeprefix(f"{hostile}/") for w in where} == expected_skips
    # The cut archive kept the documents before the cut.
    gz_docs = [d for d in read_documents([hostile / "cut.jsonl.gz"]) if isinstance(d, Document)]
    assert 0 < len(gz_docs) < 300
    summary = proc.stderr.strip().splitlines()[-1]
    assert f"{len(expected_skips)} skipped (" in summary


def test_strict_turns_skips_into_exit_1(hostile: Path, tmp_path: Path) -> None:
    out = tmp_path / "clusters.jsonl"
    command = [sys.executable, "-m", "dedup", "scan", str(hostile / "mixed.jsonl"), "--strict", "-q"]
    proc = subprocess.run([*command, "--output", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert out.exists()  # the result is still written
    assert proc.stderr.strip().splitlines()[-1] == "dedup: error: 5 inputs skipped (--strict)"


def test_truncated_zstd_keeps_what_came_before(tmp_path: Path) -> None:
    payload = "".join(json.dumps({"id": str(i), "text": f"tài liệu {i} " * 40}) + "\n" for i in range(400))
    blob = zstandard.ZstdCompressor().compress(payload.encode())
    (tmp_path / "cut.jsonl.zst").write_bytes(blob[: len(blob) // 2])
    got = list(read_documents([tmp_path]))
    docs = [d for d in got if isinstance(d, Document)]
    assert [d.id for d in docs] == [str(i) for i in range(len(docs))]
    assert isinstance(got[-1], Skipped) and "truncated" in got[-1].reason
    (tmp_path / "cut.jsonl.zst").write_bytes(blob)
    assert len([d for d in read_documents([tmp_path]) if isinstance(d, Document)]) == 400


def test_csv_input(tmp_path: Path) -> None:
    with open(tmp_path / "news.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "title", "body"])
        writer.writerow(["a", "Tiêu đề", "Dòng một\nDòng hai, có dấu phẩy"])
        writer.writerow(["", "Không id", "Nội dung"])
        writer.writerow(["c", "thiếu cột"])
        writer.writerow(["d", "Trống", "   "])
    got = list(read_documents([tmp_path], text_field="body"))
    assert got == [
        Document("a", "Dòng một\nDòng hai, có dấu phẩy"),
        Document("news.csv:4", "Nội dung"),
        Skipped(f"{tmp_path}/news.csv", 5, "row has 2 fields, the header 3"),
        Skipped(f"{tmp_path}/news.csv", 6, "empty document"),
    ]
    assert list(read_documents([tmp_path], text_field="text")) == [
        Skipped(f"{tmp_path}/news.csv", None, "CSV header has no 'text' column")
    ]


def test_parquet_input(tmp_path: Path) -> None:
    import pyarrow as pa  # the test extras install it: a missing one must fail, not skip
    import pyarrow.parquet as pq

    table = pa.table({"id": ["p1", None, "p3"], "text": ["Bài một", "Bài hai", None]})
    pq.write_table(table, tmp_path / "news.parquet")
    assert list(read_documents([tmp_path])) == [
        Document("p1", "Bài một"),
        Document("news.parquet:2", "Bài hai"),
        Skipped(f"{tmp_path}/news.parquet", 3, "'text' is not a string"),
    ]


_good = st.builds(lambda t: json.dumps({"text": t}, ensure_ascii=False).encode(), st.text(min_size=1).filter(str.strip))
_bad = st.sampled_from(
    [b"{oops", b"[1, 2]", b'{"body": "x"}', b'{"text": 7}', b'{"text": "\xff\xfe"}', b'{"text": "   "}', b"42"]
)


@given(st.lists(st.tuples(st.booleans(), st.data()), max_size=30), st.data())
def test_every_jsonl_line_accounted_for(kinds: list[tuple[bool, st.DataObject]], data: st.DataObject) -> None:
    lines = [data.draw(_good if good else _bad) for good, _ in kinds]
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "dump.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        got = list(read_documents([path]))
        result = find_duplicates(read_documents([path]))
    good_lines = [i + 1 for i, (good, _) in enumerate(kinds) if good]
    bad_lines = [i + 1 for i, (good, _) in enumerate(kinds) if not good]
    assert [d.id for d in got if isinstance(d, Document)] == [f"{path}:{n}" for n in good_lines]
    assert [s.line for s in got if isinstance(s, Skipped)] == bad_lines
    # The scan accounts for every line too: scanned + skipped = all lines.
    assert result.documents + len(result.skipped) == len(lines)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_cleans_up_temporary_files(tmp_path: Path, signum: int) -> None:
    dump = tmp_path / "dump.jsonl"
    with open(dump, "w", encoding="utf-8") as f:
        for i in range(60_000):
            f.write(json.dumps({"id": str(i), "text": f"bài {i} " + "nội dung tin tức " * 60}) + "\n")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dedup", "scan", str(dump), "-q", "--format", "jsonl"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    for _ in range(2000):  # until the scan has made its temporary folder (or finished)
        if any(tmpdir.glob("dedup-*")) or proc.poll() is not None:
            break
        time.sleep(0.005)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the scan finished before the signal arrived")
    assert proc.returncode == 130
    assert err.strip() == "dedup: error: interrupted"
    assert list(tmpdir.iterdir()) == []


def test_interrupt_while_loading_prints_no_traceback(tmp_path: Path) -> None:
    """A Ctrl-C while the command line's libraries load (numpy, typer...):
    one line and exit 130, as during a command, never a traceback."""
    interrupted = (
        "import sys\n"
        "class Interrupting:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'dedup.cli':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupting())\n"
        "from dedup.__main__ import main\n"
        "main()\n"
    )
    run = subprocess.run([sys.executable, "-c", interrupted, "--help"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 130
    assert run.stderr == "dedup: error: interrupted\n"
