"""The scan pipeline: documents in, clusters of near-duplicates out.

``read -> normalize -> shingle + hash -> MinHash -> LSH bands -> candidate
pairs -> exact Jaccard -> clusters``. Documents stream through in batches;
what is kept per document is its id, its length, its distinct shingle hashes
(for exact verification) and its signature.

Example:
    >>> story = "Mỹ và Taliban nối lại đàm phán hòa bình tại thủ đô Doha của Qatar hôm nay"
    >>> result = find_duplicates([("a", story), ("b", story.upper()), ("c", "Chuyện khác hẳn")])
    >>> [(c.keep_id, c.ids, c.similarities) for c in result.clusters]
    [('a', ['a', 'b'], [1.0, 1.0])]
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from dedup._kernels import sketch_kernel
from dedup._threads import resolve_workers
from dedup.cluster import KEEP_POLICIES, Cluster, connected_components, group_clusters
from dedup.document import Document, Skipped
from dedup.lsh import band_keys, choose_bands, pairs_from_band_columns
from dedup.minhash import permutations
from dedup.normalize import encode_texts, kernel_tables
from dedup.shingle import SHINGLE_KINDS, ShingleSpec, parse_shingle_spec
from dedup.similarity import estimate_jaccard, exact_jaccard

__all__ = ["Pair", "ScanConfig", "ScanResult", "find_duplicates", "sketch_texts"]

DocumentLike = str | tuple[str, str] | Document | Skipped
_Sketch = tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64], npt.NDArray[np.uint32]]


@dataclass(frozen=True)
class ScanConfig:
    """Options of a scan; the CLI flags are these names in kebab-case.

    Raises:
        ValueError: from ``validate()`` when an option is out of range.
    """

    threshold: float = 0.8
    num_perm: int = 128
    shingle: str = "word:5"
    seed: int = 1
    fold_accents: bool = False
    keep: str = "first"
    verify: bool = True
    workers: int | None = None
    batch_size: int = 512

    def validate(self) -> ShingleSpec:
        """Check every option; return the parsed shingle spec.

        Raises:
            ValueError: naming the option and the accepted range.
        """
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if not 1 <= self.num_perm <= 4096:
            raise ValueError(f"num-perm must be between 1 and 4096, got {self.num_perm}")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be in [0, 2**32), got {self.seed}")
        if self.keep not in KEEP_POLICIES:
            raise ValueError(f"keep must be one of {', '.join(KEEP_POLICIES)}, got {self.keep!r}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.batch_size < 1:
            raise ValueError(f"batch-size must be at least 1, got {self.batch_size}")
        return parse_shingle_spec(self.shingle)


@dataclass(frozen=True)
class Pair:
    """A verified near-duplicate pair (``a`` before ``b`` in input order)."""

    a: str
    b: str
    similarity: float
    estimate: float


@dataclass
class ScanStats:
    """Counts from each stage, for ``--verbose`` and the benchmarks."""

    num_bands: int = 0
    rows_per_band: int = 0
    band_collisions: int = 0
    candidates: int = 0
    verified: int = 0
    shingles: int = 0


@dataclass
class ScanResult:
    """What a scan found.

    Attributes:
        clusters: Clusters of two or more documents, by first member.
        pairs: Verified pairs, by ``(a, b)`` input position.
        documents: Number of documents scanned (skipped ones excluded).
        skipped: Every input not scanned, with its reason.
        stats: Stage counts.
    """

    clusters: list[Cluster]
    pairs: list[Pair]
    documents: int
    skipped: list[Skipped] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)

    @property
    def duplicates(self) -> int:
        """Documents that are in a cluster but are not its kept document."""
        return sum(c.size - 1 for c in self.clusters)


def _as_document(item: DocumentLike, position: int) -> Document | Skipped:
    if isinstance(item, (Document, Skipped)):
        return item
    if isinstance(item, str):
        return Document(str(position), item)
    doc_id, text = item
    return Document(str(doc_id), text)


def _batches(items: Iterable[DocumentLike], size: int) -> Iterator[tuple[list[Document], list[Skipped]]]:
    docs: list[Document] = []
    skipped: list[Skipped] = []
    for position, item in enumerate(items):
        doc = _as_document(item, position)
        if isinstance(doc, Skipped):
            skipped.append(doc)
        else:
            docs.append(doc)
        if len(docs) >= size:
            yield docs, skipped
            docs, skipped = [], []
    if docs or skipped:
        yield docs, skipped


def sketch_texts(
    texts: Sequence[str],
    *,
    shingle: ShingleSpec | str = "word:5",
    num_perm: int = 128,
    seed: int = 1,
    fold_accents: bool = False,
    workers: int | None = None,
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64], npt.NDArray[np.uint32]]:
    """Normalize, shingle and MinHash a batch of texts.

    Args:
        texts: The documents.
        shingle: ``"word:N"`` or ``"char:N"`` (or a parsed spec).
        num_perm: Signature width.
        seed: Permutation seed.
        fold_accents: Strip diacritics before shingling.
        workers: Threads (default: all cores); the result does not depend on it.

    Returns:
        ``(values, starts, signatures)``: distinct sorted shingle hashes
        (uint64) of every document back to back, int64 offsets of shape
        ``(n + 1,)``, and uint32 signatures of shape ``(n, num_perm)``.
    """
    spec = parse_shingle_spec(shingle) if isinstance(shingle, str) else shingle
    units, unit_starts = encode_texts(texts)
    return _sketch_units(units, unit_starts, spec, num_perm, seed, fold_accents, workers)


def _sketch_units(
    units: npt.NDArray[np.uint16],
    unit_starts: npt.NDArray[np.int64],
    spec: ShingleSpec,
    num_perm: int,
    seed: int,
    fold_accents: bool,
    workers: int | None,
) -> _Sketch:
    """The compiled part of :func:`sketch_texts` (runs without the GIL)."""
    case, accent, tones = kernel_tables(fold_accents)
    perms = permutations(num_perm, seed)
    # One fused compiled pass; equal to normalize_batch -> shingle_batch ->
    # compute_signatures (a property test checks it) without their batch-wide
    # intermediate arrays.
    return sketch_kernel(
        units,
        unit_starts,
        case,
        accent,
        fold_accents,
        tones,
        SHINGLE_KINDS[spec.kind],
        spec.n,
        perms[0],
        perms[1],
        resolve_workers(workers),
    )


class _SpillFile:
    """An append-only file of raw array data, read back by ranges.

    Private to one scan (inside its temporary folder, deleted with it), so
    it carries no header: raw native-endian values of one dtype. Reads use
    ``pread`` rather than a memory map: the kernel maps pages around each
    faulting one (fault-around), which made scattered reads of a mapped file
    resident by the megabyte.
    """

    def __init__(self, path: str, dtype: type[np.generic]) -> None:
        self.path = path
        self.dtype = np.dtype(dtype)
        self.file: BinaryIO | None = open(path, "wb")  # noqa: SIM115  # closed by seal()
        self.fd = -1

    def append(self, values: npt.NDArray[Any]) -> None:
        assert self.file is not None
        values.tofile(self.file)

    def seal(self) -> None:
        """Stop writing, start reading."""
        assert self.file is not None
        self.file.close()
        self.file = None
        self.fd = os.open(self.path, os.O_RDONLY)

    def gather(self, offsets: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
        """The ranges ``[offsets[i], offsets[i] + counts[i])`` (in items,
        ascending and disjoint), concatenated."""
        out = np.empty(int(counts.sum()), dtype=self.dtype)
        if len(out) == 0:
            return out
        # Adjacent ranges merge into one read.
        ends = offsets + counts
        breaks = np.flatnonzero(offsets[1:] != ends[:-1]) + 1
        run_lo = offsets[np.concatenate(([0], breaks))]
        run_hi = ends[np.concatenate((breaks - 1, [len(offsets) - 1]))]
        view = out.data.cast("B")
        size = self.dtype.itemsize
        pos = 0
        for lo, hi in zip(run_lo.tolist(), run_hi.tolist(), strict=True):
            length = (hi - lo) * size
            if os.preadv(self.fd, [view[pos : pos + length]], lo * size) != length:
                raise OSError(f"short read from the scan's temporary file {self.path}")
            pos += length
        return out

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class _Store:
    """Per-document data, built batch by batch.

    In memory: ids and lengths. Spilled to the scan's temporary folder:
    distinct shingle hashes (8 bytes per shingle, most of a scan's data) and
    signatures (4 bytes per permutation), which only candidate pairs need,
    read back one chunk of pairs at a time; and LSH band keys (8 bytes per
    band), read back one band at a time. Resident memory holds one chunk's
    documents or one band, not the corpus.
    """

    PAIRS_PER_CHUNK = 256

    def __init__(self, folder: str, num_perm: int, num_bands: int, rows_per_band: int) -> None:
        self.ids: list[str] = []
        self.lengths: list[npt.NDArray[np.int64]] = []
        self.batch_sizes: list[int] = []
        self.sizes: list[npt.NDArray[np.int64]] = []
        self.num_perm = num_perm
        self.num_bands = num_bands
        self.rows_per_band = rows_per_band
        self.shingle_file = _SpillFile(os.path.join(folder, "shingles.u64"), np.uint64)
        self.signature_file = _SpillFile(os.path.join(folder, "signatures.u32"), np.uint32)
        self.key_file = _SpillFile(os.path.join(folder, "band-keys.u64"), np.uint64)
        self.starts = np.zeros(1, dtype=np.int64)

    def add(
        self,
        docs: list[Document],
        values: npt.NDArray[np.uint64],
        starts: npt.NDArray[np.int64],
        signatures: npt.NDArray[np.uint32],
    ) -> list[Skipped]:
        sizes = np.diff(starts)
        empty = np.flatnonzero(sizes == 0)
        skipped = [Skipped(docs[i].id, None, "no words after normalization") for i in empty]
        keep = sizes > 0
        kept = np.flatnonzero(keep).tolist()
        self.ids.extend(docs[i].id for i in kept)
        self.lengths.append(np.array([len(docs[i].text) for i in kept], dtype=np.int64))
        if len(empty):
            signatures = signatures[keep]
        self.shingle_file.append(values)  # empty documents own no values
        self.signature_file.append(signatures)
        self.sizes.append(sizes[keep])
        # Band-major per batch, so one band's keys are a few contiguous runs.
        self.key_file.append(np.ascontiguousarray(band_keys(signatures, self.num_bands, self.rows_per_band).T))
        self.batch_sizes.append(len(signatures))
        return skipped

    def seal(self) -> npt.NDArray[np.int64]:
        """Finish writing; return the document lengths."""
        sizes = np.concatenate(self.sizes) if self.sizes else np.zeros(0, dtype=np.int64)
        self.starts = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=self.starts[1:])
        self.sizes = []
        for spill in (self.shingle_file, self.signature_file, self.key_file):
            spill.seal()
        return np.concatenate(self.lengths) if self.lengths else np.zeros(0, dtype=np.int64)

    def band_columns(self) -> Iterator[npt.NDArray[np.uint64]]:
        """Each band's keys for all documents, read from disk one band at a time."""
        counts = np.array(self.batch_sizes, dtype=np.int64)
        block_starts = np.concatenate(([0], np.cumsum(counts * self.num_bands)[:-1])).astype(np.int64)
        nonempty = counts > 0
        for band in range(self.num_bands):
            yield self.key_file.gather(block_starts[nonempty] + band * counts[nonempty], counts[nonempty])

    def close(self) -> None:
        for spill in (self.shingle_file, self.signature_file, self.key_file):
            spill.close()

    def _chunks(
        self, left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]
    ) -> Iterator[tuple[slice, npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
        """Chunks of pairs: (slice, documents, local left, local right)."""
        for lo in range(0, len(left), self.PAIRS_PER_CHUNK):
            part = slice(lo, lo + self.PAIRS_PER_CHUNK)
            a, b = left[part], right[part]
            docs, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
            yield part, docs, inverse[: len(a)], inverse[len(a) :]

    def jaccard(
        self, left: npt.NDArray[np.int64], right: npt.NDArray[np.int64], workers: int | None
    ) -> npt.NDArray[np.float64]:
        """Exact Jaccard per pair, reading only the documents involved."""
        out = np.empty(len(left), dtype=np.float64)
        for part, docs, a, b in self._chunks(left, right):
            sizes = self.starts[docs + 1] - self.starts[docs]
            local = np.zeros(len(docs) + 1, dtype=np.int64)
            np.cumsum(sizes, out=local[1:])
            values = self.shingle_file.gather(self.starts[docs], sizes)
            out[part] = exact_jaccard(values, local, a, b, workers=workers)
        return out

    def estimates(self, left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """MinHash estimate per pair, reading only the signatures involved."""
        out = np.empty(len(left), dtype=np.float64)
        for part, docs, a, b in self._chunks(left, right):
            rows = self.signature_file.gather(docs * self.num_perm, np.full(len(docs), self.num_perm))
            out[part] = estimate_jaccard(rows.reshape(-1, self.num_perm), a, b)
        return out


def find_duplicates(
    documents: Iterable[DocumentLike],
    config: ScanConfig | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    **options: object,
) -> ScanResult:
    """Find clusters of near-duplicate documents.

    Args:
        documents: Texts (ids are their positions), ``(id, text)`` pairs,
            or :class:`Document` / :class:`Skipped` items from
            :func:`dedup.read_documents`.
        config: Scan options; or pass them as keywords
            (``threshold=0.9, keep="longest"``).
        progress: Called with the number of documents done after each batch.
        **options: Fields of :class:`ScanConfig`, overriding ``config``.

    Returns:
        The clusters, verified pairs, counts and skipped inputs.

    Raises:
        ValueError: an option is out of range.
        TypeError: an unknown option.
    """
    if config is None:
        config = ScanConfig(**options)  # type: ignore[arg-type]  # checked by validate()
    elif options:
        config = ScanConfig(**{**config.__dict__, **options})
    spec = config.validate()
    # The temporary folder (spilled shingle hashes) goes away on return, on
    # error and on Ctrl-C alike.
    with tempfile.TemporaryDirectory(prefix="dedup-") as folder:
        return _scan(documents, config, spec, progress, folder)


def _scan(
    documents: Iterable[DocumentLike],
    config: ScanConfig,
    spec: ShingleSpec,
    progress: Callable[[int], None] | None,
    folder: str,
) -> ScanResult:
    num_bands, rows_per_band = choose_bands(config.threshold, config.num_perm)
    store = _Store(folder, config.num_perm, num_bands, rows_per_band)
    skipped: list[Skipped] = []
    done = 0
    # Two stages: this thread reads, parses and encodes batch k+1 (Python,
    # holding the GIL) while a helper thread runs the fused kernel on batch k
    # (without the GIL). Batches are stored in input order; at most two are
    # in flight.
    pending: tuple[list[Document], Future[_Sketch]] | None = None
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dedup-kernels") as pool:
            for docs, batch_skipped in _batches(documents, config.batch_size):
                skipped.extend(batch_skipped)
                submitted = None
                if docs:
                    units, unit_starts = encode_texts([d.text for d in docs])
                    submitted = pool.submit(
                        _sketch_units,
                        units,
                        unit_starts,
                        spec,
                        config.num_perm,
                        config.seed,
                        config.fold_accents,
                        config.workers,
                    )
                if pending is not None:
                    skipped.extend(store.add(pending[0], *pending[1].result()))
                pending = (docs, submitted) if submitted is not None else None
                done += len(docs) + len(batch_skipped)
                if progress is not None:
                    progress(done)
            if pending is not None:
                skipped.extend(store.add(pending[0], *pending[1].result()))
        return _match(store, skipped, config)
    finally:
        store.close()


def _match(store: _Store, skipped: list[Skipped], config: ScanConfig) -> ScanResult:
    lengths = store.seal()
    ids = store.ids
    left, right, collisions = pairs_from_band_columns(store.band_columns(), len(ids))
    candidates = len(left)
    estimates = store.estimates(left, right)
    similarity = store.jaccard(left, right, config.workers) if config.verify else estimates
    ok = similarity >= config.threshold
    left, right, similarity, estimates = left[ok], right[ok], similarity[ok], estimates[ok]

    labels = connected_components(len(ids), left, right)
    clusters = group_clusters(labels, config.keep, lengths)
    if clusters:
        # Each member's similarity to the kept document (not necessarily a
        # verified pair: clusters are transitive).
        members = np.concatenate([np.array(c.members, dtype=np.int64) for c in clusters])
        kept = np.concatenate([np.full(c.size, c.keep, dtype=np.int64) for c in clusters])
        sims = store.jaccard(kept, members, config.workers) if config.verify else store.estimates(kept, members)
        pos = 0
        for c in clusters:
            c.ids = [ids[m] for m in c.members]
            c.similarities = sims[pos : pos + c.size].tolist()
            pos += c.size

    pairs = [
        Pair(ids[a], ids[b], float(s), float(e))
        for a, b, s, e in zip(left.tolist(), right.tolist(), similarity.tolist(), estimates.tolist(), strict=True)
    ]
    stats = ScanStats(
        num_bands=store.num_bands,
        rows_per_band=store.rows_per_band,
        band_collisions=collisions,
        candidates=candidates,
        verified=len(pairs),
        shingles=int(store.starts[-1]),
    )
    return ScanResult(clusters, pairs, len(ids), skipped, stats)
