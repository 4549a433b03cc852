"""The compiled JSONL reader gives what the Python reader gives, line for line."""

from __future__ import annotations

import gzip
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import find_duplicates
from dedup._kernels import LINE_PYTHON, jsonl_kernel, jsonl_simd_for_tests
from dedup.document import Document, Skipped
from dedup.io import PackedTexts, _chunks, _lines, _parse_jsonl_line, _qualified, collect_inputs, read_documents
from tests.strategies import JSON_STRING_BAD_PIECES, JSON_STRING_PIECES, json_string_bytes, jsonl_lines


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


@pytest.fixture(params=[True, False], ids=["simd", "bytewise"])
def string_scan(request: pytest.FixtureRequest) -> Iterator[bool]:
    """The JSONL kernel with its 16-byte string scan (where the CPU has it) and without."""
    was = jsonl_simd_for_tests(request.param)
    try:
        yield request.param
    finally:
        jsonl_simd_for_tests(was)


def _kernel_status(path: Path) -> npt.NDArray[np.uint8]:
    data = np.fromfile(path, dtype=np.uint8)
    key = np.frombuffer(b"text", dtype=np.uint8)
    return jsonl_kernel(data, len(data), key, np.frombuffer(b"id", dtype=np.uint8), 1)[2]


def test_utf8_at_every_offset_of_a_chunk(tmp_path: Path, string_scan: bool) -> None:
    """Each valid and invalid byte sequence at every offset of the scan's
    16-byte chunks and near the line's end: the compiled reader reads the
    valid lines itself (none left to Python) and gives what Python gives."""
    lines, valid = [], []
    for piece in JSON_STRING_PIECES + JSON_STRING_BAD_PIECES:
        for before in range(34):
            for after in (0, 1, 5, 17, 40):
                lines.append(b'{"text": "' + b"a" * before + piece + b"b" * after + b'"}')
                valid.append(piece in JSON_STRING_PIECES)
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    status = _kernel_status(path)
    assert (status[np.array(valid)] != LINE_PYTHON).all()  # "\\n" alone is an empty document
    assert (status[~np.array(valid)] == LINE_PYTHON).all()
    _same(list(read_documents([path])), _python_reader(path))


@settings(max_examples=150, deadline=None)
@given(st.lists(json_string_bytes(), min_size=1, max_size=6), st.sampled_from([b"", b', "id": "x"']))
def test_string_scan_equals_python(tmp_path_factory: pytest.TempPathFactory, values: list[bytes], more: bytes) -> None:
    path = tmp_path_factory.mktemp("jsonl") / "d.jsonl"
    path.write_bytes(b"".join(b'{"text": "' + v + b'"' + more + b"}\n" for v in values))
    for on in (True, False):
        was = jsonl_simd_for_tests(on)
        try:
            _same(list(read_documents([path])), _python_reader(path))
        finally:
            jsonl_simd_for_tests(was)
