"""Machine-readable reports of a scan: JSONL and CSV, per DESIGN.md.

Similarities are rounded to 6 decimals so output is stable and readable.

Example:
    >>> from dedup.cluster import Cluster
    >>> c = Cluster(members=[0, 2], keep=0, similarities=[1.0, 0.9123456789], ids=["a.txt", "b.txt"])
    >>> print(format_clusters_jsonl([c])[:60])
    {"cluster": 0, "size": 2, "keep": "a.txt", "members": [{"id"
    >>> print(format_clusters_csv([c]), end="")
    cluster,id,keep,similarity
    0,a.txt,a.txt,1.0
    0,b.txt,a.txt,0.912346
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from dedup.cluster import Cluster
from dedup.document import Skipped
from dedup.pipeline import Pair

__all__ = [
    "format_clusters_csv",
    "format_clusters_jsonl",
    "format_pairs_csv",
    "format_pairs_jsonl",
    "format_skipped_jsonl",
]

_DECIMALS = 6


def _sim(value: float) -> float:
    return round(float(value), _DECIMALS)


def _dumps(record: object) -> str:
    return json.dumps(record, ensure_ascii=False)


def format_clusters_jsonl(clusters: Sequence[Cluster]) -> str:
    """One JSON object per cluster: ``cluster, size, keep, members[{id, similarity}]``."""
    lines = []
    for index, c in enumerate(clusters):
        members = [{"id": i, "similarity": _sim(s)} for i, s in zip(c.ids, c.similarities, strict=True)]
        lines.append(_dumps({"cluster": index, "size": c.size, "keep": c.keep_id, "members": members}) + "\n")
    return "".join(lines)


def format_clusters_csv(clusters: Sequence[Cluster]) -> str:
    """CSV with columns ``cluster,id,keep,similarity``, one row per member."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["cluster", "id", "keep", "similarity"])
    for index, c in enumerate(clusters):
        for doc_id, sim in zip(c.ids, c.similarities, strict=True):
            writer.writerow([index, doc_id, c.keep_id, _sim(sim)])
    return buf.getvalue()


def format_pairs_jsonl(pairs: Sequence[Pair]) -> str:
    """One JSON object per verified pair: ``a, b, similarity, estimate``."""
    return "".join(
        _dumps({"a": p.a, "b": p.b, "similarity": _sim(p.similarity), "estimate": _sim(p.estimate)}) + "\n"
        for p in pairs
    )


def format_pairs_csv(pairs: Sequence[Pair]) -> str:
    """CSV with columns ``a,b,similarity,estimate``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["a", "b", "similarity", "estimate"])
    for p in pairs:
        writer.writerow([p.a, p.b, _sim(p.similarity), _sim(p.estimate)])
    return buf.getvalue()


def format_skipped_jsonl(skipped: Sequence[Skipped]) -> str:
    """One JSON object per skipped input: ``path, line, reason`` (line null for a whole file)."""
    return "".join(_dumps({"path": s.path, "line": s.line, "reason": s.reason}) + "\n" for s in skipped)
