"""Reading inputs (files, folders, JSONL dumps, compressed) and writing outputs.

Inputs, per DESIGN.md: files or folders (recursed, hidden entries skipped,
files in code-point order of their relative path). ``.txt`` and ``.md`` hold
one document per file; ``.jsonl`` and ``.ndjson`` one per line. Each may be
compressed (``.gz``, ``.zst``). A file given directly with another extension
is read as one text document.

Every input document is yielded either as a :class:`~dedup.document.Document`
or as a :class:`~dedup.document.Skipped` with its reason; nothing is dropped
silently.

Outputs are written atomically: to a temporary file in the target folder,
then renamed over the target, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import stat
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

import orjson
import zstandard

from dedup.document import Document, Skipped

__all__ = ["InputError", "InputFile", "atomic_writer", "collect_input_files", "read_documents"]

TEXT_SUFFIXES = (".txt", ".md")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
COMPRESSION_SUFFIXES = (".gz", ".zst")


class InputError(Exception):
    """An input PATH argument cannot be used at all (e.g. it does not exist)."""


@dataclass(frozen=True)
class InputFile:
    """A file to read: where it is, the name its documents carry, its format."""

    path: Path
    name: str
    kind: str  # "text" or "jsonl"
    compression: str | None  # None, "gz" or "zst"


def _classify(name: str) -> tuple[str, str | None] | None:
    lower = name.lower()
    compression = None
    for suffix in COMPRESSION_SUFFIXES:
        if lower.endswith(suffix):
            compression = suffix[1:]
            lower = lower[: -len(suffix)]
            break
    if lower.endswith(JSONL_SUFFIXES):
        return "jsonl", compression
    if lower.endswith(TEXT_SUFFIXES):
        return "text", compression
    return None


def _walk(root: Path) -> Iterator[tuple[Path, str]]:
    """Files under ``root`` with their POSIX path relative to it; hidden
    entries skipped; a symbolic link to a folder already visited is not
    followed again (no loops)."""
    seen: set[tuple[int, int]] = set()
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            st = folder.stat()
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = f"{prefix}{entry.name}"
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                stack.append((Path(entry.path), rel + "/"))
            else:
                yield Path(entry.path), rel


def collect_input_files(paths: Sequence[str | os.PathLike[str]]) -> list[InputFile]:
    """List the files to read, in input order.

    Args:
        paths: Files or folders, in the order given.

    Returns:
        Files of a supported kind, PATH arguments in order, each folder's
        files sorted by relative path (code point order).

    Raises:
        InputError: a path does not exist.
    """
    files: list[InputFile] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists() and not path.is_symlink():
            raise InputError(f"{os.fspath(raw)}: no such file or directory")
        if path.is_dir():
            found = []
            for file_path, rel in _walk(path):
                kind = _classify(rel)
                if kind is not None:
                    found.append(InputFile(file_path, rel, kind[0], kind[1]))
            found.sort(key=lambda f: f.name)
            files.extend(found)
        else:
            kind = _classify(path.name) or ("text", None)
            files.append(InputFile(path, os.fspath(raw), kind[0], kind[1]))
    return files


def _open_binary(file: InputFile) -> BinaryIO:
    raw = open(file.path, "rb")  # noqa: SIM115  # closed by the caller through the returned stream
    if file.compression == "gz":
        # GzipFile(fileobj=...) does not close the file it wraps: open by name.
        raw.close()
        return gzip.open(file.path, "rb")  # type: ignore[return-value]  # GzipFile is a binary stream
    if file.compression == "zst":
        return zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
    return raw


_TRUNCATION_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, zstandard.ZstdError)


def _decode(data: bytes) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _read_text_file(file: InputFile) -> Iterator[Document | Skipped]:
    try:
        with _open_binary(file) as stream:
            data = stream.read()
    except _TRUNCATION_ERRORS:
        yield Skipped(file.name, None, "compressed file is truncated or corrupt")
        return
    if b"\x00" in data:
        yield Skipped(file.name, None, "binary content (NUL bytes)")
        return
    text = _decode(data)
    if text is None:
        yield Skipped(file.name, None, "not valid UTF-8")
        return
    if not text.strip():
        yield Skipped(file.name, None, "empty document")
        return
    yield Document(file.name, text)


def _lines(stream: BinaryIO, chunk_size: int = 1 << 16) -> Iterator[bytes]:
    """Complete lines of a binary stream, read in chunks so that a stream
    that fails part-way (a truncated archive) has yielded every line before
    the failure; the error then propagates."""
    rest = b""
    # read1 returns what one underlying read produced, so a cut archive loses
    # at most the last partial chunk; read(n) would discard a whole chunk.
    read = getattr(stream, "read1", stream.read)
    while True:
        chunk = read(chunk_size)
        if not chunk:
            break
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield from lines
    if rest:
        yield rest


def _read_jsonl_file(file: InputFile, text_field: str, id_field: str) -> Iterator[Document | Skipped]:
    with _open_binary(file) as stream:
        line_no = 0
        try:
            for line_no, line in enumerate(_lines(stream), start=1):  # read after the loop
                if not line.strip():
                    continue
                yield _parse_jsonl_line(file.name, line_no, line, text_field, id_field)
        except _TRUNCATION_ERRORS:
            yield Skipped(file.name, None, f"compressed file is truncated or corrupt after line {line_no}")


def _loads(line: bytes) -> object:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        # orjson is strict where the standard library is lenient (NaN,
        # integers beyond 64 bits): give such lines a second chance.
        return json.loads(line)


def _parse_jsonl_line(name: str, line_no: int, line: bytes, text_field: str, id_field: str) -> Document | Skipped:
    try:
        record = _loads(line)
    except (ValueError, RecursionError):
        return Skipped(name, line_no, "line is not valid JSON")
    if not isinstance(record, dict):
        return Skipped(name, line_no, "line is not a JSON object")
    if text_field not in record:
        return Skipped(name, line_no, f"no {text_field!r} field")
    text = record[text_field]
    if not isinstance(text, str):
        return Skipped(name, line_no, f"{text_field!r} is not a string")
    doc_id = record.get(id_field)
    if doc_id is None or isinstance(doc_id, (dict, list)):
        doc_id = f"{name}:{line_no}"
    elif not isinstance(doc_id, str):
        doc_id = json.dumps(doc_id)
    if not text.strip():
        return Skipped(name, line_no, "empty document")
    return Document(doc_id, text)


def _read_file(file: InputFile, text_field: str, id_field: str) -> Iterator[Document | Skipped]:
    try:
        mode = file.path.stat().st_mode
    except OSError as err:
        yield Skipped(file.name, None, f"cannot read: {err.strerror or err}")
        return
    if not stat.S_ISREG(mode):
        yield Skipped(file.name, None, "not a regular file")
        return
    try:
        if file.kind == "jsonl":
            yield from _read_jsonl_file(file, text_field, id_field)
        else:
            yield from _read_text_file(file)
    except OSError as err:
        yield Skipped(file.name, None, f"cannot read: {err.strerror or err}")


def read_documents(
    paths: Sequence[str | os.PathLike[str]],
    *,
    text_field: str = "text",
    id_field: str = "id",
    on_file: Callable[[InputFile], None] | None = None,
) -> Iterator[Document | Skipped]:
    """Yield every document under ``paths``, in input order.

    Args:
        paths: Files or folders.
        text_field: JSONL field holding the text.
        id_field: JSONL field holding the id (else ``FILE:LINE``).
        on_file: Called with each file before it is read (for progress).

    Yields:
        A Document for each readable document, a Skipped for every other.

    Raises:
        InputError: a path does not exist (raised before anything is yielded).
    """
    files = collect_input_files(paths)
    for file in files:
        if on_file is not None:
            on_file(file)
        yield from _read_file(file, text_field, id_field)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """Open ``path`` for writing text so that it appears whole or not at all.

    The text goes to a temporary file beside ``path``, which replaces it on
    success and is removed on any error.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
