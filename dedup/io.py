"""Reading inputs (files, folders, JSONL dumps, compressed) and writing outputs.

Inputs, per DESIGN.md: files or folders (recursed, hidden entries skipped,
files in code-point order of their relative path). ``.txt`` and ``.md`` hold
one document per file (UTF-8, UTF-16 with a BOM, or a legacy encoding that
charset-normalizer identifies, such as cp1258 or cp1252); ``.jsonl`` and
``.ndjson`` one per line; ``.csv`` one per row (header names the fields);
``.parquet`` one per row (needs pyarrow); ``.html``/``.htm`` one page per
file and ``.warc`` one page per HTML response record (:mod:`dedup.web`,
needs the ``web`` extra). All but Parquet may be compressed
(``.gz``, ``.zst``); a cut archive yields every document before the cut. A
file given directly with another extension is read as one text document.
Only regular files are opened (never a FIFO or a device).

Every input document is yielded either as a :class:`~dedup.document.Document`
or as a :class:`~dedup.document.Skipped` with its reason; nothing is dropped
silently.

Outputs are written by :mod:`dedup.output` (atomically: a temporary file in
the target folder renamed over the target, so a reader never sees half a file).
"""

from __future__ import annotations

import collections
import contextlib
import csv
import dataclasses
import json
import os
import stat
import zlib
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from io import FileIO
from pathlib import Path
from typing import IO, Any, overload

import numpy as np
import numpy.typing as npt
import orjson

from dedup import web
from dedup._kernels import ID_ESCAPED, ID_PLAIN, ID_TOKEN, LINE_BLANK, LINE_EMPTY, LINE_OK, jsonl_kernel
from dedup._threads import resolve_workers
from dedup.config import check_html_text
from dedup.document import Document, Skipped
from dedup.errors import InputError
from dedup.output import open_output

__all__ = [
    "DocumentStream",
    "InputError",
    "InputFile",
    "InputSet",
    "PackedTexts",
    "atomic_writer",
    "collect_input_files",
    "collect_inputs",
    "read_documents",
    "read_jsonl_range",
]

TEXT_SUFFIXES = (".txt", ".md")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet",)
HTML_SUFFIXES = (".html", ".htm")
WARC_SUFFIXES = (".warc",)
WEB_KINDS = ("html", "warc")
COMPRESSION_SUFFIXES = (".gz", ".zst")


@dataclass(frozen=True)
class InputFile:
    """A file to read: where it is, the name its documents carry, its format.

    Attributes:
        path: Where the file is.
        name: The name its documents carry (relative path under its PATH
            argument, POSIX separators; a file given directly: as given).
        kind: ``"text"``, ``"jsonl"``, ``"csv"``, ``"parquet"``, ``"html"``
            or ``"warc"``.
        compression: None, ``"gz"`` or ``"zst"``.
        root: The PATH argument it was found under, as given.
        argument: Index of that PATH argument (0-based, in the order given).
        duplicate: True when an earlier entry is the same real file (the
            same file given twice, or reached through a link): it is not
            read, and reported as skipped (``duplicate input``).
        problem: Why a folder could not be listed (kind ``"unreadable"``):
            reported as skipped with this reason.
    """

    path: Path
    name: str
    kind: str
    compression: str | None
    root: str = ""
    argument: int = 0
    duplicate: bool = False
    problem: str | None = None

    @property
    def qualified(self) -> str:
        """The name with its PATH argument prefixed (``d2/y.txt``): unique
        among the files of one call, used to qualify colliding ids."""
        if not self.root or self.path == Path(self.root):  # given directly: already as given
            return self.name
        return f"{self.root.rstrip('/')}/{self.name}" if self.root.rstrip("/") else f"/{self.name}"


@dataclass
class InputSet:
    """Everything found under the PATH arguments, before any file is read.

    Attributes:
        files: Files of a supported kind in input order (duplicates included,
            marked, so they can be reported where they occur).
        unsupported: Names of files in the folders whose extension no reader
            takes (counted and named in the summary, never read).
    """

    files: list[InputFile]
    unsupported: list[str]

    @property
    def total_bytes(self) -> int:
        """Size on disk of the files to read (0 for those that cannot be stat'ed)."""
        total = 0
        for file in self.files:
            if not file.duplicate:
                with contextlib.suppress(OSError):
                    total += file.path.stat().st_size
        return total


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
    if lower.endswith(CSV_SUFFIXES):
        return "csv", compression
    if lower.endswith(PARQUET_SUFFIXES) and compression is None:
        return "parquet", None
    if lower.endswith(TEXT_SUFFIXES):
        return "text", compression
    if lower.endswith(HTML_SUFFIXES):
        return "html", compression
    if lower.endswith(WARC_SUFFIXES):
        return "warc", compression
    return None


def _walk(root: Path, excluded: AbstractSet[tuple[int, int]] = frozenset()) -> Iterator[tuple[Path, str, str | None]]:
    """Files under ``root`` with their POSIX path relative to it; hidden
    entries and ``excluded`` folders skipped; a symbolic link to a folder
    already visited is not followed again (no loops). A folder that cannot
    be listed comes as ``(folder, rel, reason)``: what it holds cannot be
    read, and that must be said, not skipped silently."""
    seen: set[tuple[int, int]] = set(excluded)
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
        except OSError as err:
            yield folder, prefix.rstrip("/") or ".", f"cannot read folder: {err.strerror or err}"
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
                yield Path(entry.path), rel, None


def _identity(path: Path) -> tuple[int, int] | None:
    """``(device, inode)`` of the real file behind ``path``, or None."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def collect_inputs(
    paths: Sequence[str | os.PathLike[str]], *, exclude: Sequence[str | os.PathLike[str]] = ()
) -> InputSet:
    """List the files to read, in input order, without reading them.

    Args:
        paths: Files or folders, in the order given.
        exclude: Folders never read as input even when inside a PATH (an
            output folder of the same call, e.g. ``blocks --strip``).

    Returns:
        Files of a supported kind, PATH arguments in order, each folder's
        files sorted by relative path (code point order); the same real file
        reached a second time is kept but marked ``duplicate``; and the names
        of files with unsupported extensions.

    Raises:
        InputError: a path is empty or does not exist.
    """
    excluded = {ident for ident in (_identity(Path(e)) for e in exclude) if ident is not None}
    files: list[InputFile] = []
    unsupported: list[str] = []
    for argument, raw in enumerate(paths):
        root = os.fspath(raw)
        if root == "":
            raise InputError("an input PATH is empty")
        path = Path(raw)
        if not path.exists() and not path.is_symlink():
            raise InputError(f"{root}: no such file or directory")
        if path.is_dir():
            found = []
            for file_path, rel, problem in _walk(path, excluded):
                kind = _classify(rel)
                if problem is not None:
                    found.append(InputFile(file_path, rel, "unreadable", None, root, argument, problem=problem))
                elif kind is None:
                    unsupported.append(rel)
                else:
                    found.append(InputFile(file_path, rel, kind[0], kind[1], root, argument))
            found.sort(key=lambda f: f.name)
            files.extend(found)
        else:
            kind = _classify(path.name) or ("text", None)
            files.append(InputFile(path, root, kind[0], kind[1], root, argument))
    seen: set[tuple[int, int]] = set()
    for index, file in enumerate(files):
        if file.problem is not None:
            continue
        ident = _identity(file.path)
        if ident is None:
            continue
        if ident in seen:
            files[index] = dataclasses.replace(file, duplicate=True)
        seen.add(ident)
    return InputSet(files, unsupported)


def collect_input_files(
    paths: Sequence[str | os.PathLike[str]], *, exclude: Sequence[str | os.PathLike[str]] = ()
) -> list[InputFile]:
    """The files of :func:`collect_inputs` (duplicates marked).

    Raises:
        InputError: a path does not exist.
    """
    return collect_inputs(paths, exclude=exclude).files


class _TruncatedError(Exception):
    """A compressed input ends before its end-of-stream marker, or is corrupt.

    Attributes:
        mid_member: Some output came from the member (gzip) or frame (zstd)
            that is cut: the bytes yielded do not end where one ended.
    """

    def __init__(self, message: str, mid_member: bool = True) -> None:
        super().__init__(message)
        self.mid_member = mid_member


_CHUNK = 1 << 16


class _Counted:
    """A binary file that reports how many bytes were read from it (for
    progress: compressed bytes of a compressed file)."""

    def __init__(self, raw: IO[bytes], on_read: Callable[[int], None] | None) -> None:
        self.raw = raw
        self.on_read = on_read

    def read(self, size: int) -> bytes:
        data = self.raw.read(size)
        if self.on_read is not None and data:
            self.on_read(len(data))
        return data


def _chunks(file: InputFile, on_read: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """The decompressed bytes of a file, chunk by chunk.

    A truncated or corrupt archive first yields everything that decompressed
    before the cut, then raises :class:`_TruncatedError`. ``on_read`` is
    called with the number of bytes read from disk after each read.
    """
    with open(file.path, "rb") as handle:
        raw = _Counted(handle, on_read)
        if file.compression is None:
            while chunk := raw.read(_CHUNK):
                yield chunk
        elif file.compression == "gz":
            # 32 + 15: a gzip or zlib header, auto-detected.
            yield from _decompress(raw, lambda: zlib.decompressobj(wbits=47), zlib.error, "gzip")
        else:
            import zstandard  # only for .zst files: 2 ms of every run's start-up otherwise

            # zstandard's stream reader returns nothing, silently, for a cut
            # frame; a decompressobj reports whether the frame completed.
            yield from _decompress(
                raw, lambda: zstandard.ZstdDecompressor().decompressobj(), zstandard.ZstdError, "zstd"
            )


def _decompress(raw: _Counted, new: Callable[[], Any], error: type[Exception], name: str) -> Iterator[bytes]:
    """Decompress a stream of concatenated members/frames incrementally;
    raise :class:`_TruncatedError` after the last good chunk if it is cut."""
    decompressor = new()
    started = False
    produced = False  # output from the current member
    while data := raw.read(_CHUNK):
        started = True
        while data:
            try:
                out = decompressor.decompress(data)
            except error as err:
                raise _TruncatedError(f"corrupt {name} data", produced) from err
            if out:
                produced = True
                yield out
            data = b""
            if decompressor.eof:
                # Concatenated members form one stream (as `gzip -c a b > ab.gz`).
                data = decompressor.unused_data
                decompressor = new()
                started = bool(data)
                produced = False
    if started and not decompressor.eof:
        raise _TruncatedError(f"{name} stream ends before its end marker", produced)


def _decode(data: bytes) -> tuple[str | None, str]:
    """Decode a whole text file: UTF-8 (BOM or not), UTF-16 with a BOM, else
    the legacy encoding charset-normalizer finds (news in cp1258 or cp1252).

    Returns:
        ``(text, encoding)``; text is None when nothing fits.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            return None, ""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes  # only for the rare legacy file

    # Single-byte encodings of news first: on short texts, open detection
    # readily takes Latin bytes for a multi-byte Asian encoding.
    best = from_bytes(data, cp_isolation=_SINGLE_BYTE_ENCODINGS).best() or from_bytes(data).best()
    if best is None:
        return None, ""
    return str(best), best.encoding


_SINGLE_BYTE_ENCODINGS = ["cp1258", "cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "latin_1", "iso8859_15", "koi8_r"]


_OnRead = Callable[[int], None] | None


def _read_text_file(file: InputFile, on_read: _OnRead) -> Iterator[Document | Skipped]:
    try:
        data = b"".join(_chunks(file, on_read))
    except _TruncatedError:
        yield Skipped(file.name, None, "compressed file is truncated or corrupt")
        return
    if b"\x00" in data and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        yield Skipped(file.name, None, "binary content (NUL bytes)")
        return
    text, _ = _decode(data)
    if text is None:
        yield Skipped(file.name, None, "undecodable text (not UTF-8, no legacy encoding fits)")
        return
    if not text.strip():
        yield Skipped(file.name, None, "empty document")
        return
    yield Document(file.name, text)


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Complete lines (without the newline) from a stream of chunks.

    The start of a line that spans many chunks waits in a list, joined once
    when its end arrives: linear in the line's length, not quadratic.
    """
    pieces: list[bytes] = []
    for chunk in chunks:
        if b"\n" not in chunk:
            if chunk:
                pieces.append(chunk)
            continue
        lines = chunk.split(b"\n")
        if pieces:
            pieces.append(lines[0])
            lines[0] = b"".join(pieces)
        last = lines.pop()
        pieces = [last] if last else []
        yield from lines
    if pieces:
        yield b"".join(pieces)


# ---- JSONL: lines parsed by the compiled kernel (dedup._kernels.jsonl_kernel),
# a few MiB of whole lines at a time. A document it reads keeps its text as
# UTF-8 (PackedTexts) for the scan; every line it leaves to Python goes
# through _parse_jsonl_line below, so both give the same ids, texts and skips.

_JSONL_BLOCK = 1 << 22


@dataclass(frozen=True)
class PackedTexts:
    """Consecutive documents of one JSONL file, their texts kept as the UTF-8
    read (strictly valid, not normalized): what the scan sketches without
    making a Python string of each text.

    Attributes:
        ids: Each document's id (as :func:`read_documents` gives it).
        name: The file's name as in its documents' ``FILE:LINE``.
        lines: int64, shape ``(n,)``: each document's 1-based line.
        text: uint8, the texts back to back (and maybe more around them).
        offsets: int64, shape ``(n + 1,)``: document ``i`` is
            ``text[offsets[i]:offsets[i + 1]]``.
        lengths: int64, shape ``(n,)``: each text's length in code points.
    """

    ids: list[str]
    name: str
    lines: npt.NDArray[np.int64]
    text: npt.NDArray[np.uint8]
    offsets: npt.NDArray[np.int64]
    lengths: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def locations(self) -> list[str]:
        """Each document's ``FILE:LINE`` (made when asked: most are never shown)."""
        name = self.name
        return [f"{name}:{line}" for line in self.lines.tolist()]

    def documents(self) -> list[Document]:
        """The documents, texts decoded."""
        bounds = self.offsets.tolist()
        return [
            Document(doc_id, self.text[bounds[i] : bounds[i + 1]].tobytes().decode("utf-8"), location)
            for i, (doc_id, location) in enumerate(zip(self.ids, self.locations, strict=True))
        ]


class DocumentStream(Iterator[Document | Skipped]):
    """What :func:`read_documents` returns: an iterator of documents and
    skips, which a scan can also read as :class:`PackedTexts` runs
    (:meth:`packed`) from where the iteration stands."""

    def __init__(self, items: Iterator[PackedTexts | Document | Skipped]) -> None:
        self._items = items
        self._queue: collections.deque[Document] = collections.deque()

    def __iter__(self) -> DocumentStream:
        return self

    def __next__(self) -> Document | Skipped:
        while not self._queue:
            item = next(self._items)
            if not isinstance(item, PackedTexts):
                return item
            self._queue.extend(item.documents())
        return self._queue.popleft()

    def packed(self) -> Iterator[PackedTexts | Document | Skipped]:
        """The rest of the stream, runs of JSONL documents as :class:`PackedTexts`."""
        while self._queue:
            yield self._queue.popleft()
        yield from self._items


_ReadInto = Callable[[memoryview], int]


class _ChunkReader:
    """``readinto`` over a stream of chunks (a compressed file's bytes)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.pending = memoryview(b"")

    def readinto(self, view: memoryview) -> int:
        """Copy the next bytes into ``view``; 0 at the end of the stream."""
        while not self.pending:
            chunk = next(self.chunks, None)
            if chunk is None:
                return 0
            self.pending = memoryview(chunk)
        got = min(len(view), len(self.pending))
        view[:got] = self.pending[:got]
        self.pending = self.pending[got:]
        return got


def _file_reader(handle: FileIO, on_read: _OnRead) -> _ReadInto:
    """``readinto`` of an open file, reporting each read to ``on_read``."""

    def readinto(view: memoryview) -> int:
        got = handle.readinto(view) or 0
        if on_read is not None and got:
            on_read(got)
        return got

    return readinto


def _line_blocks(readinto: _ReadInto) -> Iterator[tuple[npt.NDArray[np.uint8], int]]:
    """Whole lines, a few MiB at a time, read into one buffer: ``(buffer,
    size)``, ``buffer[:size]`` (uint8) the lines; every block but the last
    ends with a newline. The buffer is reused: the next block overwrites it.
    A cut archive first yields the whole lines before the cut (as
    :func:`_lines` does), then raises :class:`_TruncatedError`."""
    buffer = bytearray(_JSONL_BLOCK)
    array = np.frombuffer(buffer, dtype=np.uint8)
    filled = 0
    while True:
        try:
            got = readinto(memoryview(buffer)[filled:])
        except _TruncatedError:
            cut = buffer.rfind(b"\n", 0, filled) + 1
            if cut:
                yield array, cut
            raise
        filled += got
        if got and filled < len(buffer):
            continue  # a compressed stream comes a chunk at a time: fill the buffer
        if not got:
            if filled:
                yield array, filled
            return
        cut = buffer.rfind(b"\n", 0, filled) + 1
        if not cut:  # a line longer than the buffer
            buffer = buffer + bytearray(len(buffer))
            array = np.frombuffer(buffer, dtype=np.uint8)
            continue
        yield array, cut
        # The start of the next line to the front (the same length: the
        # buffer, which numpy views, is never resized).
        buffer[: filled - cut] = buffer[cut:filled]
        filled -= cut


def _read_jsonl_file(file: InputFile, text_field: str, id_field: str, on_read: _OnRead) -> Iterator[Document | Skipped]:
    for item in _read_jsonl_packed(file, text_field, id_field, on_read):
        if isinstance(item, PackedTexts):
            yield from item.documents()
        else:
            yield item


def _read_jsonl_packed(
    file: InputFile, text_field: str, id_field: str, on_read: _OnRead
) -> Iterator[PackedTexts | Document | Skipped]:
    keys = (np.frombuffer(text_field.encode("utf-8", "surrogatepass"), dtype=np.uint8),
            np.frombuffer(id_field.encode("utf-8", "surrogatepass"), dtype=np.uint8))  # fmt: skip
    line_no = 0
    with contextlib.ExitStack() as stack:
        if file.compression is None:
            readinto = _file_reader(stack.enter_context(open(file.path, "rb", buffering=0)), on_read)
        else:
            readinto = _ChunkReader(_chunks(file, on_read)).readinto
        try:
            for data, size in _line_blocks(readinto):
                items, lines = _parse_block(file.name, data, size, line_no, keys, text_field, id_field)
                yield from items
                line_no += lines
        except _TruncatedError:
            yield Skipped(file.name, None, f"compressed file is truncated or corrupt after line {line_no}")


def _parse_block(
    name: str,
    data: npt.NDArray[np.uint8],
    size: int,
    before: int,
    keys: tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]],
    text_field: str,
    id_field: str,
) -> tuple[list[PackedTexts | Document | Skipped], int]:
    """The items of the lines of ``data[:size]`` (line numbers after
    ``before``), and how many lines there are. Nothing returned refers to
    ``data``: the caller reuses it."""
    lo, hi, status, text, offsets, lengths, kinds, id_lo, id_hi, id_bytes = jsonl_kernel(
        data, size, keys[0], keys[1], resolve_workers(None)
    )
    n = len(lo)
    ids = _kernel_ids(name, data, before, status, kinds, id_lo, id_hi, id_bytes)
    others = np.flatnonzero(status != LINE_OK).tolist()
    items: list[PackedTexts | Document | Skipped] = []
    start = done = 0  # the first line of the run, and how many documents came before it
    for k in [*others, n]:
        if k > start:
            lines = np.arange(before + start + 1, before + k + 1, dtype=np.int64)
            items.append(
                PackedTexts(ids[done : done + k - start], name, lines, text, offsets[start : k + 1], lengths[start:k])
            )
            done += k - start
        start = k + 1
        if k == n or status[k] == LINE_BLANK:
            continue
        if status[k] == LINE_EMPTY:
            items.append(Skipped(name, before + k + 1, "empty document"))
        else:
            items.append(_parse_jsonl_line(name, before + k + 1, data[lo[k] : hi[k]].tobytes(), text_field, id_field))
    return items, n


def _kernel_ids(
    name: str,
    data: npt.NDArray[np.uint8],
    before: int,
    status: npt.NDArray[np.uint8],
    kinds: npt.NDArray[np.uint8],
    id_lo: npt.NDArray[np.int64],
    id_hi: npt.NDArray[np.int64],
    id_bytes: npt.NDArray[np.uint8],
) -> list[str]:
    """The ids of the lines the kernel read (``LINE_OK``), in order: the
    plain ones and tokens from one decode, the few others one by one."""
    ids = id_bytes.tobytes().decode("utf-8").split("\n")
    ids.pop()  # after the last newline
    ok = np.flatnonzero(status == LINE_OK)
    kind = kinds[ok]
    for j in np.flatnonzero((kind != ID_PLAIN) & (kind != ID_TOKEN)).tolist():
        k = int(ok[j])
        location = f"{name}:{before + k + 1}"
        if kind[j] == ID_ESCAPED:
            ids[j] = orjson.loads(data[id_lo[k] : id_hi[k]].tobytes()) or location
        else:
            ids[j] = location
    return ids


class _Number:
    """A JSON number as written, from the exact parser: an id keeps every
    digit (``123456789012345678901234567890``, not ``1.2345678901234568e+29``)."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token


def _loads_exact(line: bytes) -> object:
    """The standard library's parser, numbers kept as written (no float
    rounding, no limit on the digits of an integer)."""
    return json.loads(line, parse_int=_Number, parse_float=_Number)


def _loads(line: bytes) -> object:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        # orjson is strict where the standard library is lenient (NaN,
        # integers beyond 64 bits): give such lines a second chance.
        return _loads_exact(line)


def _record_document(name: str, line_no: int, record: object, text_field: str, id_field: str) -> Document | Skipped:
    """A document from one parsed record (JSONL object, CSV row, Parquet row)."""
    if not isinstance(record, dict):
        return Skipped(name, line_no, "line is not a JSON object")
    if text_field not in record:
        return Skipped(name, line_no, f"no {text_field!r} field")
    text = record[text_field]
    if not isinstance(text, str):
        return Skipped(name, line_no, f"{text_field!r} is not a string")
    doc_id = record.get(id_field)
    if doc_id is None or doc_id == "" or isinstance(doc_id, (dict, list)):
        doc_id = f"{name}:{line_no}"
    elif isinstance(doc_id, _Number):
        doc_id = doc_id.token
    elif not isinstance(doc_id, str):
        doc_id = json.dumps(doc_id)
    if not text.strip():
        return Skipped(name, line_no, "empty document")
    return Document(doc_id, text, f"{name}:{line_no}")


def _parse_jsonl_line(name: str, line_no: int, line: bytes, text_field: str, id_field: str) -> Document | Skipped:
    try:
        record = _loads(line)
        if isinstance(record, dict) and isinstance(record.get(id_field), float):
            # orjson reads an integer beyond 64 bits as a float: the id must
            # be the number as written.
            record = _loads_exact(line)
    except UnicodeDecodeError:
        return Skipped(name, line_no, "line is not valid UTF-8")
    except (ValueError, RecursionError):
        return Skipped(name, line_no, "line is not valid JSON")
    return _record_document(name, line_no, record, text_field, id_field)


def _read_csv_file(file: InputFile, text_field: str, id_field: str, on_read: _OnRead) -> Iterator[Document | Skipped]:
    """One document per CSV row; the header names the fields; ``FILE:LINE``
    is the line the row starts on."""
    bad_lines: list[int] = []

    def text_lines() -> Iterator[str]:
        for number, line in enumerate(_lines(_chunks(file, on_read)), start=1):
            try:
                yield line.decode("utf-8-sig" if number == 1 else "utf-8") + "\n"
            except UnicodeDecodeError:
                bad_lines.append(number)
                yield line.decode("utf-8", "replace") + "\n"

    csv.field_size_limit(1 << 30)  # a news article in one field can be long
    reader = csv.reader(text_lines())
    try:
        header = next(reader, None)
        if header is None:
            yield Skipped(file.name, None, "empty CSV file")
            return
        if text_field not in header:
            yield Skipped(file.name, None, f"CSV header has no {text_field!r} column")
            return
        row_start = reader.line_num + 1
        for row in reader:
            line_no, row_start = row_start, reader.line_num + 1
            if bad_lines and bad_lines[-1] >= line_no:
                yield Skipped(file.name, line_no, "row is not valid UTF-8")
                continue
            if len(row) != len(header):
                yield Skipped(file.name, line_no, f"row has {len(row)} fields, the header {len(header)}")
                continue
            yield _record_document(file.name, line_no, dict(zip(header, row, strict=True)), text_field, id_field)
    except csv.Error as err:
        yield Skipped(file.name, reader.line_num, f"malformed CSV: {err}")
    except _TruncatedError:
        yield Skipped(file.name, None, f"compressed file is truncated or corrupt after line {reader.line_num}")


def _read_parquet_file(
    file: InputFile, text_field: str, id_field: str, on_read: _OnRead
) -> Iterator[Document | Skipped]:
    """One document per Parquet row (``FILE:ROW``, 1-based, when there is no id)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        yield Skipped(file.name, None, "reading Parquet needs pyarrow: pip install 'dedup[parquet]'")
        return
    try:
        parquet = pq.ParquetFile(file.path)
        names = parquet.schema_arrow.names
        if text_field not in names:
            yield Skipped(file.name, None, f"Parquet file has no {text_field!r} column")
            return
        columns = [text_field] + ([id_field] if id_field in names and id_field != text_field else [])
        row = 0
        for batch in parquet.iter_batches(columns=columns, batch_size=4096):
            for record in batch.to_pylist():
                row += 1
                yield _record_document(file.name, row, record, text_field, id_field)
        if on_read is not None:
            on_read(file.path.stat().st_size)
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
        yield Skipped(file.name, None, f"unreadable Parquet: {err}")


class _ChunkStream:
    """The decompressed bytes of a file as a binary stream (what the WARC
    reader takes); a truncated or corrupt archive ends the stream early and
    sets ``truncated``, and ``mid_member`` when the bytes do not end where a
    gzip member or zstd frame did (:class:`dedup.web.ByteStream`)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.buffer = bytearray()
        self.truncated = False
        self.mid_member = False
        self.done = False
        self.position = 0

    def _fill(self, size: int) -> None:
        while not self.done and (size < 0 or len(self.buffer) < size):
            try:
                self.buffer += next(self.chunks)
            except StopIteration:
                self.done = True
            except _TruncatedError as err:
                self.done = self.truncated = True
                self.mid_member = err.mid_member

    def read(self, size: int = -1) -> bytes:
        self._fill(size)
        if size < 0 or size >= len(self.buffer):
            out, self.buffer = bytes(self.buffer), bytearray()
        else:
            out = bytes(self.buffer[:size])
            del self.buffer[:size]
        self.position += len(out)
        return out

    def tell(self) -> int:
        """Bytes read so far (fastwarc asks where a record starts)."""
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        """Only where the stream is: a stream of decompressed chunks cannot move.

        Raises:
            OSError: asked to move.
        """
        if (offset, whence) not in ((0, os.SEEK_CUR), (self.position, os.SEEK_SET)):
            raise OSError("a decompressed stream cannot seek")
        return self.position

    def close(self) -> None:
        """Stop reading the file (the chunk generator closes it)."""
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()


def _read_web_file(file: InputFile, html_text: str, on_read: _OnRead) -> Iterator[Document | Skipped]:
    """An HTML page (one document) or a WARC archive (one per HTML response)."""
    if file.kind == "warc":
        yield from web.warc_documents(file.name, _ChunkStream(_chunks(file, on_read)), html_text)
        return
    try:
        data = b"".join(_chunks(file, on_read))
    except _TruncatedError:
        yield Skipped(file.name, None, "compressed file is truncated or corrupt")
        return
    yield web.html_document(file.name, data, html_text)


_READERS: dict[str, Callable[[InputFile, str, str, _OnRead], Iterator[PackedTexts | Document | Skipped]]] = {
    "text": lambda file, text_field, id_field, on_read: _read_text_file(file, on_read),
    "jsonl": _read_jsonl_packed,
    "csv": _read_csv_file,
    "parquet": _read_parquet_file,
}


def _read_file(
    file: InputFile, text_field: str, id_field: str, on_read: _OnRead = None, html_text: str = "main"
) -> Iterator[PackedTexts | Document | Skipped]:
    if file.duplicate:
        yield Skipped(file.qualified, None, "duplicate input")
        return
    if file.problem is not None:
        yield Skipped(file.qualified, None, file.problem)
        return
    try:
        mode = file.path.stat().st_mode
    except OSError as err:
        yield Skipped(file.name, None, f"cannot read: {err.strerror or err}")
        return
    if not stat.S_ISREG(mode):
        # Never opened: opening a FIFO or a device could block forever.
        yield Skipped(file.name, None, "not a regular file")
        return
    try:
        if file.kind in WEB_KINDS:
            yield from _read_web_file(file, html_text, on_read)
        else:
            yield from _READERS[file.kind](file, text_field, id_field, on_read)
    except OSError as err:
        yield Skipped(file.name, None, f"cannot read: {err.strerror or err}")


def read_documents(
    paths: Sequence[str | os.PathLike[str]] | InputSet,
    *,
    text_field: str = "text",
    id_field: str = "id",
    on_file: Callable[[InputFile], None] | None = None,
    on_read: Callable[[int], None] | None = None,
    html_text: str = "main",
) -> DocumentStream:
    """Yield every document under ``paths``, in input order.

    Args:
        paths: Files or folders, or what :func:`collect_inputs` found.
        text_field: JSONL field holding the text.
        id_field: JSONL field holding the id (else ``FILE:LINE``).
        on_file: Called with each file before it is read (for progress).
        on_read: Called with the number of bytes just read from disk (for
            progress against :attr:`InputSet.total_bytes`).
        html_text: Of an HTML page (a file or a WARC record), its ``"main"``
            content or ``"all"`` its visible text.

    Returns:
        An iterator of a Document for each readable document and a Skipped
        for every other (a file reached a second time: ``duplicate
        input``), in input order. Ids are as read;
        :class:`dedup.document.UniqueIds` makes them unique. The scan reads
        it with :meth:`DocumentStream.packed` (JSONL texts kept as UTF-8).

    Raises:
        InputError: a path does not exist, or there are HTML or WARC files
            and the ``web`` extra is not installed (raised before anything
            is yielded).
        UsageError: ``html_text`` is neither ``"main"`` nor ``"all"``.
    """
    check_html_text(html_text)
    inputs = paths if isinstance(paths, InputSet) else collect_inputs(paths)
    if any(f.kind in WEB_KINDS and not f.duplicate for f in inputs.files):
        web.require_web()
    return DocumentStream(_read_all(inputs, text_field, id_field, on_file, on_read, html_text))


def _location(file: InputFile, location: str | None) -> str:
    """Where a document was read: a file with its PATH argument prefixed
    (``d2/y.txt``), a record ``FILE:LINE`` (``dump.jsonl:7``)."""
    return file.qualified if location is None else location


def _read_all(
    inputs: InputSet,
    text_field: str,
    id_field: str,
    on_file: Callable[[InputFile], None] | None,
    on_read: Callable[[int], None] | None,
    html_text: str,
) -> Iterator[PackedTexts | Document | Skipped]:
    for file in inputs.files:
        if on_file is not None:
            on_file(file)
        for item in _read_file(file, text_field, id_field, on_read, html_text):
            yield _qualified(file, item)


@overload
def _qualified(file: InputFile, item: Document | Skipped) -> Document | Skipped: ...
@overload
def _qualified(file: InputFile, item: PackedTexts | Document | Skipped) -> PackedTexts | Document | Skipped: ...
def _qualified(file: InputFile, item: PackedTexts | Document | Skipped) -> PackedTexts | Document | Skipped:
    """An item as :func:`read_documents` yields it: located, and a skip
    naming the file as the user can open it (d1/sub/b.txt), so two files
    with one relative name stay apart (a record's location, FILE:LINE, is
    left as it is)."""
    if isinstance(item, PackedTexts):
        return item
    if isinstance(item, Document):
        return Document(item.id, item.text, _location(file, item.location))
    if item.path == file.name:
        return Skipped(file.qualified, item.line, item.reason)
    return item


def read_jsonl_range(
    file: InputFile, start: int, end: int, first_line: int, *, text_field: str = "text", id_field: str = "id"
) -> Iterator[Document | Skipped]:
    """The documents of the lines of an uncompressed JSONL file in the byte
    range ``[start, end)``, exactly as :func:`read_documents` yields them
    (ids, ``FILE:LINE``, skips): for an engine that reads one file in parts.

    Args:
        file: A JSONL file (not compressed, not a duplicate).
        start: Byte offset of a line's start (0, or just after a newline).
        end: Byte offset of a line's start, or the file's size.
        first_line: The 1-based number of the line at ``start``.
        text_field: Field holding the text.
        id_field: Field holding the id.

    Raises:
        ValueError: ``file`` is not an uncompressed JSONL file.
    """
    if file.kind != "jsonl" or file.compression is not None:
        raise ValueError(f"{file.name}: only an uncompressed JSONL file can be read by byte range")
    try:
        with open(file.path, "rb") as handle:
            handle.seek(start)
            data = handle.read(end - start)
    except OSError as err:
        yield _qualified(file, Skipped(file.name, None, f"cannot read: {err.strerror or err}"))
        return
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # the range ends after a newline
    for line_no, line in enumerate(lines, start=first_line):
        if line.strip():
            yield _qualified(file, _parse_jsonl_line(file.name, line_no, line, text_field, id_field))


def atomic_writer(path: str | os.PathLike[str]) -> contextlib.AbstractContextManager[IO[str]]:
    """Open ``path`` for writing UTF-8 text that appears whole or not at all:
    :func:`dedup.output.open_output` (links written through, FIFOs streamed,
    modes kept, ``-`` is stdout).

    Raises:
        OutputError: it cannot be written.
    """
    return open_output(path)


def atomic_binary_writer(path: str | os.PathLike[str]) -> contextlib.AbstractContextManager[IO[bytes]]:
    """Like :func:`atomic_writer`, for bytes.

    Raises:
        OutputError: it cannot be written.
    """
    return open_output(path, binary=True)
