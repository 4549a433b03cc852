"""Machine-readable reports of a scan: JSONL and CSV, per DESIGN.md.

Each ``write_*`` streams its records to an open text stream one by one (a
report is never built whole in memory); each ``format_*`` returns the same
text as one string, for small results and tests. Similarities are rounded to
6 decimals so output is stable and readable.

A lone surrogate (an id from a file name that is not UTF-8, kept by
``surrogateescape``, or from a JSONL string) never raises: a JSONL record
holding one is written with ``\\uXXXX`` escapes (valid JSON, lossless); CSV
relies on the stream's ``backslashreplace`` (:func:`dedup.output.open_output`).

Example:
    >>> import sys
    >>> from dedup.cluster import Cluster
    >>> c = Cluster(members=[0, 2], keep=0, similarities=[1.0, 0.9123456789], ids=["a.txt", "b.txt"])
    >>> print(format_clusters_jsonl([c])[:60])
    {"cluster": 0, "size": 2, "keep": "a.txt", "members": [{"id"
    >>> write_clusters_csv(sys.stdout, [c])
    cluster,id,keep,similarity
    0,a.txt,a.txt,1.0
    0,b.txt,a.txt,0.912346
"""

from __future__ import annotations

import csv
import io
import json
import json.encoder
import re
from collections.abc import Callable, Iterable, Sequence
from typing import IO, TYPE_CHECKING, Protocol, TypeVar

from dedup.document import Skipped, printable

if TYPE_CHECKING:
    # Types only: writing a scan's clusters loads neither blocks nor the index.
    from dedup.blocks import BlockGroup
    from dedup.cluster import Cluster
    from dedup.index import IndexInfo, Match
    from dedup.pipeline import ContainedPair, Pair

__all__ = [
    "Renderer",
    "format_clusters_csv",
    "format_clusters_jsonl",
    "format_contained_csv",
    "format_contained_jsonl",
    "format_groups_csv",
    "format_groups_jsonl",
    "format_info_jsonl",
    "format_matches_csv",
    "format_matches_jsonl",
    "format_pairs_csv",
    "format_pairs_jsonl",
    "format_skipped_jsonl",
    "write_clusters_csv",
    "write_clusters_jsonl",
    "write_contained_csv",
    "write_contained_jsonl",
    "write_groups_csv",
    "write_groups_jsonl",
    "write_info_csv",
    "write_info_jsonl",
    "write_matches_csv",
    "write_matches_jsonl",
    "write_pairs_csv",
    "write_pairs_jsonl",
    "write_skipped_jsonl",
]

_DECIMALS = 6
# A JSON string literal, as json.dumps(..., ensure_ascii=False) writes one
# (the C encoder when there is one; a lone surrogate is left as is).
_string: Callable[[str], str] = json.encoder.encode_basestring
_SURROGATE = re.compile("[\ud800-\udfff]")

_T = TypeVar("_T")
_R_contra = TypeVar("_R_contra", contravariant=True)


class Renderer(Protocol[_R_contra]):
    """The one interface of every output format: ``renderer(out, records)``
    writes records to a text stream one by one, so a report is never built
    whole in memory. The ``write_*`` functions here are renderers (JSONL,
    CSV); :mod:`dedup.html_report` has the HTML ones, built with what a page
    needs besides the records (its header, a way to fetch texts)."""

    def __call__(self, out: IO[str], records: Iterable[_R_contra], /) -> None:
        """Write ``records`` to ``out``."""


def _sim(value: float) -> float:
    return round(float(value), _DECIMALS)


def _dumps(record: object) -> str:
    """One JSONL line (without its newline): UTF-8 text as is, but a record
    holding a lone surrogate, which no UTF-8 stream can encode, escaped as
    ``\\udcff`` throughout (what a JSON reader turns back into the same string)."""
    line = json.dumps(record, ensure_ascii=False)
    if _SURROGATE.search(line):
        return json.dumps(record, ensure_ascii=True)
    return line


def _jsonl(out: IO[str], records: Iterable[object]) -> None:
    for record in records:
        out.write(_dumps(record) + "\n")


def _fast_jsonl(
    out: IO[str],
    items: Iterable[tuple[int, _T]],
    line: Callable[[int, _T], str],
    record: Callable[[int, _T], object],
) -> None:
    """Write ``line(i, item)`` for each item: ``line`` spells out by hand
    what ``_dumps(record(i, item))`` gives (the output's hot path: building
    and encoding a dict per record was most of its time); a line holding a
    lone surrogate is redone by ``_dumps``. Strings go through ``_string``,
    numbers through ``repr``: what :mod:`json` itself does with them, so the
    bytes are the same."""
    write = out.write
    for i, item in items:
        text = line(i, item)
        if _SURROGATE.search(text):
            text = _dumps(record(i, item))
        write(text + "\n")


def _csv(out: IO[str], header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)


def _as_string(write: Callable[[IO[str], _T], None], items: _T) -> str:
    buf = io.StringIO()
    write(buf, items)
    return buf.getvalue()


def write_clusters_jsonl(out: IO[str], clusters: Iterable[Cluster], *, measure: str = "similarity") -> None:
    """One JSON object per cluster: ``cluster, size, keep, members[{id, similarity}]``
    (``containment`` instead of ``similarity`` with ``measure="containment"``)."""
    key = _string(measure)

    def line(index: int, c: Cluster) -> str:
        members = ", ".join(
            [
                f'{{"id": {_string(i)}, {key}: {round(float(s), _DECIMALS)!r}}}'
                for i, s in zip(c.ids, c.similarities, strict=True)
            ]
        )
        return f'{{"cluster": {index}, "size": {c.size}, "keep": {_string(c.keep_id)}, "members": [{members}]}}'

    def record(index: int, c: Cluster) -> dict[str, object]:
        return {
            "cluster": index,
            "size": c.size,
            "keep": c.keep_id,
            "members": [{"id": i, measure: _sim(s)} for i, s in zip(c.ids, c.similarities, strict=True)],
        }

    _fast_jsonl(out, enumerate(clusters), line, record)


def write_clusters_csv(out: IO[str], clusters: Iterable[Cluster], *, measure: str = "similarity") -> None:
    """CSV with columns ``cluster,id,keep,similarity``, one row per member
    (``containment`` instead of ``similarity`` with ``measure="containment"``)."""
    _csv(
        out,
        ["cluster", "id", "keep", measure],
        (
            [index, printable(doc_id), printable(c.keep_id), _sim(sim)]
            for index, c in enumerate(clusters)
            for doc_id, sim in zip(c.ids, c.similarities, strict=True)
        ),
    )


def write_pairs_jsonl(out: IO[str], pairs: Iterable[Pair]) -> None:
    """One JSON object per verified pair: ``a, b, similarity, estimate``."""

    def line(_: int, p: Pair) -> str:
        return (
            f'{{"a": {_string(p.a)}, "b": {_string(p.b)}, "similarity": {round(float(p.similarity), _DECIMALS)!r}, '
            f'"estimate": {round(float(p.estimate), _DECIMALS)!r}}}'
        )

    def record(_: int, p: Pair) -> dict[str, object]:
        return {"a": p.a, "b": p.b, "similarity": _sim(p.similarity), "estimate": _sim(p.estimate)}

    _fast_jsonl(out, enumerate(pairs), line, record)


def write_pairs_csv(out: IO[str], pairs: Iterable[Pair]) -> None:
    """CSV with columns ``a,b,similarity,estimate``."""
    rows = ([printable(p.a), printable(p.b), _sim(p.similarity), _sim(p.estimate)] for p in pairs)
    _csv(out, ["a", "b", "similarity", "estimate"], rows)


def write_contained_jsonl(out: IO[str], pairs: Iterable[ContainedPair]) -> None:
    """One JSON object per verified pair of a containment scan:
    ``contained, container, containment, jaccard``."""
    _jsonl(
        out,
        (
            {
                "contained": p.contained,
                "container": p.container,
                "containment": _sim(p.containment),
                "jaccard": _sim(p.jaccard),
            }
            for p in pairs
        ),
    )


def write_contained_csv(out: IO[str], pairs: Iterable[ContainedPair]) -> None:
    """CSV with columns ``contained,container,containment,jaccard``."""
    rows = ([printable(p.contained), printable(p.container), _sim(p.containment), _sim(p.jaccard)] for p in pairs)
    _csv(out, ["contained", "container", "containment", "jaccard"], rows)


def write_matches_jsonl(out: IO[str], matches: Iterable[Match]) -> None:
    """One JSON object per document with matches in an index:
    ``id, matches[{id, similarity}]``."""
    _jsonl(
        out,
        ({"id": m.id, "matches": [{"id": i, "similarity": _sim(s)} for i, s in m.matches]} for m in matches),
    )


def write_matches_csv(out: IO[str], matches: Iterable[Match]) -> None:
    """CSV with columns ``id,match,similarity``, one row per match."""
    rows = ([printable(m.id), printable(i), _sim(s)] for m in matches for i, s in m.matches)
    _csv(out, ["id", "match", "similarity"], rows)


_INFO_FIELDS = ["path", "documents", "format_version", "dedup_version", "size"]


def write_info_jsonl(out: IO[str], info: IndexInfo) -> None:
    """One JSON object: ``path, documents, format_version, dedup_version,
    size`` (bytes on disk) and ``options`` (the matching options)."""
    record: dict[str, object] = {name: getattr(info, name) for name in _INFO_FIELDS}
    record["options"] = info.options
    _jsonl(out, [record])


def write_info_csv(out: IO[str], info: IndexInfo) -> None:
    """CSV, one row: the :func:`write_info_jsonl` fields, then one column per option."""
    options = sorted(info.options)
    row = [printable(info.path), *(getattr(info, n) for n in _INFO_FIELDS[1:]), *(info.options[k] for k in options)]
    _csv(out, [*_INFO_FIELDS, *options], [row])


def write_skipped_jsonl(out: IO[str], skipped: Iterable[Skipped]) -> None:
    """One JSON object per skipped input: ``path, line, reason`` (line null for a whole file)."""
    _jsonl(out, ({"path": s.path, "line": s.line, "reason": s.reason} for s in skipped))


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


def write_groups_jsonl(out: IO[str], groups: Iterable[BlockGroup]) -> None:
    """One JSON object per group of repeated blocks (DESIGN.md, ``dedup blocks``)."""
    _jsonl(out, (_group_record(i, g) for i, g in enumerate(groups)))


def write_groups_csv(out: IO[str], groups: Iterable[BlockGroup]) -> None:
    """CSV, one row per occurrence:
    ``group,kind,boilerplate,count,documents,id,line,end_line,text``."""
    _csv(
        out,
        ["group", "kind", "boilerplate", "count", "documents", "id", "line", "end_line", "text"],
        (
            [i, g.kind, str(g.boilerplate).lower(), g.count, g.documents, printable(o.id), o.line, o.end_line, g.text]
            for i, g in enumerate(groups)
            for o in g.occurrences
        ),
    )


def format_clusters_jsonl(clusters: Iterable[Cluster]) -> str:
    """:func:`write_clusters_jsonl` as one string."""
    return _as_string(write_clusters_jsonl, clusters)


def format_clusters_csv(clusters: Iterable[Cluster]) -> str:
    """:func:`write_clusters_csv` as one string."""
    return _as_string(write_clusters_csv, clusters)


def format_pairs_jsonl(pairs: Iterable[Pair]) -> str:
    """:func:`write_pairs_jsonl` as one string."""
    return _as_string(write_pairs_jsonl, pairs)


def format_pairs_csv(pairs: Iterable[Pair]) -> str:
    """:func:`write_pairs_csv` as one string."""
    return _as_string(write_pairs_csv, pairs)


def format_contained_jsonl(pairs: Iterable[ContainedPair]) -> str:
    """:func:`write_contained_jsonl` as one string."""
    return _as_string(write_contained_jsonl, pairs)


def format_contained_csv(pairs: Iterable[ContainedPair]) -> str:
    """:func:`write_contained_csv` as one string."""
    return _as_string(write_contained_csv, pairs)


def format_matches_jsonl(matches: Iterable[Match]) -> str:
    """:func:`write_matches_jsonl` as one string."""
    return _as_string(write_matches_jsonl, matches)


def format_matches_csv(matches: Iterable[Match]) -> str:
    """:func:`write_matches_csv` as one string."""
    return _as_string(write_matches_csv, matches)


def format_info_jsonl(info: IndexInfo) -> str:
    """:func:`write_info_jsonl` as one string."""
    return _as_string(write_info_jsonl, info)


def format_skipped_jsonl(skipped: Iterable[Skipped]) -> str:
    """:func:`write_skipped_jsonl` as one string."""
    return _as_string(write_skipped_jsonl, skipped)


def format_groups_jsonl(groups: Iterable[BlockGroup]) -> str:
    """:func:`write_groups_jsonl` as one string."""
    return _as_string(write_groups_jsonl, groups)


def format_groups_csv(groups: Iterable[BlockGroup]) -> str:
    """:func:`write_groups_csv` as one string."""
    return _as_string(write_groups_csv, groups)
