"""The options of a scan (and of an index, which fixes them at creation).

Example:
    >>> ScanConfig(threshold=0.9).validate()
    ShingleSpec(kind='word', n=5)
"""

from __future__ import annotations

from dataclasses import dataclass

from dedup._threads import MAX_WORKERS
from dedup.cluster import KEEP_POLICIES
from dedup.errors import UsageError
from dedup.shingle import ShingleSpec, parse_shingle_spec

__all__ = [
    "DEFAULT_MAX_CLUSTERS",
    "HTML_TEXT",
    "INDEX_BATCH_SIZE",
    "MEASURES",
    "ScanConfig",
    "check_html_text",
    "check_max_shown",
]

MEASURES = ("jaccard", "containment")
"""What a scan measures: Jaccard similarity of the shingle sets, or the
containment of the smaller set in the larger (``|A & B| / |A|``)."""

HTML_TEXT = ("main", "all")
"""What text of an HTML page is its document: the main content, or all visible text."""


INDEX_BATCH_SIZE = 2000
"""Documents an index adds per transaction by default (:data:`dedup.index.BATCH_SIZE`)."""

DEFAULT_MAX_CLUSTERS = 1000
"""Clusters (groups, queried documents) an HTML report shows by default."""


def check_max_shown(value: object) -> int:
    """Validate ``html_max_clusters`` (clusters, groups or queried documents a page shows).

    Raises:
        UsageError: it is not a positive integer.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"html_max_clusters must be a positive integer, got {value!r}", option="html_max_clusters")
    return value


def check_html_text(html_text: str) -> None:
    """Check the ``html_text`` option (of a scan, or of reading inputs).

    Raises:
        UsageError: it is neither ``"main"`` nor ``"all"``.
    """
    if html_text not in HTML_TEXT:
        raise UsageError(f"html_text must be 'main' or 'all', got {html_text!r}", option="html_text")


@dataclass(frozen=True)
class ScanConfig:
    """Options of a scan; the CLI flags are these names in kebab-case.

    ``memory`` is how many bytes of per-document data (shingle hashes,
    signatures, band keys, ids) may stay in memory before the rest is spilled
    to a temporary folder; 0, the default, spills all of it (least memory).
    The result does not depend on it, nor on ``workers`` or ``batch_size``.

    ``measure="containment"`` matches a document at least ``threshold``
    contained in a larger one (see :mod:`dedup.ensemble`); its pairs are
    always verified exactly and its clusters keep the container, so ``keep``
    must stay ``"first"`` (its default) and ``verify`` True.

    ``ignore_boilerplate`` removes blocks (lines) found in at least
    ``boilerplate_documents`` documents (default: 3 or 0.5% of them,
    whichever is more; the rule of ``dedup blocks``) from every document
    before it is shingled: it needs the documents twice, so it is done by
    :func:`dedup.blocks.find_duplicates_without_boilerplate`. ``html_text``
    is what text of an HTML page (a file or a WARC record) is read.

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
    memory: int = 0
    measure: str = "jaccard"
    ignore_boilerplate: bool = False
    boilerplate_documents: int | None = None
    html_text: str = "main"

    def validate(self) -> ShingleSpec:
        """Check every option; return the parsed shingle spec.

        Raises:
            UsageError: naming the option and the accepted range.
        """
        if not 0.0 < self.threshold <= 1.0:
            raise UsageError(f"threshold must be in (0, 1], got {self.threshold}", option="threshold")
        if not 1 <= self.num_perm <= 4096:
            raise UsageError(f"num_perm must be between 1 and 4096, got {self.num_perm}", option="num_perm")
        if not 0 <= self.seed < 2**32:
            raise UsageError(f"seed must be in [0, 2**32), got {self.seed}", option="seed")
        if self.keep not in KEEP_POLICIES:
            raise UsageError(f"keep must be one of {', '.join(KEEP_POLICIES)}, got {self.keep!r}", option="keep")
        if self.workers is not None and not 1 <= self.workers <= MAX_WORKERS:
            raise UsageError(f"workers must be between 1 and {MAX_WORKERS}, got {self.workers}", option="workers")
        if not 1 <= self.batch_size <= 1 << 20:
            raise UsageError(f"batch_size must be between 1 and {1 << 20}, got {self.batch_size}", option="batch_size")
        if self.measure not in MEASURES:
            raise UsageError(f"measure must be one of {', '.join(MEASURES)}, got {self.measure!r}", option="measure")
        if self.measure == "containment" and self.keep != "first":
            raise UsageError(
                "keep does not apply to the containment measure: its clusters keep the container", option="keep"
            )
        if self.measure == "containment" and not self.verify:
            raise UsageError(
                "verify must stay on for the containment measure: its pairs are always verified", option="verify"
            )
        if self.memory < 0:
            raise UsageError(f"memory must not be negative, got {self.memory}", option="memory")
        if self.boilerplate_documents is not None and self.boilerplate_documents < 1:
            raise UsageError(
                f"boilerplate_documents must be at least 1, got {self.boilerplate_documents}",
                option="boilerplate_documents",
            )
        if self.boilerplate_documents is not None and not self.ignore_boilerplate:
            raise UsageError(
                "boilerplate_documents is the threshold of the boilerplate pass: it applies only when "
                "boilerplate is ignored",
                option="boilerplate_documents",
            )
        check_html_text(self.html_text)
        try:
            return parse_shingle_spec(self.shingle)
        except ValueError as err:
            raise UsageError(str(err), option="shingle") from None
