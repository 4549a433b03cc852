"""Reading the texts of a few documents back from the inputs after a pass.

A report that shows texts (``--format html``) needs the texts of the
documents it displays, long after the scan dropped them: keeping every text
would cost the memory a scan is built to save. Two ways back:

* By position (:class:`Locations`): while the scan reads, each document's
  file and line are noted (12 bytes a document, never the text); afterwards
  only the wanted lines are parsed: the other lines of a JSONL file are
  skipped by counting newlines, without decoding them. A JSONL line, CSV
  row or Parquet row is found by its line (row) number, a text file is read
  whole; each text is checked against the id the scan gave it.
* By id (:func:`read_texts_by_id`): read the inputs again, ids made unique
  exactly as in the scan (:class:`~dedup.document.UniqueIds`), keeping the
  wanted texts and stopping once all are found. For results that carry ids
  but no positions (repeated blocks, index queries, the Dask engine), and
  the fallback when positions disagree with the ids.

Example:
    >>> import os, tempfile
    >>> from dedup.io import collect_inputs
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "d.jsonl")
    ...     with open(path, "w") as f:
    ...         _ = f.write('{"id": "a", "text": "one"}\\n{"id": "b", "text": "..."}\\n{"id": "c", "text": "three"}\\n')
    ...     inputs = collect_inputs([path])
    ...     where = Locations(inputs)
    ...     read = [d.id for d in where.read_documents()]
    ...     # "b" has no words: a scan skips it, so "c" is document 1 of the scan.
    ...     print(read, where.texts({0: "a", 1: "c"}, no_words=1))
    ['a', 'b', 'c'] {0: 'one', 1: 'three'}
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from functools import cache

import numpy as np
import numpy.typing as npt

from dedup._unicode import SPACE, accent_table, case_table
from dedup.document import Document, Skipped, UniqueIds
from dedup.io import (
    DocumentStream,
    InputFile,
    InputSet,
    PackedTexts,
    _chunks,
    _parse_jsonl_line,
    _read_file,
    _TruncatedError,
    read_documents,
)
from dedup.stages import document_batches

__all__ = ["Locations", "read_texts_by_id"]

_BATCH = 512


@cache
def _word_pattern(fold_accents: bool) -> re.Pattern[str]:
    """A character that survives normalization as part of a word (so a
    text holding one is not skipped as ``no words after normalization``)."""
    case = case_table()
    survives = case != SPACE
    if fold_accents:
        survives &= accent_table()[case] != 0
    edges = np.flatnonzero(np.diff(np.concatenate(([0], survives.view(np.uint8), [0]))))
    ranges = "".join(f"\\U{lo:08x}-\\U{hi - 1:08x}" for lo, hi in zip(edges[0::2], edges[1::2], strict=True))
    return re.compile(f"[{ranges}]")


class Locations:
    """Where each document of one read of the inputs came from.

    Read the inputs through :meth:`read_documents` (instead of
    :func:`dedup.io.read_documents`), then ask :meth:`texts` for documents
    by their scan number. Memory: 12 bytes per document read.

    Args:
        inputs: What :func:`dedup.io.collect_inputs` found.
        text_field: Field holding the text (JSONL, CSV, Parquet).
        id_field: Field holding the id.
        fold_accents: The scan's ``fold_accents`` (which documents it finds
            without words depends on it).
        html_text: What text of an HTML page is read (``"main"`` or ``"all"``).
    """

    def __init__(
        self,
        inputs: InputSet,
        *,
        text_field: str = "text",
        id_field: str = "id",
        fold_accents: bool = False,
        html_text: str = "main",
    ) -> None:
        self.inputs = inputs
        self.text_field = text_field
        self.id_field = id_field
        self.html_text = html_text
        self._words = _word_pattern(fold_accents)
        self._file = -1
        self._files = array("i")
        self._lines = array("q")
        self._empty = array("q")  # read positions of the documents without words

    def _on_file(self, file: InputFile) -> None:
        self._file += 1

    def read_documents(self, *, on_read: Callable[[int], None] | None = None) -> DocumentStream:
        """:func:`dedup.io.read_documents` over the inputs, noting where each
        document is (a scan still reads JSONL texts packed, as UTF-8)."""
        stream = read_documents(
            self.inputs,
            text_field=self.text_field,
            id_field=self.id_field,
            on_file=self._on_file,
            on_read=on_read,
            html_text=self.html_text,
        )
        return DocumentStream(self._track(stream.packed()))

    def _track(self, items: Iterable[PackedTexts | Document | Skipped]) -> Iterator[PackedTexts | Document | Skipped]:
        files, lines, empty, words = self._files, self._lines, self._empty, self._words.search
        for item in items:
            if isinstance(item, PackedTexts):
                bounds = item.offsets
                for k in _without_ascii_word(item).tolist():
                    if words(item.text[bounds[k] : bounds[k + 1]].tobytes().decode("utf-8")) is None:
                        empty.append(len(files) + k)
                files.extend([self._file] * len(item))
                lines.extend(int(loc.rpartition(":")[2]) for loc in item.locations)
            elif isinstance(item, Document):
                if words(item.text) is None:
                    empty.append(len(files))
                files.append(self._file)
                lines.append(_line_of(self.inputs.files[self._file], item))
            yield item

    def _read_positions(self, numbers: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Read positions of scan numbers (the scan leaves out the documents without words)."""
        empty = np.frombuffer(self._empty, dtype=np.int64) if len(self._empty) else np.zeros(0, dtype=np.int64)
        before = empty - np.arange(len(empty), dtype=np.int64)  # scan numbers before each empty one
        return numbers + np.searchsorted(before, numbers, side="right")

    def texts(
        self, wanted: Mapping[int, str], *, no_words: int = 0, renamed: Collection[str] = ()
    ) -> dict[int, str] | None:
        """The texts of documents by scan number.

        Args:
            wanted: Scan number (a cluster member) -> the id the scan gave it.
            no_words: How many documents the scan skipped as ``no words
                after normalization`` (they have no scan number).
            renamed: Ids the scan gave instead of a document's own (a
                document found under one of them is not checked by id).

        Returns:
            Scan number -> text; None when the positions noted do not match
            the scan (a different number of documents without words, or a
            document whose id is not the one expected): then read by id.
        """
        if no_words != len(self._empty):
            return None
        numbers = np.array(sorted(wanted), dtype=np.int64)
        if len(numbers) and int(numbers[-1]) >= len(self._files) - len(self._empty):
            return None
        positions = self._read_positions(numbers)
        by_file: dict[int, dict[int, int]] = {}
        for number, position in zip(numbers.tolist(), positions.tolist(), strict=True):
            by_file.setdefault(self._files[position], {})[self._lines[position]] = number
        out: dict[int, str] = {}
        for index, lines in by_file.items():
            for line, doc in self._file_documents(self.inputs.files[index], lines):
                number = lines[line]
                expected = wanted[number]
                if doc.id != expected and expected not in renamed:
                    return None
                out[number] = doc.text
        return out if len(out) == len(wanted) else None

    def _file_documents(self, file: InputFile, lines: Mapping[int, int]) -> Iterator[tuple[int, Document]]:
        """``(line, document)`` of the wanted lines of one file (0: a text file's one document)."""
        if file.kind == "jsonl":
            try:
                for line_no, line in _lines_at(_chunks(file), sorted(lines)):
                    parsed = _parse_jsonl_line(file.name, line_no, line, self.text_field, self.id_field)
                    if isinstance(parsed, Document):
                        yield line_no, parsed
            except (OSError, _TruncatedError):
                return  # the file changed since the scan: the caller reads by id
            return
        for item in _read_file(file, self.text_field, self.id_field, html_text=self.html_text):
            for doc in item.documents() if isinstance(item, PackedTexts) else [item]:
                if isinstance(doc, Document) and _line_of(file, doc) in lines:
                    yield _line_of(file, doc), doc


_ASCII_WORD = np.zeros(256, dtype=np.int64)
_ASCII_WORD[[*range(0x30, 0x3A), *range(0x41, 0x5B), *range(0x61, 0x7B)]] = 1


def _without_ascii_word(packed: PackedTexts) -> npt.NDArray[np.int64]:
    """Positions in a packed run of the documents with no ASCII letter or
    digit (only those can lack words; the few are decoded and checked)."""
    starts, ends = packed.offsets[:-1], packed.offsets[1:]
    cumulative = np.concatenate(([0], np.cumsum(_ASCII_WORD[packed.text])))
    return np.flatnonzero(cumulative[ends] == cumulative[starts]).astype(np.int64)


def _line_of(file: InputFile, doc: Document) -> int:
    """A document's line (row, WARC record) in its file; 0 for a file that
    is one document. Two documents of one file never share a line, except
    in a format that gives none (then the id check sends the caller to
    :func:`read_texts_by_id`)."""
    if file.kind in ("text", "html"):
        return 0
    tail = (doc.location or "").rpartition(":")[2]
    return int(tail) if tail.isdigit() else 0


def _lines_at(chunks: Iterable[bytes], wanted: Sequence[int]) -> Iterator[tuple[int, bytes]]:
    """The lines numbered ``wanted`` (1-based, ascending) of a byte stream,
    without their newline; the lines in between are counted, never split out."""
    targets = iter(wanted)
    target = next(targets, None)
    line_no = 1
    pieces: list[bytes] = []
    for chunk in chunks:
        start = 0
        while target is not None:
            if line_no < target:
                skip = target - line_no
                if chunk.count(b"\n", start) < skip:
                    line_no += chunk.count(b"\n", start)
                    break
                for _ in range(skip):
                    start = chunk.index(b"\n", start) + 1
                line_no = target
                pieces = []
            end = chunk.find(b"\n", start)
            if end < 0:
                pieces.append(chunk[start:])
                break
            pieces.append(chunk[start:end])
            yield target, b"".join(pieces)
            pieces = []
            start = end + 1
            line_no += 1
            target = next(targets, None)
        if target is None:
            return
    if target is not None and line_no == target and pieces:
        yield target, b"".join(pieces)  # the last line, without a newline


def read_texts_by_id(
    inputs: InputSet,
    ids: Collection[str],
    *,
    text_field: str = "text",
    id_field: str = "id",
    html_text: str = "main",
) -> dict[str, str]:
    """The texts of the documents with these ids (as a scan names them:
    unique, renamed where two share one), reading the inputs again and
    stopping once every one is found.

    Args:
        inputs: What :func:`dedup.io.collect_inputs` found.
        ids: The wanted ids.
        text_field: Field holding the text.
        id_field: Field holding the id.
        html_text: What text of an HTML page is read (``"main"`` or ``"all"``).

    Returns:
        Id -> text, for the wanted ids found.
    """
    wanted = set(ids)
    out: dict[str, str] = {}
    if not wanted:
        return out
    items = read_documents(inputs, text_field=text_field, id_field=id_field, html_text=html_text)
    for docs, _ in document_batches(items, _BATCH, UniqueIds()):
        for doc in docs:
            if doc.id in wanted:
                out[doc.id] = doc.text
        if len(out) == len(wanted):
            break
    return out
