"""The stages of a scan, as functions over one small store interface.

A scan and a persistent index do the same work on different storage:
``sketch`` turns documents into a :class:`SketchBatch`; a
:class:`SketchStore` keeps batches; ``candidates`` proposes pairs from band
keys (all pairs among stored documents, or a batch against the stored ones);
``verify`` computes exact Jaccard similarity from the shingle hashes the
store gives back; ``label`` turns document numbers into ids. The scan's
temporary spill store (:class:`dedup.store.Store`) and the SQLite index
(:mod:`dedup.index`) both implement :class:`SketchStore`, so another backend
(a server, a distributed engine) plugs in here without touching the stages.

Document numbers: a store numbers documents 0, 1, 2... in the order they
were appended (a removed document's number is never reused), and every
array of document numbers below is int64.

Example:
    >>> from dedup.document import Document
    >>> from dedup.pipeline import ScanConfig
    >>> docs = [Document("a", "Mỹ và Taliban nối lại đàm phán hòa bình tại Doha"),
    ...         Document("b", "MỸ VÀ TALIBAN nối lại đàm phán hòa bình tại Doha!")]
    >>> batch, skipped = sketch_documents(docs, ScanConfig())
    >>> left, right = candidates_within(batch)
    >>> verify_within(batch, left, right).tolist()
    [1.0]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dedup._kernels import jaccard_kernel, shingle_kernel, sketch_kernel, sorted_distinct
from dedup._threads import resolve_workers
from dedup._unicode import nfc_table
from dedup.cluster import component_order
from dedup.config import ScanConfig
from dedup.document import Document, DocumentLike, Skipped, UniqueIds, as_document
from dedup.ensemble import EnsembleStats, containment_candidates, containment_from_jaccard, orient
from dedup.io import DocumentStream, PackedTexts
from dedup.lsh import band_keys, choose_bands, pairs_from_band_columns
from dedup.minhash import compute_signatures, permutations
from dedup.normalize import encode_texts, kernel_tables, normalize_batch, renormalized, splice
from dedup.shingle import SHINGLE_KINDS, ShingleSpec
from dedup.similarity import exact_jaccard
from dedup.store import SketchBatch, SketchStore, Store

__all__ = [
    "TextBatch",
    "as_batch",
    "candidates_against",
    "candidates_all",
    "candidates_containment",
    "candidates_within",
    "document_batches",
    "label",
    "sketch_documents",
    "sketch_units",
    "text_batches",
    "verify",
    "verify_against",
    "verify_containment",
    "verify_within",
]

_PAIRS_PER_CHUNK = 256
_VALUES_PER_CHUNK = 1 << 19
"""Shingle hashes (8 bytes each) :func:`verify` aims to read at once."""


def document_batches(
    items: Iterable[DocumentLike], size: int, ids: UniqueIds
) -> Iterator[tuple[list[Document], list[Skipped]]]:
    """Documents in batches of ``size``, ids made unique, with the skips met on the way."""
    docs: list[Document] = []
    skipped: list[Skipped] = []
    for position, item in enumerate(items):
        doc = as_document(item, position)
        if isinstance(doc, Skipped):
            skipped.append(doc)
        else:
            docs.append(doc)
        if len(docs) >= size:
            yield ids.assign(docs), skipped
            docs, skipped = [], []
    if docs or skipped:
        yield ids.assign(docs), skipped


def text_batches(
    items: Iterable[DocumentLike], size: int, ids: UniqueIds
) -> Iterator[tuple[list[Document], TextBatch, list[Skipped]]]:
    """:func:`document_batches` with the texts as UTF-8 (:class:`TextBatch`),
    cut at the same places. From a :class:`dedup.io.DocumentStream`, JSONL
    texts go from the reader to the batch as UTF-8, never as Python strings:
    those documents' ``text`` is ``""`` in the list (the batch has it)."""
    source: Iterable[DocumentLike | PackedTexts] = items.packed() if isinstance(items, DocumentStream) else items
    batch = _BatchBuilder()
    skipped: list[Skipped] = []
    position = 0
    for item in source:
        if isinstance(item, PackedTexts):
            start = 0
            while start < len(item):
                end = min(len(item), start + size - len(batch.docs))
                batch.add_packed(item, start, end)
                position += end - start
                start = end
                if len(batch.docs) >= size:
                    yield ids.assign(batch.docs), batch.take(), skipped
                    skipped = []
            continue
        doc = as_document(item, position)
        position += 1
        if isinstance(doc, Skipped):
            skipped.append(doc)
        else:
            batch.add(doc)
        if len(batch.docs) >= size:
            yield ids.assign(batch.docs), batch.take(), skipped
            skipped = []
    if batch.docs or skipped:
        yield ids.assign(batch.docs), batch.take(), skipped


@dataclass
class TextBatch:
    """The texts of a batch of documents as UTF-8 (``"surrogatepass"``).

    Attributes:
        text: uint8, the texts back to back.
        starts: int64, shape ``(n + 1,)``: text ``i`` is ``text[starts[i]:starts[i + 1]]``.
        lengths: int64, shape ``(n,)``: each text's length in code points.
    """

    text: npt.NDArray[np.uint8]
    starts: npt.NDArray[np.int64]
    lengths: npt.NDArray[np.int64]


class _BatchBuilder:
    """Documents and their UTF-8 texts, gathered until a batch is full.

    A batch whose texts are one piece (most, from a JSONL dump: one run of
    a :class:`PackedTexts`) keeps a view of them: no copy.
    """

    def __init__(self) -> None:
        self.docs: list[Document] = []
        self.pieces: list[npt.NDArray[np.uint8]] = []
        self.sizes: list[npt.NDArray[np.int64]] = []
        self.lengths: list[npt.NDArray[np.int64]] = []

    def add(self, doc: Document) -> None:
        encoded = doc.text.encode("utf-8", "surrogatepass")
        self.docs.append(doc)
        self.pieces.append(np.frombuffer(encoded, dtype=np.uint8))
        self.sizes.append(np.array([len(encoded)], dtype=np.int64))
        self.lengths.append(np.array([len(doc.text)], dtype=np.int64))

    def add_packed(self, packed: PackedTexts, start: int, end: int) -> None:
        offsets = packed.offsets[start : end + 1]
        name = packed.name
        self.docs.extend(
            [
                Document(doc_id, "", f"{name}:{line}")
                for doc_id, line in zip(packed.ids[start:end], packed.lines[start:end].tolist(), strict=True)
            ]
        )
        self.pieces.append(packed.text[offsets[0] : offsets[-1]])
        self.sizes.append(np.diff(offsets))
        self.lengths.append(packed.lengths[start:end])

    def take(self) -> TextBatch:
        sizes = np.concatenate(self.sizes) if self.sizes else np.zeros(0, dtype=np.int64)
        starts = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=starts[1:])
        if len(self.pieces) == 1:
            text = self.pieces[0]
        else:
            text = np.concatenate(self.pieces) if self.pieces else np.zeros(0, dtype=np.uint8)
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, dtype=np.int64)
        self.docs, self.pieces, self.sizes, self.lengths = [], [], [], []
        return TextBatch(text, starts, lengths)


def sketch_documents(
    docs: Sequence[Document], config: ScanConfig, *, normalized: bool = False
) -> tuple[SketchBatch, list[Skipped]]:
    """Sketch documents with a scan's options, in one compiled pass.

    Args:
        docs: The documents (ids already unique).
        config: The matching options (validated).
        normalized: Also keep the normalized texts (a store of texts, such
            as the index, re-shingles them to verify).

    Returns:
        The batch of documents that have words, and a Skipped (``no words
        after normalization``) for each that has none.
    """
    spec = config.validate()
    texts = [d.text for d in docs]
    if normalized:
        buf, offsets = normalize_batch(texts, fold_accents=config.fold_accents, workers=config.workers)
        values, starts, by_chars = shingle_kernel(
            buf, offsets, SHINGLE_KINDS[spec.kind], spec.n, resolve_workers(config.workers)
        )
        signatures = compute_signatures(
            values, starts, num_perm=config.num_perm, seed=config.seed, workers=config.workers
        )
        kept_text: tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]] | None = (buf, offsets)
    else:
        units, unit_starts = encode_texts(texts)
        values, starts, signatures, by_chars = sketch_units(
            units, unit_starts, spec, config.num_perm, config.seed, config.fold_accents, config.workers
        )
        kept_text = None
    return as_batch(list(docs), values, starts, signatures, by_chars, kept_text, config.threshold)


def sketch_units(
    text: npt.NDArray[np.uint8],
    text_starts: npt.NDArray[np.int64],
    spec: ShingleSpec,
    num_perm: int,
    seed: int,
    fold_accents: bool,
    workers: int | None,
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64], npt.NDArray[np.uint32], npt.NDArray[np.uint8]]:
    """The compiled part of sketching, without the GIL: ``(values, starts, signatures,
    by_chars)`` of UTF-8 texts from :func:`dedup.normalize.encode_texts`
    (uint8, with int64 offsets of shape ``(n + 1,)``); by_chars is the uint8
    flags, shape ``(n,)``, of the documents shingled by characters as the
    fallback of a word scan.

    Raises:
        MemoryError: a document's scratch memory could not be allocated.
    """
    case, accent, stable, tones = kernel_tables(fold_accents)
    a, b = permutations(num_perm, seed)
    kind, threads = SHINGLE_KINDS[spec.kind], resolve_workers(workers)
    # One fused compiled pass, NFC included; equal to normalize_batch ->
    # shingle_batch -> compute_signatures (a property test checks it) without
    # their batch-wide intermediate arrays.
    table = nfc_table()
    values, starts, signatures, by_chars, needs = sketch_kernel(
        text, text_starts, case, accent, stable, table, fold_accents, True, tones, kind, spec.n, a, b, threads
    )
    rows = np.flatnonzero(needs)
    if len(rows):
        # Only without the NFC table (a test's reference): Python's NFC, then the kernel.
        nfc, nfc_starts = renormalized(text, text_starts, rows)
        sub_values, sub_starts, signatures[rows], by_chars[rows], _ = sketch_kernel(
            nfc, nfc_starts, case, accent, stable, table, fold_accents, False, tones, kind, spec.n, a, b, threads
        )
        values, starts = splice(values, starts, rows, sub_values, sub_starts)
    return values, starts, signatures, by_chars


def as_batch(
    docs: list[Document],
    values: npt.NDArray[np.uint64],
    starts: npt.NDArray[np.int64],
    signatures: npt.NDArray[np.uint32],
    by_chars: npt.NDArray[np.uint8],
    normalized: tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]] | None,
    threshold: float,
    lengths: npt.NDArray[np.int64] | None = None,
) -> tuple[SketchBatch, list[Skipped]]:
    """The batch without its documents that have no words (their shingle
    runs are empty, so ``values`` needs no change); ``lengths`` (int64,
    shape ``(n,)``) are the texts' lengths when the documents do not hold
    their texts (:func:`text_batches`)."""
    sizes = np.diff(starts)
    keep = sizes > 0
    skipped = [Skipped(docs[i].id, None, "no words after normalization") for i in np.flatnonzero(~keep).tolist()]
    if skipped:
        kept = np.flatnonzero(keep)
        docs = [docs[i] for i in kept.tolist()]
        starts = np.concatenate(([0], np.cumsum(sizes[keep]))).astype(np.int64)
        signatures, by_chars = signatures[keep], by_chars[keep]
        lengths = lengths[keep] if lengths is not None else None
        if normalized is not None:
            buf, offsets = normalized
            pieces = [buf[offsets[i] : offsets[i + 1]] for i in kept.tolist()]
            lengths = np.array([len(p) for p in pieces], dtype=np.int64)
            normalized = (
                np.concatenate(pieces) if pieces else buf[:0],
                np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
            )
    num_bands, rows_per_band = choose_bands(threshold, signatures.shape[1])
    keys = band_keys(signatures, num_bands, rows_per_band)
    return SketchBatch(docs, values, starts, signatures, keys, by_chars, normalized, lengths), skipped


def candidates_within(batch: SketchBatch) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Candidate pairs among the documents of one batch (positions in it),
    ``left < right``, sorted."""
    columns = (np.ascontiguousarray(batch.keys[:, band]) for band in range(batch.keys.shape[1]))
    left, right, _, _ = pairs_from_band_columns(columns, len(batch))
    return left, right


def candidates_against(store: SketchStore, batch: SketchBatch) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Candidate pairs between a batch and the stored documents:
    ``(rows, docs)`` (batch positions, store numbers), sorted."""
    if store.count == 0 or len(batch) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return store.lookup(batch.keys)


def verify_within(
    batch: SketchBatch,
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    *,
    workers: int | None = None,
) -> npt.NDArray[np.float64]:
    """float64, shape ``(n_pairs,)``: exact Jaccard of pairs inside a batch."""
    return exact_jaccard(batch.values, batch.starts, left, right, workers=workers)


def verify_against(
    store: SketchStore,
    batch: SketchBatch,
    rows: npt.NDArray[np.int64],
    docs: npt.NDArray[np.int64],
    *,
    workers: int | None = None,
) -> npt.NDArray[np.float64]:
    """float64, shape ``(n_pairs,)``: exact Jaccard of (batch row, stored
    document) pairs, reading from the store only the documents involved."""
    out = np.empty(len(rows), dtype=np.float64)
    for lo in range(0, len(rows), _PAIRS_PER_CHUNK * 16):
        part = slice(lo, lo + _PAIRS_PER_CHUNK * 16)
        wanted, inverse = np.unique(docs[part], return_inverse=True)
        stored_values, stored_starts = store.shingles(wanted)
        values, starts = _concat(batch.values, batch.starts, stored_values, stored_starts)
        out[part] = exact_jaccard(values, starts, rows[part], len(batch) + inverse, workers=workers)
    return out


def _concat(
    a_values: npt.NDArray[np.uint64],
    a_starts: npt.NDArray[np.int64],
    b_values: npt.NDArray[np.uint64],
    b_starts: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """Two ``(values, starts)`` sets of documents as one, ``b``'s after ``a``'s."""
    values = np.concatenate([a_values, b_values])
    starts = np.concatenate([a_starts, a_starts[-1] + b_starts[1:]])
    return values, starts


def candidates_all(
    store: SketchStore, *, workers: int | None = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int, int]:
    """Candidate pairs among all stored documents: ``(left, right,
    band_collisions, capped_buckets)`` as :func:`dedup.lsh.pairs_from_band_columns`
    (``workers`` threads, default all cores)."""
    return pairs_from_band_columns(store.band_columns(), store.count, workers=workers)


def verify(
    store: SketchStore,
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    *,
    workers: int | None = None,
) -> npt.NDArray[np.float64]:
    """float64, shape ``(n_pairs,)``: exact Jaccard of stored document pairs,
    reading the documents of a chunk of pairs at a time (each document once
    a chunk), chunks sized to about :data:`_VALUES_PER_CHUNK` shingle hashes
    and taken group by group of connected documents
    (:func:`dedup.cluster.component_order`)."""
    out = np.empty(len(left), dtype=np.float64)
    threads = resolve_workers(workers)
    order = component_order(store.count, left, right)
    lo, step = 0, _PAIRS_PER_CHUNK
    while lo < len(order):
        part = order[lo : lo + step]
        a, b = left[part], right[part]
        wanted = sorted_distinct(np.concatenate([a, b]))
        values, starts = store.shingles(wanted)
        # The kernel directly, not exact_jaccard: a store's values come from
        # the sketch kernels, sorted and distinct by construction (its checks
        # would pass over every value read), and searchsorted's positions
        # are in range.
        out[part] = jaccard_kernel(values, starts, np.searchsorted(wanted, a), np.searchsorted(wanted, b), threads)
        lo += len(part)
        # The next chunk's pairs, from this one's shingles per pair (at most
        # four times as many: a run of long documents stays bounded).
        per_pair = max(len(values), 1) / len(part)
        step = max(_PAIRS_PER_CHUNK, min(4 * len(part), int(_VALUES_PER_CHUNK / per_pair)))
    return out


def label(store: SketchStore, docs: npt.NDArray[np.int64]) -> dict[int, str]:
    """Ids of stored documents, by number (any order, repeats allowed)."""
    wanted = sorted_distinct(np.asarray(docs, dtype=np.int64))
    return dict(zip(wanted.tolist(), store.id_list(wanted), strict=True))


# --- containment (a measure of the same stages, see dedup.ensemble) ---------


def candidates_containment(
    store: Store, threshold: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], EnsembleStats]:
    """Candidate pairs for containment among all stored documents (after
    ``seal``), by LSH Ensemble: ``(left, right, stats)``, ``left < right``,
    sorted. Signatures are read a size partition (and a chunk of queries) at
    a time, and shingles (for the queries no band shape catches, see
    :func:`dedup.ensemble.containment_candidates`) a chunk of documents at a
    time, so a spilled store stays out of memory."""
    num_perm = store.num_perm

    def signatures(docs: npt.NDArray[np.int64]) -> npt.NDArray[np.uint32]:
        rows = store.signatures.gather(docs * num_perm, np.full(len(docs), num_perm, dtype=np.int64))
        return rows.reshape(len(docs), num_perm)

    return containment_candidates(np.diff(store.starts), signatures, threshold, num_perm, shingles=store.shingles)


def verify_containment(
    store: Store,
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    *,
    workers: int | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Exact containment of stored document pairs (after ``seal``).

    Returns:
        ``(contained, container, containment, jaccard)``: int64 document
        numbers oriented by :func:`dedup.ensemble.orient`, and float64
        ``|A & B| / |A|`` (``A`` the contained set) and ``|A & B| / |A | B|``;
        all of shape ``(n_pairs,)``.
    """
    sizes = np.diff(store.starts)
    jaccard = verify(store, left, right, workers=workers)
    containment = containment_from_jaccard(jaccard, sizes[left], sizes[right])
    contained, container = orient(left, right, sizes)
    return contained, container, containment, jaccard
