"""Containment candidates: LSH Ensemble (Zhu, Nargesian, Pu, Miller; VLDB 2016).

The containment of a shingle set ``A`` in ``B`` is ``|A & B| / |A|``. A
scan by containment looks for every pair whose smaller set (``A``, the
*contained* document) is at least ``t`` contained in the larger (``B``, the
*container*). MinHash estimates Jaccard, not containment, but the two are
tied by the set sizes: with ``q = |A|`` and ``x = |B|``,

    ``J = C q / (q + x - C q)``,

which grows with ``C`` and shrinks with ``x``. LSH Ensemble partitions the
documents by set size and, for a query of size ``q`` against a partition
whose largest set has ``u`` shingles, converts the containment threshold to
the Jaccard floor ``s = t q / (q + u - t q)``: every pair at containment
``t`` with its container in that partition has Jaccard at least ``s``. The
band shape of that (query, partition) is chosen as for a Jaccard scan
(:func:`dedup.lsh.choose_bands`): the widest bands that catch a pair at
``s`` with probability at least 0.99. Equi-depth partitions (equal numbers
of documents) keep ``u`` close to the sizes of most of a partition's sets,
which is what the paper shows to be optimal for the power-law size
distributions of real text; partitions are also cut where sizes double, so
the long tail of a news corpus does not share one loose upper bound.

Every document is a query against its own partition and every partition of
larger sets (its containers can only be there); band keys of ``r`` rows are
the same hash whichever partition a document is in, so a query and an
indexed document collide exactly when their ``r``-row band keys agree.
Candidates are then verified exactly (:mod:`dedup.stages`), so a false
candidate costs a merge of two sorted arrays and a missed one is lost.

Clusters by containment (:func:`container_clusters`): each document
contained in others goes with its *best* container (highest containment,
then the container with more shingles, then the earlier one in input order);
following best containers from any document ends at a document contained in
none, which is the cluster's kept document. The containment relation is
oriented by ``(shingles, earlier input position)``, so it has no cycles.

Example:
    >>> import numpy as np
    >>> part, upper = partition_by_size(np.array([5, 50, 7, 400, 52]), 2)
    >>> part.tolist(), upper.tolist()
    ([0, 1, 0, 3, 2], [7, 50, 52, 400])
    >>> round(float(jaccard_floor(0.8, np.array([100.0]), 400.0)[0]), 4)
    0.1905
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dedup._kernels import as_array, check_int
from dedup.cluster import Cluster
from dedup.lsh import MAX_BUCKET, band_keys

__all__ = [
    "NUM_PARTITIONS",
    "EnsembleStats",
    "band_shapes",
    "container_clusters",
    "containment_candidates",
    "containment_from_jaccard",
    "jaccard_floor",
    "orient",
    "partition_by_size",
]

NUM_PARTITIONS = 16
"""Size partitions of a containment scan (datasketch's default for
``MinHashLSHEnsemble`` too)."""

_TARGET_RECALL = 0.99
_QUERY_CHUNK = 1 << 15
"""Query documents whose band keys are computed at a time (memory:
``_QUERY_CHUNK * num_perm`` uint64 keys at most)."""

ShingleReader = Callable[[npt.NDArray[np.int64]], tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]]
"""Shingle hashes of the given documents (ascending numbers): ``(values,
starts)`` as in :class:`dedup.store.SketchBatch`."""

SignatureReader = Callable[[npt.NDArray[np.int64]], npt.NDArray[np.uint32]]
"""Signatures of the given documents (ascending numbers): uint32, shape
``(len(docs), num_perm)``."""


@dataclass(frozen=True)
class EnsembleStats:
    """What the containment candidate stage did.

    Attributes:
        partitions: Size partitions used.
        min_rows: Narrowest band shape used (rows per band).
        max_rows: Widest band shape used.
        band_collisions: (query, document, band) key agreements, plus the
            shared-shingle matches of queries answered exactly; repeats included.
        candidates: Distinct candidate pairs.
        capped_buckets: Band buckets over ``max_bucket`` documents, whose
            queries were paired with the bucket's first document only.
    """

    partitions: int
    min_rows: int
    max_rows: int
    band_collisions: int
    candidates: int
    capped_buckets: int


def partition_by_size(
    sizes: npt.NDArray[np.int64], num_partitions: int = NUM_PARTITIONS
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Equi-depth partitions of documents by shingle-set size, also cut
    where sizes double (so no partition's largest set is more than twice its
    smallest).

    Documents of one size always share a partition, so there may be fewer
    partitions than asked, or more (the doubling cuts); never an empty one.

    Args:
        sizes: int64, shape ``(n,)``: shingle-set sizes.
        num_partitions: Partitions wanted (>= 1).

    Returns:
        ``(part, upper)``: int64 partition of each document, shape ``(n,)``,
        numbered from the smallest sets up; int64 largest size in each
        partition, shape ``(partitions,)``, ascending.

    Raises:
        ValueError: ``sizes`` not 1-D integers or holding a negative value;
            ``num_partitions`` not an integer >= 1.
    """
    sizes = as_array(sizes, np.int64, "sizes", 1)
    check_int(num_partitions, "num_partitions", low=1)
    if len(sizes) and int(sizes.min()) < 0:
        raise ValueError("sizes must not be negative")
    if len(sizes) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ordered = np.sort(sizes)
    distinct, first = np.unique(ordered, return_index=True)
    # A size's partition is that of its first occurrence in sorted order:
    # equal sizes never straddle a cut.
    of_distinct = first * num_partitions // len(sizes)
    # Also cut where sizes double: an equi-depth top partition spans the
    # long tail (a few thousand shingles above a few hundred), and its upper
    # bound would make every query's Jaccard floor against it tiny.
    octave = np.floor(np.log2(np.maximum(distinct, 1))).astype(np.int64)
    _, of_distinct = np.unique(of_distinct * (int(octave[-1]) + 1) + octave, return_inverse=True)
    part = of_distinct[np.searchsorted(distinct, sizes)].astype(np.int64)
    upper = np.zeros(int(of_distinct[-1]) + 1, dtype=np.int64)
    np.maximum.at(upper, of_distinct, distinct)
    return part, upper


def jaccard_floor(
    threshold: float, query_sizes: npt.NDArray[np.int64] | npt.NDArray[np.float64], upper: float
) -> npt.NDArray[np.float64]:
    """Lowest Jaccard similarity of a pair at containment ``threshold``
    whose contained set has ``q`` shingles and whose container at most
    ``upper``: ``t q / (q + upper - t q)``, float64 of ``query_sizes``' shape."""
    q = np.asarray(query_sizes, dtype=np.float64)
    return np.asarray(threshold * q / (q + upper - threshold * q), dtype=np.float64)


def band_shapes(
    similarity: npt.NDArray[np.float64], num_perm: int, target: float = _TARGET_RECALL
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """:func:`dedup.lsh.choose_bands` for many thresholds at once.

    Args:
        similarity: float64, shape ``(m,)``: Jaccard thresholds in ``(0, 1]``.
        num_perm: Signature width.
        target: Catch probability wanted at each threshold.

    Returns:
        ``(bands, rows)``: int64, shape ``(m,)``: the widest bands (most
        rows) whose catch probability reaches ``target``; ``(num_perm, 1)``
        where none does.
    """
    s = np.asarray(similarity, dtype=np.float64)
    widths = np.arange(1, num_perm + 1, dtype=np.float64)
    bands = num_perm // np.arange(1, num_perm + 1)
    # The least similarity each width catches with probability target;
    # then, through a suffix minimum, the widest width catching s is the
    # number of widths whose suffix minimum is <= s.
    least = (1.0 - (1.0 - target) ** (1.0 / bands)) ** (1.0 / widths)
    suffix_min = np.minimum.accumulate(least[::-1])[::-1]
    rows = np.maximum(np.searchsorted(suffix_min, s, side="right"), 1).astype(np.int64)
    return num_perm // rows, rows


def containment_candidates(
    sizes: npt.NDArray[np.int64],
    signatures: SignatureReader,
    threshold: float,
    num_perm: int,
    *,
    shingles: ShingleReader | None = None,
    num_partitions: int = NUM_PARTITIONS,
    max_bucket: int = MAX_BUCKET,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], EnsembleStats]:
    """Candidate pairs for a containment threshold, by LSH Ensemble.

    Args:
        sizes: int64, shape ``(n,)``: every document's shingle-set size (>= 1).
        signatures: Reads the MinHash signatures of given documents (a
            spill store reads them from disk, a partition at a time).
        threshold: Containment threshold in ``(0, 1]``.
        num_perm: Signature width.
        shingles: Reads the shingle hashes of given documents. With it, a
            query that no band shape of ``num_perm`` permutations catches at
            its floor with probability 0.99 (a teaser of a few shingles
            against long articles: even 128 one-row bands catch a pair of
            Jaccard 0.02 only 92% of the time) gets its candidates exactly,
            by joining its shingles with the partition's (pairs sharing at
            least the threshold's share of the smaller set). Without it,
            such a query uses the most sensitive shape (one row per band).
        num_partitions: Size partitions (see :func:`partition_by_size`).
        max_bucket: An indexed band bucket with more documents pairs each
            query that hits it with its first document only (as a Jaccard
            scan's star rule: thousands of pages sharing boilerplate would
            otherwise give millions of pairs per band).

    Returns:
        ``(left, right, stats)``: int64, ``left < right``, sorted, each pair once.

    Raises:
        ValueError: ``sizes`` not 1-D non-negative integers; ``threshold``
            outside ``(0, 1]``; ``num_perm`` or ``max_bucket`` not an integer >= 1.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    check_int(num_perm, "num_perm", low=1)
    check_int(max_bucket, "max_bucket", low=1)
    part, upper = partition_by_size(sizes, num_partitions)
    n = len(part)
    distinct = np.zeros(0, dtype=np.int64)
    collisions = capped = 0
    used_rows: list[int] = []
    weak_from = np.full(n, len(upper), dtype=np.int64)  # first partition queried exactly
    for j in range(len(upper)):
        indexed = np.flatnonzero(part == j).astype(np.int64)
        # Containers of a document have at least its size: it queries its
        # own partition and those of larger sets.
        queries = np.flatnonzero(part <= j).astype(np.int64)
        floor = jaccard_floor(threshold, sizes[queries], float(upper[j]))
        bands, rows = band_shapes(floor, num_perm)
        if shingles is not None:
            weak = 1.0 - (1.0 - floor**rows) ** bands < _TARGET_RECALL
            weak_from[queries[weak]] = np.minimum(weak_from[queries[weak]], j)
            queries, bands, rows = queries[~weak], bands[~weak], rows[~weak]
            if len(queries) == 0:
                continue
        indexed_signatures = signatures(indexed)
        for r in np.unique(rows).tolist():
            chosen = rows == r
            codes, hits, over = _query_partition(
                indexed, indexed_signatures, queries[chosen], bands[chosen], r, signatures, n, max_bucket
            )
            collisions += hits
            capped += over
            used_rows.append(r)
            distinct = np.union1d(distinct, codes)
    if shingles is not None and np.any(weak_from < len(upper)):
        codes, hits = _exact_candidates(weak_from, part, sizes, threshold, shingles, len(upper))
        collisions += hits
        distinct = np.union1d(distinct, codes)
    stats = EnsembleStats(
        partitions=len(upper),
        min_rows=min(used_rows, default=0),
        max_rows=max(used_rows, default=0),
        band_collisions=collisions,
        candidates=len(distinct),
        capped_buckets=capped,
    )
    width = np.int64(max(n, 1))
    return distinct // width, distinct % width, stats


def _query_partition(
    indexed: npt.NDArray[np.int64],
    indexed_signatures: npt.NDArray[np.uint32],
    queries: npt.NDArray[np.int64],
    query_bands: npt.NDArray[np.int64],
    rows: int,
    signatures: SignatureReader,
    n: int,
    max_bucket: int,
) -> tuple[npt.NDArray[np.int64], int, int]:
    """Pairs of queries (each with its own band count, all of ``rows``
    rows) and one partition's documents that agree on a band key: distinct
    ``min * n + max`` codes (sorted), key agreements, capped buckets."""
    num_bands = int(query_bands.max())
    index_keys = band_keys(indexed_signatures, num_bands, rows)
    orders = np.argsort(index_keys, axis=0, kind="stable").astype(np.int64)
    sorted_keys = np.take_along_axis(index_keys, orders, axis=0)
    big_runs = _big_runs(sorted_keys, max_bucket)
    codes = [np.zeros(0, dtype=np.int64)]
    hits = 0
    for lo in range(0, len(queries), _QUERY_CHUNK):
        chunk, chunk_bands = queries[lo : lo + _QUERY_CHUNK], query_bands[lo : lo + _QUERY_CHUNK]
        keys = band_keys(signatures(chunk), num_bands, rows)
        for band in range(num_bands):
            active = np.flatnonzero(chunk_bands > band)
            if len(active) == 0:
                break  # bands are used as a prefix: no query uses a later one
            found = _matches(sorted_keys[:, band], keys[active, band], big_runs[band])
            query_of, position = found
            a = chunk[active][query_of]
            b = indexed[orders[position, band]]
            hits += len(a)
            distinct_docs = a != b
            a, b = a[distinct_docs], b[distinct_docs]
            codes.append(np.unique(np.minimum(a, b) * np.int64(n) + np.maximum(a, b)))
    capped = sum(len(runs) for runs in big_runs)
    return np.unique(np.concatenate(codes)), hits, capped


_SHINGLES_PER_CHUNK = 1 << 22


def _exact_candidates(
    weak_from: npt.NDArray[np.int64],
    part: npt.NDArray[np.int64],
    sizes: npt.NDArray[np.int64],
    threshold: float,
    shingles: ShingleReader,
    num_parts: int,
) -> tuple[npt.NDArray[np.int64], int]:
    """Pairs ``(w, d)`` of a weak query ``w`` and a document ``d`` of a
    partition it queries exactly (``part[d] >= weak_from[w]``) that share
    enough shingles for containment ``threshold`` of the smaller set:
    distinct ``min * n + max`` codes (sorted), and shared-shingle matches.
    One pass over all documents' shingles, a chunk of documents at a time."""
    n = len(sizes)
    weak = np.flatnonzero(weak_from < num_parts).astype(np.int64)
    w_values, w_starts = shingles(weak)
    w_docs = np.repeat(weak, np.diff(w_starts))
    order = np.argsort(w_values, kind="stable")
    hashes, owners = w_values[order], w_docs[order]
    searched = np.flatnonzero(part >= int(weak_from.min())).astype(np.int64)
    cumulative = np.cumsum(sizes[searched])
    steps = np.arange(1, 1 + int(cumulative[-1]) // _SHINGLES_PER_CHUNK, dtype=np.int64) * _SHINGLES_PER_CHUNK
    bounds = np.searchsorted(cumulative, steps)
    codes = [np.zeros(0, dtype=np.int64)]
    hits = 0
    for chunk in np.split(searched, bounds):
        if len(chunk) == 0:
            continue
        values, starts = shingles(chunk)
        docs = np.repeat(chunk, np.diff(starts))
        lo = np.searchsorted(hashes, values, side="left")
        counts = np.searchsorted(hashes, values, side="right") - lo
        hits += int(counts.sum())
        directed, shared = _shared_shingles(hashes, owners, docs, lo, counts, part, weak_from)
        w, d = directed // n, directed % n
        enough = shared / np.minimum(sizes[w], sizes[d]) >= threshold
        w, d = w[enough], d[enough]
        codes.append(np.unique(np.minimum(w, d) * np.int64(n) + np.maximum(w, d)))
    return np.unique(np.concatenate(codes)), hits


# Shingle matches joined at once: a shingle found in most documents (" the "
# as a character 5-gram) matches every weak query, so a chunk's matches grow
# as documents squared; they are counted this many at a time.
_MATCHES_PER_STEP = 1 << 21


def _shared_shingles(
    hashes: npt.NDArray[np.uint64],
    owners: npt.NDArray[np.int64],
    docs: npt.NDArray[np.int64],
    lo: npt.NDArray[np.int64],
    counts: npt.NDArray[np.int64],
    part: npt.NDArray[np.int64],
    weak_from: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Shingles each weak query ``w`` shares with each document ``d`` it
    queries (``d``'s shingles at ``lo[k]``, ``counts[k]`` equal entries of
    the sorted weak ``hashes``): distinct directed codes ``w * n + d``
    (int64, sorted) and their shared counts (int64). Memory is bounded by
    ``_MATCHES_PER_STEP`` matches plus the distinct pairs, whatever the
    shingles' frequencies."""
    n = np.int64(len(part))
    ends = np.cumsum(counts)
    total = int(ends[-1]) if len(ends) else 0
    # Cut between shingles (a shingle's matches stay in one step).
    cuts = np.searchsorted(ends, np.arange(_MATCHES_PER_STEP, total, _MATCHES_PER_STEP), side="left")
    pieces = np.split(np.arange(len(counts), dtype=np.int64), np.unique(cuts))
    found: list[npt.NDArray[np.int64]] = [np.zeros(0, dtype=np.int64)]
    tallies: list[npt.NDArray[np.int64]] = [np.zeros(0, dtype=np.int64)]
    held = 0
    for piece in pieces:
        c = counts[piece]
        within = np.arange(int(c.sum()), dtype=np.int64) - np.repeat(np.cumsum(c) - c, c)
        w = owners[np.repeat(lo[piece], c) + within]
        d = np.repeat(docs[piece], c)
        keep = (w != d) & (part[d] >= weak_from[w])
        # Directed codes: a shared shingle is counted once per (w, d) even
        # when d is a weak query too (then (d, w) is counted apart).
        step_codes, step_counts = np.unique(w[keep] * n + d[keep], return_counts=True)
        found.append(step_codes)
        tallies.append(step_counts.astype(np.int64))
        held += len(step_codes)
        if held > _MATCHES_PER_STEP:
            found, tallies = _merge_tallies(found, tallies)
            held = len(found[0])
    [codes], [shared] = _merge_tallies(found, tallies)
    return codes, shared


def _merge_tallies(
    found: list[npt.NDArray[np.int64]], tallies: list[npt.NDArray[np.int64]]
) -> tuple[list[npt.NDArray[np.int64]], list[npt.NDArray[np.int64]]]:
    """One ``(codes, counts)`` pair from several: codes distinct and sorted,
    a code's counts summed (int64 arrays, in one-element lists)."""
    codes = np.concatenate(found)
    counts = np.concatenate(tallies)
    distinct, inverse = np.unique(codes, return_inverse=True)
    summed = np.bincount(inverse.reshape(-1), weights=counts, minlength=len(distinct))
    return [distinct], [np.rint(summed).astype(np.int64)]


def _big_runs(sorted_keys: npt.NDArray[np.uint64], max_bucket: int) -> list[npt.NDArray[np.int64]]:
    """Per band, the start positions of runs of equal keys longer than
    ``max_bucket`` (int64, ascending)."""
    out = []
    for band in range(sorted_keys.shape[1]):
        column = sorted_keys[:, band]
        boundary = np.flatnonzero(column[1:] != column[:-1]) + 1
        starts = np.concatenate(([0], boundary)).astype(np.int64)
        lengths = np.diff(np.concatenate((starts, [len(column)])))
        out.append(starts[lengths > max_bucket])
    return out


def _matches(
    sorted_keys: npt.NDArray[np.uint64], query_keys: npt.NDArray[np.uint64], big_starts: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(query, position)``: every query key's equal entries in a sorted
    column (positions into it), but only the first entry of a run that
    starts at one of ``big_starts``."""
    lo = np.searchsorted(sorted_keys, query_keys, side="left").astype(np.int64)
    counts = np.searchsorted(sorted_keys, query_keys, side="right").astype(np.int64) - lo
    if len(big_starts):
        counts[np.isin(lo, big_starts) & (counts > 0)] = 1
    query_of = np.repeat(np.arange(len(query_keys), dtype=np.int64), counts)
    within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return query_of, np.repeat(lo, counts) + within


def containment_from_jaccard(
    jaccard: npt.NDArray[np.float64], left_sizes: npt.NDArray[np.int64], right_sizes: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Exact containment of the smaller set in the larger, from exact Jaccard.

    The intersection ``c`` is an integer and ``J = c / (a + b - c)``, so
    ``c = J (a + b) / (1 + J)`` rounds back to it exactly (the float error is
    a few units in the last place, far below 0.5 for any real set size).

    Args:
        jaccard: float64, shape ``(m,)``: exact Jaccard of each pair.
        left_sizes: int64, shape ``(m,)``: one set's size per pair (>= 1).
        right_sizes: int64, shape ``(m,)``: the other's.

    Returns:
        float64, shape ``(m,)``: ``c / min(a, b)``.
    """
    a = np.asarray(left_sizes, dtype=np.int64)
    b = np.asarray(right_sizes, dtype=np.int64)
    j = np.asarray(jaccard, dtype=np.float64)
    common = np.rint(j * (a + b) / (1.0 + j))
    return np.asarray(common / np.maximum(np.minimum(a, b), 1), dtype=np.float64)


def orient(
    left: npt.NDArray[np.int64], right: npt.NDArray[np.int64], sizes: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(contained, container)`` of pairs ``left < right``: the document
    with fewer shingles is the contained one; of two equal sizes, the later
    in input order (so the earlier, as in ``keep="first"``, is kept)."""
    right_smaller = sizes[right] <= sizes[left]
    return np.where(right_smaller, right, left), np.where(right_smaller, left, right)


def container_clusters(
    n_docs: int,
    contained: npt.NDArray[np.int64],
    container: npt.NDArray[np.int64],
    containment: npt.NDArray[np.float64],
    sizes: npt.NDArray[np.int64],
) -> list[Cluster]:
    """Clusters by container (see the module doc for the rule).

    Args:
        n_docs: Number of documents.
        contained: int64, shape ``(m,)``: each verified pair's contained document.
        container: int64, shape ``(m,)``: its container (oriented by :func:`orient`).
        containment: float64, shape ``(m,)``: exact containment of each pair.
        sizes: int64, shape ``(n_docs,)``: shingle-set sizes.

    Returns:
        Clusters of two or more documents ordered by first member, members
        in input order, ``keep`` the cluster's outermost container.
    """
    parent = np.arange(n_docs, dtype=np.int64)
    if len(contained):
        # Per contained document, its pairs by containment (highest first),
        # then container size (largest first), then container position.
        order = np.lexsort((container, -sizes[container], -containment, contained))
        first = np.concatenate(([True], contained[order][1:] != contained[order][:-1]))
        best = order[first]
        parent[contained[best]] = container[best]
    # Pointer jumping: parents only ever point up the (size, earlier
    # position) order, so this reaches each chain's top in log(depth) passes.
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            break
        parent = grand
    counts = np.bincount(parent, minlength=n_docs)
    in_cluster = np.flatnonzero(counts[parent] > 1)
    if len(in_cluster) == 0:
        return []
    # Clusters ordered by their first member: sort roots by the smallest
    # member of their group.
    roots = parent[in_cluster]
    first_member = np.full(n_docs, n_docs, dtype=np.int64)
    np.minimum.at(first_member, roots, in_cluster)
    order = np.lexsort((in_cluster, first_member[roots]))
    members, roots = in_cluster[order], roots[order]
    cuts = np.flatnonzero(roots[1:] != roots[:-1]) + 1
    return [
        Cluster(members=group.tolist(), keep=int(root))
        for group, root in zip(np.split(members, cuts), roots[np.concatenate(([0], cuts))].tolist(), strict=True)
    ]
