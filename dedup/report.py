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

from dedup.blocks import BlockGroup
from dedup.cluster import Cluster
from dedup.document import Skipped
from dedup.pipeline import Pair

__all__ = [
    "format_clusters_csv",
    "format_clusters_jsonl",
    "format_groups_csv",
    "format_groups_jsonl",
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


def _group_record(index: int, group: BlockGroup) -> dict[str, object]:
    near = group.kind == "near"
    occurrences: list[dict[str, object]] = []
    for o in group.occurrences:
        entry: dict[str, object] = {"id": o.id, "line": o.line, "end_line": o.end_line}
        if near:
            entry["similarity"] = _sim(o.similarity)
        occurrences.append(entry)
    return {
        "group": index,
        "kind": group.kind,
        "text": group.text,
        "count": group.count,
        "documents": group.documents,
        "boilerplate": group.boilerplate,
        "occurrences": occurrences,
    }


def format_groups_jsonl(groups: Sequence[BlockGroup]) -> str:
    """One JSON object per group of repeated blocks (DESIGN.md, ``dedup blocks``)."""
    return "".join(_dumps(_group_record(i, g)) + "\n" for i, g in enumerate(groups))


def format_groups_csv(groups: Sequence[BlockGroup]) -> str:
    """CSV, one row per occurrence:
    ``group,kind,boilerplate,count,documents,id,line,end_line,text``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["group", "kind", "boilerplate", "count", "documents", "id", "line", "end_line", "text"])
    for i, g in enumerate(groups):
        for o in g.occurrences:
            writer.writerow([i, g.kind, g.boilerplate, g.count, g.documents, o.id, o.line, o.end_line, g.text])
    return buf.getvalue()
