"""The scan pipeline: documents in, clusters of near-duplicates out.

``read -> normalize -> shingle + hash -> MinHash -> LSH bands -> candidate
pairs -> exact Jaccard -> clusters``. Documents stream through in batches;
per-document data (shingle hashes for exact verification, signatures, LSH
band keys, ids) goes to a :class:`~dedup.store.Store`, in memory up to the
``memory`` budget and spilled to disk beyond it.

Example:
    >>> story = "Mỹ và Taliban nối lại đàm phán hòa bình tại thủ đô Doha của Qatar hôm nay"
    >>> result = find_duplicates([("a", story), ("b", story.upper()), ("c", "Chuyện khác hẳn")])
    >>> [(c.keep_id, c.ids, c.similarities) for c in result.clusters]
    [('a', ['a', 'b'], [1.0, 1.0])]
"""

from __future__ import annotations

import contextlib
import gc
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dedup._kernels import start_threads
from dedup._scratch import scratch_folder
from dedup._threads import resolve_workers
from dedup.cluster import Cluster, connected_components, group_clusters
from dedup.config import ScanConfig
from dedup.document import Document, DocumentLike, Renamed, Skipped, UniqueIds, check_documents
from dedup.ensemble import container_clusters
from dedup.errors import UsageError
from dedup.io import DocumentStream
from dedup.lsh import choose_bands
from dedup.normalize import encode_texts
from dedup.shingle import ShingleSpec, parse_shingle_spec
from dedup.stages import (
    as_batch,
    candidates_all,
    candidates_containment,
    label,
    sketch_units,
    text_batches,
    verify,
    verify_containment,
)
from dedup.store import MemoryBudget, Store

__all__ = ["ContainedPair", "Pair", "ScanConfig", "ScanResult", "find_duplicates", "sketch_texts"]

_Sketch = tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64], npt.NDArray[np.uint32], npt.NDArray[np.uint8]]


@dataclass(frozen=True)
class Pair:
    """A verified near-duplicate pair (``a`` before ``b`` in input order)."""

    a: str
    b: str
    similarity: float
    estimate: float


@dataclass(frozen=True)
class ContainedPair:
    """A verified pair of a containment scan: ``contained``'s shingle set is
    at least the threshold contained in ``container``'s (the larger set; of
    two equal sizes, the earlier document is the container)."""

    contained: str
    container: str
    containment: float
    jaccard: float


@dataclass
class ScanStats:
    """Counts from each stage, for ``--verbose`` and the benchmarks."""

    num_bands: int = 0
    rows_per_band: int = 0
    band_collisions: int = 0
    candidates: int = 0
    verified: int = 0
    shingles: int = 0
    spilled: bool = False
    capped_buckets: int = 0
    char_fallback: int = 0
    """Documents of a word scan shingled by characters (mostly in scripts
    written without spaces, see :mod:`dedup.shingle`)."""
    partitions: int = 0
    """Size partitions of a containment scan (0 for Jaccard); its band
    shapes run from ``rows_per_band`` rows (the narrowest) up."""
    boilerplate_blocks: int = 0
    """With ``ignore_boilerplate``: distinct boilerplate blocks found."""
    boilerplate_removed: int = 0
    """With ``ignore_boilerplate``: block occurrences removed before shingling."""
    boilerplate_documents: int = 0
    """With ``ignore_boilerplate``: documents that lost a block."""
    boilerplate_min_documents: int = 0
    """With ``ignore_boilerplate``: documents a block had to occur in to be removed."""
    boilerplate_whole: int = 0
    """With ``ignore_boilerplate``: documents left whole because every block
    of theirs occurs in that many documents (a story carried by several
    outlets, not only a template)."""


@dataclass
class ScanResult:
    """What a scan found.

    Attributes:
        clusters: Clusters of two or more documents, by first member.
        pairs: Verified pairs, by ``(a, b)`` input position.
        documents: Number of documents scanned (skipped ones excluded).
        skipped: Every input not scanned, with its reason.
        stats: Stage counts.
        renamed: Documents whose id was already used, and the id they got.
        measure: ``"jaccard"`` or ``"containment"``. A containment scan's
            verified pairs are in ``contained`` (``pairs`` is empty), and its
            clusters' ``similarities`` are each member's containment in the
            kept document (the container).
        contained: Verified pairs of a containment scan, by input position
            of the pair's first document, then of its second.
    """

    clusters: list[Cluster]
    pairs: list[Pair]
    documents: int
    skipped: list[Skipped] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)
    renamed: list[Renamed] = field(default_factory=list)
    measure: str = "jaccard"
    contained: list[ContainedPair] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        """Documents that are in a cluster but are not its kept document."""
        return sum(c.size - 1 for c in self.clusters)


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
        ``(n + 1,)``, and uint32 signatures of shape ``(n, num_perm)``. In a
        word scan, documents mostly in scripts written without spaces are
        shingled by characters (see :mod:`dedup.shingle`).

    Raises:
        ValueError: ``texts`` is a single string, not a sequence of them.
    """
    spec = parse_shingle_spec(shingle) if isinstance(shingle, str) else shingle
    units, unit_starts = encode_texts(texts)
    values, starts, signatures, _ = sketch_units(units, unit_starts, spec, num_perm, seed, fold_accents, workers)
    return values, starts, signatures


def _store_sketch(
    store: Store,
    docs: list[Document],
    lengths: npt.NDArray[np.int64],
    sketch: _Sketch,
    skipped: list[Skipped],
    threshold: float,
) -> int:
    """Keep a sketched batch (its documents without words go to skipped);
    return how many of its documents were shingled by characters."""
    values, starts, signatures, by_chars = sketch
    batch, empty = as_batch(docs, values, starts, signatures, by_chars, None, threshold, lengths)
    skipped.extend(empty)
    store.append(batch)
    return int(np.count_nonzero(batch.by_chars))


def find_duplicates(
    documents: Iterable[DocumentLike],
    config: ScanConfig | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
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
        on_stage: Called with ``"matching"`` once every document is sketched
            (LSH, verification and clustering follow).
        **options: Fields of :class:`ScanConfig`, overriding ``config``.

    Returns:
        The clusters, verified pairs, counts and skipped inputs.

    Raises:
        UsageError: an option is out of range (a ValueError), or
            ``ignore_boilerplate`` is set (it reads the documents twice:
            :func:`dedup.blocks.find_duplicates_without_boilerplate` does).
        TypeError: an unknown option, ``documents`` is a single string, or
            an item is not a document.
    """
    if config is None:
        config = ScanConfig(**options)  # type: ignore[arg-type]  # checked by validate()
    elif options:
        config = ScanConfig(**{**config.__dict__, **options})
    spec = config.validate()
    if config.ignore_boilerplate:
        raise UsageError(
            "ignore_boilerplate reads the documents twice: use dedup.blocks.find_duplicates_without_boilerplate",
            option="ignore_boilerplate",
        )
    check_documents(documents)
    threads = resolve_workers(config.workers)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dedup-kernels") as pool:
        # Both threads that run kernels start their OpenMP teams before the
        # temporary folder exists: libgomp exits the process outright when
        # it cannot create threads, and would leave the folder behind.
        start_threads(threads)
        pool.submit(start_threads, threads).result()
        # The temporary folder (spilled shingle hashes) goes away on return,
        # on error and on Ctrl-C alike.
        # The caller's own iterable may make reference cycles: the collector
        # is paused while reading only with dedup's reader (see _without_gc).
        with scratch_folder("dedup-") as folder, _without_gc(isinstance(documents, DocumentStream)):
            return _scan(documents, config, spec, progress, on_stage, folder, pool)


def _scan(
    documents: Iterable[DocumentLike],
    config: ScanConfig,
    spec: ShingleSpec,
    progress: Callable[[int], None] | None,
    on_stage: Callable[[str], None] | None,
    folder: str,
    pool: ThreadPoolExecutor,
) -> ScanResult:
    num_bands, rows_per_band = choose_bands(config.threshold, config.num_perm)
    params = {"shingle": config.shingle, "seed": config.seed, "fold_accents": config.fold_accents}
    budget = MemoryBudget(config.memory)
    store = Store(folder, config.num_perm, num_bands, rows_per_band, budget, params, workers=config.workers)
    skipped: list[Skipped] = []
    done = 0
    # Two stages: this thread reads and parses batch k+1 (the JSONL kernel,
    # then Python for ids) while a helper thread runs the fused kernel on
    # batch k (without the GIL). Batches are stored in input order; at most
    # two are in flight.
    pending: tuple[list[Document], npt.NDArray[np.int64], Future[_Sketch]] | None = None
    ids = UniqueIds()
    char_fallback = 0
    try:
        for docs, texts, batch_skipped in text_batches(documents, config.batch_size, ids):
            skipped.extend(batch_skipped)
            submitted = None
            if docs:
                submitted = pool.submit(
                    sketch_units,
                    texts.text,
                    texts.starts,
                    spec,
                    config.num_perm,
                    config.seed,
                    config.fold_accents,
                    config.workers,
                )
            if pending is not None:
                char_fallback += _store_sketch(
                    store, pending[0], pending[1], pending[2].result(), skipped, config.threshold
                )
            pending = (docs, texts.lengths, submitted) if submitted is not None else None
            done += len(docs) + len(batch_skipped)
            if progress is not None:
                progress(done)
        if pending is not None:
            char_fallback += _store_sketch(
                store, pending[0], pending[1], pending[2].result(), skipped, config.threshold
            )
        if on_stage is not None:
            on_stage("matching")
        result = _match(store, skipped, config)
        result.renamed = ids.renamed
        result.stats.char_fallback = char_fallback
        return result
    finally:
        store.close()


def kept_and_members(clusters: Sequence[Cluster]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(kept, members)``: int64, one entry per member of every cluster, in
    cluster order, with its cluster's kept document beside it."""
    # One array of each from flat Python lists: no numpy call per cluster.
    sizes = np.fromiter((len(c.members) for c in clusters), dtype=np.int64, count=len(clusters))
    keeps = np.fromiter((c.keep for c in clusters), dtype=np.int64, count=len(clusters))
    members = np.fromiter(itertools.chain.from_iterable(c.members for c in clusters), dtype=np.int64)
    return np.repeat(keeps, sizes), members


def name_results(
    clusters: Sequence[Cluster],
    to_kept: npt.NDArray[np.float64],
    id_of: Mapping[int, str],
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    similarity: npt.NDArray[np.float64],
    estimates: npt.NDArray[np.float64],
) -> list[Pair]:
    """Give each cluster its members' ids and similarities to its kept
    document (``to_kept``, aligned with :func:`kept_and_members`); return the
    verified pairs with ids. Shared by every engine, so they label alike."""
    similarities = to_kept.tolist()
    name = id_of.__getitem__
    pos = 0
    for c in clusters:
        c.ids = list(map(name, c.members))
        c.similarities = similarities[pos : pos + len(c.members)]
        pos += len(c.members)
    # map over whole lists: no Python frame per pair.
    return list(map(Pair, map(name, left.tolist()), map(name, right.tolist()), similarity.tolist(), estimates.tolist()))


def _to_kept(
    store: Store,
    kept: npt.NDArray[np.int64],
    members: npt.NDArray[np.int64],
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    similarity: npt.NDArray[np.float64],
    config: ScanConfig,
) -> npt.NDArray[np.float64]:
    """float64, aligned with ``members``: each member's similarity to its
    cluster's kept document (clusters are transitive: not always a verified
    pair). A pair among the verified ones ``(left, right)`` (sorted) takes
    its similarity from there, the kept document itself 1.0; only the rest
    is read and computed. Jaccard and the MinHash estimate are symmetric and
    one pair's value does not depend on the others, so this is what
    computing every member gives."""
    n = max(store.count, 1)
    low, high = np.minimum(kept, members), np.maximum(kept, members)
    codes = low * n + high
    verified = left * n + right
    at = np.minimum(np.searchsorted(verified, codes), max(len(verified) - 1, 0))
    found = verified[at] == codes if len(verified) else np.zeros(len(codes), dtype=bool)
    out = np.ones(len(codes), dtype=np.float64)
    out[found] = similarity[at[found]]
    rest = np.flatnonzero(~found & (low != high))
    if config.verify:
        out[rest] = verify(store, low[rest], high[rest], workers=config.workers)
    else:
        out[rest] = store.estimates(low[rest], high[rest])
    return out


@contextlib.contextmanager
def _without_gc(pause: bool = True) -> Iterator[None]:
    """The cyclic garbage collector paused (when ``pause``): dedup's reader
    makes a document object per document and matching tens of thousands of
    lists and clusters (no cycles), and each allocation burst set off
    collections over every object of the process (a fifth of the matching
    stages' time on 50k documents)."""
    enabled = gc.isenabled()
    if pause:
        gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _match(store: Store, skipped: list[Skipped], config: ScanConfig) -> ScanResult:
    with _without_gc():
        return _match_sealed(store, store.seal(), skipped, config)


def _match_sealed(
    store: Store, lengths: npt.NDArray[np.int64], skipped: list[Skipped], config: ScanConfig
) -> ScanResult:
    if config.measure == "containment":
        return _match_containment(store, skipped, config)
    left, right, collisions, capped = candidates_all(store, workers=config.workers)
    candidates = len(left)
    estimates = store.estimates(left, right)
    similarity = verify(store, left, right, workers=config.workers) if config.verify else estimates
    ok = similarity >= config.threshold
    left, right, similarity, estimates = left[ok], right[ok], similarity[ok], estimates[ok]

    clusters = group_clusters(connected_components(store.count, left, right), config.keep, lengths)
    # Only documents in a pair or a cluster need their ids read back.
    kept, members = kept_and_members(clusters)
    id_of = label(store, np.concatenate([left, right, members]))
    sims = _to_kept(store, kept, members, left, right, similarity, config)
    pairs = name_results(clusters, sims, id_of, left, right, similarity, estimates)
    stats = ScanStats(
        num_bands=store.num_bands,
        rows_per_band=store.rows_per_band,
        band_collisions=collisions,
        candidates=candidates,
        verified=len(pairs),
        shingles=int(store.starts[-1]),
        spilled=store.spilled,
        capped_buckets=capped,
    )
    return ScanResult(clusters, pairs, store.count, skipped, stats)


def _match_containment(store: Store, skipped: list[Skipped], config: ScanConfig) -> ScanResult:
    """The matching stages with the containment measure (store sealed)."""
    left, right, ensemble = candidates_containment(store, config.threshold)
    contained, container, containment, jaccard = verify_containment(store, left, right, workers=config.workers)
    ok = containment >= config.threshold
    contained, container, containment, jaccard = contained[ok], container[ok], containment[ok], jaccard[ok]
    sizes = np.diff(store.starts)
    clusters = container_clusters(store.count, contained, container, containment, sizes)
    id_of = label(
        store, np.concatenate([contained, container, *[np.array(c.members, dtype=np.int64) for c in clusters]])
    )
    kept, members = kept_and_members(clusters)
    # Members reach their kept container through a chain of containers:
    # their own containment in it is measured, not inherited.
    _, _, to_kept, _ = verify_containment(store, np.minimum(kept, members), np.maximum(kept, members))
    pos = 0
    for c in clusters:
        c.ids = [id_of[m] for m in c.members]
        c.similarities = to_kept[pos : pos + c.size].tolist()
        pos += c.size
    pairs = [
        ContainedPair(id_of[a], id_of[b], float(cv), float(jv))
        for a, b, cv, jv in zip(
            contained.tolist(), container.tolist(), containment.tolist(), jaccard.tolist(), strict=True
        )
    ]
    stats = ScanStats(
        num_bands=config.num_perm // max(ensemble.min_rows, 1),
        rows_per_band=ensemble.min_rows,
        band_collisions=ensemble.band_collisions,
        candidates=ensemble.candidates,
        verified=len(pairs),
        shingles=int(store.starts[-1]),
        spilled=store.spilled,
        capped_buckets=ensemble.capped_buckets,
        partitions=ensemble.partitions,
    )
    return ScanResult(clusters, [], store.count, skipped, stats, measure="containment", contained=pairs)
