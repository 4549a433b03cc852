"""The units that flow through the pipeline: documents, documents skipped,
and the rule that makes every id unique.

Ids are unique in every result: the first document to carry an id keeps it;
a later one carrying the same id gets its location instead (the file with
its PATH argument prefixed, ``d2/y.txt``, or ``FILE:LINE`` for a record of a
JSONL, CSV or Parquet file), and ``#2``, ``#3``... after that if the location
is taken too; each renaming is reported once (:class:`Renamed`).

Example:
    >>> Skipped("dump.jsonl", 7, "line is not JSON").describe()
    'skipped dump.jsonl:7: line is not JSON'
    >>> ids = UniqueIds()
    >>> docs = [Document("5", "a", "a.jsonl:1"), Document("5", "b", "b.jsonl:1"), Document("5", "c")]
    >>> [d.id for d in ids.assign(docs)]
    ['5', 'b.jsonl:1', '5#2']
    >>> print(ids.renamed[0].describe())
    warning: b.jsonl:1: id '5' is already used; renamed 'b.jsonl:1'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dedup._kernels import hash_kernel, sorted_distinct
from dedup.hashing import xxh64_reference

__all__ = ["Document", "DocumentLike", "Renamed", "Skipped", "UniqueIds", "as_document", "check_documents", "printable"]

# Control characters (C0, DEL, C1), the line and paragraph separators (a line
# break to str.splitlines and to JavaScript), bidirectional overrides and
# isolates, and lone surrogates (file names that are not UTF-8): what a
# terminal would obey, a line-based reader would split, or a text file cannot hold.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` as shown on a terminal, in a table or a CSV cell: control
    characters, bidirectional controls and lone surrogates spelled as
    ``\\xNN`` / ``\\uNNNN``. Ids are unique in this form too (:class:`UniqueIds`).

    Example:
        >>> printable("tin\\x1b[31m.txt")
        'tin\\\\x1b[31m.txt'
    """
    return _UNPRINTABLE.sub(_escape, text) if _UNPRINTABLE.search(text) else text


@dataclass(frozen=True)
class Document:
    """One input document.

    Attributes:
        id: Its id (relative path, JSONL id field, or ``FILE:LINE``).
        text: Its text as read.
        location: Where it was read, with its PATH argument prefixed
            (``d2/y.txt``, ``d2/dump.jsonl:7``); None when given by a caller.
            The id it gets when its own id is already used.
    """

    id: str
    text: str
    location: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Skipped:
    """An input that is not in the result, and why.

    Attributes:
        path: The file (as named in ids), or the document id.
        line: 1-based line in a JSONL file, or None for a whole file.
        reason: Short human-readable reason.
    """

    path: str
    line: int | None
    reason: str

    @property
    def location(self) -> str:
        """``PATH`` or ``PATH:LINE``."""
        return self.path if self.line is None else f"{self.path}:{self.line}"

    def describe(self) -> str:
        """The one-line stderr report: ``skipped PATH[:LINE]: REASON``."""
        return f"skipped {printable(self.location)}: {printable(self.reason)}"


@dataclass(frozen=True)
class Renamed:
    """A document whose id was already used by an earlier one, and the id it got."""

    id: str
    new_id: str
    location: str

    def describe(self) -> str:
        """The one-line stderr warning."""
        return (
            f"warning: {printable(self.location)}: id '{printable(self.id)}' is already used; "
            f"renamed '{printable(self.new_id)}'"
        )


# First bytes of the UTF-8 (surrogatepass) of every code point printable()
# escapes: C0 controls and DEL, C2 (C1 controls), D8 (U+061C), E2 (the
# separators and bidirectional controls), ED (surrogates). An id without them is its own
# printable form.
_SUSPECT = np.zeros(256, dtype=bool)
_SUSPECT[:0x20] = True
_SUSPECT[[0x7F, 0xC2, 0xD8, 0xE2, 0xED]] = True


def _id_hashes(ids: Sequence[str]) -> npt.NDArray[np.uint64]:
    """XXH64 of each id's printable form (uint64, shape ``(len(ids),)``)."""
    # Hashed as shown (printable): two ids that differ only in how a control
    # character or a lone surrogate is spelled would look the same in a table.
    # All ids are encoded and hashed at once; those with a byte that starts
    # an escaped code point (rare) are hashed again one by one.
    joined = np.frombuffer("\n".join(ids).encode("utf-8", "surrogatepass"), dtype=np.uint8)
    newline = joined == 0x0A
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    ends = np.flatnonzero(newline)
    if len(ends) != len(ids) - 1:  # no ids, or one holds a newline
        return np.fromiter((_id_hash(i) for i in ids), dtype=np.uint64, count=len(ids))
    # Without the separators, id k spans [ends[k - 1] + 1 - k, ends[k] - k).
    offsets[1:-1] = ends - np.arange(len(ends))
    offsets[-1] = len(joined) - len(ends)
    packed = joined[~newline]
    hashes, _ = hash_kernel(packed, offsets, 1)
    suspect = np.flatnonzero(_SUSPECT[packed])
    for k in np.unique(np.searchsorted(offsets, suspect, side="right") - 1).tolist():
        hashes[k] = _id_hash(ids[k])
    return hashes


def _id_hash(doc_id: str) -> int:
    return xxh64_reference(printable(doc_id).encode("utf-8"))


def _fallback(doc: Document) -> str:
    """The first id tried for a document whose own id is taken."""
    return doc.location if doc.location and doc.location != doc.id else f"{doc.id}#2"


class UniqueIds:
    """Gives every document of a stream an id no earlier document has.

    Memory is 8 bytes per id (sorted arrays of 64-bit hashes), not the id
    strings. Two different
    ids with equal 64-bit hashes (odds ~n**2 / 2**65) would make the later
    one renamed needlessly: ids stay unique, only the warning is spurious.
    The result does not depend on how the stream is cut into calls.
    """

    def __init__(self) -> None:
        # Sorted distinct hash arrays, each at most half the size of the one
        # before it (merged like a binary counter): ~log2(n) arrays to search,
        # O(n log n) merging in all.
        self.levels: list[npt.NDArray[np.uint64]] = []
        self.renamed: list[Renamed] = []

    def _known(self, hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
        known = np.zeros(len(hashes), dtype=bool)
        for level in self.levels:
            pos = np.minimum(np.searchsorted(level, hashes), len(level) - 1)
            known |= level[pos] == hashes
        return known

    def _remember(self, hashes: npt.NDArray[np.uint64]) -> None:
        if not len(hashes):
            return
        self.levels.append(sorted_distinct(hashes))
        while len(self.levels) > 1 and 2 * len(self.levels[-1]) > len(self.levels[-2]):
            top = self.levels.pop()
            self.levels[-1] = sorted_distinct(np.concatenate([self.levels[-1], top]))

    def assign(self, docs: Sequence[Document]) -> list[Document]:
        """The documents with unique ids, in order (renamings in :attr:`renamed`)."""
        if not docs:
            return []
        hashes = _id_hashes([d.id for d in docs])
        clash = self._known(hashes)
        # Inside the batch: every occurrence of a hash after its first clashes.
        _, first = np.unique(hashes, return_index=True)
        repeated = np.ones(len(hashes), dtype=bool)
        repeated[first] = False
        clash |= repeated
        if not clash.any():
            self._remember(hashes)
            return list(docs)
        # Rare path, in order: each renaming must see the ids given before it
        # (a location may itself be an id in use, or become one later).
        out = list(docs)
        where = np.flatnonzero(clash)
        candidates = {i: _fallback(docs[i]) for i in where.tolist()}
        candidate_hashes = _id_hashes(list(candidates.values()))
        candidate_known = dict(zip(candidates, self._known(candidate_hashes).tolist(), strict=True))
        candidate_hash = dict(zip(candidates, candidate_hashes.tolist(), strict=True))
        given: set[int] = set()  # hashes of the ids given in this batch
        final = hashes.copy()
        for i, doc in enumerate(docs):
            h = int(hashes[i])
            if not clash[i] and h not in given:
                given.add(h)
                continue
            candidate, h = candidates.get(i, _fallback(doc)), candidate_hash.get(i, 0)
            if i not in candidates or candidate_known[i] or h in given:
                candidate, h = self._next_free(candidate, given)
            given.add(h)
            final[i] = h
            out[i] = Document(candidate, doc.text, doc.location)
            self.renamed.append(Renamed(doc.id, candidate, doc.location or doc.id))
        self._remember(final)
        return out

    def _next_free(self, candidate: str, given: set[int]) -> tuple[str, int]:
        """The first of ``candidate``, ``candidate#2``... not in use, and its hash."""
        base, k = candidate, 2
        while True:
            h = _id_hash(candidate)
            if h not in given and not self._known(np.array([h], dtype=np.uint64))[0]:
                return candidate, h
            candidate = f"{base}#{k}"
            k += 1


DocumentLike = str | tuple[str, str] | Document | Skipped
"""What the library accepts as a document: a text (its id is its position),
an ``(id, text)`` pair, or a Document / Skipped from :func:`dedup.read_documents`."""


def as_document(item: DocumentLike, position: int) -> Document | Skipped:
    """Turn any :data:`DocumentLike` into a Document (or pass a Skipped through).

    Raises:
        TypeError: ``item`` is none of them (bytes, a number, a pair whose
            text is not a string...).
    """
    if isinstance(item, (Document, Skipped)):
        return item
    if isinstance(item, str):
        return Document(str(position), item)
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], str):
        return Document(str(item[0]), item[1])
    raise TypeError(
        f"document {position} must be a text, an (id, text) pair or a Document, got {type(item).__name__}"
        + (" (decode bytes first)" if isinstance(item, (bytes, bytearray)) else "")
    )


def check_documents(documents: object) -> None:
    """Refuse a single string where an iterable of documents is expected
    (iterating it would give one-character documents).

    Raises:
        TypeError: ``documents`` is a str or bytes.
    """
    if isinstance(documents, (str, bytes, bytearray)):
        raise TypeError("documents must be an iterable of texts, not a single string (wrap it in a list)")
