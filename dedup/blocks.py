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

:func:`find_boilerplate` is the first pass alone: the blocks found in many
documents, which :meth:`Boilerplate.clean` removes from documents as they
stream by (``dedup scan --ignore-boilerplate``:
:func:`find_duplicates_without_boilerplate`).

Documents are read twice: the first pass counts every distinct block (8 bytes
of hash and 8 of count per distinct block, never the texts); the second keeps
positions (32 bytes per occurrence) of repeated blocks only, fetches the text
of each group's first occurrence and feeds distinct blocks to the
near-duplicate scan. So ``documents`` is a sequence, or a function returning a
fresh iterable each call. Document ids are made unique as in every result
(:class:`~dedup.document.UniqueIds`).

Each pass splits, normalizes and hashes blocks in one compiled pass over a
few MiB of UTF-8 texts at a time (``block_kernel`` in ``dedup/_kernels.pyx``;
JSONL texts go from the parser to it without becoming Python strings, and
only a group's first text is ever decoded), on a thread that reads a batch
ahead of the counting and grouping (:func:`block_batches`).

Example:
    >>> docs = [("a", "Tin mới nhất hôm nay\\nMột dòng riêng\\nTin mới nhất hôm nay!"),
    ...         ("b", "TIN MỚI NHẤT HÔM NAY")]
    >>> [(g.kind, g.count, g.documents, [(o.id, o.line) for o in g.occurrences])
    ...  for g in find_repeated_blocks(docs).groups]
    [('exact', 3, 2, [('a', 1), ('a', 3), ('b', 1)])]
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from queue import Full, Queue
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from dedup._kernels import block_kernel, hash_kernel
from dedup._threads import MAX_WORKERS, resolve_workers
from dedup.cluster import Cluster
from dedup.config import ScanConfig
from dedup.document import Document, DocumentLike, Renamed, Skipped, UniqueIds, as_document, check_documents
from dedup.errors import UsageError
from dedup.io import DocumentStream, PackedTexts
from dedup.normalize import kernel_tables, normalize_batch
from dedup.pipeline import ScanResult, find_duplicates

__all__ = [
    "Block",
    "BlockGroup",
    "BlockOccurrence",
    "BlocksConfig",
    "BlocksResult",
    "Boilerplate",
    "boilerplate_min_documents",
    "find_boilerplate",
    "find_duplicates_without_boilerplate",
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
    """Groups (boilerplate first, then by first occurrence), counts, skips.

    Attributes:
        groups: The groups of repeated blocks.
        documents: Documents read.
        blocks: Blocks of at least ``min_words`` words.
        skipped: Inputs that are not documents, and why.
        boilerplate_min_documents: Documents a group must span to be boilerplate.
        repeats: Document number (input position among documents) -> line
            spans of its later repeats.
        boilerplate_spans: Document number -> line spans of its boilerplate.
        renamed: Documents whose id was already taken, and the id they got.
    """

    groups: list[BlockGroup]
    documents: int
    blocks: int
    skipped: list[Skipped] = field(default_factory=list)
    boilerplate_min_documents: int = 0
    repeats: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    boilerplate_spans: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    renamed: list[Renamed] = field(default_factory=list)

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


_BATCH_BYTES = 4 << 20  # UTF-8 bytes of text per batch (a bigger single document is one batch)
_BATCH_DOCUMENTS = 4096  # and documents: a stream of short ones yields its first batch soon


@dataclass
class _Batch:
    """Blocks of consecutive documents, hashed, in document then line order;
    arrays of shape ``(n_blocks,)``: block i belongs to document
    ``first_document + owner[i]`` (int64), spans bytes ``[lo[i], hi[i])``
    of ``data`` (int64), 1-based lines ``line[i]`` to ``end[i]`` (int64),
    hashes its normalized text (uint64), has ``min_words`` words (bool)."""

    first_document: int
    documents: int
    names: list[Document]  # the batch's documents without their texts (ids and locations)
    data: npt.NDArray[np.uint8]  # the documents' texts as UTF-8 ("surrogatepass"), back to back
    owner: npt.NDArray[np.int64]
    lo: npt.NDArray[np.int64]
    hi: npt.NDArray[np.int64]
    line: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]
    hashes: npt.NDArray[np.uint64]
    keep: npt.NDArray[np.bool_]
    worded: npt.NDArray[np.bool_]  # has a word at all (a cleaned text left without one is lost)

    def text(self, block: int) -> str:
        """Block ``block``'s text as written (what :func:`split_blocks` gives)."""
        raw = self.data[self.lo[block] : self.hi[block]].tobytes().decode("utf-8", "surrogatepass")
        # A paragraph's span keeps the "\r\n" between its lines; split_blocks joins them with "\n".
        return raw.replace("\r\n", "\n")


def _utf8_runs(
    items: Iterable[DocumentLike],
) -> Iterator[Skipped | tuple[list[Document], npt.NDArray[np.uint8], npt.NDArray[np.int64]]]:
    """Skips, and runs of documents: their names (texts left out), their
    texts as UTF-8 back to back (uint8) and each text's size in bytes
    (int64), in input order. From a :class:`~dedup.io.DocumentStream`, JSONL
    texts stay the UTF-8 the reader parsed, never Python strings."""
    source: Iterable[DocumentLike | PackedTexts] = items.packed() if isinstance(items, DocumentStream) else items
    position = 0
    for item in source:
        if isinstance(item, PackedTexts):
            names = [Document(i, "", where) for i, where in zip(item.ids, item.locations, strict=True)]
            bounds = item.offsets
            yield names, item.text[bounds[0] : bounds[-1]], np.diff(bounds)
            position += len(item)
            continue
        doc = as_document(item, position)
        position += 1
        if isinstance(doc, Skipped):
            yield doc
            continue
        encoded = doc.text.encode("utf-8", "surrogatepass")
        yield [Document(doc.id, "", doc.location)], np.frombuffer(encoded, dtype=np.uint8), np.array([len(encoded)])


def block_batches(
    documents: Sequence[DocumentLike] | Callable[[], Iterable[DocumentLike]],
    unit: str,
    min_words: int,
    workers: int | None,
    on_skip: Callable[[Skipped], None] | None = None,
) -> Iterator[_Batch]:
    """Split, normalize and hash the blocks of every document, in batches of
    about ``_BATCH_BYTES`` of text or ``_BATCH_DOCUMENTS`` documents
    (:func:`~dedup._kernels.block_kernel`), read and hashed on a thread of
    their own a batch ahead of the caller; ``on_skip`` gets each input that
    is not a document, before the batch of the documents after it."""
    items = documents() if callable(documents) else documents
    for skipped, batch in _read_ahead(_batches(items, unit, min_words, workers)):
        if on_skip is not None:
            for skip in skipped:
                on_skip(skip)
        if batch is not None:
            yield batch


def _batches(
    items: Iterable[DocumentLike], unit: str, min_words: int, workers: int | None
) -> Iterator[tuple[list[Skipped], _Batch | None]]:
    """Each batch with the skips met before it (the last batch None: the skips after every document)."""
    first = 0
    names: list[Document] = []
    pieces: list[npt.NDArray[np.uint8]] = []
    sizes: list[npt.NDArray[np.int64]] = []
    skipped: list[Skipped] = []
    size = 0
    for run in _utf8_runs(items):
        if isinstance(run, Skipped):
            skipped.append(run)
            continue
        names.extend(run[0])
        pieces.append(run[1])
        sizes.append(run[2])
        size += len(run[1])
        if size >= _BATCH_BYTES or len(names) >= _BATCH_DOCUMENTS:
            yield skipped, _hash_batch(first, names, pieces, sizes, unit, min_words, workers)
            first += len(names)
            names, pieces, sizes, skipped, size = [], [], [], [], 0
    yield skipped, _hash_batch(first, names, pieces, sizes, unit, min_words, workers) if names else None


_T = TypeVar("_T")
_READ_AHEAD = 2  # batches waiting for the caller: bounds the memory read ahead


def _read_ahead(items: Iterator[_T]) -> Iterator[_T]:
    """``items``, produced on a thread of their own up to ``_READ_AHEAD``
    ahead of the caller: gzip, the JSONL parser and the blocks kernel release
    the GIL, so reading overlaps what the caller does with each item. The
    producer's exception is raised here after the items it produced; the
    producer stops (and closes ``items``) when the caller stops early."""
    queue: Queue[tuple[int, Any]] = Queue(_READ_AHEAD)
    stop = threading.Event()

    def put(entry: tuple[int, Any]) -> bool:
        while not stop.is_set():
            with contextlib.suppress(Full):
                queue.put(entry, timeout=0.05)
                return True
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((_ITEM, item)):
                    break
            else:
                put((_DONE, None))
        except BaseException as error:  # noqa: BLE001  # handed to the caller's thread, raised there
            put((_FAILED, error))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="dedup-blocks-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = queue.get()
            if kind == _DONE:
                return
            if kind == _FAILED:
                raise value
            yield value
    finally:
        stop.set()
        thread.join()


_ITEM, _DONE, _FAILED = 0, 1, 2


def _hash_batch(
    first: int,
    names: list[Document],
    pieces: list[npt.NDArray[np.uint8]],
    sizes: list[npt.NDArray[np.int64]],
    unit: str,
    min_words: int,
    workers: int | None,
) -> _Batch:
    """The blocks of these documents (texts: ``pieces`` back to back)."""
    text = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
    starts = np.zeros(len(names) + 1, dtype=np.int64)
    np.cumsum(np.concatenate(sizes), out=starts[1:])
    case, _, stable, tones = kernel_tables(False)
    threads = resolve_workers(workers)
    owner, lo, hi, line, end, hashes, words, needs = block_kernel(
        text, starts, unit == "paragraph", case, stable, tones, threads
    )
    rows = np.flatnonzero(needs)
    if len(rows):
        # Blocks holding a code point that is not NFC-stable: Python's NFC first (rare).
        spans = zip(lo[rows].tolist(), hi[rows].tolist(), strict=True)
        texts = [text[a:b].tobytes().decode("utf-8", "surrogatepass") for a, b in spans]
        buf, offsets = normalize_batch(texts, workers=workers)
        hashes[rows], words[rows] = hash_kernel(buf, offsets, threads)
    return _Batch(first, len(names), names, text, owner, lo, hi, line, end, hashes, words >= min_words, words > 0)


class DistinctCounts:
    """Sorted distinct block hashes, their counts, the documents holding
    each and the first partition holding each (uint64, int64, int64, int64
    arrays of shape ``(distinct,)``), merged lazily: memory is O(distinct blocks), each batch's distinct hashes
    wait in a list until they outnumber the merged ones. One engine reads one
    partition (0); the Dask engine adds each partition's counts."""

    def __init__(self) -> None:
        self.hashes = np.zeros(0, dtype=np.uint64)
        self.counts = np.zeros(0, dtype=np.int64)
        self.documents = np.zeros(0, dtype=np.int64)
        self.origin = np.zeros(0, dtype=np.int64)
        self.pending: list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64], npt.NDArray[np.int64], int]] = []
        self.pending_size = 0

    def add(self, hashes: npt.NDArray[np.uint64], owner: npt.NDArray[np.int64], partition: int = 0) -> None:
        """Count the blocks of these hashes (any order, repeats allowed);
        ``owner[i]`` is block i's document (a document's blocks all come in
        one call, so per-call document counts add up)."""
        unique, counts = np.unique(hashes, return_counts=True)
        self.add_counted(unique, counts.astype(np.int64), partition, _documents_per_hash(unique, hashes, owner))

    def add_counted(
        self,
        unique: npt.NDArray[np.uint64],
        counts: npt.NDArray[np.int64],
        partition: int = 0,
        documents: npt.NDArray[np.int64] | None = None,
    ) -> None:
        """Add distinct hashes with their counts, found in ``partition``, and
        the documents holding each (None: not counted, zeros; only
        :func:`find_boilerplate` reads them)."""
        spans = np.zeros(len(unique), dtype=np.int64) if documents is None else documents
        self.pending.append((unique, counts, spans, partition))
        self.pending_size += len(unique)
        if self.pending_size > max(len(self.hashes), 1 << 20):
            self.merge()

    def merge(self) -> None:
        if not self.pending:
            return
        all_hashes = np.concatenate([self.hashes, *[h for h, _, _, _ in self.pending]])
        all_counts = np.concatenate([self.counts, *[c for _, c, _, _ in self.pending]])
        all_documents = np.concatenate([self.documents, *[d for _, _, d, _ in self.pending]])
        origins = [np.full(len(h), p, dtype=np.int64) for h, _, _, p in self.pending]
        all_origins = np.concatenate([self.origin, *origins])
        self.pending, self.pending_size = [], 0
        if not len(all_hashes):
            return  # no block reached min_words: nothing to merge
        order = np.argsort(all_hashes, kind="stable")
        all_hashes, all_counts, all_origins = all_hashes[order], all_counts[order], all_origins[order]
        all_documents = all_documents[order]
        starts = np.flatnonzero(np.concatenate(([True], all_hashes[1:] != all_hashes[:-1])))
        self.hashes = all_hashes[starts]
        self.counts = np.add.reduceat(all_counts, starts) if len(starts) else all_counts[:0]
        self.documents = np.add.reduceat(all_documents, starts) if len(starts) else all_documents[:0]
        self.origin = np.minimum.reduceat(all_origins, starts) if len(starts) else all_origins[:0]

    def in_documents(self, minimum: int) -> npt.NDArray[np.uint64]:
        """Sorted hashes of blocks found in at least ``minimum`` documents."""
        found: npt.NDArray[np.uint64] = self.hashes[self.documents >= minimum]
        return found

    def repeated(self) -> npt.NDArray[np.uint64]:
        """Sorted hashes of blocks that occur more than once."""
        return self.hashes[self.counts > 1]

    def owned(self, partition: int) -> npt.NDArray[np.uint64]:
        """Sorted hashes whose first occurrence is in ``partition``."""
        owned: npt.NDArray[np.uint64] = self.hashes[self.origin == partition]
        return owned

    def keys(self, hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """Distinct index of each (counted) hash."""
        return np.searchsorted(self.hashes, hashes).astype(np.int64)


def _documents_per_hash(
    unique: npt.NDArray[np.uint64], hashes: npt.NDArray[np.uint64], owner: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """For each of the sorted ``unique`` hashes, how many distinct owners its
    occurrences in ``hashes`` have (int64, shape ``(len(unique),)``)."""
    spans = np.zeros(len(unique), dtype=np.int64)
    if len(hashes):
        order = np.lexsort((owner, hashes))
        h, o = hashes[order], owner[order]
        # Sorted by hash then owner: a (hash, owner) pair starts where either changes.
        new_pair = np.concatenate(([True], (h[1:] != h[:-1]) | (o[1:] != o[:-1])))
        spans = np.bincount(np.searchsorted(unique, h[new_pair]), minlength=len(unique)).astype(np.int64)
    return spans


@dataclass(frozen=True)
class BlocksConfig:
    """Options of :func:`find_repeated_blocks`; the CLI flags are these names
    in kebab-case. Checked by ``validate()`` before any document is read.

    Raises:
        UsageError: from ``validate()`` when an option is out of range.
    """

    unit: str = "line"
    min_words: int = 4
    near: float | None = None
    boilerplate_documents: int | None = None
    workers: int | None = None

    def validate(self) -> None:
        """Check every option.

        Raises:
            UsageError: ``unit`` is unknown, ``min_words`` is below 1,
                ``near`` is outside (0, 1], ``boilerplate_documents`` is below
                1, or ``workers`` is outside [1, 256].
        """
        if self.unit not in UNITS:
            raise UsageError(f"unit must be 'line' or 'paragraph', got {self.unit!r}", option="unit")
        if self.min_words < 1:
            raise UsageError(f"min_words must be at least 1, got {self.min_words}", option="min_words")
        if self.near is not None and not 0.0 < self.near <= 1.0:
            raise UsageError(f"near must be in (0, 1], got {self.near}", option="near")
        if self.boilerplate_documents is not None and self.boilerplate_documents < 1:
            raise UsageError(
                f"boilerplate_documents must be at least 1, got {self.boilerplate_documents}",
                option="boilerplate_documents",
            )
        if self.workers is not None and not 1 <= self.workers <= MAX_WORKERS:
            raise UsageError(f"workers must be between 1 and {MAX_WORKERS}, got {self.workers}", option="workers")


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
            three times when a group's first text is needed).
        unit: ``"line"`` or ``"paragraph"``.
        min_words: Blocks with fewer words after normalization are ignored.
        near: Also group blocks whose character 5-gram Jaccard similarity is
            at least this (None: exact repeats only).
        boilerplate_documents: A group spanning at least this many documents
            is boilerplate (default: 3 documents or 0.5% of them, whichever is more).
        workers: Threads for the compiled kernels.
        progress: Called with ``("counting" | "grouping", documents done)``.

    Returns:
        The groups, with counts, skipped inputs and renamed ids. No block of
        ``min_words`` words (or no document at all) gives no groups.

    Raises:
        UsageError: ``unit`` is unknown, ``min_words`` is below 1, ``near``
            is outside (0, 1], ``boilerplate_documents`` is below 1, or
            ``workers`` is outside [1, 256].
    """
    BlocksConfig(unit, min_words, near, boilerplate_documents, workers).validate()
    check_documents(documents)
    unique = UniqueIds()
    ids: list[str] = []

    def name(names: list[Document]) -> None:
        ids.extend(d.id for d in unique.assign(names))

    part = count_blocks(documents, unit, min_words, workers, name, progress)
    counted = Counts(part.distinct, ids, part.skipped, unique.renamed, part.blocks)
    repeated = counted.distinct.repeated()
    positions = BlockPositions(repeated, counted.distinct.hashes if near is not None else repeated, near is not None)
    firsts = positions.collect(block_batches(documents, unit, min_words, workers), progress)
    if near is not None:
        found = find_duplicates(
            ((str(h), text) for h, text in firsts), threshold=near, shingle="char:5", keep="first", workers=workers
        )
        labels, similarity = near_labels(found.clusters, counted.distinct)
    else:
        for _ in firsts:
            pass
        labels, similarity = np.arange(len(counted.distinct.hashes), dtype=np.int64), {}
    rows = keyed_rows(counted.distinct, [positions.rows()])
    texts = keyed_texts(counted.distinct, positions.texts)

    def fetch(where: dict[tuple[int, int], int]) -> dict[int, str]:
        return first_texts(documents, unit, where)

    return group_blocks(counted, rows, texts, labels, similarity, fetch, boilerplate_documents)


@dataclass
class PartitionCounts:
    """Pass 1 over one partition of the documents: its distinct blocks
    counted, skips, blocks of ``min_words`` words."""

    distinct: DistinctCounts
    skipped: list[Skipped]
    blocks: int


@dataclass
class Counts:
    """What the first pass finds over all documents: distinct blocks and
    their counts, the documents' unique ids in input order, skips and
    renamings."""

    distinct: DistinctCounts
    ids: list[str]
    skipped: list[Skipped]
    renamed: list[Renamed]
    blocks: int


def count_blocks(
    documents: Sequence[DocumentLike] | Callable[[], Iterable[DocumentLike]],
    unit: str,
    min_words: int,
    workers: int | None,
    on_names: Callable[[list[Document]], None],
    progress: Callable[[str, int], None] | None = None,
) -> PartitionCounts:
    """Pass 1 (a phase of every engine): count every distinct block (hashes
    only); ``on_names`` gets each batch's documents without their texts, in
    input order (to be named by :class:`~dedup.document.UniqueIds`)."""
    skipped: list[Skipped] = []

    distinct = DistinctCounts()
    n_blocks = 0
    for batch in block_batches(documents, unit, min_words, workers, skipped.append):
        on_names(batch.names)
        distinct.add(batch.hashes[batch.keep], batch.owner[batch.keep])
        n_blocks += int(batch.keep.sum())
        if progress is not None:
            progress("counting", batch.first_document + batch.documents)
    distinct.merge()
    return PartitionCounts(distinct, skipped, n_blocks)


@dataclass
class _Rows:
    """Occurrence rows in input order, int64 arrays of shape ``(n_rows,)``:
    distinct block index, document number, first and last line."""

    key: npt.NDArray[np.int64]
    doc: npt.NDArray[np.int64]
    line: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]


HashRows = tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]
"""One partition's occurrence rows in input order, arrays of shape ``(n_rows,)``:
block hash (uint64), document number in the partition, first and last line (int64)."""


class BlockPositions:
    """Pass 2 over one partition (a phase of every engine): the positions of
    repeated blocks and, for the near scan, of the first occurrence of each
    ``owned`` block; the text as written of each owned repeated block's first
    occurrence.

    Args:
        repeated: Sorted hashes of the blocks that occur more than once in
            all the documents (uint64, ``(r,)``).
        owned: Sorted hashes of the blocks whose first occurrence in all the
            documents is in this partition (uint64, ``(o,)``): all distinct
            blocks for one partition; only repeated ones are needed without
            ``near``.
        near: Record every owned block's first occurrence too, and yield it.
    """

    def __init__(self, repeated: npt.NDArray[np.uint64], owned: npt.NDArray[np.uint64], near: bool) -> None:
        self.repeated = repeated
        self.owned = owned
        self.near = near
        self.seen = np.zeros(len(owned), dtype=bool)
        self.parts: list[HashRows] = []
        self.texts: dict[int, str] = {}  # hash -> first text as written (owned repeated blocks only)

    def collect(
        self, batches: Iterable[_Batch], progress: Callable[[str, int], None] | None
    ) -> Iterator[tuple[int, str]]:
        """Record every batch; yield ``(hash, text)`` of each owned block at
        its first occurrence when grouping near blocks."""
        for batch in batches:
            yield from self._record(batch)
            if progress is not None:
                progress("grouping", batch.first_document + batch.documents)

    def _record(self, batch: _Batch) -> Iterator[tuple[int, str]]:
        kept = np.flatnonzero(batch.keep)
        hashes = batch.hashes[kept]
        repeated = _members(self.repeated, hashes)
        slot = np.minimum(np.searchsorted(self.owned, hashes), max(len(self.owned) - 1, 0))
        # A block is first when owned, the first of its hash in the batch and unseen before.
        _, first_in_batch = np.unique(hashes, return_index=True)
        is_first = np.zeros(len(hashes), dtype=bool)
        is_first[first_in_batch] = True
        is_first &= _members(self.owned, hashes)
        is_first[is_first] &= ~self.seen[slot[is_first]]
        record = repeated | is_first if self.near else repeated
        chosen = kept[record]
        self.parts.append(
            (
                hashes[record],
                batch.first_document + batch.owner[chosen],
                batch.line[chosen],
                batch.end[chosen],
            )
        )
        self.seen[slot[is_first]] = True
        for position in np.flatnonzero(is_first).tolist():
            text = batch.text(int(kept[position]))
            if repeated[position]:
                self.texts[int(hashes[position])] = text
            if self.near:
                yield int(hashes[position]), text

    def rows(self) -> HashRows:
        """Every recorded row, in input order."""
        if not self.parts:
            empty = np.zeros(0, dtype=np.int64)
            return np.zeros(0, dtype=np.uint64), empty, empty, empty
        hashes, doc, line, end = (np.concatenate(c) for c in zip(*self.parts, strict=True))
        return hashes.astype(np.uint64), doc, line, end


def _members(table: npt.NDArray[np.uint64], hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
    """Whether each hash is in the sorted ``table``."""
    if not len(table):
        return np.zeros(len(hashes), dtype=bool)
    slot = np.minimum(np.searchsorted(table, hashes), len(table) - 1)
    return np.asarray(table[slot] == hashes)


def keyed_rows(distinct: DistinctCounts, parts: Sequence[HashRows], offsets: Sequence[int] | None = None) -> _Rows:
    """Partitions' rows, in partition order, as one table of distinct block
    indexes and document numbers among all documents (``offsets``: the
    documents before each partition; None: one partition)."""
    starts = offsets if offsets is not None else [0] * len(parts)
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return _Rows(empty, empty, empty, empty)
    return _Rows(
        distinct.keys(np.concatenate([p[0] for p in parts]).astype(np.uint64)),
        np.concatenate([p[1] + s for p, s in zip(parts, starts, strict=True)]),
        np.concatenate([p[2] for p in parts]),
        np.concatenate([p[3] for p in parts]),
    )


def keyed_texts(distinct: DistinctCounts, texts: dict[int, str]) -> dict[int, str]:
    """Texts by block hash -> texts by distinct block index."""
    keys = distinct.keys(np.array(list(texts), dtype=np.uint64)).tolist()
    return dict(zip(keys, texts.values(), strict=True))


def near_labels(
    clusters: Sequence[Cluster], distinct: DistinctCounts
) -> tuple[npt.NDArray[np.int64], dict[int, float]]:
    """Labels from the near scan over distinct blocks (each document's id the
    decimal block hash, in order of first occurrence, ``keep="first"``).

    Returns:
        A component label per distinct block (int64, shape ``(n_distinct,)``;
        the first-occurring block's index), and each clustered block's exact
        Jaccard similarity to the first-occurring block of its component
        (members that joined only through others included).
    """
    labels = np.arange(len(distinct.hashes), dtype=np.int64)
    similarity: dict[int, float] = {}
    for cluster in clusters:
        # keep="first": the kept member is the cluster's first-occurring block,
        # which heads its group; similarities are to it.
        keys = distinct.keys(np.array([int(i) for i in cluster.ids], dtype=np.uint64)).tolist()
        labels[keys] = keys[cluster.members.index(cluster.keep)]
        similarity.update(zip(keys, cluster.similarities, strict=True))
    return labels, similarity


def group_blocks(
    counted: Counts,
    rows: _Rows,
    texts: dict[int, str],
    labels: npt.NDArray[np.int64],
    similarity: dict[int, float],
    fetch_texts: Callable[[dict[tuple[int, int], int]], dict[int, str]],
    boilerplate_documents: int | None,
) -> BlocksResult:
    """The last phase of every engine: rows grouped by label into the result.

    Args:
        counted: The first pass over all documents.
        rows: Every recorded occurrence, in input order.
        texts: Distinct block index -> text of its first occurrence (repeated blocks).
        labels: Component label per distinct block (int64, ``(n_distinct,)``).
        similarity: Distinct block index -> similarity to its group's head.
        fetch_texts: ``{(document, line): distinct index}`` -> the texts as
            written of those blocks (a group whose head occurs once, joined
            by near blocks).
        boilerplate_documents: As for :func:`find_repeated_blocks`.
    """
    heads = _group_rows(rows.key, labels)
    missing = {(int(rows.doc[head]), int(rows.line[head])): int(rows.key[head]) for head, _ in heads}
    missing = {where: key for where, key in missing.items() if key not in texts}
    if missing:
        texts = {**texts, **fetch_texts(missing)}
    threshold_docs = boilerplate_min_documents(len(counted.ids), boilerplate_documents)
    result = BlocksResult(
        [], len(counted.ids), counted.blocks, counted.skipped, threshold_docs, renamed=counted.renamed
    )
    _fill_groups(result, heads, rows, texts, similarity, counted.ids)
    mark_boilerplate(result, heads, rows)
    return result


def boilerplate_min_documents(documents: int, boilerplate_documents: int | None = None) -> int:
    """How many documents a block must occur in to be boilerplate: the
    option when given, else 3 or 0.5% of the documents, whichever is more
    (the one rule of :func:`find_repeated_blocks` and :func:`find_boilerplate`).

    Example:
        >>> boilerplate_min_documents(100), boilerplate_min_documents(10_000), boilerplate_min_documents(10, 2)
        (3, 50, 2)
    """
    return boilerplate_documents or max(3, math.ceil(0.005 * documents))


def _group_rows(key: npt.NDArray[np.int64], labels: npt.NDArray[np.int64]) -> list[tuple[int, npt.NDArray[np.int64]]]:
    """Rows grouped by their block's label, groups of two or more rows only:
    ``(first row, rows in input order)``."""
    label = labels[key]
    order = np.lexsort((np.arange(len(key)), label))
    cuts = np.flatnonzero(np.diff(label[order])) + 1
    return [(int(m[0]), m) for m in (np.split(order, cuts) if len(order) else []) if len(m) >= 2]


def _fill_groups(
    result: BlocksResult,
    heads: list[tuple[int, npt.NDArray[np.int64]]],
    rows: _Rows,
    texts: dict[int, str],
    similarity: dict[int, float],
    ids: list[str],
) -> None:
    """Build the groups (in order of their head rows) and the spans to strip."""
    # Python ints once: per-row numpy scalars and a np.unique per group cost
    # more than the rest of the grouping.
    key, doc, line, end = rows.key.tolist(), rows.doc.tolist(), rows.line.tolist(), rows.end.tolist()
    groups: list[BlockGroup] = []
    for head, members in heads:
        head_key = key[head]
        exact = True
        occurrences = []
        for row in members.tolist():
            k = key[row]
            sim = 1.0
            if k != head_key:
                exact = False
                sim = similarity[k]
            occurrences.append(BlockOccurrence(ids[doc[row]], line[row], end[row], sim))
        spanned = len({doc[row] for row in members.tolist()})
        groups.append(BlockGroup("exact" if exact else "near", texts[head_key], occurrences, spanned))
        for row in members[1:].tolist():
            result.repeats.setdefault(doc[row], []).append((line[row], end[row]))
    result.groups = groups


def mark_boilerplate(result: BlocksResult, heads: list[tuple[int, npt.NDArray[np.int64]]], rows: _Rows) -> None:
    """The phase after grouping: mark the groups found in at least
    ``result.boilerplate_min_documents`` documents (for exact blocks, what
    :func:`find_boilerplate` finds from the counts alone), note their spans,
    and list them first, then by first occurrence."""
    for group, (_, members) in zip(result.groups, heads, strict=True):
        group.boilerplate = group.documents >= result.boilerplate_min_documents
        if group.boilerplate:
            for row in members.tolist():
                spans = result.boilerplate_spans.setdefault(int(rows.doc[row]), [])
                spans.append((int(rows.line[row]), int(rows.end[row])))
    # Head rows are in input order.
    order = sorted(range(len(heads)), key=lambda i: (not result.groups[i].boilerplate, heads[i][0]))
    result.groups = [result.groups[i] for i in order]


def first_texts(
    documents: Sequence[DocumentLike] | Callable[[], Iterable[DocumentLike]],
    unit: str,
    where: dict[tuple[int, int], int],
) -> dict[int, str]:
    """One more pass: the texts as written of blocks at ``(document number,
    line)`` (numbers among these documents), by distinct block index."""
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


@dataclass
class Boilerplate:
    """Blocks found in at least ``min_documents`` documents (exact after
    normalization), and how many :meth:`clean` removed.

    Attributes:
        hashes: Sorted 64-bit hashes of the normalized boilerplate blocks
            (uint64, shape ``(n_boilerplate,)``): 8 bytes each, never the texts.
        min_documents: Documents a block must occur in to be boilerplate.
        documents: Documents read to find them.
        unit: ``"line"`` or ``"paragraph"``.
        min_words: Shorter blocks are never boilerplate (and never removed).
        workers: Threads for the compiled kernels.
        removed: Block occurrences :meth:`clean` removed so far.
        changed: Documents :meth:`clean` changed so far.
        whole: Documents :meth:`clean` left whole because every block of
            theirs is boilerplate so far.
    """

    hashes: npt.NDArray[np.uint64]
    min_documents: int
    documents: int
    unit: str = "line"
    min_words: int = 4
    workers: int | None = None
    removed: int = 0
    changed: int = 0
    whole: int = 0

    def clean(self, documents: Iterable[DocumentLike]) -> Iterator[Document | Skipped]:
        """The documents with their boilerplate blocks removed, in order
        (skips passed through), batch by batch: memory is one batch.

        A cleaned text is its remaining blocks as written, one per line
        (blank lines between paragraphs); shingles do not see the difference.
        A document none of whose worded blocks would remain is left whole: its
        blocks recur in many documents because the story itself does (one
        story carried by several outlets, or copied), and removing them all
        would lose the document, not a template.
        """
        skipped: list[Skipped] = []
        for batch in block_batches(lambda: documents, self.unit, self.min_words, self.workers, skipped.append):
            yield from skipped
            skipped.clear()
            yield from self._clean_batch(batch)
        yield from skipped

    def _clean_batch(self, batch: _Batch) -> Iterator[Document]:
        hit = np.zeros(len(batch.hashes), dtype=bool)
        if len(self.hashes) and len(batch.hashes):
            where = np.minimum(np.searchsorted(self.hashes, batch.hashes), len(self.hashes) - 1)
            hit = batch.keep & (self.hashes[where] == batch.hashes)
        worded = np.bincount(batch.owner[batch.worded], minlength=batch.documents)
        removable = np.bincount(batch.owner[hit], minlength=batch.documents)
        whole = (removable > 0) & (removable == worded)
        hit &= ~whole[batch.owner]
        self.whole += int(whole.sum())
        self.removed += int(hit.sum())
        self.changed += len(np.unique(batch.owner[hit]))
        cuts = np.searchsorted(batch.owner, np.arange(batch.documents + 1))
        joiner = "\n" if self.unit == "line" else "\n\n"
        for number, name in enumerate(batch.names):
            start, end = int(cuts[number]), int(cuts[number + 1])
            kept = [batch.text(i) for i in range(start, end) if not hit[i]]
            yield Document(name.id, joiner.join(kept), name.location)


def find_boilerplate(
    documents: Sequence[DocumentLike] | Callable[[], Iterable[DocumentLike]],
    *,
    unit: str = "line",
    min_words: int = 4,
    boilerplate_documents: int | None = None,
    workers: int | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> Boilerplate:
    """The blocks :func:`find_repeated_blocks` marks as boilerplate (exact
    repeats; its first pass alone: one read of the documents, memory
    O(distinct blocks), 24 bytes each).

    Args:
        documents: As for :func:`find_repeated_blocks` (read once here).
        unit: ``"line"`` or ``"paragraph"``.
        min_words: Blocks with fewer words after normalization are ignored.
        boilerplate_documents: A block in at least this many documents is
            boilerplate (default: 3 documents or 0.5% of them, whichever is more).
        workers: Threads for the compiled kernels.
        progress: Called with ``("counting", documents done)``.

    Returns:
        The boilerplate blocks, ready to :meth:`~Boilerplate.clean` documents.

    Raises:
        UsageError: an option is out of range (as for :func:`find_repeated_blocks`).
    """
    BlocksConfig(unit, min_words, None, boilerplate_documents, workers).validate()
    check_documents(documents)
    read = 0

    def count(names: list[Document]) -> None:
        nonlocal read
        read += len(names)

    counted = count_blocks(documents, unit, min_words, workers, count, progress)
    threshold = boilerplate_min_documents(read, boilerplate_documents)
    return Boilerplate(counted.distinct.in_documents(threshold), threshold, read, unit, min_words, workers)


def find_duplicates_without_boilerplate(
    documents: Sequence[DocumentLike] | Callable[[], Iterable[DocumentLike]],
    config: ScanConfig | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
    **options: object,
) -> ScanResult:
    """:func:`dedup.pipeline.find_duplicates` on the documents with their
    boilerplate lines removed (``scan --ignore-boilerplate``): a first pass
    finds the lines in at least ``config.boilerplate_documents`` documents
    (:func:`find_boilerplate`), the second removes them from each document
    as it streams to the scan. Similarities are those of the cleaned texts.

    Args:
        documents: A sequence, or a function returning a fresh iterable of
            the documents each call (read twice).
        config: Scan options (``ignore_boilerplate`` is implied).
        progress: Called with ``documents done`` in each pass.
        on_stage: Called with ``"scanning"`` when the second pass starts,
            then as by the scan (``"matching"``).
        **options: Fields of :class:`~dedup.config.ScanConfig`.

    Returns:
        The scan's result; ``stats.boilerplate_blocks`` and
        ``stats.boilerplate_removed`` say what was removed.

    Raises:
        UsageError: an option is out of range.
        TypeError: ``documents`` is a single string.
    """
    if config is None:
        config = ScanConfig(**options)  # type: ignore[arg-type]  # checked by validate()
    elif options:
        config = ScanConfig(**{**config.__dict__, **options})
    config = dataclasses.replace(config, ignore_boilerplate=True)
    config.validate()
    check_documents(documents)
    boilerplate = find_boilerplate(
        documents,
        boilerplate_documents=config.boilerplate_documents,
        workers=config.workers,
        progress=None if progress is None else (lambda _stage, done: progress(done)),
    )
    if on_stage is not None:
        on_stage("scanning")
    fresh = documents() if callable(documents) else documents
    cleaned = boilerplate.clean(as_document(item, position) for position, item in enumerate(fresh))
    result = find_duplicates(
        cleaned,
        dataclasses.replace(config, ignore_boilerplate=False, boilerplate_documents=None),
        progress=progress,
        on_stage=on_stage,
    )
    result.stats.boilerplate_blocks = len(boilerplate.hashes)
    result.stats.boilerplate_removed = boilerplate.removed
    result.stats.boilerplate_documents = boilerplate.changed
    result.stats.boilerplate_min_documents = boilerplate.min_documents
    result.stats.boilerplate_whole = boilerplate.whole
    return result
