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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numba as nb
import numpy as np
import numpy.typing as npt

from dedup.cluster import KEEP_POLICIES, Cluster, connected_components, group_clusters
from dedup.document import Document, Skipped
from dedup.lsh import LSHStats, candidate_pairs, choose_bands
from dedup.minhash import compute_signatures
from dedup.normalize import normalize_batch
from dedup.shingle import ShingleSpec, parse_shingle_spec, shingle_batch
from dedup.similarity import estimate_jaccard, exact_jaccard

__all__ = ["Pair", "ScanConfig", "ScanResult", "find_duplicates", "sketch_texts"]

DocumentLike = str | tuple[str, str] | Document | Skipped


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
    batch_size: int = 2048

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
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64], npt.NDArray[np.uint32]]:
    """Normalize, shingle and MinHash a batch of texts.

    Args:
        texts: The documents.
        shingle: ``"word:N"`` or ``"char:N"`` (or a parsed spec).
        num_perm: Signature width.
        seed: Permutation seed.
        fold_accents: Strip diacritics before shingling.

    Returns:
        ``(values, starts, signatures)``: distinct sorted shingle hashes
        (uint64) of every document back to back, int64 offsets of shape
        ``(n + 1,)``, and uint32 signatures of shape ``(n, num_perm)``.
    """
    spec = parse_shingle_spec(shingle) if isinstance(shingle, str) else shingle
    buf, offsets = normalize_batch(texts, fold_accents=fold_accents)
    values, starts = shingle_batch(buf, offsets, spec)
    signatures = compute_signatures(values, starts, num_perm=num_perm, seed=seed)
    return values, starts, signatures


class _Store:
    """Growing per-document arrays, built batch by batch."""

    def __init__(self, num_perm: int) -> None:
        self.ids: list[str] = []
        self.lengths: list[int] = []
        self.values: list[npt.NDArray[np.uint64]] = []
        self.sizes: list[npt.NDArray[np.int64]] = []
        self.signatures: list[npt.NDArray[np.uint32]] = []
        self.num_perm = num_perm

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
        for i in np.flatnonzero(keep):
            self.ids.append(docs[i].id)
            self.lengths.append(len(docs[i].text))
        self.values.append(values)  # empty documents own no values
        self.sizes.append(sizes[keep])
        self.signatures.append(signatures[keep])
        return skipped

    def finish(
        self,
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64], npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
        values = np.concatenate(self.values) if self.values else np.zeros(0, dtype=np.uint64)
        sizes = np.concatenate(self.sizes) if self.sizes else np.zeros(0, dtype=np.int64)
        starts = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=starts[1:])
        signatures = (
            np.concatenate(self.signatures) if self.signatures else np.zeros((0, self.num_perm), dtype=np.uint32)
        )
        self.values, self.sizes, self.signatures = [], [], []
        return values, starts, signatures, np.array(self.lengths, dtype=np.int64)


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
    threads_before = nb.get_num_threads()
    # numba cannot start more threads than it was configured with (all cores
    # unless NUMBA_NUM_THREADS says otherwise): more workers are capped there.
    limit = int(getattr(nb.config, "NUMBA_NUM_THREADS", os.cpu_count() or 1))
    nb.set_num_threads(max(1, min(config.workers or limit, limit)))
    try:
        return _scan(documents, config, spec, progress)
    finally:
        nb.set_num_threads(threads_before)


def _scan(
    documents: Iterable[DocumentLike],
    config: ScanConfig,
    spec: ShingleSpec,
    progress: Callable[[int], None] | None,
) -> ScanResult:
    store = _Store(config.num_perm)
    skipped: list[Skipped] = []
    done = 0
    for docs, batch_skipped in _batches(documents, config.batch_size):
        skipped.extend(batch_skipped)
        if docs:
            values, starts, signatures = sketch_texts(
                [d.text for d in docs],
                shingle=spec,
                num_perm=config.num_perm,
                seed=config.seed,
                fold_accents=config.fold_accents,
            )
            skipped.extend(store.add(docs, values, starts, signatures))
        done += len(docs) + len(batch_skipped)
        if progress is not None:
            progress(done)
    ids = store.ids
    values, starts, signatures, lengths = store.finish()
    n_docs = len(ids)

    num_bands, rows_per_band = choose_bands(config.threshold, config.num_perm)
    left, right, lsh_stats = candidate_pairs(signatures, num_bands, rows_per_band)
    estimates = estimate_jaccard(signatures, left, right)
    similarity = exact_jaccard(values, starts, left, right) if config.verify else estimates
    ok = similarity >= config.threshold
    left, right, similarity, estimates = left[ok], right[ok], similarity[ok], estimates[ok]

    labels = connected_components(n_docs, left, right)
    clusters = group_clusters(labels, config.keep, lengths)
    _fill_clusters(clusters, ids, values, starts, signatures, config.verify)

    pairs = [
        Pair(ids[a], ids[b], float(s), float(e))
        for a, b, s, e in zip(left.tolist(), right.tolist(), similarity.tolist(), estimates.tolist(), strict=True)
    ]
    stats = _stats(lsh_stats, len(pairs), len(values))
    return ScanResult(clusters, pairs, n_docs, skipped, stats)


def _fill_clusters(
    clusters: list[Cluster],
    ids: list[str],
    values: npt.NDArray[np.uint64],
    starts: npt.NDArray[np.int64],
    signatures: npt.NDArray[np.uint32],
    verify: bool,
) -> None:
    """Set each cluster's ids and each member's similarity to the kept one."""
    if not clusters:
        return
    members = np.concatenate([np.array(c.members, dtype=np.int64) for c in clusters])
    kept = np.concatenate([np.full(c.size, c.keep, dtype=np.int64) for c in clusters])
    sims = exact_jaccard(values, starts, kept, members) if verify else estimate_jaccard(signatures, kept, members)
    pos = 0
    for c in clusters:
        c.ids = [ids[m] for m in c.members]
        c.similarities = sims[pos : pos + c.size].tolist()
        pos += c.size


def _stats(lsh: LSHStats, verified: int, shingles: int) -> ScanStats:
    return ScanStats(
        num_bands=lsh.num_bands,
        rows_per_band=lsh.rows_per_band,
        band_collisions=lsh.band_collisions,
        candidates=lsh.candidates,
        verified=verified,
        shingles=shingles,
    )
