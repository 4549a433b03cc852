"""Outputs: whole or not at all, never over an input, through links, into
FIFOs and devices, modes kept, unwritable places found before any work."""

from __future__ import annotations

import gzip
import json
import os
import re
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from typer.testing import CliRunner

from dedup.cli import app
from dedup.errors import OutputError, UsageError
from dedup.io import InputFile, collect_input_files
from dedup.output import check_output_folder, check_outputs, open_output

runner = CliRunner()


@pytest.fixture
def umask() -> Iterator[None]:
    """Restore the process umask after a test that sets it."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def inputs(tmp_path: Path) -> list[InputFile]:
    folder = tmp_path / "oi"
    folder.mkdir()
    (folder / "a.txt").write_text("an input that must survive\n")
    (folder / "b.txt").write_text("another one\n")
    return collect_input_files([folder])


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- item 1: never over an input ---------------------------------------------


def test_output_onto_input_refused_before_any_work(tmp_path: Path) -> None:
    folder = tmp_path / "oi"
    folder.mkdir()
    (folder / "a.txt").write_text("the input\n")
    (folder / "b.txt").write_text("the input\n")
    result = runner.invoke(app, ["scan", str(folder), "--output", str(folder / "a.txt")])
    assert result.exit_code == 2
    assert str(folder / "a.txt") in result.stderr and "Traceback" not in result.stderr
    assert (folder / "a.txt").read_text() == "the input\n"
    assert _files(folder) == ["a.txt", "b.txt"]


def test_output_resolving_to_input_refused(tmp_path: Path, inputs: list[InputFile]) -> None:
    target = inputs[0].path
    (tmp_path / "link").symlink_to(target)
    os.link(target, tmp_path / "hard")
    for name in (str(target), str(tmp_path / "link"), str(tmp_path / "hard"), f"{target.parent}/../oi/a.txt"):
        with pytest.raises(UsageError, match=r"--errors .* is an input file"):
            check_outputs([("--output", tmp_path / "out.jsonl"), ("--errors", name)], inputs)
    assert target.read_text() == "an input that must survive\n"


def test_output_beside_inputs_allowed(tmp_path: Path, inputs: list[InputFile]) -> None:
    check_outputs([("--output", str(inputs[0].path.parent / "new.jsonl")), ("--errors", None)], inputs)


# --- item 5: one file for two outputs ----------------------------------------


def test_same_output_twice_refused(tmp_path: Path, inputs: list[InputFile]) -> None:
    new = tmp_path / "same.jsonl"
    with pytest.raises(UsageError, match="same file"):
        check_outputs([("--output", str(new)), ("--errors", str(new))], inputs)
    with pytest.raises(UsageError, match="same file"):  # spelled differently, not there yet
        check_outputs([("--output", str(new)), ("--errors", f"{tmp_path}/./x/../same.jsonl")], inputs)
    new.write_text("")
    (tmp_path / "link").symlink_to(new)
    with pytest.raises(UsageError, match="--output and --errors"):
        check_outputs([("--output", str(new)), ("--errors", str(tmp_path / "link"))], inputs)
    with pytest.raises(UsageError, match="stdout"):
        check_outputs([("--output", "-"), ("--errors", "-")], inputs)


def test_same_output_twice_refused_by_the_cli(tmp_path: Path, inputs: list[InputFile]) -> None:
    same = tmp_path / "same.jsonl"
    result = runner.invoke(
        app, ["scan", str(inputs[0].path.parent), "--format", "jsonl", "--output", str(same), "--errors", str(same)]
    )
    assert result.exit_code == 2 and "same file" in result.stderr
    assert not same.exists()


def test_a_device_takes_several_outputs(inputs: list[InputFile]) -> None:
    check_outputs([("--output", os.devnull), ("--errors", os.devnull)], inputs)


def test_empty_output_path_is_a_usage_error(inputs: list[InputFile]) -> None:
    with pytest.raises(UsageError, match="output path is empty"):
        check_outputs([("--output", "")], inputs)
    with pytest.raises(UsageError, match="output path is empty"), open_output(""):
        pass


# --- item 6: modes ------------------------------------------------------------


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_file_follows_umask(tmp_path: Path, umask: None, mask: int, mode: int) -> None:
    os.umask(mask)
    with open_output(tmp_path / "out.jsonl") as out:
        out.write("x\n")
    assert stat.S_IMODE((tmp_path / "out.jsonl").stat().st_mode) == mode


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_replaced_file_keeps_its_mode(tmp_path: Path, umask: None, mode: int) -> None:
    os.umask(0o077)
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    target.chmod(mode)
    with open_output(target) as out:
        out.write("new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == mode


# --- item 7: links, FIFOs, devices, stdout ------------------------------------


def test_symlink_written_through_stays_a_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "report.jsonl"
    target.write_text("old\n")
    target.chmod(0o640)
    link = tmp_path / "latest.jsonl"
    link.symlink_to(Path("real") / "report.jsonl")
    with open_output(link) as out:
        out.write("new\n")
    assert link.is_symlink() and os.readlink(link) == os.path.join("real", "report.jsonl")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert _files(tmp_path) == ["latest.jsonl", "real"] and _files(tmp_path / "real") == ["report.jsonl"]


def test_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.jsonl"
    link.symlink_to("made.jsonl")
    with open_output(link) as out:
        out.write("new\n")
    assert link.is_symlink() and (tmp_path / "made.jsonl").read_text() == "new\n"


def test_fifo_streamed_and_kept(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    check_outputs([("--output", str(fifo))], [])  # must not block: a FIFO is not opened by the check
    received: list[bytes] = []
    # A daemon: if the FIFO were replaced, the reader would wait forever.
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    with open_output(fifo) as out:
        out.write("streamed \udcff\n")
    reader.join(timeout=10)
    assert received == [b"streamed \\udcff\n"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert _files(tmp_path) == ["fifo"]


def test_character_device_streamed(tmp_path: Path) -> None:
    # Through a link, so that code which replaces its target (as the old
    # writer did) breaks the link in tmp_path, never /dev/null itself.
    null = tmp_path / "null"
    null.symlink_to(os.devnull)
    with open_output(null) as out:
        out.write("gone\n")
    with open_output(null, binary=True, compress=True) as raw:
        raw.write(b"gone\n")
    assert null.is_symlink() and stat.S_ISCHR(null.stat().st_mode)
    assert _files(tmp_path) == ["null"]


def test_stdout_streamed_never_closed(capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    print("before", flush=False)
    with open_output("-") as out:
        out.write("id \udcff é\n")
    with open_output(None, binary=True) as raw:
        raw.write(b"bytes\n")
    print("after")
    assert not sys.stdout.closed
    assert capfdbinary.readouterr().out == "before\nid \\udcff é\nbytes\nafter\n".encode()


# --- item 8: unwritable outputs found first, named as given ---------------------


def test_unwritable_outputs_found_by_the_check(tmp_path: Path, inputs: list[InputFile]) -> None:
    (tmp_path / "file.txt").write_text("a file, not a folder\n")
    cases = {
        str(tmp_path / "missing" / "out.jsonl"): "no such folder",
        str(tmp_path / "file.txt" / "out.jsonl"): "Not a directory",
        str(tmp_path): "it is a folder",
    }
    for name, reason in cases.items():
        with pytest.raises(OutputError, match="^" + re.escape(f"cannot write {name}: {reason}")) as caught:
            check_outputs([("--output", name)], inputs)
        assert ".tmp" not in str(caught.value)
    assert _files(tmp_path) == ["file.txt", "oi"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0555 folder; file.txt/out.jsonl covers root")
def test_read_only_folder_found_by_the_check(tmp_path: Path, inputs: list[InputFile]) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        message = "^" + re.escape(f"cannot write {folder}/out.jsonl: Permission denied")
        with pytest.raises(OutputError, match=message):
            check_outputs([("--output", str(folder / "out.jsonl"))], inputs)
        with pytest.raises(OutputError, match=message), open_output(folder / "out.jsonl"):
            pass
    finally:
        folder.chmod(0o755)


def test_unwritable_output_exits_before_reading(tmp_path: Path) -> None:
    folder = tmp_path / "oi"
    folder.mkdir()
    (folder / "a.txt").write_text("text\n")
    (tmp_path / "file.txt").write_text("")
    out = tmp_path / "file.txt" / "out.jsonl"
    result = runner.invoke(app, ["scan", str(folder), "--output", str(out), "--verbose"])
    assert result.exit_code == 1
    assert f"cannot write {out}" in result.stderr and ".tmp" not in result.stderr
    assert "documents read" not in result.stderr


def test_open_names_the_users_path(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("")
    for name in (tmp_path / "missing" / "out.jsonl", tmp_path / "file.txt" / "out.jsonl"):
        with pytest.raises(OutputError, match="^" + re.escape(f"cannot write {name}: ")) as caught, open_output(name):
            pass
        assert ".tmp" not in str(caught.value)


def test_output_folder_check(tmp_path: Path, inputs: list[InputFile]) -> None:
    check_output_folder("--strip", tmp_path / "oi" / "clean", inputs)  # inside an input folder: fine
    check_output_folder("--strip", tmp_path / "new" / "deeper", inputs)  # created later
    assert _files(tmp_path) == ["oi"]
    with pytest.raises(UsageError, match=r"--strip .* is an input file"):
        check_output_folder("--strip", inputs[0].path, inputs)
    (tmp_path / "file.txt").write_text("")
    with pytest.raises(OutputError, match=r"file\.txt/sub: "):
        check_output_folder("--strip", tmp_path / "file.txt" / "sub", inputs)
    with pytest.raises(UsageError, match="empty"):
        check_output_folder("--strip", "", inputs)


# --- whole or not at all ------------------------------------------------------


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failure_keeps_old_file_and_leaves_no_temp(tmp_path: Path, error: type[BaseException]) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    with pytest.raises(error), open_output(target) as out:
        out.write("half" * 100_000)
        raise error
    assert target.read_text() == "old\n"
    assert _files(tmp_path) == ["out.jsonl"]


_FILE_TOO_LARGE = """
import resource, secrets, signal, sys
from dedup.errors import OutputError
from dedup.output import open_output
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.RLIM_INFINITY))
try:
    with open_output(sys.argv[1], compress=True) as out:
        try:
            out.write(secrets.token_hex(100_000))  # incompressible enough
            out.flush()
        except OutputError as err:
            print("during:", err)
        # The writer goes on as if nothing happened: the output must still fail.
except OutputError as err:
    print("after:", err)
"""


@pytest.mark.parametrize("name", ["out.jsonl", "out.jsonl.zst"])
def test_failed_write_names_the_path_and_keeps_the_old_file(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    target.write_bytes(b"old\n")
    proc = subprocess.run(
        [sys.executable, "-c", _FILE_TOO_LARGE, str(target)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"during: cannot write {target}: File too large",
        f"after: cannot write {target}: File too large",
    ]
    assert target.read_bytes() == b"old\n"
    assert _files(tmp_path) == [name]


# --- encoding and compression -------------------------------------------------


def test_lone_surrogates_do_not_raise(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    with open_output(target) as out:
        out.write("id\nbad\udcff.txt\n")
    assert target.read_bytes() == b"id\nbad\\udcff.txt\n"


def test_text_is_utf8_with_newlines(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with open_output(target) as out:
        out.write("Tiếng Việt\r\nline\n")
    assert target.read_bytes() == "Tiếng Việt\r\nline\n".encode()


def test_gzip_is_deterministic(tmp_path: Path) -> None:
    data = "".join(json.dumps({"id": i, "text": "word " * i}) + "\n" for i in range(200))
    blobs = []
    for name in ("a.jsonl.gz", "b.jsonl.gz"):
        with open_output(tmp_path / name, compress=True) as out:
            out.write(data)
        blobs.append((tmp_path / name).read_bytes())
    assert blobs[0] == blobs[1]
    flags, mtime = blobs[0][3], int.from_bytes(blobs[0][4:8], "little")
    assert mtime == 0 and not flags & 0x08  # no time, no FNAME field
    assert gzip.decompress(blobs[0]).decode() == data


def test_zstd_by_suffix_and_plain_otherwise(tmp_path: Path) -> None:
    with open_output(tmp_path / "a.jsonl.zst", compress=True) as out:
        out.write("{}\n")
    reader = zstandard.ZstdDecompressor().decompressobj()
    assert reader.decompress((tmp_path / "a.jsonl.zst").read_bytes()) == b"{}\n"
    with open_output(tmp_path / "b.jsonl.gz") as out:  # compress not asked
        out.write("{}\n")
    assert (tmp_path / "b.jsonl.gz").read_bytes() == b"{}\n"


_WRITE_TO_STDOUT = """
import os, sys
from dedup.output import open_output
try:
    with open_output("-") as out:
        for _ in range(1000):
            out.write("x" * 10_000 + "\\n")
except BaseException as err:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # what the command line does on a broken pipe
    print(type(err).__name__, file=sys.stderr)
"""


def test_broken_stdout_pipe_is_a_broken_pipe() -> None:
    """``dedup ... | head``: the command line ends quietly on BrokenPipeError,
    so it must reach it as such (a file or a FIFO gets an OutputError)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITE_TO_STDOUT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away at once
    assert proc.stderr.read().strip() == "BrokenPipeError"
    assert proc.wait(timeout=60) == 0


def test_longest_file_name(tmp_path: Path) -> None:
    target = tmp_path / ("é" * 127)  # 254 bytes: a temporary name must not add to it
    with open_output(target) as out:
        out.write("x")
    check_outputs([("--output", str(target))], [])
    assert target.read_text() == "x" and _files(tmp_path) == [target.name]
