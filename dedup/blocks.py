"""Repeated blocks: lines or paragraphs that occur more than once, inside one
document or across documents, exactly or nearly; boilerplate. (Removing them
from copies of the inputs: :mod:`dedup.strip`.)

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

import numpy as np
import numpy.typing as npt

from dedup._kernels import hash_kernel
from dedup._threads import resolve_workers
from dedup.cluster import connected_components
from dedup.document import Document, DocumentLike, Skipped, as_document
from dedup.normalize import normalize_batch
from dedup.pipeline import find_duplicates

__all__ = [
    "Block",
    "BlockGroup",
    "BlockOccurrence",
    "BlocksResult",
    "find_repeated_blocks",
    "split_blocks",
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


def _documents(source: Sequence[DocumentLike] | Callable[[], Iterable[DocumentLike]]) -> Iterator[Document | Skipped]:
    items = source() if callable(source) else source
    for position, item in enumerate(items):
        yield as_document(item, position)


_BATCH_BLOCKS = 16384
_BATCH_CHARACTERS = 4 << 20  # long paragraphs: bound a batch's text, not only its block count


@dataclass
class _Batch:
    """Blocks of consecutive documents, hashed: block i belongs to document
    ``first_document + owner[i]``."""

    first_document: int
    documents: int
    blocks: list[Block]
    owner: npt.NDArray[np.int64]
    hashes: npt.NDArray[np.uint64]
    keep: npt.NDArray[np.bool_]


def _batches(
    documents: Sequence[DocumentLike] | Callable[[], Iterable[DocumentLike]],
    unit: str,
    min_words: int,
    workers: int | None,
    on_document: Callable[[Document | Skipped], None] | None = None,
) -> Iterator[_Batch]:
    """Split, normalize and hash the blocks of every document, in batches."""
    number = 0
    pending: list[list[Block]] = []
    first = 0

    def flush() -> _Batch:
        blocks = [b for bl in pending for b in bl]
        owner = np.repeat(np.arange(len(pending), dtype=np.int64), [len(bl) for bl in pending])
        if blocks:
            buf, offsets = normalize_batch([b.text for b in blocks], workers=workers)
            hashes, words = hash_kernel(buf, offsets, resolve_workers(workers))
        else:
            hashes, words = np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
        return _Batch(first, len(pending), blocks, owner, hashes, words >= min_words)

    size = characters = 0
    for doc in _documents(documents):
        if on_document is not None:
            on_document(doc)
        if isinstance(doc, Skipped):
            continue
        blocks = split_blocks(doc.text, unit)
        pending.append(blocks)
        number += 1
        size += len(blocks)
        characters += len(doc.text)
        if size >= _BATCH_BLOCKS or characters >= _BATCH_CHARACTERS:
            yield flush()
            pending, first, size, characters = [], number, 0, 0
    if pending:
        yield flush()


class _DistinctCounts:
    """Sorted distinct block hashes and their counts, merged lazily (memory
    is O(distinct blocks): each batch's distinct hashes wait in a list until
    they outnumber the merged ones)."""

    def __init__(self) -> None:
        self.hashes = np.zeros(0, dtype=np.uint64)
        self.counts = np.zeros(0, dtype=np.int64)
        self.pending: list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]] = []
        self.pending_size = 0

    def add(self, hashes: npt.NDArray[np.uint64]) -> None:
        unique, counts = np.unique(hashes, return_counts=True)
        self.pending.append((unique, counts.astype(np.int64)))
        self.pending_size += len(unique)
        if self.pending_size > max(len(self.hashes), 1 << 20):
            self.merge()

    def merge(self) -> None:
        if not self.pending:
            return
        all_hashes = np.concatenate([self.hashes, *[h for h, _ in self.pending]])
        all_counts = np.concatenate([self.counts, *[c for _, c in self.pending]])
        self.pending, self.pending_size = [], 0
        order = np.argsort(all_hashes, kind="stable")
        all_hashes, all_counts = all_hashes[order], all_counts[order]
        starts = np.flatnonzero(np.concatenate(([True], all_hashes[1:] != all_hashes[:-1])))
        self.hashes = all_hashes[starts]
        self.counts = np.add.reduceat(all_counts, starts) if len(starts) else all_counts[:0]


def find_repeated_blocks(
    documents: Sequence[DocumentLike] | Callable[[], Iterable[DocumentLike]],
    *,
    unit: str = "line",
    min_words: int = 4,
    near: float | None = None,
    boilerplate_documents: int | None = None,
    workers: int | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> BlocksResult:
    """Find blocks that occur more than once.

    Args:
        documents: A sequence of texts, ``(id, text)`` pairs or Documents, or
            a function returning a fresh iterable of them (read twice, or
            three times with ``near`` when a group's first text is needed).
        unit: ``"line"`` or ``"paragraph"``.
        min_words: Blocks with fewer words after normalization are ignored.
        near: Also group blocks whose character 5-gram Jaccard similarity is
            at least this (None: exact repeats only).
        boilerplate_documents: A group spanning at least this many documents
            is boilerplate (default: 3 documents or 0.5% of them, whichever is more).
        workers: Threads for the compiled kernels.
        progress: Called with ``("counting" | "grouping", documents done)``.

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

    # Pass 1: count every distinct block (hashes only).
    skipped: list[Skipped] = []
    ids: list[str] = []

    def note(doc: Document | Skipped) -> None:
        if isinstance(doc, Skipped):
            skipped.append(doc)
        else:
            ids.append(doc.id)
            if progress is not None and len(ids) % 1000 == 0:
                progress("counting", len(ids))

    distinct = _DistinctCounts()
    n_blocks = 0
    for batch in _batches(documents, unit, min_words, workers, note):
        distinct.add(batch.hashes[batch.keep])
        n_blocks += int(batch.keep.sum())
    distinct.merge()
    n_docs = len(ids)
    n_distinct = len(distinct.hashes)

    # Pass 2: positions of repeated blocks (and, with near, of every distinct
    # block's first occurrence), feeding distinct blocks to the near scan.
    seen = np.zeros(n_distinct, dtype=bool)
    first_row = np.full(n_distinct, -1, dtype=np.int64)  # occurrence row of each first occurrence
    rows_key: list[npt.NDArray[np.int64]] = []
    rows_doc: list[npt.NDArray[np.int64]] = []
    rows_line: list[npt.NDArray[np.int64]] = []
    rows_end: list[npt.NDArray[np.int64]] = []
    texts: dict[int, str] = {}  # distinct index -> first text as written (repeated blocks only)
    total_rows = 0

    def second_pass() -> Iterator[tuple[str, str]]:
        nonlocal total_rows
        for batch in _batches(documents, unit, min_words, workers):
            kept = np.flatnonzero(batch.keep)
            key = np.searchsorted(distinct.hashes, batch.hashes[kept])
            repeated = distinct.counts[key] > 1
            new = ~seen[key]
            # A block is new when it is the first of its hash in the batch and unseen before.
            _, first_in_batch = np.unique(key, return_index=True)
            is_first = np.zeros(len(key), dtype=bool)
            is_first[first_in_batch] = True
            is_first &= new
            record = repeated | (is_first if near is not None else False)
            chosen = kept[record]
            rows_key.append(key[record])
            rows_doc.append(batch.first_document + batch.owner[chosen])
            rows_line.append(np.array([batch.blocks[i].line for i in chosen.tolist()], dtype=np.int64))
            rows_end.append(np.array([batch.blocks[i].end_line for i in chosen.tolist()], dtype=np.int64))
            firsts = np.flatnonzero(is_first[record])
            first_row[key[record][firsts]] = total_rows + firsts
            total_rows += len(chosen)
            seen[key] = True
            for position in np.flatnonzero(is_first).tolist():
                index = int(key[position])
                text = batch.blocks[int(kept[position])].text
                if repeated[position]:
                    texts[index] = text
                if near is not None:
                    yield str(index), text
            if progress is not None:
                progress("grouping", batch.first_document + batch.documents)

    labels: npt.NDArray[np.int64] = np.arange(n_distinct, dtype=np.int64)
    sims: dict[tuple[int, int], float] = {}
    if near is not None:
        found = find_duplicates(second_pass(), threshold=near, shingle="char:5", workers=workers)
        left = np.array([int(p.a) for p in found.pairs], dtype=np.int64)
        right = np.array([int(p.b) for p in found.pairs], dtype=np.int64)
        labels = connected_components(n_distinct, left, right)
        sims = {(int(p.a), int(p.b)): p.similarity for p in found.pairs}
    else:
        for _ in second_pass():
            pass

    def cat(parts: list[npt.NDArray[np.int64]]) -> npt.NDArray[np.int64]:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    key, docs, lines, ends = cat(rows_key), cat(rows_doc), cat(rows_line), cat(rows_end)
    # Rows are in input order; group them by label, keep groups of 2+ occurrences.
    label = labels[key]
    order = np.lexsort((np.arange(len(key)), label))
    cuts = np.flatnonzero(np.diff(label[order])) + 1
    threshold_docs = boilerplate_documents or max(3, math.ceil(0.005 * n_docs))
    heads: list[tuple[int, npt.NDArray[np.int64]]] = []
    for members in np.split(order, cuts) if len(order) else []:
        if len(members) >= 2:
            heads.append((int(members[0]), members))
    missing = {int(key[row]) for row, _ in heads if int(key[row]) not in texts}
    if missing:
        texts.update(_first_texts(documents, unit, {int(first_row[k]): k for k in missing}, docs, lines))

    groups: list[tuple[int, BlockGroup]] = []
    repeats: dict[int, list[tuple[int, int]]] = {}
    boilerplate_spans: dict[int, list[tuple[int, int]]] = {}
    for head, members in heads:
        head_key = int(key[head])
        kind = "exact" if len(np.unique(key[members])) == 1 else "near"
        occurrences = []
        for row in members.tolist():
            k = int(key[row])
            sim = 1.0 if k == head_key else sims.get((min(k, head_key), max(k, head_key)), near or 1.0)
            occurrences.append(BlockOccurrence(ids[int(docs[row])], int(lines[row]), int(ends[row]), sim))
        n_group_docs = len(np.unique(docs[members]))
        group = BlockGroup(kind, texts[head_key], occurrences, n_group_docs, n_group_docs >= threshold_docs)
        groups.append((head, group))
        for row in members[1:].tolist():
            repeats.setdefault(int(docs[row]), []).append((int(lines[row]), int(ends[row])))
        if group.boilerplate:
            for row in members.tolist():
                boilerplate_spans.setdefault(int(docs[row]), []).append((int(lines[row]), int(ends[row])))
    # Boilerplate first, then by first occurrence (rows are in input order).
    groups.sort(key=lambda item: (not item[1].boilerplate, item[0]))
    ordered = [g for _, g in groups]
    return BlocksResult(ordered, n_docs, n_blocks, skipped, threshold_docs, repeats, boilerplate_spans)


def _first_texts(
    documents: Sequence[DocumentLike] | Callable[[], Iterable[DocumentLike]],
    unit: str,
    wanted: dict[int, int],
    docs: npt.NDArray[np.int64],
    lines: npt.NDArray[np.int64],
) -> dict[int, str]:
    """One more pass: the text as written of the given rows (row -> key)."""
    where = {(int(docs[row]), int(lines[row])): key for row, key in wanted.items()}
    texts: dict[int, str] = {}
    index = 0
    for doc in _documents(documents):
        if isinstance(doc, Skipped):
            continue
        for block in split_blocks(doc.text, unit):
            key = where.get((index, block.line))
            if key is not None:
                texts[key] = block.text
        index += 1
    return texts
