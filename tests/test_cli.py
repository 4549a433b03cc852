"""The command line: formats, exit codes, determinism, help."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dedup.cli import _exit_status, app

runner = CliRunner()


@pytest.fixture
def news_dir(tmp_path: Path, seed_texts: dict[str, str]) -> Path:
    folder = tmp_path / "news"
    (folder / "sub").mkdir(parents=True)
    (folder / "000.txt").write_text(seed_texts["000"], encoding="utf-8")
    (folder / "001.txt").write_text(seed_texts["001"], encoding="utf-8")
    (folder / "sub" / "000-nfd.txt").write_text(unicodedata.normalize("NFD", seed_texts["000"]), encoding="utf-8")
    (folder / "zz.jsonl").write_text(
        json.dumps({"id": "j1", "text": seed_texts["001"].upper()}) + "\n" + "{oops\n", encoding="utf-8"
    )
    return folder


def _scan(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["scan", *args])
    return result.exit_code, result.stdout, result.stderr


def test_jsonl_clusters(news_dir: Path) -> None:
    code, out, err = _scan(str(news_dir), "--format", "jsonl")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert records == [
        {
            "cluster": 0,
            "size": 2,
            "keep": "000.txt",
            "members": [{"id": "000.txt", "similarity": 1.0}, {"id": "sub/000-nfd.txt", "similarity": 1.0}],
        },
        {
            "cluster": 1,
            "size": 2,
            "keep": "001.txt",
            "members": [{"id": "001.txt", "similarity": 1.0}, {"id": "j1", "similarity": 1.0}],
        },
    ]
    assert f"skipped {news_dir}/zz.jsonl:2: line is not valid JSON" in err
    assert "4 documents read, 1 skipped (line is not valid JSON: 1), 2 clusters, 2 duplicates" in err
    assert "Traceback" not in err


def test_csv_and_pairs(news_dir: Path) -> None:
    code, out, _ = _scan(str(news_dir), "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["cluster", "id", "keep", "similarity"]
    assert rows[1:] == [
        ["0", "000.txt", "000.txt", "1.0"],
        ["0", "sub/000-nfd.txt", "000.txt", "1.0"],
        ["1", "001.txt", "001.txt", "1.0"],
        ["1", "j1", "001.txt", "1.0"],
    ]
    _, out, _ = _scan(str(news_dir), "--format", "jsonl", "--pairs")
    pairs = [json.loads(line) for line in out.splitlines()]
    assert [sorted(p) for p in pairs] == [["a", "b", "estimate", "similarity"]] * 2
    assert [(p["a"], p["b"]) for p in pairs] == [("000.txt", "sub/000-nfd.txt"), ("001.txt", "j1")]


def test_table_output_and_verbose(news_dir: Path) -> None:
    code, out, err = _scan(str(news_dir), "--verbose")
    assert code == 0 and "2 clusters" in out and "sub/000-nfd.txt" in out
    assert "21 bands x 6 rows" in err


def test_output_file_and_byte_identical_across_workers(news_dir: Path, tmp_path: Path) -> None:
    outputs = []
    for workers in ("1", "2", "1"):
        target = tmp_path / f"out-{len(outputs)}.jsonl"
        code, out, _ = _scan(str(news_dir), "--format", "jsonl", "--workers", workers, "--output", str(target), "-q")
        assert code == 0 and out == ""
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2] and outputs[0]


def test_fail_on_duplicates(news_dir: Path, tmp_path: Path) -> None:
    assert _scan(str(news_dir), "--fail-on-duplicates", "-q")[0] == 3
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    (lonely / "a.txt").write_text("một câu chuyện riêng", encoding="utf-8")
    assert _scan(str(lonely), "--fail-on-duplicates", "-q")[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threshold", "1.5"], "threshold"),
        (["--shingle", "word"], "shingle"),
        (["--workers", "0"], "workers"),
    ],
)
def test_usage_errors_exit_2(news_dir: Path, args: list[str], message: str) -> None:
    code, _, err = _scan(str(news_dir), *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_unwritable_output_exits_1(news_dir: Path, tmp_path: Path) -> None:
    code, _, err = _scan(str(news_dir), "--output", str(tmp_path / "no" / "such" / "dir" / "out.jsonl"))
    assert code == 1 and err.count("dedup: error:") == 1


def test_missing_path_one_line_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dedup", "scan", str(tmp_path / "missing")], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no such file or directory" in proc.stderr
    assert proc.stdout == ""


def test_every_command_has_help() -> None:
    names = [c.name or c.callback.__name__ for c in app.registered_commands if c.callback]
    assert "scan" in names
    for command in [[], *[[name] for name in names]]:
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.stdout, command


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("dedup ")


def test_table_output_escapes_markup_in_ids_and_text(tmp_path: Path) -> None:
    text = "[Video] Tin nóng: bão số 3 đổ bộ vào miền Trung chiều nay [/bold]"
    for name in ("[draft] a.txt", "[red] b.txt"):
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["scan", str(tmp_path)])
    assert result.exit_code == 0 and "[draft] a.txt" in result.stdout and "[red] b.txt" in result.stdout
    (tmp_path / "[draft] a.txt").write_text(text + "\n" + text, encoding="utf-8")
    result = runner.invoke(app, ["blocks", str(tmp_path)])
    assert result.exit_code == 0 and "[Video]" in result.stdout


def test_dash_h_and_panels() -> None:
    result = runner.invoke(app, ["scan", "-h"])
    assert result.exit_code == 0
    sections = [line for line in result.stdout.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert sections == ["Arguments:", "Input:", "Matching:", "Output:", "Performance:", "Other options:"]
    # The common options come first, and the whole help fits a screen.
    assert result.stdout.index("--threshold") < result.stdout.index("--num-perm")
    assert len(result.stdout.splitlines()) <= 55


def test_singular_and_plural_in_summaries(tmp_path: Path) -> None:
    story = "Mỹ và Taliban nối lại đàm phán hòa bình tại thủ đô Doha của Qatar"
    (tmp_path / "a.txt").write_text(story, encoding="utf-8")
    (tmp_path / "b.txt").write_text(story + "!", encoding="utf-8")
    err = runner.invoke(app, ["scan", str(tmp_path)]).stderr
    assert "2 documents read, 0 skipped, 1 cluster, 1 duplicate (" in err
    (tmp_path / "c.txt").write_text(story.upper(), encoding="utf-8")
    err = runner.invoke(app, ["scan", str(tmp_path / "a.txt")]).stderr
    assert "1 document read, 0 skipped, 0 clusters, 0 duplicates (" in err


def test_unsupported_extensions_are_named(tmp_path: Path) -> None:
    for name in ("a.xml", "b.xml", "c.pdf"):
        (tmp_path / name).write_text("<p>tin</p>", encoding="utf-8")
    result = runner.invoke(app, ["scan", str(tmp_path)])
    assert result.exit_code == 0
    assert "3 files with unsupported extensions not read: .pdf, .xml (2)" in result.stderr
    assert "0 documents read" in result.stderr


def test_progress_reports_percent_of_bytes() -> None:
    from dedup.cli import _Progress

    with _Progress(True, "reading", 1000) as bar:
        bar.on_read(250)
        bar.on_documents(7)
        assert bar.bar is not None
        task = bar.bar.tasks[0]
        assert task.percentage == 25.0 and task.fields["documents"] == 7
        bar.stage("grouping", restart=True)
        bar.on_read(100)
        assert bar.bar.tasks[0].percentage == 10.0 and bar.bar.tasks[0].description == "grouping"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["blocks", "--strip-boilerplate"], "--strip-boilerplate needs --strip"),
        (["scan", "--workers", "100000"], "workers must be between 1 and 256"),
        (["blocks", "--workers", "100000"], "workers must be between 1 and 256"),
    ],
)
def test_more_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "a.txt").write_text("một bài báo ngắn thôi", encoding="utf-8")
    result = runner.invoke(app, [args[0], str(tmp_path), *args[1:]])
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_console_entry_ends_without_teardown_but_keeps_output_and_status(tmp_path: Path) -> None:
    """The console entry ends the process right after the command (no
    interpreter teardown): standard output is complete, the exit status is
    the command's, stderr's last line is there."""
    story = "Mỹ và Taliban nối lại đàm phán hòa bình tại thủ đô Doha của Qatar hôm nay"
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text(story, encoding="utf-8")
    entry = [sys.executable, "-m", "dedup", "scan", str(tmp_path), "--format", "jsonl", "-q"]
    done = subprocess.run(entry, capture_output=True, text=True)
    assert done.returncode == 0
    assert [json.loads(line)["size"] for line in done.stdout.splitlines()] == [3]
    done = subprocess.run([*entry, "--fail-on-duplicates"], capture_output=True, text=True)
    assert done.returncode == 3 and done.stdout.count("\n") == 1
    done = subprocess.run([*entry[:4], str(tmp_path / "missing")], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.strip().endswith("no such file or directory")


def test_exit_status_is_what_sys_exit_gives(capsys: pytest.CaptureFixture[str]) -> None:
    assert [_exit_status(c) for c in (None, 0, 3, 130, 256 + 2)] == [0, 0, 3, 130, 2]
    assert _exit_status("dedup: error: gone") == 1
    assert capsys.readouterr().err == "dedup: error: gone\n"


def test_console_entry_with_stdout_closed_shows_no_traceback(tmp_path: Path) -> None:
    """``dedup scan ... >&-``: Python starts with no sys.stdout; the entry's
    final flush must not turn that into a traceback."""
    (tmp_path / "a.txt").write_text("một bài báo ngắn thôi", encoding="utf-8")
    closed = ["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m", "dedup", "scan", str(tmp_path), "-q"]
    done = subprocess.run(closed, capture_output=False, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr == "dedup: error: cannot write to stdout: it is closed (give --output FILE)\n"
    # With --output the closed stdout is not needed; its descriptor, held on
    # /dev/null, is not handed to a file the scan opens.
    out = tmp_path / "out.jsonl"
    done = subprocess.run([*closed, "-o", str(out), "--format", "jsonl"], stderr=subprocess.PIPE, text=True)
    assert done.returncode == 0 and done.stderr == "" and out.read_text(encoding="utf-8") == ""


def test_console_entry_with_stderr_closed_still_writes_its_output(tmp_path: Path) -> None:
    """``dedup scan ... 2>&-``: no stderr to report on; the output is whole."""
    story = "Mỹ và Taliban nối lại đàm phán hòa bình tại thủ đô Doha của Qatar hôm nay"
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(story, encoding="utf-8")
    closed = ["sh", "-c", 'exec "$@" 2>&-', "sh", sys.executable, "-m", "dedup", "scan", str(tmp_path)]
    done = subprocess.run([*closed, "--format", "jsonl"], capture_output=True, text=True)
    assert done.returncode == 0
    assert [json.loads(line)["size"] for line in done.stdout.splitlines()] == [2]


def test_console_entry_exits_normally_once_multiprocessing_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """With multiprocessing loaded (the dask engine), the entry leaves through
    SystemExit so its finalizers run (no os._exit: its resource tracker would
    report leaked semaphores after an interrupted run)."""
    import signal

    import dedup.cli

    def command() -> None:
        raise SystemExit(3)

    previous = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(dedup.cli, "app", command)
    monkeypatch.setitem(sys.modules, "multiprocessing", sys.modules.get("multiprocessing") or object())
    try:
        with pytest.raises(SystemExit) as done:
            dedup.cli.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert done.value.code == 3
