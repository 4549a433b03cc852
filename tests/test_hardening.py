"""Regressions found by trying issue 8's fixes as a hostile user would."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from dedup import find_repeated_blocks
from dedup.cli import app

runner = CliRunner()
LINE = "một hai ba bốn năm sáu bảy"


def test_output_and_strip_on_one_path_refused_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "d1").mkdir()
    (tmp_path / "d1" / "y.txt").write_text(f"{LINE}\n{LINE}\n", encoding="utf-8")
    for output, strip in [("out", "out"), ("rep", "rep/clean")]:
        args = ["blocks", str(tmp_path / "d1"), "-o", str(tmp_path / output), "--strip", str(tmp_path / strip)]
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "--output" in result.stderr and "--strip" in result.stderr
        assert not (tmp_path / output).exists()


def test_strip_copies_written_even_when_stdout_is_gone(tmp_path: Path) -> None:
    (tmp_path / "d1").mkdir()
    (tmp_path / "d1" / "y.txt").write_text(f"{LINE}\n{LINE}\n", encoding="utf-8")
    read, write = os.pipe()
    os.close(read)
    command = [sys.executable, "-m", "dedup", "blocks", "d1", "--strip", "clean", "-q"]
    proc = subprocess.run(command, cwd=tmp_path, stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    os.close(write)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert (tmp_path / "clean" / "y.txt").read_text(encoding="utf-8") == f"{LINE}\n"


def test_strip_path_with_dotdot_creates_no_stray_folder(tmp_path: Path) -> None:
    (tmp_path / "bl").mkdir()
    (tmp_path / "bl" / "y.txt").write_text(f"{LINE}\n{LINE}\n", encoding="utf-8")
    result = runner.invoke(app, ["blocks", str(tmp_path / "bl"), "--strip", str(tmp_path / "bl/sub/../clean"), "-q"])
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "bl").iterdir()) == ["clean", "y.txt"]


def test_integer_ids_beyond_64_bits_keep_every_digit(tmp_path: Path) -> None:
    huge = "9" * 5000
    lines = [
        '{"id": 123456789012345678901234567890, "text": "a b c d e f"}',
        '{"id": 123456789012345678901234567891, "text": "a b c d e f"}',
        '{"id": 1.50, "text": "a b c d e f"}',
        f'{{"id": {huge}, "text": "a b c d e f"}}',
    ]
    (tmp_path / "big.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["scan", str(tmp_path), "--format", "jsonl"])
    assert result.exit_code == 0 and "warning" not in result.stderr and "skipped big" not in result.stderr
    ids = [m["id"] for m in json.loads(result.stdout)["members"]]
    assert ids == ["123456789012345678901234567890", "123456789012345678901234567891", "1.50", huge]


def test_ids_unique_as_shown_in_csv(tmp_path: Path) -> None:
    lines = ['{"id": "\\ud800", "text": "a b c d e f"}', '{"id": "\\\\ud800", "text": "a b c d e f"}']
    (tmp_path / "sur.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["scan", str(tmp_path), "--format", "csv"])
    assert result.exit_code == 0
    rows = list(csv.reader(io.StringIO(result.stdout)))[1:]
    assert len({row[1] for row in rows}) == 2 and "renamed" in result.stderr


def test_control_characters_never_reach_the_terminal(tmp_path: Path) -> None:
    for name in ("x\x1b]0;PWNED\x07.txt", "esc\x1b[31mred.txt", "rtl\u202etxt.exe.txt"):
        (tmp_path / name).write_text("Mỹ và Taliban nối lại đàm phán hòa bình tại Doha", encoding="utf-8")
    (tmp_path / "bin\x1b[2J.txt").write_bytes(b"\x00binary")
    result = runner.invoke(app, ["scan", str(tmp_path)])
    assert result.exit_code == 0
    for stream in (result.stdout, result.stderr):
        assert "\x1b" not in stream and "\u202e" not in stream and "\x07" not in stream
    assert "esc\\x1b[31mred.txt" in result.stdout and "bin\\x1b[2J.txt" in result.stderr


def test_trailing_slash_names_a_folder(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(LINE, encoding="utf-8")
    result = runner.invoke(app, ["scan", str(tmp_path / "a.txt"), "-o", str(tmp_path / "nodir") + "/"])
    assert result.exit_code == 1 and "no such folder" in result.stderr
    assert not (tmp_path / "nodir").exists()


def test_memory_option_is_a_usage_error() -> None:
    for value in ("1Q", "-1G", "inf"):
        result = runner.invoke(app, ["scan", ".", "--memory", value])
        assert result.exit_code == 2 and "memory" in result.stderr and "ValueError" not in result.stderr


def test_blocks_in_scripts_without_spaces_count_characters() -> None:
    thai = "รัฐบาลไทยประกาศมาตรการกระตุ้นเศรษฐกิจใหม่เพื่อช่วยเหลือผู้ประกอบการ"
    japanese = "政府は今日、新たな経済対策を閣議決定した。"
    result = find_repeated_blocks([("th", f"{thai}\nข่าวอื่น\n{thai}\n{japanese}\n{japanese}\nพี่\nพี่\n")])
    assert [g.text for g in result.groups] == [thai, japanese]  # พี่ is 3 characters, under --min-words


def test_threads_that_cannot_start_leave_no_temporary_folder(tmp_path: Path) -> None:
    import resource

    dump = tmp_path / "d.jsonl"
    dump.write_text("".join(json.dumps({"text": f"{LINE} {i}"}) + "\n" for i in range(200)), encoding="utf-8")
    scratch = tmp_path / "tmp"
    scratch.mkdir()

    def limit() -> None:  # too little address space for 256 thread stacks: libgomp exits the process
        resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))

    proc = subprocess.run(
        [sys.executable, "-m", "dedup", "scan", str(dump), "--workers", "256", "-q"],
        env={**os.environ, "TMPDIR": str(scratch)},
        preexec_fn=limit,  # a resource limit for this child only; no threads are started before it
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr
    assert list(scratch.iterdir()) == []


def test_strip_stopped_half_way_says_how_far_it_got(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    for name in ("a.txt", "b.txt"):
        (tmp_path / "d" / name).write_text(f"{LINE}\n{LINE}\n", encoding="utf-8")
    (tmp_path / "clean" / "b.txt").mkdir(parents=True)  # the second copy cannot be written
    result = runner.invoke(app, ["blocks", str(tmp_path / "d"), "--strip", str(tmp_path / "clean"), "-q"])
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert f"1 cleaned copy written whole to {tmp_path / 'clean'} before this stopped" in result.stderr
    assert (tmp_path / "clean" / "a.txt").read_text(encoding="utf-8") == f"{LINE}\n"


def test_library_refuses_what_is_not_documents() -> None:
    import pytest

    from dedup import find_duplicates

    for call in (lambda: find_duplicates("abc"), lambda: find_repeated_blocks("abc")):
        with pytest.raises(TypeError, match="single string"):
            call()
    with pytest.raises(TypeError, match="decode bytes first"):
        find_duplicates([b"ab", b"ab"])
    with pytest.raises(TypeError, match="document 1 must be"):
        find_duplicates(["a b", ("id", 5)])


def test_file_names_that_are_not_utf8_in_every_format(tmp_path: Path) -> None:
    story = "Mỹ và Taliban nối lại đàm phán hòa bình tại Doha".encode()
    for name in (b"a\xff.txt", b"b\xfe.txt"):
        with open(os.path.join(os.fsencode(tmp_path), name), "wb") as f:
            f.write(story)
    for output_format in ("table", "jsonl", "csv"):
        out = tmp_path.parent / f"{tmp_path.name}-{output_format}.out"
        result = runner.invoke(app, ["scan", str(tmp_path), "--format", output_format, "-o", str(out)])
        assert result.exit_code == 0 and "Traceback" not in result.stderr, result.stderr
        written = out.read_text(encoding="utf-8")  # valid UTF-8 whatever the names
        assert "\\udcff" in written  # the undecodable byte 0xff, spelled out


def test_empty_output_path_is_a_usage_error_for_every_command(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(LINE, encoding="utf-8")
    for args in (
        ["scan", str(tmp_path), "--output", ""],
        ["scan", str(tmp_path), "--errors", ""],
        ["blocks", str(tmp_path), "--output", ""],
        ["blocks", str(tmp_path), "--strip", ""],
        ["generate", ""],
        ["bench", str(tmp_path), "--output", ""],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "empty" in result.stderr, (args, result.stderr)
