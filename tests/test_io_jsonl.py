"""The compiled JSONL reader gives what the Python reader gives, line for line."""

from __future__ import annotations

import gzip
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import find_duplicates
from dedup.document import Document, Skipped
from dedup.io import PackedTexts, _chunks, _lines, _parse_jsonl_line, _qualified, collect_inputs, read_documents
from tests.strategies import jsonl_lines


def _python_reader(path: Path, text_field: str = "text", id_field: str = "id") -> list[Document | Skipped]:
    """The reader before the compiled parser: every line through Python."""
    file = collect_inputs([path]).files[0]
    out: list[Document | Skipped] = []
    for number, line in enumerate(_lines(_chunks(file)), start=1):
        if line.strip():
            out.append(_qualified(file, _parse_jsonl_line(file.name, number, line, text_field, id_field)))
    return out


def _same(got: list[Document | Skipped], want: list[Document | Skipped]) -> None:
    assert got == want
    assert [getattr(d, "location", None) for d in got] == [getattr(d, "location", None) for d in want]


@settings(max_examples=150, deadline=None)
@given(st.lists(jsonl_lines(), max_size=12), st.booleans())
def test_compiled_reader_equals_python_reader(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], final_newline: bool
) -> None:
    folder = tmp_path_factory.mktemp("jsonl")
    path = folder / "dump.jsonl"
    path.write_bytes(b"\n".join(lines) + (b"\n" if final_newline else b""))
    _same(list(read_documents([path])), _python_reader(path))
    _same(list(read_documents([path], text_field="id", id_field="text")), _python_reader(path, "id", "text"))


def test_python_whitespace_is_an_empty_document(tmp_path: Path) -> None:
    """Every code point Python's str.strip removes, and no other, makes an
    empty document (the kernel's own whitespace test)."""
    path = tmp_path / "d.jsonl"
    chars = [chr(c) for c in range(0x3100) if not 0xD800 <= c < 0xE000 and c != 0x0A]
    path.write_text("".join(f'{{"text": "\\u{ord(c):04x}"}}\n' for c in chars), encoding="utf-8")
    got = list(read_documents([path]))
    assert [isinstance(d, Skipped) for d in got] == [c.isspace() for c in chars]


def test_long_lines_across_blocks(tmp_path: Path) -> None:
    """Lines longer than a read block, and blocks cut mid-line, keep their numbers."""
    long_text = "Mỹ và Taliban nối lại đàm phán " * 300_000
    lines = [f'{{"id": {i}, "text": "{long_text if i % 3 == 0 else "tin " + str(i)}"}}' for i in range(8)]
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    _same(list(read_documents([path])), _python_reader(path))


def test_cut_gzip_keeps_every_line_before_the_cut(tmp_path: Path) -> None:
    lines = "".join(f'{{"id": "{i}", "text": "bản tin số {i} " }}\n' for i in range(5000)).encode()
    blob = gzip.compress(lines)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(blob[: len(blob) // 2])
    got = list(read_documents([path]))
    assert isinstance(got[-1], Skipped) and "truncated" in got[-1].reason
    assert got[:-1] == [Document(str(i), f"bản tin số {i} ") for i in range(len(got) - 1)]


def test_scan_of_packed_texts_equals_scan_of_strings(tmp_path: Path) -> None:
    story = "Đại sứ Khalilzad thúc đẩy hòa đàm tại Qatar với phái đoàn Taliban hôm thứ bảy"
    texts = [story, unicodedata.normalize("NFD", story.upper()), story + " thêm", "khác hẳn " * 9, "   "]
    path = tmp_path / "d.jsonl"
    import json

    path.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts)), "utf-8")
    stream = read_documents([path])
    assert any(isinstance(item, PackedTexts) for item in read_documents([path]).packed())
    for keep in ("first", "longest"):
        packed = find_duplicates(stream if keep == "first" else read_documents([path]), keep=keep)
        strings = find_duplicates(list(read_documents([path])), keep=keep)
        assert [(c.keep_id, c.ids, c.similarities) for c in packed.clusters] == [
            (c.keep_id, c.ids, c.similarities) for c in strings.clusters
        ]
        assert packed.skipped == strings.skipped
