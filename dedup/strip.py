"""Cleaned copies of the inputs: repeated blocks removed, nothing else changed.

:func:`strip_text` removes line spans from a text; :func:`write_cleaned_copies`
writes a copy of every input with each document's text replaced by what a
``clean`` function returns (``dedup blocks --strip``).

Where the copies go (:func:`plan_cleaned_copies`), under the output folder OUT:

* One PATH argument: the copies mirror it. A folder's files go to
  ``OUT/<path relative to the folder>``; a file given directly goes to
  ``OUT/<its base name>``.
* Several PATH arguments: each one's copies go under its own name, the base
  name of the PATH as given (``news/`` -> ``OUT/news/...``; a file given
  directly: ``OUT/<its base name>``). When two PATHs share a base name, the
  later ones get ``-2``, ``-3``... (``a/news b/news`` -> ``OUT/news/...`` and
  ``OUT/news-2/...``; ``a/x.txt b/x.txt`` -> ``OUT/x.txt`` and ``OUT/x-2.txt``).
* A copy has the same file name as its input (a ``.gz`` input gives a ``.gz``
  copy). The same real file reached twice is copied once. The whole plan is
  made before any input is read; no two copies share a path, and no copy is,
  or resolves to, an input file.

What a copy holds:

* A file in which nothing is removed is copied byte for byte (compressed or
  not), as are CSV and Parquet files (copied unchanged: their documents are
  not stripped) and files that hold no document (empty, binary, undecodable).
* A changed text file is written in its original encoding (UTF-8 with or
  without a BOM, UTF-16 with its BOM, or the legacy encoding it was read in,
  such as cp1258), with its line ends as they were (``\\r\\n`` stays), and
  compressed again as its name says (``.gz``: gzip, ``.zst``: zstandard).
* In a changed JSONL file, only the text field's value is replaced, in the
  line's own bytes: records without a change, other fields, key order,
  spacing, numbers of any size and ``NaN`` stay byte for byte (lines that
  are not documents too). The new value is JSON with non-ASCII characters as
  they are (a lone surrogate as a ``\\u`` escape). A cut archive's copy holds
  its records before the cut.

Example:
    >>> strip_text("title\\r\\nbody\\r\\ntitle\\r\\nend", [(3, 3)])
    'title\\r\\nbody\\r\\nend'
"""

from __future__ import annotations

import codecs
import json
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from dedup.document import Document
from dedup.errors import OutputError, UsageError
from dedup.io import (
    InputFile,
    InputSet,
    _chunks,
    _decode,
    _lines,
    _parse_jsonl_line,
    _read_file,
    _TruncatedError,
    collect_inputs,
)
from dedup.output import open_output

__all__ = ["CleanedCopy", "plan_cleaned_copies", "strip_text", "write_cleaned_copies"]

PathLike = str | os.PathLike[str]


def strip_text(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """Remove 1-based inclusive line spans from a text, keeping every other
    byte: line numbers are those of :func:`dedup.blocks.split_blocks` (lines
    end at ``\\n``), and each kept line keeps the line end (``\\n`` or
    ``\\r\\n``) that followed it, except the last kept line, which ends as
    the text did when what followed it is removed.

    Args:
        text: The text.
        spans: ``(line, end_line)`` pairs; overlapping or out of range is fine.

    Returns:
        The text without those lines.
    """
    dropped = {number for line, end_line in spans for number in range(line, end_line + 1)}
    if not dropped:
        return text
    lines = text.split("\n")
    parts: list[str] = []
    separator = ""
    for number, line in enumerate(lines, start=1):
        # A "\r" before "\n" belongs to the line end, not to the line.
        crlf = number < len(lines) and line.endswith("\r")
        if number in dropped:
            continue
        if parts:
            parts.append(separator)
        parts.append(line[:-1] if crlf else line)
        separator = "\r\n" if crlf else "\n"
    return "".join(parts)


@dataclass(frozen=True)
class CleanedCopy:
    """One input file and where its cleaned copy goes."""

    file: InputFile
    target: Path


def plan_cleaned_copies(
    inputs: InputSet, out_dir: PathLike, *, arguments: Sequence[PathLike] | None = None
) -> list[CleanedCopy]:
    """Where the cleaned copy of every input goes (layout: module docstring).

    Reads no input (only file metadata), so it can run before any work.

    Args:
        inputs: What :func:`dedup.io.collect_inputs` found (with the output
            folder excluded, so earlier copies are never read as input).
        out_dir: The output folder.
        arguments: The PATH arguments as given. Without them, the PATHs are
            those that hold an input file.

    Returns:
        One entry per input file in input order, the same real file reached
        a second time (and a folder that cannot be listed) left out.

    Raises:
        UsageError: ``out_dir`` exists and is not a folder, or is a PATH
            argument (given ``arguments``); two copies would have the same
            path (or one would be a folder of another); or a copy is, or
            resolves to, an input file.
    """
    out_root = Path(out_dir)
    if out_root.exists() and not out_root.is_dir():
        raise UsageError(f"{out_root}: the folder for cleaned copies is not a folder")
    out_identity = _identity(out_root)
    for argument in arguments or ():
        if out_identity is not None and _identity(Path(argument)) == out_identity:
            # Excluded from the walk, it would give no input at all.
            raise UsageError(f"{out_root}: the folder for cleaned copies is the input {argument}; choose another")
    top = _top_names(inputs, arguments)
    plan = [
        CleanedCopy(file, out_root / _relative_target(file, top))
        for file in inputs.files
        if not file.duplicate and file.problem is None
    ]
    _check_distinct(plan)
    _check_not_inputs(plan, inputs)
    return plan


def _top_names(inputs: InputSet, arguments: Sequence[PathLike] | None) -> dict[int, str] | None:
    """Each PATH argument's own name under OUT (None: one PATH, mirrored)."""
    given = [os.fspath(a) for a in arguments] if arguments is not None else None
    if given is None:
        roots = {file.argument: file.root for file in inputs.files}
        if not any(index > 0 for index in roots):
            return None
        indexed = sorted(roots.items())
    else:
        if len(given) <= 1:
            return None
        indexed = list(enumerate(given))
    names: dict[int, str] = {}
    taken: set[str] = set()
    for index, root in indexed:
        base = os.path.basename(os.path.abspath(root)) or "root"
        name, number = base, 2
        while name in taken:
            name = _numbered(base, number, is_file=not os.path.isdir(root))
            number += 1
        taken.add(name)
        names[index] = name
    return names


_COMPRESSION = (".gz", ".zst")


def _numbered(name: str, number: int, *, is_file: bool) -> str:
    """``x-2.txt``, ``dump-2.jsonl.gz`` for a file; ``news-2`` for a folder."""
    if not is_file:
        return f"{name}-{number}"
    path = Path(name)
    suffix = path.suffix
    if suffix.lower() in _COMPRESSION:
        suffix = Path(path.stem).suffix + suffix
    stem = name[: len(name) - len(suffix)] if suffix else name
    return f"{stem}-{number}{suffix}"


def _relative_target(file: InputFile, top: dict[int, str] | None) -> Path:
    """A copy's path under OUT."""
    # A folder's files are below their PATH; a file given directly is the PATH.
    if file.path == Path(file.root):
        return Path(top[file.argument] if top is not None else os.path.basename(file.root) or "root")
    return Path(file.name) if top is None else Path(top[file.argument], file.name)


def _check_distinct(plan: Sequence[CleanedCopy]) -> None:
    """No two copies at one path, and no copy where another needs a folder."""
    seen: dict[str, InputFile] = {}
    for copy in plan:
        key = os.path.normpath(copy.target)
        if key in seen:
            raise UsageError(
                f"{copy.target}: the cleaned copies of {seen[key].qualified} and {copy.file.qualified} "
                "would have the same path"
            )
        seen[key] = copy.file
    for copy in plan:
        for parent in copy.target.parents:
            clash = seen.get(os.path.normpath(parent))
            if clash is not None:
                raise UsageError(
                    f"{parent}: the cleaned copy of {clash.qualified} is where {copy.file.qualified} needs a folder"
                )


def _check_not_inputs(plan: Sequence[CleanedCopy], inputs: InputSet) -> None:
    """Refuse a copy that is (or resolves to) an input file."""
    identities: dict[tuple[int, int], InputFile] = {}
    for file in inputs.files:
        identity = _identity(file.path)
        if identity is not None:
            identities.setdefault(identity, file)
    for copy in plan:
        identity = _identity(copy.target)
        if identity is not None and identity in identities:
            raise UsageError(
                f"{copy.target}: the cleaned copy of {copy.file.qualified} would overwrite the input "
                f"{identities[identity].qualified}; choose another folder"
            )


def _identity(path: Path) -> tuple[int, int] | None:
    """``(device, inode)`` of the real file behind ``path``, or None."""
    try:
        st = path.stat()
    except (OSError, ValueError):  # ValueError: a NUL in the name
        return None
    return st.st_dev, st.st_ino


Clean = Callable[[int, str], str]


def write_cleaned_copies(
    inputs: InputSet | Sequence[PathLike],
    out_dir: PathLike,
    clean: Clean,
    *,
    text_field: str = "text",
    id_field: str = "id",
    arguments: Sequence[PathLike] | None = None,
    on_copy: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Write a cleaned copy of every input under ``out_dir``.

    Documents are numbered in input order exactly as
    :func:`dedup.io.read_documents` yields them (skipped inputs are not
    numbered); ``clean(number, text)`` returns each one's new text. Layout
    and what a copy holds: module docstring. Each file is written
    atomically; inputs are never modified.

    Args:
        inputs: What :func:`dedup.io.collect_inputs` found (the caller
            excludes ``out_dir``), or the PATH arguments (then ``out_dir``
            is excluded here).
        out_dir: The output folder (created if missing).
        clean: ``(document number, text) -> new text``.
        text_field: JSONL/CSV field holding the text.
        id_field: JSONL/CSV field holding the id.
        arguments: The PATH arguments as given, when ``inputs`` is an
            InputSet (see :func:`plan_cleaned_copies`).
        on_copy: Called with each copy once it is written whole (so a
            caller stopped half-way can say how far it got).

    Returns:
        The files written, in input order.

    Raises:
        InputError: a PATH does not exist.
        UsageError: the copies cannot be laid out safely (see
            :func:`plan_cleaned_copies`); nothing is written then.
        OutputError: a copy cannot be written.
    """
    if not isinstance(inputs, InputSet):
        arguments = list(inputs)
        inputs = collect_inputs(arguments, exclude=[out_dir])
    plan = plan_cleaned_copies(inputs, out_dir, arguments=arguments)
    number = 0
    written: list[Path] = []
    identities: set[tuple[int, int]] = set()
    for copy in plan:
        if _identity(copy.target) in identities:
            # Only on a file system that folds case (or through a link): the
            # plan's paths differ but name one file.
            raise OutputError(f"{copy.target}: another cleaned copy was just written there")
        documents = _write_copy(copy, number, clean, text_field, id_field)
        if documents is None:
            continue
        number += documents
        written.append(copy.target)
        if on_copy is not None:
            on_copy(copy.target)
        identity = _identity(copy.target)
        if identity is not None:
            identities.add(identity)
    return written


def _write_copy(copy: CleanedCopy, first: int, clean: Clean, text_field: str, id_field: str) -> int | None:
    """Write one copy; its documents are numbered from ``first``.

    Returns:
        How many documents the file holds, or None when it is not copied
        (not a regular file, or unreadable: reported when it was read).
    """
    file = copy.file
    try:
        if not stat.S_ISREG(file.path.stat().st_mode):
            return None  # never opened: a FIFO or a device could block
        with open(file.path, "rb"):
            pass
    except OSError:
        return None
    _make_folder(copy.target.parent)
    if file.kind == "text":
        return _copy_text(file, copy.target, first, clean)
    if file.kind == "jsonl":
        return _copy_jsonl(file, copy.target, first, clean, text_field, id_field)
    documents = sum(isinstance(item, Document) for item in _read_file(file, text_field, id_field))
    _copy_bytes(file, copy.target)
    return documents


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{folder}: cannot create the folder: {err.strerror or err}") from None


def _copy_bytes(file: InputFile, target: Path) -> None:
    with open(file.path, "rb") as source, open_output(target, binary=True) as out:
        shutil.copyfileobj(source, out)


# --- text files ---------------------------------------------------------------


def _copy_text(file: InputFile, target: Path, number: int, clean: Clean) -> int:
    """A text file: one document, or none (then copied as it is)."""
    try:
        data = b"".join(_chunks(file))
    except _TruncatedError:
        _copy_bytes(file, target)
        return 0
    # The same tests as dedup.io._read_text_file, so documents are numbered alike.
    text, encoding = (None, "") if b"\x00" in data and not data.startswith(_UTF16_BOMS) else _decode(data)
    if text is None or not text.strip():
        _copy_bytes(file, target)
        return 0
    cleaned = clean(number, text)
    if cleaned == text:
        _copy_bytes(file, target)
    else:
        with open_output(target, binary=True, compress=file.compression is not None) as out:
            out.write(_encode_like(cleaned, data, encoding))
    return 1


_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _encode_like(text: str, original: bytes, encoding: str) -> bytes:
    """Encode ``text`` as ``original`` was: its BOM and encoding.

    A legacy encoding that cannot hold the text (never for text decoded from
    it) falls back to UTF-8 rather than failing.
    """
    if original.startswith(codecs.BOM_UTF16_LE):
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le", "surrogatepass")
    if original.startswith(codecs.BOM_UTF16_BE):
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be", "surrogatepass")
    if encoding == "utf-8":
        bom = codecs.BOM_UTF8 if original.startswith(codecs.BOM_UTF8) else b""
        return bom + text.encode("utf-8", "surrogatepass")
    try:
        return text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return text.encode("utf-8", "surrogatepass")


# --- JSONL files --------------------------------------------------------------


class _Ends:
    """Chunks passed through, noting whether the stream ends with a newline
    (:func:`dedup.io._lines` does not say)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.newline = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            if chunk:
                self.newline = chunk.endswith(b"\n")
            yield chunk


def _records(
    lines: Iterable[bytes], name: str, text_field: str, id_field: str
) -> Iterator[tuple[bytes, Document | None]]:
    """Each line and its document (None: not a document), as
    :func:`dedup.io._read_jsonl_file` reads them; stops at a cut."""
    try:
        for line_no, line in enumerate(lines, start=1):
            item = _parse_jsonl_line(name, line_no, line, text_field, id_field) if line.strip() else None
            yield line, item if isinstance(item, Document) else None
    except _TruncatedError:
        return


def _copy_jsonl(file: InputFile, target: Path, first: int, clean: Clean, text_field: str, id_field: str) -> int:
    """A JSONL file: copied as it is when no record changes, else rewritten
    with only the changed records' text values replaced."""
    # First pass: does any record change? (Most files: no; they are copied.)
    number = first
    changed = False
    for _, doc in _records(_lines(_chunks(file)), file.name, text_field, id_field):
        if doc is not None:
            if clean(number, doc.text) != doc.text:
                changed = True
                break
            number += 1
    if not changed:
        _copy_bytes(file, target)
        return number - first
    number = first
    ends = _Ends(_chunks(file))
    with open_output(target, binary=True, compress=file.compression is not None) as out:
        for index, (line, doc) in enumerate(_records(_lines(iter(ends)), file.name, text_field, id_field)):
            if index:
                out.write(b"\n")
            if doc is None:
                out.write(line)
                continue
            cleaned = clean(number, doc.text)
            number += 1
            out.write(line if cleaned == doc.text else _splice(line, text_field, cleaned))
        if ends.newline:
            out.write(b"\n")
    return number - first


_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _skip_space(body: str, i: int) -> int:
    """The position of the first non-whitespace character from ``i``."""
    match = _WHITESPACE.match(body, i)
    return match.end() if match else i


_DECODER = json.JSONDecoder()  # accepts NaN, Infinity and big integers, as the reader's fallback does

# json.detect_encoding's answer -> (codec of the bytes after the BOM, BOM length).
_LINE_CODECS = {
    "utf-8": ("utf-8", 0),
    "utf-8-sig": ("utf-8", 3),
    "utf-16-le": ("utf-16-le", 0),
    "utf-16-be": ("utf-16-be", 0),
    "utf-32-le": ("utf-32-le", 0),
    "utf-32-be": ("utf-32-be", 0),
}


def _line_codec(line: bytes) -> tuple[str, int]:
    """How a JSONL line that parsed is encoded (as ``json.loads`` on bytes
    decides): the codec of its body, and the length of its BOM."""
    detected = json.detect_encoding(line)
    if detected in _LINE_CODECS:
        return _LINE_CODECS[detected]
    width = 2 if detected == "utf-16" else 4
    endian = "le" if line.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF32_LE)) else "be"
    return f"{detected}-{endian}", width


def _splice(line: bytes, field: str, text: str) -> bytes:
    """The line with only its top-level ``field`` value replaced by ``text``.

    Args:
        line: A JSONL line that the reader parsed as an object with a string
            ``field``.
        field: The text field.
        text: The new value.

    Returns:
        The line's bytes before and after the value unchanged, the value
        JSON-encoded in the line's encoding.
    """
    codec, bom = _line_codec(line)
    body = line[bom:].decode(codec, "surrogatepass")
    start, end = _value_span(body, field)
    before = bom + len(body[:start].encode(codec, "surrogatepass"))
    after = before + len(body[start:end].encode(codec, "surrogatepass"))
    try:
        value = json.dumps(text, ensure_ascii=False).encode(codec)
    except UnicodeEncodeError:  # a lone surrogate: written as a \u escape
        value = json.dumps(text, ensure_ascii=True).encode(codec)
    return line[:before] + value + line[after:]


def _value_span(body: str, field: str) -> tuple[int, int]:
    """Character span of the value of ``field`` in a JSON object's text (the
    last one when the key repeats, as the parsers take it).

    Raises:
        ValueError: ``body`` is not a JSON object holding ``field`` (never
            for a line the reader took as a document).
    """
    span: tuple[int, int] | None = None
    i = _skip_space(body, 0)
    if body[i : i + 1] != "{":
        raise ValueError("not a JSON object")
    i = _skip_space(body, i + 1)
    while body[i : i + 1] == '"':
        key, i = _DECODER.raw_decode(body, i)
        i = _skip_space(body, i)
        if body[i : i + 1] != ":":
            raise ValueError("':' expected")
        i = _skip_space(body, i + 1)
        _, end = _DECODER.raw_decode(body, i)
        if key == field:
            span = (i, end)
        i = _skip_space(body, end)
        if body[i : i + 1] != ",":
            break
        i = _skip_space(body, i + 1)
    if span is None:
        raise ValueError(f"no {field!r} field")
    return span
