"""Clusters: connected components over verified pairs, and which member to keep.

Example:
    >>> import numpy as np
    >>> labels = connected_components(5, np.array([0, 3]), np.array([2, 4]))
    >>> labels.tolist()
    [0, 1, 0, 3, 3]
    >>> [c.members for c in group_clusters(labels, keep="first")]
    [[0, 2], [3, 4]]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dedup._kernels import as_array, check_indices, check_int, check_pairs, union_find

__all__ = ["KEEP_POLICIES", "Cluster", "component_order", "connected_components", "group_clusters"]

KEEP_POLICIES = ("first", "longest")


@dataclass
class Cluster:
    """A group of two or more near-duplicate documents.

    Attributes:
        members: Document indices (input positions), ascending.
        keep: The member to keep (an input position).
        similarities: Exact Jaccard of each member to ``keep``, aligned with
            ``members`` (1.0 for ``keep`` itself).
        ids: Document ids aligned with ``members`` (filled by the pipeline).
    """

    members: list[int]
    keep: int
    similarities: list[float] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Number of documents in the cluster."""
        return len(self.members)

    @property
    def keep_id(self) -> str:
        """Id of the document to keep."""
        return self.ids[self.members.index(self.keep)]


def connected_components(
    n_docs: int, left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Label every document with the first (smallest) index of its component.

    Args:
        n_docs: Number of documents.
        left: int64, shape ``(n_pairs,)``.
        right: int64, shape ``(n_pairs,)``.

    Returns:
        int64, shape ``(n_docs,)``.

    Raises:
        ValueError: ``n_docs`` not an integer or negative; ``left`` or
            ``right`` not 1-D integers, of different lengths or holding an
            index outside ``[0, n_docs)``.
    """
    check_int(n_docs, "n_docs")
    if n_docs < 0:
        raise ValueError(f"n_docs must not be negative, got {n_docs}")
    left = as_array(left, np.int64, "left", 1)
    right = as_array(right, np.int64, "right", 1)
    check_pairs(left, right, n_docs)
    return union_find(n_docs, left, right)


def component_order(n_docs: int, left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """An order of the pairs that keeps each connected group of documents
    together: int64 positions into ``left``/``right``, sorted by the pair's
    component (its first document), in the given order inside one.

    A stage that reads the documents of a run of pairs at a time (exact
    Jaccard, MinHash estimates) reads a group's documents once this way,
    where pairs sorted by their first document scatter a group over the
    whole list (a copy of a story is often a pair's second document).

    Raises:
        ValueError: as :func:`connected_components`.
    """
    labels = connected_components(n_docs, left, right)
    order: npt.NDArray[np.int64] = np.argsort(labels[left], kind="stable").astype(np.int64)
    return order


def group_clusters(
    labels: npt.NDArray[np.int64],
    keep: str = "first",
    lengths: npt.NDArray[np.int64] | None = None,
) -> list[Cluster]:
    """Turn component labels into clusters of two or more documents.

    Clusters come ordered by their first member's input position, members in
    input order.

    Args:
        labels: int64, shape ``(n_docs,)``, from :func:`connected_components`:
            each document's label is the smallest index of its component.
        keep: ``"first"`` keeps the first member in input order; ``"longest"``
            the member with the most characters (ties: the first of them).
        lengths: int64, shape ``(n_docs,)``: document lengths; required for
            ``keep="longest"``.

    Raises:
        ValueError: unknown ``keep``; ``lengths`` missing for ``"longest"``
            or not of shape ``(n_docs,)``; ``labels`` not 1-D integers or not
            component labels (document ``i``'s label ``l`` in ``[0, i]`` with
            ``labels[l] == l``).
    """
    if keep not in KEEP_POLICIES:
        raise ValueError(f"keep must be one of {', '.join(KEEP_POLICIES)}, got {keep!r}")
    labels = _check_labels(labels)
    if keep == "longest":
        if lengths is None:
            raise ValueError("keep='longest' needs the document lengths")
        lengths = as_array(lengths, np.int64, "lengths", 1)
        if lengths.shape != labels.shape:
            raise ValueError(f"lengths must have shape {labels.shape} like labels, got {lengths.shape}")
    counts = np.bincount(labels, minlength=len(labels))
    in_cluster = np.flatnonzero(counts[labels] > 1)
    if len(in_cluster) == 0:
        return []
    # Stable sort by label keeps members in input order inside each cluster,
    # and labels (first members) ascending orders the clusters.
    order = in_cluster[np.argsort(labels[in_cluster], kind="stable")]
    sorted_labels = labels[order]
    firsts = np.concatenate(([0], np.flatnonzero(sorted_labels[1:] != sorted_labels[:-1]) + 1))
    if keep == "longest":
        assert lengths is not None
        # The first member of the greatest length: the smallest position
        # among each cluster's members whose length is its maximum.
        member_lengths = lengths[order]
        sizes = np.diff(np.append(firsts, len(order)))
        longest = np.repeat(np.maximum.reduceat(member_lengths, firsts), sizes) == member_lengths
        position = np.where(longest, np.arange(len(order)), len(order))
        keeps = order[np.minimum.reduceat(position, firsts)].tolist()
    else:
        keeps = order[firsts].tolist()
    # One list of all members, sliced: no numpy call per cluster.
    members = order.tolist()
    bounds = [*firsts.tolist(), len(members)]
    return [
        Cluster(members=members[lo:hi], keep=kept) for lo, hi, kept in zip(bounds[:-1], bounds[1:], keeps, strict=True)
    ]


def _check_labels(labels: object) -> npt.NDArray[np.int64]:
    """``labels`` as int64, checked to be component labels: each label is
    the first (smallest) member of its component, so it is at most the index
    it labels, and it labels itself.

    Raises:
        ValueError: naming the first label that is not.
    """
    checked = as_array(labels, np.int64, "labels", 1)
    check_indices(checked, len(checked), "labels")
    stray = np.flatnonzero((checked[checked] != checked) | (checked > np.arange(len(checked))))
    if len(stray):
        i = int(stray[0])
        label = int(checked[i])
        raise ValueError(
            "labels must be component labels, each the smallest index of its component "
            f"(labels[label] == label <= index): labels[{i}] is {label}, labels[{label}] is {checked[label]}"
        )
    return checked
