"""A persistent index: an archive's documents, kept to answer "is this new story already in it?".

An index is one SQLite file (standard library, WAL mode) holding, per
document, its id, its length and its *normalized* UTF-8 text compressed with
zstandard, plus its LSH band keys. The matching options (threshold,
permutations, shingles, seed, accent folding) are fixed at
:meth:`Index.create` and stored in it. Nothing is pickled; the file is
readable with any SQLite tool.

Schema (format version :data:`FORMAT_VERSION`)::

    meta(key TEXT PRIMARY KEY, value TEXT)      -- format_version, options (JSON),
                                                -- bands (JSON), dedup_version, next_doc
    documents(doc INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
              length INTEGER NOT NULL, text BLOB NOT NULL)
    bands(key INTEGER NOT NULL, doc INTEGER NOT NULL,
          PRIMARY KEY (key, doc)) WITHOUT ROWID
    bands_pending(batch INTEGER PRIMARY KEY, keys BLOB NOT NULL, docs BLOB NOT NULL)

Band keys are uint64 values stored as the int64 with the same bits. An
``add`` call does not insert each batch's band rows into ``bands`` (its
random keys would land on pages all over the B-tree, rewriting most of it
at every batch once it outgrows the page cache): it appends them as one
``bands_pending`` row, a *segment* (``keys`` and ``docs``: little-endian
int64 arrays, sorted by key then document), and merges all segments into
``bands`` in one sorted bulk insert when the call ends. ``meta`` names the
call that owns the segments (``pending_call``, empty when there are none);
lookups read them too (all of them, once per transaction) unless they are
the running call's own, which it matches in memory. A write transaction
first merges the segments of any other call (another process's, or a killed
one's), so they never pile up. A
document's number is never reused (``next_doc`` in ``meta``). Verification
re-shingles the stored normalized text with the scan's own kernel, which
gives exactly the shingle hashes a scan computes (a property test holds the
fused kernel equal to normalize -> shingle); removing a document re-sketches
its text to find its band keys, so ``bands`` needs no index on ``doc``.

Semantics: :meth:`Index.add` reports, for each added document, its verified
near-duplicates (exact Jaccard >= threshold, among the documents sharing an
LSH band key with it) among the documents already indexed and the earlier
documents of the same call. Adding a corpus in any number of calls and any
split, the union of the reported matches is exactly the set of pairs
``dedup scan --pairs`` verifies on it with the same options. (One caveat: a
scan pairs the members of a band bucket of more than
:data:`dedup.lsh.MAX_BUCKET` documents star-wise only, where the index pairs
all of them.)

Durability and concurrency: each batch of at most :data:`BATCH_SIZE`
documents is one transaction (``BEGIN IMMEDIATE ... COMMIT``), so a killed
``add`` leaves every committed batch whole and nothing of the rest; two
writers wait for each other (busy timeout :data:`BUSY_TIMEOUT` seconds); a
query reads one snapshot (one read transaction), never blocked by a writer.

Example:
    >>> import os, tempfile
    >>> story = "Mỹ và Taliban nối lại đàm phán hòa bình tại thủ đô Doha của Qatar hôm nay"
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "news.index")
    ...     with Index.create(path, threshold=0.8) as index:
    ...         added = index.add([("a", story), ("b", "Chuyện khác hẳn về thời tiết")])
    ...         found = index.query([("new", story.upper())])
    ...     print(added.documents, [(m.id, m.matches) for m in found.matches])
    2 [('new', [('a', 1.0)])]
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import zstandard

from dedup import __version__
from dedup._kernels import shingle_kernel
from dedup._threads import resolve_workers
from dedup.config import INDEX_BATCH_SIZE, ScanConfig
from dedup.document import Document, DocumentLike, Renamed, Skipped, UniqueIds, check_documents
from dedup.errors import DedupError, InputError, OutputError, UsageError
from dedup.lsh import band_keys, choose_bands
from dedup.minhash import compute_signatures
from dedup.shingle import SHINGLE_KINDS
from dedup.stages import (
    candidates_against,
    candidates_within,
    document_batches,
    sketch_documents,
    verify_against,
    verify_within,
)
from dedup.store import SketchBatch

__all__ = [
    "BATCH_SIZE",
    "BUSY_TIMEOUT",
    "FORMAT_VERSION",
    "MATCH_OPTIONS",
    "Index",
    "IndexInfo",
    "IndexResult",
    "Match",
    "SQLiteStore",
]

FORMAT_VERSION = 2
BATCH_SIZE = INDEX_BATCH_SIZE
"""Documents per transaction of :meth:`Index.add` (and ids per transaction of
:meth:`Index.remove`)."""
BUSY_TIMEOUT = 600.0
"""Seconds a writer waits for another one before giving up."""
MATCH_OPTIONS = ("threshold", "num_perm", "shingle", "seed", "fold_accents")
"""The :class:`ScanConfig` fields an index fixes at creation."""

_ZSTD_LEVEL = 3
_IN_CHUNK = 500  # values bound per ``IN (...)``: far below any SQLite variable limit
_CACHE_KIB = 65536
_MERGE_CHUNK = 1 << 20  # band rows per Python list while merging segments: bounds the merge's memory
_SEGMENT = np.dtype("<i8")
_FILTER_BITS = 28

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents(
    doc INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    length INTEGER NOT NULL,
    text BLOB NOT NULL
);
CREATE TABLE bands(key INTEGER NOT NULL, doc INTEGER NOT NULL, PRIMARY KEY (key, doc)) WITHOUT ROWID;
CREATE TABLE bands_pending(batch INTEGER PRIMARY KEY, keys BLOB NOT NULL, docs BLOB NOT NULL);
"""


def _id_bytes(doc_id: str) -> bytes:
    # Ids may hold lone surrogates (file names that are not UTF-8), which the
    # sqlite3 module refuses to bind as text: bound as bytes, stored as TEXT.
    return doc_id.encode("utf-8", "surrogatepass")


def _placeholders(count: int, item: str = "?") -> str:
    return ",".join([item] * count)


# --- the store ------------------------------------------------------------


class SQLiteStore:
    """:class:`dedup.store.SketchStore` over one SQLite connection.

    The caller owns the transactions (:class:`Index` does); :meth:`refresh`
    re-reads the document counter and the owner of the pending band rows
    inside each one, since another process may have written since; a write
    transaction then calls :meth:`settle`. An ``add`` call brackets its
    batches with :meth:`start_call` and :meth:`end_call`.
    """

    def __init__(self, db: sqlite3.Connection, config: ScanConfig) -> None:
        self.db = db
        self.config = config
        self.spec = config.validate()
        self.num_perm = config.num_perm
        self.num_bands, self.rows_per_band = choose_bands(config.threshold, config.num_perm)
        self._count = 0
        self._pending = ""  # the call owning the segments of bands_pending ("": none)
        self._call = ""  # the running add call's token ("": none)
        self._segments: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None  # for this transaction
        self._decompressor = zstandard.ZstdDecompressor()

    @property
    def count(self) -> int:
        """Document numbers given so far (the next document's number)."""
        return self._count

    def refresh(self) -> None:
        """Re-read the document counter and the owner of the pending band
        rows (at the start of a transaction)."""
        meta = dict(self.db.execute("SELECT key, value FROM meta WHERE key IN ('next_doc', 'pending_call')"))
        self._count = int(meta["next_doc"])
        self._pending = meta["pending_call"]
        self._segments = None

    @property
    def _foreign_pending(self) -> bool:
        """Whether ``bands_pending`` holds segments the running call does
        not match in memory (another call's: running elsewhere, or killed)."""
        return self._pending not in ("", self._call)

    def start_call(self) -> None:
        """Start an ``add`` call: its band rows stay pending (the caller
        matches them in memory) until the first write transaction after
        :meth:`end_call`."""
        self._call = secrets.token_hex(8)

    def end_call(self) -> None:
        """End the ``add`` call (also after a failure: its segments are then
        any later writer's to merge); the next write transaction merges them."""
        self._call = ""

    def settle(self) -> None:
        """In a write transaction: merge the segments into ``bands`` unless
        they are the running call's own, so that afterwards they are all its
        own (or none)."""
        if self._foreign_pending:
            self._merge_pending()

    def _load_segments(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """All segments' band rows, sorted by key then document: int64 keys
        and documents, each of shape ``(rows,)``; read once per transaction."""
        if self._segments is None:
            # Filled in place, a segment at a time: the merge of a call of a
            # million documents handles 21 million rows.
            (size,) = self.db.execute("SELECT coalesce(sum(length(keys)), 0) FROM bands_pending").fetchone()
            keys = np.empty(size // _SEGMENT.itemsize, dtype=np.int64)
            docs = np.empty_like(keys)
            at = 0
            for key_bytes, doc_bytes in self.db.execute("SELECT keys, docs FROM bands_pending ORDER BY batch"):
                part = slice(at, at + len(key_bytes) // _SEGMENT.itemsize)
                if len(key_bytes) != len(doc_bytes) or len(key_bytes) % _SEGMENT.itemsize or part.stop > len(keys):
                    raise sqlite3.DatabaseError("a malformed segment of pending band rows")
                keys[part] = np.frombuffer(key_bytes, dtype=_SEGMENT)
                docs[part] = np.frombuffer(doc_bytes, dtype=_SEGMENT)
                at = part.stop
            # Stable, by key: each segment is sorted by (key, doc), and later
            # segments hold later documents. (Sorted runs: timsort merges them.)
            order = np.argsort(keys, kind="stable")
            keys = keys[order]  # one array at a time: 8 bytes per row each
            docs = docs[order]
            self._segments = keys, docs
        return self._segments

    def _merge_pending(self) -> None:
        keys, docs = self._load_segments()

        def rows() -> Iterator[tuple[int, int]]:
            for lo in range(0, len(keys), _MERGE_CHUNK):
                part = slice(lo, lo + _MERGE_CHUNK)
                yield from zip(keys[part].tolist(), docs[part].tolist(), strict=True)

        # In key order: one pass over the B-tree, each insert beside the last.
        # OR IGNORE: two bands of one document with equal keys (odds ~2**-64)
        # are one row.
        self.db.executemany("INSERT OR IGNORE INTO bands(key, doc) VALUES (?, ?)", rows())
        self.db.execute("DELETE FROM bands_pending")
        self.db.execute("UPDATE meta SET value = '' WHERE key = 'pending_call'")
        self._pending = ""
        self._segments = None

    def _select_in(self, sql: str, values: Sequence[object]) -> list[Any]:
        """Rows of ``sql`` (holding one ``{}`` for the placeholders) for the
        values, bound ``_IN_CHUNK`` at a time."""
        rows: list[Any] = []
        for lo in range(0, len(values), _IN_CHUNK):
            part = values[lo : lo + _IN_CHUNK]
            rows.extend(self.db.execute(sql.format(_placeholders(len(part))), part).fetchall())
        return rows

    def append(self, batch: SketchBatch, *, packed: Sequence[bytes] | None = None) -> None:
        """Keep a batch (sketched with ``normalized=True``); its documents
        get the next numbers, in order.

        Args:
            batch: The documents.
            packed: Their compressed normalized texts (:func:`pack_texts`),
                when already made (by another thread).

        Raises:
            ValueError: the batch has no normalized texts.
        """
        texts = list(packed) if packed is not None else pack_texts(batch, self.config.workers)
        first = self._count
        numbers = np.arange(first, first + len(batch), dtype=np.int64)
        self.db.executemany(
            "INSERT INTO documents(doc, id, length, text) VALUES (?, CAST(? AS TEXT), ?, ?)",
            zip(numbers.tolist(), [_id_bytes(d.id) for d in batch.docs], batch.lengths.tolist(), texts, strict=True),
        )
        self._insert_bands(batch.keys, numbers)
        self._count = first + len(batch)
        self.db.execute("UPDATE meta SET value = ? WHERE key = 'next_doc'", (str(self._count),))

    def _insert_bands(self, keys: npt.NDArray[np.uint64], numbers: npt.NDArray[np.int64]) -> None:
        """Append the band rows as one segment, owned by the running call;
        outside a call, insert them into ``bands``."""
        flat_keys = np.ascontiguousarray(keys).view(np.int64).ravel()
        flat_docs = np.repeat(numbers, keys.shape[1])
        order = np.lexsort((flat_docs, flat_keys))
        if not self._call:
            # In key order: each insert lands beside the previous one in the B-tree.
            self.db.executemany(
                "INSERT OR IGNORE INTO bands(key, doc) VALUES (?, ?)",
                zip(flat_keys[order].tolist(), flat_docs[order].tolist(), strict=True),
            )
            return
        self.settle()
        self.db.execute(
            "INSERT INTO bands_pending(keys, docs) VALUES (?, ?)",
            (flat_keys[order].astype(_SEGMENT).tobytes(), flat_docs[order].astype(_SEGMENT).tobytes()),
        )
        if self._pending != self._call:
            self.db.execute("UPDATE meta SET value = ? WHERE key = 'pending_call'", (self._call,))
            self._pending = self._call

    def lookup(
        self, keys: npt.NDArray[np.uint64], *, before: int | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Stored documents sharing a band key with each query row: those
        in ``bands`` and those pending, except the running call's own
        pending ones (it matches them in memory).

        Args:
            keys: uint64, shape ``(n, num_bands)``.
            before: Only documents numbered below this (None: all).

        Returns:
            ``(rows, docs)``: int64, each pair once, sorted by row then document.
        """
        flat = np.ascontiguousarray(keys).view(np.int64).ravel()
        wanted = np.unique(flat)
        if before is not None and before <= 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        where = "" if before is None else f" AND doc < {int(before)}"
        found = self._select_in("SELECT key, doc FROM bands WHERE key IN ({})" + where, wanted.tolist())
        pairs = np.array(found, dtype=np.int64).reshape(-1, 2)
        if self._foreign_pending:
            seg_keys, seg_docs = _sorted_matches(*self._load_segments(), wanted, wanted)
            keep = slice(None) if before is None else seg_docs < before
            pairs = np.concatenate([pairs, np.stack([seg_keys[keep], seg_docs[keep]], axis=1)])
        order = np.argsort(pairs[:, 0], kind="stable")
        found_keys, found_docs = pairs[order, 0], pairs[order, 1]
        lo = np.searchsorted(found_keys, flat, side="left")
        counts = np.searchsorted(found_keys, flat, side="right") - lo
        rows = np.repeat(np.arange(len(flat), dtype=np.int64) // max(keys.shape[1], 1), counts)
        within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        docs = found_docs[np.repeat(lo, counts) + within]
        n = max(self._count, 1)
        codes = np.unique(rows * n + docs)
        return codes // n, codes % n

    def texts(self, docs: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
        """Normalized UTF-8 texts of the given documents (uint8 buffer, int64
        offsets of shape ``(n + 1,)``; a document not stored is empty)."""
        wanted = np.asarray(docs, dtype=np.int64).tolist()
        stored = dict(self._select_in("SELECT doc, text FROM documents WHERE doc IN ({})", wanted))
        pieces = [self._decompressor.decompress(stored[d]) if d in stored else b"" for d in wanted]
        offsets = np.zeros(len(pieces) + 1, dtype=np.int64)
        np.cumsum([len(p) for p in pieces], out=offsets[1:])
        return np.frombuffer(b"".join(pieces), dtype=np.uint8), offsets

    def shingles(self, docs: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
        """Shingle hashes of the given documents, re-shingled from their
        stored normalized texts: ``(values, starts)`` as in :class:`SketchBatch`."""
        buf, offsets = self.texts(docs)
        values, starts, _ = shingle_kernel(
            buf, offsets, SHINGLE_KINDS[self.spec.kind], self.spec.n, resolve_workers(self.config.workers)
        )
        return values, starts

    def signatures(self, docs: npt.NDArray[np.int64]) -> npt.NDArray[np.uint32]:
        """uint32, shape ``(n, num_perm)``: signatures re-sketched from the stored texts."""
        values, starts = self.shingles(docs)
        return compute_signatures(
            values, starts, num_perm=self.num_perm, seed=self.config.seed, workers=self.config.workers
        )

    def id_list(self, docs: npt.NDArray[np.int64]) -> list[str]:
        """Ids of the given documents.

        Raises:
            KeyError: a number is not a stored document.
        """
        wanted = np.asarray(docs, dtype=np.int64).tolist()
        found = dict(self._select_in("SELECT doc, CAST(id AS BLOB) FROM documents WHERE doc IN ({})", wanted))
        return [found[d].decode("utf-8", "surrogatepass") for d in wanted]

    def numbers_of(self, ids: Sequence[str]) -> dict[str, int]:
        """The stored documents among ``ids``: id -> number."""
        found: dict[str, int] = {}
        encoded = [_id_bytes(i) for i in ids]
        for lo in range(0, len(encoded), _IN_CHUNK):
            part = encoded[lo : lo + _IN_CHUNK]
            where = _placeholders(len(part), "CAST(? AS TEXT)")
            for raw, doc in self.db.execute(f"SELECT CAST(id AS BLOB), doc FROM documents WHERE id IN ({where})", part):
                found[raw.decode("utf-8", "surrogatepass")] = int(doc)
        return found

    def _delete_in(self, sql: str, values: Sequence[object]) -> None:
        for lo in range(0, len(values), _IN_CHUNK):
            part = values[lo : lo + _IN_CHUNK]
            self.db.execute(sql.format(_placeholders(len(part))), part)

    def remove(self, docs: npt.NDArray[np.int64]) -> None:
        """Delete stored documents and their band keys (found by re-sketching
        their stored texts)."""
        docs = np.unique(np.asarray(docs, dtype=np.int64))
        if not len(docs):
            return
        keys = band_keys(self.signatures(docs), self.num_bands, self.rows_per_band).view(np.int64)
        rows = np.unique(np.stack([keys.ravel(), np.repeat(docs, self.num_bands)], axis=1), axis=0)
        before = self.db.total_changes
        self.db.executemany("DELETE FROM bands WHERE key = ? AND doc = ?", rows.tolist())
        if self.db.total_changes - before < len(rows):
            # A text that no longer sketches to its stored keys (cannot happen
            # within one format version): delete the slow way, a full scan.
            self._delete_in("DELETE FROM bands WHERE doc IN ({})", docs.tolist())
        self._delete_in("DELETE FROM documents WHERE doc IN ({})", docs.tolist())

    def band_columns(self) -> Iterator[npt.NDArray[np.uint64]]:
        """Each band's keys for all document numbers (uint64, shape
        ``(count,)``), re-sketched from the stored texts. A removed number
        gets its own number as key in every band: it could only meet a real
        key by a 2**-64 accident, and then verifies at similarity 0 (its
        text is empty). Memory: ``count * num_bands * 8`` bytes."""
        columns = np.arange(self._count, dtype=np.uint64)[:, None].repeat(self.num_bands, axis=1)
        stored = np.array([d for (d,) in self.db.execute("SELECT doc FROM documents ORDER BY doc")], dtype=np.int64)
        for lo in range(0, len(stored), BATCH_SIZE):
            part = stored[lo : lo + BATCH_SIZE]
            columns[part] = band_keys(self.signatures(part), self.num_bands, self.rows_per_band)
        for band in range(self.num_bands):
            yield np.ascontiguousarray(columns[:, band])


# --- results --------------------------------------------------------------


def pack_texts(batch: SketchBatch, workers: int | None = None) -> list[bytes]:
    """The compressed normalized text of each document of a batch, as the
    index stores it (zstd, each text alone so it is readable by itself).

    Raises:
        ValueError: the batch has no normalized texts.
    """
    if batch.normalized is None:
        raise ValueError("an index keeps normalized texts: sketch with normalized=True")
    buf, offsets = batch.normalized
    bounds = offsets.tolist()
    pieces: list[bytes | bytearray | memoryview] = [buf[bounds[i] : bounds[i + 1]].tobytes() for i in range(len(batch))]
    if not pieces:  # (multi_compress_to_buffer refuses an empty list)
        return []
    compressor = zstandard.ZstdCompressor(level=_ZSTD_LEVEL)  # one per call: compressors are not shared across threads
    segments = compressor.multi_compress_to_buffer(pieces, threads=resolve_workers(workers))
    return [segments[i].tobytes() for i in range(len(segments))]


def _sketch_and_pack(docs: list[Document], config: ScanConfig) -> tuple[SketchBatch, list[Skipped], dict[str, bytes]]:
    """The helper thread's part of an add: sketch, and compress the texts."""
    batch, empty = sketch_documents(docs, config, normalized=True)
    return batch, empty, dict(zip([d.id for d in batch.docs], pack_texts(batch, config.workers), strict=True))


_Sketched = tuple[SketchBatch, list[Skipped], dict[str, bytes]]


class _CallKeys:
    """Band keys of the documents added so far in one ``add`` call, in
    memory (16 bytes per key: sorted levels merged like a binary counter), so
    the call matches its own earlier batches without asking SQLite, whose
    band rows stay pending (unindexed) until the call ends.

    A one-hash Bloom filter of :data:`_FILTER_BITS` bits (32 MiB) in front
    of the levels: most keys looked up are absent, and after a million
    documents it turns ~93% of them away before the binary searches."""

    def __init__(self) -> None:
        self.levels: list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]] = []
        self.bands = 0
        self._filter = np.zeros(1 << (_FILTER_BITS - 3), dtype=np.uint8)  # (calloc: pages only as touched)

    @staticmethod
    def _slots(flat: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint8]]:
        """Filter byte and bit of each key (its low bits: keys are hashes)."""
        low = flat & np.uint64((1 << _FILTER_BITS) - 1)
        return (low >> np.uint64(3)).astype(np.intp), np.left_shift(1, low & np.uint64(7)).astype(np.uint8)

    def add(self, keys: npt.NDArray[np.uint64], first: int) -> None:
        """Remember a batch's keys, shape ``(n, num_bands)``, its documents
        numbered from ``first``."""
        self.bands = keys.shape[1]
        flat = keys.ravel()
        np.bitwise_or.at(self._filter, *self._slots(flat))
        docs = np.repeat(np.arange(first, first + len(keys), dtype=np.int64), keys.shape[1])
        order = np.argsort(flat, kind="stable")
        self.levels.append((flat[order], docs[order]))
        while len(self.levels) > 1 and 2 * len(self.levels[-1][0]) > len(self.levels[-2][0]):
            top_keys, top_docs = self.levels.pop()
            low_keys, low_docs = self.levels.pop()
            keys_all, docs_all = np.concatenate([low_keys, top_keys]), np.concatenate([low_docs, top_docs])
            order = np.argsort(keys_all, kind="stable")
            self.levels.append((keys_all[order], docs_all[order]))

    def lookup(self, keys: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """``(rows, docs)`` of remembered documents sharing a key with each
        row of ``keys``, shape ``(n, num_bands)``; pairs may repeat."""
        flat = keys.ravel()
        byte, bit = self._slots(flat)
        maybe = np.flatnonzero(self._filter[byte] & bit)
        order = maybe[np.argsort(flat[maybe])]
        needles, needle_rows = flat[order], order.astype(np.int64) // max(keys.shape[1], 1)
        parts = [_sorted_matches(keys_, docs_, needles, needle_rows) for keys_, docs_ in self.levels]
        empty = np.zeros(0, dtype=np.int64)
        return np.concatenate([empty, *(r for r, _ in parts)]), np.concatenate([empty, *(d for _, d in parts)])


def _sorted_matches(
    level_keys: npt.NDArray[Any],
    level_docs: npt.NDArray[np.int64],
    needles: npt.NDArray[Any],
    needle_rows: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(rows, docs)``: for each needle found in a sorted level of band
    rows, its row and each document holding that key.

    Args:
        level_keys: Band keys, sorted, shape ``(m,)``.
        level_docs: int64, shape ``(m,)``: the document of each key.
        needles: Keys to find (same dtype), sorted: successive binary
            searches then share their path through the level (cached), 5x
            faster than in random order on millions of keys.
        needle_rows: int64, shape ``(n,)``: what to report for each needle.
    """
    if not len(level_keys) or not len(needles):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    lo = np.searchsorted(level_keys, needles, side="left")
    # Most needles are absent: the (costly) second search only for the others.
    found = np.flatnonzero(level_keys[np.minimum(lo, len(level_keys) - 1)] == needles)
    lo = lo[found]
    counts = np.searchsorted(level_keys, needles[found], side="right") - lo
    within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(needle_rows[found], counts), level_docs[np.repeat(lo, counts) + within]


def _union(
    *parts: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(rows, docs)`` pairs of several lookups, each once, sorted by row then document."""
    rows = np.concatenate([r for r, _ in parts])
    docs = np.concatenate([d for _, d in parts])
    if not len(rows):
        return rows, docs
    # One int64 code per pair (far faster than a unique over rows of two).
    span = int(docs.max()) + 1
    codes = np.unique(rows * span + docs)
    return codes // span, codes % span


@dataclass(frozen=True)
class Match:
    """A document and its verified near-duplicates in the index.

    Attributes:
        id: The document's id (as added or queried).
        matches: ``(id, similarity)`` of each indexed document whose exact
            Jaccard similarity to it is at least the threshold, most similar
            first (ties: the earlier indexed first).
    """

    id: str
    matches: list[tuple[str, float]]


@dataclass
class IndexResult:
    """What :meth:`Index.add` or :meth:`Index.query` found.

    Attributes:
        matches: One :class:`Match` per input document that has matches, in
            input order.
        documents: Documents added (or queried); skipped ones excluded.
        skipped: Every input not added (or queried), with its reason: bad
            input as in a scan, and ``id already indexed``.
        renamed: Documents whose id an earlier one of the same call had,
            and the id they got.
    """

    matches: list[Match] = field(default_factory=list)
    documents: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    renamed: list[Renamed] = field(default_factory=list)


@dataclass(frozen=True)
class IndexInfo:
    """What :meth:`Index.info` tells.

    Attributes:
        path: The index file.
        documents: Documents indexed.
        options: The matching options fixed at creation (:data:`MATCH_OPTIONS`).
        format_version: The file's format version.
        dedup_version: The dedup version that created it.
        size: Bytes on disk, the write-ahead log included.
    """

    path: str
    documents: int
    options: dict[str, object]
    format_version: int
    dedup_version: str
    size: int


# --- the index ------------------------------------------------------------


def _error_of(name: str, err: sqlite3.Error) -> DedupError:
    """The one-line error for a SQLite failure on the index ``name``."""
    code = getattr(err, "sqlite_errorname", "")
    if code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return DedupError(f"{name} is not a dedup index or is corrupt ({err})")
    if code.startswith("SQLITE_FULL"):
        return OutputError(f"cannot write {name}: the disk is full")
    if code.startswith("SQLITE_READONLY"):
        return OutputError(f"cannot write {name}: {err}")
    if code.startswith("SQLITE_BUSY"):
        return DedupError(f"{name} stayed locked by another writer for {BUSY_TIMEOUT:.0f} s")
    return DedupError(f"{name}: {err}")


@contextlib.contextmanager
def _sqlite_errors(name: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as err:
        raise _error_of(name, err) from None


def _connect(name: str, readonly: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), waiting
    up to :data:`BUSY_TIMEOUT` for another writer; never creates the file."""
    uri = "file:" + urllib.parse.quote(os.path.abspath(name)) + ("?mode=ro" if readonly else "?mode=rw")
    db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT, check_same_thread=False)
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
    # Checkpoint the WAL every ~64 MB rather than every 4 MB: a bulk add
    # commits a batch every few thousand documents, and each checkpoint
    # rewrites (and syncs) the pages it touched.
    db.execute("PRAGMA wal_autocheckpoint = 16384")
    return db


def _read_meta(db: sqlite3.Connection, name: str) -> dict[str, str]:
    """The ``meta`` table, after checking this is an index of this format.

    Raises:
        DedupError: not a dedup index, or another format version.
    """
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.OperationalError:
        meta = {}
    version = meta.get("format_version")
    if version is None:
        raise DedupError(f"{name} is not a dedup index")
    if version != str(FORMAT_VERSION):
        raise DedupError(f"{name}: index format version {version}, this dedup reads version {FORMAT_VERSION}")
    if not {"options", "bands", "next_doc", "pending_call"} <= meta.keys():
        raise DedupError(f"{name} is not a dedup index")
    return meta


def _stored_config(meta: dict[str, str], name: str, workers: int | None) -> ScanConfig:
    """The matching options of an index, checked against this dedup's band choice.

    Raises:
        DedupError: options that are not valid, or bands this dedup would
            not choose for them (keys computed another way).
    """
    try:
        options = json.loads(meta["options"])
        config = ScanConfig(**{k: options[k] for k in MATCH_OPTIONS}, workers=workers)
        config.validate()
        bands = tuple(json.loads(meta["bands"]))
    except (ValueError, KeyError, TypeError) as err:
        raise DedupError(f"{name} is not a dedup index or is corrupt (options: {err})") from None
    if bands != choose_bands(config.threshold, config.num_perm):
        raise DedupError(f"{name}: index bands {bands} are not the ones this dedup chooses for its options")
    return config


def _merge_options(config: ScanConfig | None, options: dict[str, Any]) -> ScanConfig:
    if config is None:
        config = ScanConfig(**options)
    elif options:
        config = ScanConfig(**{**config.__dict__, **options})
    config.validate()
    return config


def _subset(batch: SketchBatch, keep: npt.NDArray[np.bool_]) -> SketchBatch:
    """The batch's documents where ``keep`` is True."""
    rows = np.flatnonzero(keep)
    sizes = np.diff(batch.starts)[rows]
    starts = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(sizes, out=starts[1:])
    runs = [batch.values[batch.starts[i] : batch.starts[i + 1]] for i in rows.tolist()]
    values = np.concatenate(runs) if runs else batch.values[:0]
    normalized = None
    if batch.normalized is not None:
        buf, offsets = batch.normalized
        pieces = [buf[offsets[i] : offsets[i + 1]] for i in rows.tolist()]
        kept_offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(p) for p in pieces], out=kept_offsets[1:])
        normalized = (np.concatenate(pieces) if pieces else buf[:0], kept_offsets)
    return SketchBatch(
        [batch.docs[i] for i in rows.tolist()],
        values,
        starts,
        batch.signatures[rows],
        batch.keys[rows],
        batch.by_chars[rows],
        normalized,
    )


class Index:
    """A persistent index of documents (see the module doc); use
    :meth:`create` or :meth:`open`, as a context manager."""

    def __init__(self, db: sqlite3.Connection, name: str, config: ScanConfig, meta: dict[str, str], readonly: bool):
        self._db = db
        self._name = name
        self._config = config
        self._meta = meta
        self._readonly = readonly
        self._store = SQLiteStore(db, config)

    # -- opening and closing

    @classmethod
    def create(cls, path: str | os.PathLike[str], config: ScanConfig | None = None, **options: Any) -> Index:
        """Create a new, empty index with fixed matching options, and open it.

        Written to a temporary file beside ``path`` and renamed: a failed
        create leaves nothing behind.

        Args:
            path: The index file to create.
            config: The matching options (:data:`MATCH_OPTIONS`; the others
                are not stored); or pass them as keywords.
            **options: Fields of :class:`ScanConfig`, overriding ``config``.

        Raises:
            UsageError: ``path`` exists, or an option is out of range.
            TypeError: an unknown option.
            OutputError: the file cannot be written there.
        """
        config = _merge_options(config, options)
        name = os.fspath(path)
        if name == "":
            raise UsageError("index path is empty")
        if os.path.lexists(name):
            raise UsageError(f"{name} already exists: give a new path to create an index")
        folder = os.path.dirname(os.path.abspath(name))
        tmp = os.path.join(folder, f".{os.path.basename(name)[:64]}.{secrets.token_hex(4)}.tmp")
        try:
            # 0o666: the umask applies as for any new file.
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            try:
                _initialize(tmp, config, name)
                os.link(tmp, name)  # unlike a rename, never replaces a file created meanwhile
            finally:
                for leftover in (tmp, tmp + "-wal", tmp + "-shm", tmp + "-journal"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(leftover)
        except FileExistsError:
            raise UsageError(f"{name} already exists: give a new path to create an index") from None
        except OSError as err:
            raise OutputError(f"cannot write {name}: {err.strerror or err}") from None
        return cls.open(name, workers=config.workers)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, readonly: bool = False, workers: int | None = None) -> Index:
        """Open an existing index.

        Args:
            path: The index file.
            readonly: Open for queries only (the file is never written).
            workers: Threads for sketching and verification (default: all cores).

        Raises:
            InputError: ``path`` does not exist or is a folder.
            DedupError: it is not a dedup index, is corrupt, or has another
                format version (the message names both versions).
        """
        name = os.fspath(path)
        if not os.path.exists(name):
            raise InputError(f"{name}: no such index")
        if os.path.isdir(name):
            raise InputError(f"{name} is a folder, not an index")
        try:
            db = _connect(name, readonly)
        except sqlite3.Error as err:
            raise _error_of(name, err) from None
        try:
            with _sqlite_errors(name):
                meta = _read_meta(db, name)
            config = _stored_config(meta, name, workers)
        except BaseException:
            db.close()
            raise
        return cls(db, name, config, meta, readonly)

    def close(self) -> None:
        """Close the index (idempotent)."""
        with contextlib.suppress(sqlite3.Error):
            self._db.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def path(self) -> str:
        """The index file."""
        return self._name

    @property
    def config(self) -> ScanConfig:
        """The matching options fixed at creation (other fields: defaults)."""
        return self._config

    @contextlib.contextmanager
    def _transaction(self, *, write: bool) -> Iterator[None]:
        """One transaction: a write one takes the write lock at once (waiting
        for another writer) and merges other calls' pending band rows; a
        read one sees one snapshot throughout."""
        if write and self._readonly:
            raise UsageError(f"{self._name} was opened read-only")
        with _sqlite_errors(self._name):
            self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                self._store.refresh()
                if write:
                    self._store.settle()
                yield
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- adding and querying

    def add(
        self,
        documents: Iterable[DocumentLike],
        *,
        replace: bool = False,
        progress: Callable[[int], None] | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> IndexResult:
        """Add documents; report each one's verified near-duplicates among
        the documents already indexed and the earlier ones of this call.

        Each batch of :data:`BATCH_SIZE` documents is one transaction.

        Args:
            documents: Texts (ids are their positions), ``(id, text)``
                pairs, or Document / Skipped items from :func:`dedup.read_documents`.
            replace: Replace a document whose id is already indexed (the
                old one is removed in the same transaction) instead of
                skipping it (``id already indexed``).
            progress: Called with the number of documents done after each batch.
            batch_size: Documents per transaction (a killed call keeps
                every committed batch whole).

        Returns:
            The matches, the number added, skipped inputs and renamed ids.

        Raises:
            UsageError: the index was opened read-only, or ``batch_size``
                is not between 1 and 2**20.
            TypeError: ``documents`` is a single string, or an item is not a document.
            DedupError: the index cannot be written (OutputError: a full disk).
        """
        check_documents(documents)
        if self._readonly:
            raise UsageError(f"{self._name} was opened read-only")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= 1 << 20:
            raise UsageError(f"batch_size must be between 1 and {1 << 20}, got {batch_size!r}", option="batch_size")
        result = IndexResult()
        ids = UniqueIds()
        self._store.start_call()
        try:
            self._add_batches(document_batches(documents, batch_size, ids), replace, progress, result)
        finally:
            self._store.end_call()
        # After the call's keys in memory are gone: the merge needs as much.
        self._merge_pending()
        result.renamed = ids.renamed
        return result

    def _add_batches(
        self,
        batches: Iterator[tuple[list[Document], list[Skipped]]],
        replace: bool,
        progress: Callable[[int], None] | None,
        result: IndexResult,
    ) -> None:
        """Sketch, match and keep the batches of one ``add`` call."""
        call = _CallKeys()
        done = 0
        # Two stages, as in the scan: this thread reads batch k+1 and runs
        # batch k's transaction while a helper thread sketches batch k+1
        # (compiled, without the GIL). Batches commit in input order.
        pending: tuple[list[Document], list[Skipped], Future[_Sketched]] | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dedup-index") as pool:
            for docs, skipped in batches:
                sketched = pool.submit(_sketch_and_pack, docs, self._config)
                if pending is not None:
                    done += self._commit(pending, replace, call, result)
                    if progress is not None:
                        progress(done)
                pending = (docs, skipped, sketched)
            if pending is not None:
                done += self._commit(pending, replace, call, result)
                if progress is not None:
                    progress(done)

    def _merge_pending(self) -> None:
        """Merge all pending band rows (the ended call's) into ``bands`` in
        one transaction: one sorted pass over the B-tree."""
        with self._transaction(write=True):
            pass  # the transaction's settle() merges them

    def _commit(
        self,
        pending: tuple[list[Document], list[Skipped], Future[_Sketched]],
        replace: bool,
        call: _CallKeys,
        result: IndexResult,
    ) -> int:
        """Match and keep one sketched batch in one transaction; return how
        many inputs it accounted for."""
        docs, skipped, sketched = pending
        result.skipped.extend(skipped)
        batch, empty, packed = sketched.result()
        result.skipped.extend(empty)
        with self._transaction(write=True):
            batch = self._admit(batch, replace, result.skipped)
            first = self._store.count
            result.matches.extend(self._match(batch, within=True, top=None, call=call))
            self._store.append(batch, packed=[packed[d.id] for d in batch.docs])
        call.add(batch.keys, first)
        result.documents += len(batch)
        return len(docs) + len(skipped)

    def _admit(self, batch: SketchBatch, replace: bool, skipped: list[Skipped]) -> SketchBatch:
        """The batch without its ids already indexed (reported skipped), or,
        with ``replace``, with their old documents removed."""
        present = self._store.numbers_of([d.id for d in batch.docs])
        if not present:
            return batch
        if replace:
            self._store.remove(np.array(sorted(present.values()), dtype=np.int64))
            return batch
        keep = np.array([d.id not in present for d in batch.docs], dtype=bool)
        skipped.extend(Skipped(d.id, None, "id already indexed") for d in batch.docs if d.id in present)
        return _subset(batch, keep)

    def query(
        self,
        documents: Iterable[DocumentLike],
        *,
        top: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> IndexResult:
        """Find each document's verified near-duplicates among the indexed
        documents; the index is not changed. All of a call reads one snapshot.

        Args:
            documents: As for :meth:`add`.
            top: Keep only the ``top`` most similar matches of each document.
            progress: Called with the number of documents done after each batch.

        Returns:
            The matches, the number of documents queried, skipped inputs and
            renamed ids.

        Raises:
            UsageError: ``top`` is not a positive integer.
            TypeError: ``documents`` is a single string, or an item is not a document.
        """
        if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
            raise UsageError(f"top must be a positive integer, got {top!r}", option="top")
        check_documents(documents)
        result = IndexResult()
        ids = UniqueIds()
        done = 0
        with self._transaction(write=False):
            for docs, skipped in document_batches(documents, BATCH_SIZE, ids):
                result.skipped.extend(skipped)
                batch, empty = sketch_documents(docs, self._config)
                result.skipped.extend(empty)
                result.matches.extend(self._match(batch, within=False, top=top))
                result.documents += len(batch)
                done += len(docs) + len(skipped)
                if progress is not None:
                    progress(done)
        result.renamed = ids.renamed
        return result

    def _match(
        self, batch: SketchBatch, *, within: bool, top: int | None, call: _CallKeys | None = None
    ) -> list[Match]:
        """Verified matches of a batch's documents against the stored ones
        (and, ``within``, each against the earlier ones of the batch, which
        will get the numbers after the stored ones). With ``call``, the
        documents of the call's earlier batches come from it (their band
        rows are still pending, not in ``bands``)."""
        store, workers, threshold = self._store, self._config.workers, self._config.threshold
        if call is None:
            rows, docs = candidates_against(store, batch)
        else:
            # The SQLite part may hold documents of the call too (another
            # writer merged its pending rows): the union counts them once.
            rows, docs = _union(store.lookup(batch.keys), call.lookup(batch.keys))
        sims = verify_against(store, batch, rows, docs, workers=workers)
        ok = sims >= threshold
        rows, docs, sims = rows[ok], docs[ok], sims[ok]
        id_of = dict(zip(np.unique(docs).tolist(), store.id_list(np.unique(docs)), strict=True))
        if within:
            left, right = candidates_within(batch)
            inner = verify_within(batch, left, right, workers=workers)
            ok = inner >= threshold
            rows = np.concatenate([rows, right[ok]])
            docs = np.concatenate([docs, store.count + left[ok]])
            sims = np.concatenate([sims, inner[ok]])
            id_of.update((store.count + i, batch.docs[i].id) for i in np.unique(left[ok]).tolist())
        order = np.lexsort((docs, -sims, rows))
        rows, docs, sims = rows[order], docs[order], sims[order]
        out: list[Match] = []
        bounds = np.flatnonzero(np.diff(rows)) + 1
        for lo, hi in zip([0, *bounds.tolist()], [*bounds.tolist(), len(rows)], strict=True):
            if lo == hi:
                continue
            hi = hi if top is None else min(hi, lo + top)
            found = [(id_of[d], s) for d, s in zip(docs[lo:hi].tolist(), sims[lo:hi].tolist(), strict=True)]
            out.append(Match(batch.docs[int(rows[lo])].id, found))
        return out

    def stored_texts(self, ids: Sequence[str]) -> dict[str, str]:
        """The normalized texts the index keeps of these documents (what it
        compares; the originals are not kept), for ids it holds.

        Raises:
            DedupError: the file cannot be read, or is corrupt.
        """
        with self._transaction(write=False):
            numbers = self._store.numbers_of(list(ids))
            if not numbers:
                return {}
            buf, offsets = self._store.texts(np.array(list(numbers.values()), dtype=np.int64))
        data = buf.tobytes()
        bounds = offsets.tolist()
        return {
            doc_id: data[bounds[k] : bounds[k + 1]].decode("utf-8", "surrogatepass") for k, doc_id in enumerate(numbers)
        }

    # -- removing and describing

    def remove(self, ids: Iterable[str], *, on_unknown: Callable[[str], None] | None = None) -> int:
        """Remove documents by id (:data:`BATCH_SIZE` ids per transaction).

        Args:
            ids: The ids (repeats count once).
            on_unknown: Called with each id that is not in the index.

        Returns:
            How many documents were removed.

        Raises:
            UsageError: the index was opened read-only.
            TypeError: ``ids`` is a single string.
        """
        if isinstance(ids, (str, bytes)):
            raise TypeError("ids must be an iterable of ids, not a single string (wrap it in a list)")
        wanted = list(dict.fromkeys(ids))
        removed = 0
        for lo in range(0, len(wanted), BATCH_SIZE):
            part = wanted[lo : lo + BATCH_SIZE]
            with self._transaction(write=True):
                present = self._store.numbers_of(part)
                self._store.remove(np.array(sorted(present.values()), dtype=np.int64))
            removed += len(present)
            if on_unknown is not None:
                for doc_id in part:
                    if doc_id not in present:
                        on_unknown(doc_id)
        return removed

    def info(self) -> IndexInfo:
        """Documents, options, format version and size on disk."""
        with self._transaction(write=False):
            (documents,) = self._db.execute("SELECT count(*) FROM documents").fetchone()
        size = 0
        for part in (self._name, self._name + "-wal"):
            with contextlib.suppress(OSError):
                size += os.stat(part).st_size
        return IndexInfo(
            path=self._name,
            documents=int(documents),
            options={k: getattr(self._config, k) for k in MATCH_OPTIONS},
            format_version=int(self._meta["format_version"]),
            dedup_version=self._meta.get("dedup_version", "unknown"),
            size=size,
        )


def _initialize(path: str, config: ScanConfig, name: str) -> None:
    """Write the schema and the options of a new index into the empty file ``path``.

    Raises:
        OutputError: it cannot be written.
    """
    meta = {
        "format_version": str(FORMAT_VERSION),
        "options": json.dumps({k: getattr(config, k) for k in MATCH_OPTIONS}, sort_keys=True),
        "bands": json.dumps(list(choose_bands(config.threshold, config.num_perm))),
        "dedup_version": __version__,
        "next_doc": "0",
        "pending_call": "",
    }
    try:
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("BEGIN")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", meta.items())
            db.execute("COMMIT")
            # Kept in the file: every later connection is in WAL mode.
            db.execute("PRAGMA journal_mode = WAL")
        finally:
            db.close()
    except sqlite3.Error as err:
        raise _error_of(name, err) from None
