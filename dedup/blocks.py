"""Repeated blocks: lines or paragraphs that occur more than once, inside one
document or across documents, exactly or nearly; boilerplate; stripping.

A block is a line (text split on ``\\n`` after ``\\r\\n`` becomes ``\\n``, so
line numbers match an editor) or a paragraph (a run of non-blank lines).
Blocks with fewer than ``min_words`` words after normalization are ignored.
Two blocks are the same when their normalized texts are equal (one 64-bit
hash each); with ``near``, blocks whose character 5-gram Jaccard similarity
is at least ``near`` join one group too (MinHash + LSH + exact verification,
the scan pipeline run over the distinct blocks).

Documents are read twice: the first pass keeps only hashes and positions
(32 bytes per block occurrence, never the texts); the second fetches the text
of each group's first occurrence, feeds distinct blocks to the near-duplicate
scan, and writes stripped copies. So ``documents`` is a sequence, or a
function returning a fresh iterable each call.

Example:
    >>> docs = [("a", "Tin mới nhất hôm nay\\nMột dòng riêng\\nTin mới nhất hôm nay!"),
    ...         ("b", "TIN MỚI NHẤT HÔM NAY")]
    >>> [(g.kind, g.count, g.documents, [(o.id, o.line) for o in g.occurrences])
    ...  for g in find_repeated_blocks(docs).groups]
    [('exact', 3, 2, [('a', 1), ('a', 3), ('b', 1)])]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from dedup._kernels import hash_kernel
from dedup._threads import resolve_workers
from dedup.cluster import connected_components
from dedup.document import Document, Skipped
from dedup.normalize import normalize_batch
from dedup.pipeline import DocumentLike, find_duplicates

__all__ = [
    "Block",
    "BlockGroup",
    "BlockOccurrence",
    "BlocksResult",
    "find_repeated_blocks",
    "split_blocks",
    "strip_text",
]

UNITS = ("line", "paragraph")


@dataclass(frozen=True)
class Block:
    """A block of a document: its text as written and its 1-based line span."""

    text: str
    line: int
    end_line: int


@dataclass(frozen=True)
class BlockOccurrence:
    """Where a block occurs: document id and 1-based inclusive line span."""

    id: str
    line: int
    end_line: int
    similarity: float = 1.0


@dataclass
class BlockGroup:
    """Blocks that repeat: the text of the first occurrence as written, every
    occurrence in input order, how many documents they span, whether the
    group is template boilerplate."""

    kind: str
    text: str
    occurrences: list[BlockOccurrence]
    documents: int
    boilerplate: bool = False

    @property
    def count(self) -> int:
        """Number of occurrences."""
        return len(self.occurrences)


@dataclass
class BlocksResult:
    """Groups (boilerplate first, then by first occurrence), counts, skips."""

    groups: list[BlockGroup]
    documents: int
    blocks: int
    skipped: list[Skipped] = field(default_factory=list)
    boilerplate_min_documents: int = 0
    repeats: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    boilerplate_spans: dict[int, list[tuple[int, int]]] = field(default_factory=dict)

    def spans_to_strip(self, document: int, boilerplate: bool = False) -> list[tuple[int, int]]:
        """Line spans ``(line, end_line)`` that ``--strip`` removes from the
        document at this input position: later repeats, and with
        ``boilerplate`` every boilerplate occurrence."""
        spans = set(self.repeats.get(document, []))
        if boilerplate:
            spans |= set(self.boilerplate_spans.get(document, []))
        return sorted(spans)


def split_blocks(text: str, unit: str = "line") -> list[Block]:
    """Split a text into blocks (non-blank lines, or paragraphs).

    Raises:
        ValueError: unknown unit.
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be 'line' or 'paragraph', got {unit!r}")
    lines = text.replace("\r\n", "\n").split("\n")
    if unit == "line":
        return [Block(line, i, i) for i, line in enumerate(lines, start=1) if line.strip()]
    blocks = []
    start = None
    for i, line in enumerate([*lines, ""], start=1):
        if line.strip():
            if start is None:
                start = i
        elif start is not None:
            blocks.append(Block("\n".join(lines[start - 1 : i - 1]), start, i - 1))
            start = None
    return blocks


def _as_document(item: DocumentLike, position: int) -> Document | Skipped:
    if isinstance(item, (Document, Skipped)):
        return item
    if isinstance(item, str):
        return Document(str(position), item)
    return Document(str(item[0]), item[1])


def _documents(source: Sequence[DocumentLike] | Callable[[], Iterable[DocumentLike]]) -> Iterator[Document | Skipped]:
    items = source() if callable(source) else source
    for position, item in enumerate(items):
        yield _as_document(item, position)


@dataclass
class _Occurrences:
    """Pass 1's record: one row per kept block (hash, document, lines)."""

    hashes: list[npt.NDArray[np.uint64]] = field(default_factory=list)
    docs: list[npt.NDArray[np.int64]] = field(default_factory=list)
    lines: list[npt.NDArray[np.int64]] = field(default_factory=list)
    ends: list[npt.NDArray[np.int64]] = field(default_factory=list)

    def arrays(
        self,
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        def cat(parts: list[npt.NDArray[Any]], dtype: type[np.generic]) -> npt.NDArray[Any]:
            return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

        return (
            cat(self.hashes, np.uint64),
            cat(self.docs, np.int64),
            cat(self.lines, np.int64),
            cat(self.ends, np.int64),
        )


def _hash_blocks(
    blocks: list[Block], min_words: int, workers: int | None
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
    buf, offsets = normalize_batch([b.text for b in blocks], workers=workers)
    hashes, words = hash_kernel(buf, offsets, resolve_workers(workers))
    return hashes, words >= min_words


def find_repeated_blocks(
    documents: Sequence[DocumentLike] | Callable[[], Iterable[DocumentLike]],
    *,
    unit: str = "line",
    min_words: int = 4,
    near: float | None = None,
    boilerplate_documents: int | None = None,
    workers: int | None = None,
) -> BlocksResult:
    """Find blocks that occur more than once.

    Args:
        documents: A sequence of texts, ``(id, text)`` pairs or Documents, or
            a function returning a fresh iterable of them (read twice).
        unit: ``"line"`` or ``"paragraph"``.
        min_words: Blocks with fewer words after normalization are ignored.
        near: Also group blocks whose character 5-gram Jaccard similarity is
            at least this (None: exact repeats only).
        boilerplate_documents: A group spanning at least this many documents
            is boilerplate (default: 3 documents or 0.5% of them, whichever is more).
        workers: Threads for the compiled kernels.

    Returns:
        The groups, with counts and skipped inputs.

    Raises:
        ValueError: an option is out of range.
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be 'line' or 'paragraph', got {unit!r}")
    if min_words < 1:
        raise ValueError(f"min-words must be at least 1, got {min_words}")
    if near is not None and not 0.0 < near <= 1.0:
        raise ValueError(f"near must be in (0, 1], got {near}")

    # Pass 1: hashes and positions only.
    occurrences = _Occurrences()
    skipped: list[Skipped] = []
    ids: list[str] = []
    pending: list[tuple[int, list[Block]]] = []
    pending_blocks = 0

    def flush() -> None:
        nonlocal pending_blocks
        flat = [b for _, blocks in pending for b in blocks]
        if flat:
            hashes, keep = _hash_blocks(flat, min_words, workers)
            doc_of = np.repeat(np.array([d for d, _ in pending], dtype=np.int64), [len(bl) for _, bl in pending])
            occurrences.hashes.append(hashes[keep])
            occurrences.docs.append(doc_of[keep])
            occurrences.lines.append(np.array([b.line for b in flat], dtype=np.int64)[keep])
            occurrences.ends.append(np.array([b.end_line for b in flat], dtype=np.int64)[keep])
        pending.clear()
        pending_blocks = 0

    for doc in _documents(documents):
        if isinstance(doc, Skipped):
            skipped.append(doc)
            continue
        blocks = split_blocks(doc.text, unit)
        pending.append((len(ids), blocks))
        ids.append(doc.id)
        pending_blocks += len(blocks)
        if pending_blocks >= 16384:
            flush()
    flush()
    hashes, docs, lines, ends = occurrences.arrays()
    n_docs = len(ids)

    # Group identical hashes; order of occurrence is input order already.
    order = np.argsort(hashes, kind="stable")
    sorted_hashes = hashes[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_hashes[1:] != sorted_hashes[:-1])))
    counts = np.diff(np.append(starts, len(order)))
    distinct = order[starts]  # first occurrence of every distinct block
    group_of = np.empty(len(hashes), dtype=np.int64)
    group_of[order] = np.repeat(np.arange(len(starts)), counts)

    # Near duplicates: the scan pipeline over distinct blocks, then union-find.
    n_distinct = len(starts)
    labels = np.arange(n_distinct)
    texts: dict[int, str] = {}
    wanted = set(distinct[counts > 1].tolist()) if near is None else set(distinct.tolist())
    texts = _first_texts(documents, unit, docs, lines, wanted)
    if near is not None and n_distinct > 1:
        found = find_duplicates(
            [(str(g), texts[int(distinct[g])]) for g in range(n_distinct)],
            threshold=near,
            shingle="char:5",
            workers=workers,
            memory=1 << 28,
        )
        pairs = np.array([(int(p.a), int(p.b)) for p in found.pairs], dtype=np.int64).reshape(-1, 2)
        labels = connected_components(n_distinct, pairs[:, 0], pairs[:, 1])
        sims = {(int(p.a), int(p.b)): p.similarity for p in found.pairs}
    else:
        sims = {}

    # A group: all occurrences whose distinct block has the same label.
    label_of_occurrence = labels[group_of]
    occ_order = np.lexsort((np.arange(len(hashes)), label_of_occurrence))
    cuts = np.flatnonzero(np.diff(label_of_occurrence[occ_order])) + 1
    threshold_docs = boilerplate_documents or max(3, math.ceil(0.005 * n_docs))
    groups: list[tuple[int, BlockGroup]] = []
    repeats: dict[int, list[tuple[int, int]]] = {}
    boilerplate_spans: dict[int, list[tuple[int, int]]] = {}
    for members in np.split(occ_order, cuts) if len(occ_order) else []:
        if len(members) < 2:
            continue
        members = np.sort(members)  # input order: rows are appended in input order
        first = int(members[0])
        distinct_groups = np.unique(group_of[members])
        kind = "exact" if len(distinct_groups) == 1 else "near"
        first_group = int(group_of[first])
        occ = []
        for row in members.tolist():
            g = int(group_of[row])
            sim = 1.0 if g == first_group else sims.get((min(g, first_group), max(g, first_group)), near or 1.0)
            occ.append(BlockOccurrence(ids[int(docs[row])], int(lines[row]), int(ends[row]), sim))
        n_group_docs = len(np.unique(docs[members]))
        group = BlockGroup(kind, texts[first], occ, n_group_docs, n_group_docs >= threshold_docs)
        groups.append((first, group))
        for row in members[1:].tolist():
            repeats.setdefault(int(docs[row]), []).append((int(lines[row]), int(ends[row])))
        if group.boilerplate:
            for row in members.tolist():
                boilerplate_spans.setdefault(int(docs[row]), []).append((int(lines[row]), int(ends[row])))
    # Boilerplate first, then by first occurrence (rows are in input order).
    groups.sort(key=lambda item: (not item[1].boilerplate, item[0]))
    ordered = [g for _, g in groups]
    return BlocksResult(ordered, n_docs, len(hashes), skipped, threshold_docs, repeats, boilerplate_spans)


def _first_texts(
    documents: Sequence[DocumentLike] | Callable[[], Iterable[DocumentLike]],
    unit: str,
    docs: npt.NDArray[np.int64],
    lines: npt.NDArray[np.int64],
    rows: set[int],
) -> dict[int, str]:
    """Pass 2: the text as written of the given occurrence rows."""
    want: dict[tuple[int, int], int] = {(int(docs[r]), int(lines[r])): r for r in rows}
    texts: dict[int, str] = {}
    if not want:
        return texts
    index = 0
    for doc in _documents(documents):
        if isinstance(doc, Skipped):
            continue
        for block in split_blocks(doc.text, unit):
            row = want.get((index, block.line))
            if row is not None:
                texts[row] = block.text
        index += 1
    return texts


def strip_text(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """Remove the given 1-based inclusive line spans from a text (``\r\n``
    becomes ``\n``, as when the blocks were found)."""
    if not spans:
        return text
    lines = text.replace("\r\n", "\n").split("\n")
    drop = np.zeros(len(lines) + 1, dtype=bool)
    for line, end_line in spans:
        drop[line : end_line + 1] = True
    return "\n".join(line for i, line in enumerate(lines, start=1) if not drop[i])
