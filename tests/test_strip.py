"""Cleaned copies (``blocks --strip``): layout, nothing overwritten, nothing
changed but the removed blocks (issue 8, items 2, 3, 12, 20)."""

from __future__ import annotations

import codecs
import gzip
import json
import os
import tempfile
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from typer.testing import CliRunner

from dedup.blocks import find_repeated_blocks
from dedup.cli import app
from dedup.errors import UsageError
from dedup.io import InputFile, InputSet, collect_inputs, read_documents
from dedup.strip import _numbered, plan_cleaned_copies, strip_text, write_cleaned_copies
from tests.strategies import jsonl_records, line_documents
from tests.test_hostile import encode_cp1258

runner = CliRunner()
REPEAT = "Mời quý độc giả theo dõi VOV.VN trên"
BODY = "Mỹ và Taliban nối lại đàm phán hòa bình tại Doha"
OTHER = "Phái đoàn hai bên gặp nhau sau nhiều tháng"


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def _strip(*args: str) -> None:
    result = runner.invoke(app, ["blocks", *args, "-q", "--format", "jsonl"])
    assert result.exit_code == 0, result.stderr


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- layout ---------------------------------------------------------------------


def test_two_folders_holding_the_same_name_give_two_copies(tmp_path: Path) -> None:
    _write(tmp_path / "d1" / "y.txt", f"{REPEAT}\n{BODY}\n{REPEAT}\n")
    _write(tmp_path / "d2" / "y.txt", f"{OTHER}\n{OTHER}\n")
    out = tmp_path / "out"
    _strip(str(tmp_path / "d1"), str(tmp_path / "d2"), "--strip", str(out))
    assert _files(out) == {"d1/y.txt": f"{REPEAT}\n{BODY}\n".encode(), "d2/y.txt": f"{OTHER}\n".encode()}


def test_one_path_is_mirrored(tmp_path: Path) -> None:
    _write(tmp_path / "news" / "a" / "y.txt", f"{BODY}\n{BODY}")
    _write(tmp_path / "one.txt", f"{OTHER}\n{OTHER}")
    _strip(str(tmp_path / "news"), "--strip", str(tmp_path / "out"))
    _strip(str(tmp_path / "one.txt"), "--strip", str(tmp_path / "out1"))
    assert _files(tmp_path / "out") == {"a/y.txt": BODY.encode()}
    assert _files(tmp_path / "out1") == {"one.txt": OTHER.encode()}


def test_paths_sharing_a_base_name_are_numbered(tmp_path: Path) -> None:
    for parent in ("a", "b", "c"):
        _write(tmp_path / parent / "news" / "y.txt", f"{BODY} {parent}\n{BODY} {parent}")
        _write(tmp_path / parent / "x.jsonl.gz", gzip.compress(b'{"text": "a"}\n'))
    paths = [str(tmp_path / p / "news") for p in "abc"] + [str(tmp_path / p / "x.jsonl.gz") for p in "ab"]
    _strip(*paths, "--strip", str(tmp_path / "out"))
    assert sorted(_files(tmp_path / "out")) == [
        "news-2/y.txt",
        "news-3/y.txt",
        "news/y.txt",
        "x-2.jsonl.gz",
        "x.jsonl.gz",
    ]
    assert _files(tmp_path / "out")["news-3/y.txt"] == f"{BODY} c".encode()
    assert _numbered("news.2024.txt", 2, is_file=True) == "news.2024-2.txt"
    assert _numbered("v1.2", 3, is_file=False) == "v1.2-3"


def test_plan_is_made_before_reading_and_refuses_a_shared_target(tmp_path: Path) -> None:
    a = _write(tmp_path / "d" / "y.txt", BODY)
    inputs = collect_inputs([tmp_path / "d"])
    (copy,) = plan_cleaned_copies(inputs, tmp_path / "out")
    assert copy.target == tmp_path / "out" / "y.txt" and not (tmp_path / "out").exists()
    e = tmp_path / "e"
    twice = InputSet([InputFile(a, "y.txt", "text", None, "d"), InputFile(e, "y.txt", "text", None, "d")], [])
    with pytest.raises(UsageError, match="same path"):
        plan_cleaned_copies(twice, tmp_path / "out")
    nested = InputSet([InputFile(a, "y", "text", None, "d"), InputFile(e, "y/z.txt", "text", None, "d")], [])
    with pytest.raises(UsageError, match="needs a folder"):
        plan_cleaned_copies(nested, tmp_path / "out")
    with pytest.raises(UsageError, match="not a folder"):
        plan_cleaned_copies(inputs, a)
    with pytest.raises(UsageError, match="is the input"):
        plan_cleaned_copies(inputs, tmp_path / "d", arguments=[tmp_path / "d"])


def test_a_folder_holding_its_own_name(tmp_path: Path) -> None:
    _write(tmp_path / "x.txt" / "x.txt", f"{BODY}\n{BODY}")
    _write(tmp_path / "x.txt" / "b.txt", OTHER)
    _write(tmp_path / "y" / "c.txt", OTHER + " nữa")
    _strip(str(tmp_path / "x.txt"), str(tmp_path / "y"), "--strip", str(tmp_path / "out"))
    assert sorted(_files(tmp_path / "out")) == ["x.txt/b.txt", "x.txt/x.txt", "y/c.txt"]


def test_the_same_file_twice_is_copied_once(tmp_path: Path) -> None:
    _write(tmp_path / "d" / "a.txt", f"{BODY}\n{BODY}")
    os.symlink(tmp_path / "d" / "a.txt", tmp_path / "d" / "b.txt")
    _strip(str(tmp_path / "d"), str(tmp_path / "d" / "a.txt"), "--strip", str(tmp_path / "out"))
    assert _files(tmp_path / "out") == {"d/a.txt": BODY.encode()}


def test_strip_folder_inside_the_input_is_never_read(tmp_path: Path) -> None:
    bl = tmp_path / "bl"
    _write(bl / "a.txt", f"{REPEAT}\n{BODY}\n{REPEAT}")
    _write(bl / "b.txt", f"{REPEAT}\n{OTHER}")
    reports = []
    for _ in range(2):
        result = runner.invoke(app, ["blocks", str(bl), "--strip", str(bl / "clean"), "--format", "jsonl"])
        assert result.exit_code == 0, result.stderr
        reports.append((result.stdout, result.stderr.splitlines()[-1].split(" (")[0]))
    assert reports[0] == reports[1]
    assert _files(bl / "clean") == {"a.txt": f"{REPEAT}\n{BODY}".encode(), "b.txt": f"{OTHER}".encode()}


def test_a_copy_that_is_an_input_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _write(src / "a.txt", f"{BODY}\n{BODY}")
    _write(src / "z.txt", f"{OTHER}\n{OTHER}")
    result = runner.invoke(app, ["blocks", str(src), "--strip", str(src)])
    assert result.exit_code == 2 and "is the input" in result.stderr and "Traceback" not in result.stderr
    result = runner.invoke(app, ["blocks", str(src / "a.txt"), "--strip", str(src)])
    assert result.exit_code == 2 and "would overwrite the input" in result.stderr
    out = tmp_path / "out"
    _write(out / "z.txt", b"an earlier copy")
    os.symlink(src / "a.txt", out / "a.txt")  # a link in the output folder to an input
    result = runner.invoke(app, ["blocks", str(src), "--strip", str(out)])
    assert result.exit_code == 2 and f"{out / 'a.txt'}" in result.stderr
    assert (src / "a.txt").read_text() == f"{BODY}\n{BODY}" and (out / "z.txt").read_bytes() == b"an earlier copy"
    with pytest.raises(UsageError, match="would overwrite"):
        write_cleaned_copies([src], out, lambda number, text: text)


# --- contents -------------------------------------------------------------------


def test_crlf_line_ends_are_kept() -> None:
    assert strip_text("a\r\nb\r\na\r\nc\r\n", [(3, 3)]) == "a\r\nb\r\nc\r\n"
    assert strip_text("a\r\nb\na\r\n", [(2, 2)]) == "a\r\na\r\n"
    assert strip_text("a\r\nb\r\nc", [(3, 3)]) == "a\r\nb"  # ends as the text did
    assert strip_text("a\r\nb\r\nc", [(1, 1)]) == "b\r\nc"
    assert strip_text("a\rb\nc", [(2, 2)]) == "a\rb"  # a lone \r is inside its line
    assert strip_text("a\r\n", []) == "a\r\n"


def test_crlf_file_copy_differs_only_by_the_removed_line(tmp_path: Path) -> None:
    _write(tmp_path / "d" / "a.txt", f"{REPEAT}\r\n{BODY}\r\n\r\n{REPEAT}\r\n{OTHER}\r\n")
    _strip(str(tmp_path / "d"), "--strip", str(tmp_path / "out"))
    assert (tmp_path / "out" / "a.txt").read_bytes() == f"{REPEAT}\r\n{BODY}\r\n\r\n{OTHER}\r\n".encode()


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("cp1258", b""),
        ("utf-8", codecs.BOM_UTF8),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
    ],
)
def test_a_changed_text_file_keeps_its_encoding(tmp_path: Path, encoding: str, bom: bytes) -> None:
    lines = [
        "Tổng thống Mỹ Donald Trump cho biết Washington sẽ nối lại đàm phán với Taliban",
        "Thông cáo báo chí của Bộ Ngoại giao Mỹ cho biết phái đoàn đã lên đường tới Qatar",
        "Tổng thống Mỹ Donald Trump cho biết Washington sẽ nối lại đàm phán với Taliban",
        "Đặc phái viên Zalmay Khalilzad sẽ gặp đại diện của lực lượng này tại thủ đô Doha",
    ]
    lines = [encode_cp1258(line).decode("cp1258") for line in lines]  # tone marks combining: cp1258 holds them
    _write(tmp_path / "d" / "a.txt", bom + "\n".join(lines).encode(encoding))
    (doc,) = read_documents([tmp_path / "d"])
    assert getattr(doc, "text", None) == "\n".join(lines)  # read back in that encoding
    _strip(str(tmp_path / "d"), "--strip", str(tmp_path / "out"))
    expected = bom + "\n".join(lines[:2] + lines[3:]).encode(encoding)
    assert (tmp_path / "out" / "a.txt").read_bytes() == expected


def test_compressed_inputs_are_compressed_again_under_the_same_name(tmp_path: Path) -> None:
    def text(k: str) -> str:
        return f"{REPEAT} {k}\n{BODY} {k}\n{REPEAT} {k}\n"

    _write(tmp_path / "d" / "a.txt.gz", gzip.compress(text("a").encode()))
    _write(tmp_path / "d" / "b.txt.zst", zstandard.ZstdCompressor().compress(text("b").encode()))
    records = [{"id": "r", "text": f"{REPEAT} c\n{OTHER}\n{REPEAT} c"}, {"id": "s", "text": OTHER + " khác"}]
    _write(tmp_path / "d" / "c.jsonl.gz", gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode()))
    _strip(str(tmp_path / "d"), "--strip", str(tmp_path / "out"))
    out = tmp_path / "out"
    assert sorted(_files(out)) == ["a.txt.gz", "b.txt.zst", "c.jsonl.gz"]
    assert gzip.decompress((out / "a.txt.gz").read_bytes()) == f"{REPEAT} a\n{BODY} a\n".encode()
    assert zstandard.ZstdDecompressor().decompressobj().decompress((out / "b.txt.zst").read_bytes()) == (
        f"{REPEAT} b\n{BODY} b\n".encode()
    )
    (first, second) = gzip.decompress((out / "c.jsonl.gz").read_bytes()).decode().splitlines()
    assert json.loads(first) == {"id": "r", "text": f"{REPEAT} c\n{OTHER}"} and json.loads(second) == records[1]
    # The copies read back as the inputs do, without the repeats.
    assert find_repeated_blocks(list(read_documents([out]))).groups == []


def test_jsonl_records_change_only_in_their_text_value(tmp_path: Path) -> None:
    big = "123456789012345678901234567890"
    changed = (
        f'{{ "n" :  {big} ,"text"  :"{REPEAT}\\n{REPEAT}" , "x": NaN,"text":"{REPEAT}\\n{BODY}\\n{REPEAT}",'
        f'"f":1.50, "id":"j" }}'
    )
    kept = f'{{"text": "{OTHER}\\n{OTHER} khác", "z": [1,  2], "n": {big}}}'
    unique = "Một câu riêng chỉ có ở đây thôi"
    last = f'{{"text": "{unique}\\n{unique}", "e": 1e400}}'
    src = [changed, kept, "not json", "", "[1, 2]", last]
    _write(tmp_path / "d" / "dump.jsonl", "\r\n".join(src))  # CRLF, no line end at the end
    _strip(str(tmp_path / "d"), "--strip", str(tmp_path / "out"))
    got = (tmp_path / "out" / "dump.jsonl").read_bytes().decode("utf-8").split("\r\n")
    # The later "text" key is the text (as json.loads and orjson take it); only its value changes.
    assert got[0] == changed.replace(f"{REPEAT}\\n{BODY}\\n{REPEAT}", f"{REPEAT}\\n{BODY}")
    assert got[1:5] == src[1:5]
    assert got[5] == f'{{"text": "{unique}", "e": 1e400}}'
    assert len(got) == len(src)


def test_unchanged_files_are_byte_identical(tmp_path: Path) -> None:
    src = tmp_path / "d"
    _write(src / "plain.txt", f"{BODY}\r\n{OTHER}\r\n")
    _write(src / "latin.txt", encode_cp1258(f"{BODY} hôm nay\n"))
    _write(src / "dump.jsonl", f'{{"text": "{OTHER} nữa", "n": 123456789012345678901234567890}}\nnot json')
    _write(src / "table.csv", f'id,text\n1,"{REPEAT}\n{REPEAT}"\n')  # CSV: copied unchanged
    _write(src / "empty.txt", b"")
    _write(src / "u.txt.gz", gzip.compress(f"{BODY} riêng\n".encode(), mtime=12345))
    _write(src / "u.jsonl.zst", zstandard.ZstdCompressor().compress(b'{"text": "x"}\n{"text": "x"}'))
    _strip(str(src), "--strip", str(tmp_path / "out"))
    assert _files(tmp_path / "out") == _files(src)


def test_a_lone_surrogate_never_raises(tmp_path: Path) -> None:
    _write(tmp_path / "d" / "s.jsonl", f'{{"text": "\\udc80 {BODY}\\n{REPEAT}\\n{REPEAT}"}}\n')
    _strip(str(tmp_path / "d"), "--strip", str(tmp_path / "out"))
    expected = '{"text": ' + json.dumps(f"\udc80 {BODY}\n{REPEAT}") + "}\n"
    assert (tmp_path / "out" / "s.jsonl").read_text(encoding="ascii") == expected


# --- properties -------------------------------------------------------------------


@given(line_documents())
def test_stripping_is_idempotent_and_leaves_clean_documents_alone(docs: list[str]) -> None:
    result = find_repeated_blocks(docs)
    stripped = [strip_text(text, result.spans_to_strip(i)) for i, text in enumerate(docs)]
    for i, text in enumerate(docs):
        if not result.spans_to_strip(i):
            assert stripped[i] == text
    assert find_repeated_blocks(stripped).groups == []


@settings(max_examples=25)
@given(jsonl_records())
def test_jsonl_copies_are_idempotent_and_change_only_text_values(lines: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _write(root / "in" / "dump.jsonl", b"\n".join(lines))
        spans = find_repeated_blocks(list(read_documents([root / "in"])))

        def clean(number: int, text: str) -> str:
            return strip_text(text, spans.spans_to_strip(number))

        write_cleaned_copies([root / "in"], root / "once", clean)
        once = (root / "once" / "dump.jsonl").read_bytes().split(b"\n")
        assert len(once) == len(lines)
        for before, after in zip(lines, once, strict=True):
            if before != after:
                old, new = json.loads(before), json.loads(after)
                assert {k: v for k, v in old.items() if k != "text"} == {k: v for k, v in new.items() if k != "text"}
        again = find_repeated_blocks(list(read_documents([root / "once"])))
        assert again.groups == []
        write_cleaned_copies([root / "once"], root / "twice", lambda number, text: text)
        assert (root / "twice" / "dump.jsonl").read_bytes() == (root / "once" / "dump.jsonl").read_bytes()
