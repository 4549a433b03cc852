"""HTML reports (``--format html``): one self-contained page a person opens.

A page has inline CSS and vanilla JavaScript, loads nothing from the network
and opens from disk in any current browser. Templates are Jinja2
(``dedup/templates``) with autoescaping on: every id and text from the input
is escaped; texts travel to the page's script as JSON in
``<script type="application/json">`` blocks with ``<``, ``>`` and ``&``
escaped, and are put on the page with ``textContent``, never as markup, so a
story holding ``<script>`` shows as text.

Each renderer is a :class:`dedup.report.Renderer` (``renderer(out,
records)``): the page is streamed to ``out`` record by record as the
template renders it, never built whole in memory.

* :class:`ScanHtml`: the summary header, then clusters largest first (at
  most ``max_clusters``; the header says when capped), each with its kept
  document and members; choosing a member shows it beside the kept document
  with the passages they share in ``<mark>`` (:mod:`dedup.passages`).
* :class:`BlocksHtml`: boilerplate first, then each group of repeated blocks
  with its text, count and occurrences; choosing an occurrence shows its
  document with every repeated block marked and links to the other
  occurrences.
* :class:`MatchesHtml` (``index query``): each queried document and its
  matches; choosing a match shows the two side by side, shared passages
  marked (the indexed side is the normalized text the index keeps).

Texts are fetched for the displayed documents only, through a callback
(:mod:`dedup.readback` reads them back from the inputs).
"""

from __future__ import annotations

import base64
import concurrent.futures
import gzip
import json
import multiprocessing
import os
import re
import signal
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

import jinja2
import numpy as np
from markupsafe import Markup

from dedup import __version__
from dedup.blocks import BlockGroup
from dedup.cluster import Cluster
from dedup.config import DEFAULT_MAX_CLUSTERS, check_max_shown
from dedup.document import Skipped, printable
from dedup.index import Match
from dedup.passages import Span, Tokens, shared_passages, tokenize
from dedup.shingle import ShingleSpec, parse_shingle_spec

__all__ = [
    "DEFAULT_MAX_CLUSTERS",
    "MAX_MEMBERS_SHOWN",
    "BlocksHtml",
    "MatchesHtml",
    "ReportHeader",
    "ScanHtml",
    "check_max_shown",
    "utf16_spans",
]

MAX_MEMBERS_SHOWN = 10
"""Members of one cluster (besides the kept one) whose texts a report
includes, in input order; all are listed with their similarity. Each costs
a shared-passage computation (~0.5 ms) and its text (compressed) in the page."""
MAX_OCCURRENCES_SHOWN = 100
"""Occurrences of one block group a report lists."""
MAX_DOCUMENTS_SHOWN = 500
"""Documents whose texts a blocks report includes."""
_FIRST_PATHS = 3
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")

Texts = Callable[[Mapping[int, str]], Mapping[int, str]]
"""Scan number -> id of the documents wanted, to scan number -> text."""
TextsById = Callable[[Sequence[str]], Mapping[str, str]]
"""Ids wanted, to id -> text."""


@dataclass(frozen=True)
class ReportHeader:
    """What every report's header says.

    Attributes:
        command: ``"scan"``, ``"blocks"`` or ``"index query"``.
        inputs: The PATH arguments.
        options: The options that shaped the result (name -> value).
        documents: Documents read.
        skipped: Inputs skipped, with their reasons.
        seconds: Time the work took.
    """

    command: str
    inputs: Sequence[str]
    options: Mapping[str, object]
    documents: int
    skipped: Sequence[Skipped] = ()
    seconds: float = 0.0

    def skip_reasons(self) -> list[tuple[str, int, list[str]]]:
        """``(reason, count, first few locations)``, most frequent first."""
        counts = Counter(s.reason for s in self.skipped)
        first: dict[str, list[str]] = {}
        for s in self.skipped:
            shown = first.setdefault(s.reason, [])
            if len(shown) < _FIRST_PATHS:
                shown.append(printable(s.location))
        return [(printable(reason), n, first[reason]) for reason, n in counts.most_common()]


def utf16_spans(text: str, spans: Sequence[Span]) -> list[int]:
    """Code-point spans as flat ``[start, end, ...]`` UTF-16 offsets (what
    JavaScript strings count), for the page's script.

    Example:
        >>> utf16_spans("a😀b", [(2, 3)])
        [3, 4]
    """
    flat = [offset for span in spans for offset in span]
    if not flat or text.isascii() or _ASTRAL.search(text) is None:
        return flat
    wide = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32) > 0xFFFF
    before = np.concatenate(([0], np.cumsum(wide)))
    shifted: list[int] = (np.array(flat, dtype=np.int64) + before[flat]).tolist()
    return shifted


def _json(value: object) -> Markup:
    """JSON safe inside a ``<script>`` element: ``<``, ``>`` and ``&`` as
    ``\\u`` escapes, so no text can close the element or open a comment."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # escaped above for the one context it goes to: a JSON script block


def _packed(value: object) -> str:
    """JSON, gzip-compressed (deterministically: no time, no name), base64:
    the members of a cluster are near-duplicates, so their texts compress
    tenfold; the page's script inflates them with ``DecompressionStream``.
    A lone surrogate (a JSONL ``"\\ud800"``) is written as its ``\\u``
    escape: raw, the browser's UTF-8 decoder would make it three U+FFFD and
    shift every highlight after it; escaped, it is the one UTF-16 unit
    :func:`utf16_spans` counts."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    data = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")
    return base64.b64encode(gzip.compress(data, compresslevel=6, mtime=0)).decode("ascii")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("dedup", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["json"] = _json
    env.filters["packed"] = _packed
    env.filters["shown"] = printable
    env.filters["sim"] = lambda value: f"{float(value):.4f}"
    env.filters["count"] = lambda value: f"{int(value):,}"
    return env


_ENV: jinja2.Environment | None = None


def _render(out: IO[str], template: str, context: Mapping[str, Any]) -> None:
    """Stream a template to ``out`` piece by piece as it renders."""
    global _ENV  # one environment (its template cache) per process, built on first use
    if _ENV is None:
        _ENV = _environment()
    for piece in _ENV.get_template(template).generate(version=__version__, **context):
        out.write(piece)


# --- scan ---------------------------------------------------------------------


@dataclass
class ScanHtml:
    """The HTML report of a scan: ``ScanHtml(...)(out, clusters)``.

    Attributes:
        header: The summary header.
        texts: Fetches the texts of documents by scan number (called once,
            with the displayed members only).
        spec: The scan's shingles.
        fold_accents: The scan's ``fold_accents``.
        max_clusters: Clusters shown (the largest).
        measure: What each member's figure is: ``"similarity"`` (Jaccard to
            the kept document) or ``"containment"`` (of the member in the
            kept container).
        processes: Worker processes for the shared passages of a large
            report (None: one per core; 1: none). The page is the same.
    """

    header: ReportHeader
    texts: Texts
    spec: ShingleSpec | str = "word:5"
    fold_accents: bool = False
    max_clusters: int = DEFAULT_MAX_CLUSTERS
    measure: str = "similarity"
    processes: int | None = None

    def __call__(self, out: IO[str], clusters: Iterable[Cluster]) -> None:
        """Write the page.

        Args:
            out: A text stream.
            clusters: The scan's clusters, in its order (cluster numbers
                are positions in it, as in the JSONL output).
        """
        spec = parse_shingle_spec(self.spec) if isinstance(self.spec, str) else self.spec
        numbered = list(enumerate(clusters))
        # Largest first; equal sizes in the scan's order.
        shown = sorted(numbered, key=lambda item: (-item[1].size, item[0]))[: self.max_clusters]
        wanted = {m: i for _, c in shown for m, i in _displayed(c)}
        texts = self.texts(wanted)
        marks = _all_marks([c for _, c in shown], texts, str(spec), self.fold_accents, self.processes)
        context = {
            "header": self.header,
            "spec": str(spec),
            "total": len(numbered),
            "duplicates": sum(c.size - 1 for _, c in numbered),
            "shown": len(shown),
            "capped": len(shown) < len(numbered),
            "max_members": MAX_MEMBERS_SHOWN,
            "measure": self.measure,
            "clusters": (_scan_record(number, c, texts, m) for (number, c), m in zip(shown, marks, strict=True)),
        }
        _render(out, "scan.html.j2", context)


def _displayed(cluster: Cluster) -> list[tuple[int, str]]:
    """``(scan number, id)`` of the members whose texts a report includes:
    the kept one and the first others."""
    members = list(zip(cluster.members, cluster.ids, strict=True))
    keep = next(pair for pair in members if pair[0] == cluster.keep)
    others = [pair for pair in members if pair[0] != cluster.keep][:MAX_MEMBERS_SHOWN]
    return [keep, *others]


# Fewer member texts than this are marked in this process: starting workers costs more.
_POOL_MIN_TEXTS = 500

_Marks = list[tuple[list[int], list[int]]]  # per member after the kept one: UTF-16 spans in kept, in member


def _all_marks(
    clusters: Sequence[Cluster], texts: Mapping[int, str], spec: str, fold_accents: bool, processes: int | None
) -> list[_Marks]:
    """Shared passages of each shown member with its kept document, per
    cluster, in order. Pure Python per pair (~0.5 ms), so a large report
    shares the clusters out to worker processes (spawned: the scan's OpenMP
    threads make fork unsafe); the result is the same either way."""
    jobs = [_marks_job(c, texts) for c in clusters]
    workers = min(processes or os.cpu_count() or 1, len(jobs))
    if workers < 2 or sum(len(members) for _, members in jobs) < _POOL_MIN_TEXTS:
        return [_cluster_marks(kept, members, spec, fold_accents) for kept, members in jobs]
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_ignore_sigint) as pool:
        chunk = max(1, len(jobs) // (8 * workers))
        return list(pool.map(_cluster_marks_job, [(k, m, spec, fold_accents) for k, m in jobs], chunksize=chunk))


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group: the parent alone answers it (exit 130, no traceback).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _marks_job(cluster: Cluster, texts: Mapping[int, str]) -> tuple[str | None, list[str]]:
    """The kept text and the texts of the other shown members, in member order."""
    members = [texts[m] for m in cluster.members if m != cluster.keep and m in texts]
    return texts.get(cluster.keep), members


def _cluster_marks_job(job: tuple[str | None, list[str], str, bool]) -> _Marks:
    return _cluster_marks(*job)


def _cluster_marks(kept_text: str | None, members: Sequence[str], spec: str, fold_accents: bool) -> _Marks:
    if kept_text is None:
        return []
    shingles = parse_shingle_spec(spec)
    kept_tokens = tokenize(kept_text, shingles, fold_accents=fold_accents)
    marks: _Marks = []
    for text in members:
        left, right = _passages(kept_tokens, text, shingles, fold_accents)
        marks.append((utf16_spans(kept_text, left), utf16_spans(text, right)))
    return marks


def _scan_record(number: int, cluster: Cluster, texts: Mapping[int, str], marks: _Marks) -> dict[str, object]:
    """One cluster for the template: its members, and the data its script
    shows (texts, and per member the shared passages with the kept one)."""
    members = [
        {"id": printable(i), "similarity": s, "keep": m == cluster.keep, "shown": False}
        for m, i, s in zip(cluster.members, cluster.ids, cluster.similarities, strict=True)
    ]
    kept_text = texts.get(cluster.keep)
    docs: list[dict[str, object]] = []
    others = iter(marks)
    for position, (m, i, s) in enumerate(zip(cluster.members, cluster.ids, cluster.similarities, strict=True)):
        text = texts.get(m)
        if text is None or kept_text is None:
            continue
        members[position]["shown"] = True
        entry: dict[str, object] = {"m": position, "id": printable(i), "sim": round(float(s), 6), "text": text}
        if m != cluster.keep:
            entry["keep_marks"], entry["marks"] = next(others)
        docs.append(entry)
    keep_position = cluster.members.index(cluster.keep)
    return {
        "number": number,
        "size": cluster.size,
        "keep_id": printable(cluster.keep_id),
        "members": members,
        "search": "\n".join(printable(i) for i in cluster.ids).lower(),
        "data": {"cluster": number, "keep": keep_position, "docs": docs},
    }


def _passages(kept: Tokens, text: str, spec: ShingleSpec, fold_accents: bool) -> tuple[list[Span], list[Span]]:
    return shared_passages(kept, tokenize(text, spec, fold_accents=fold_accents), spec, fold_accents=fold_accents)


# --- blocks -------------------------------------------------------------------


@dataclass
class BlocksHtml:
    """The HTML report of repeated blocks: ``BlocksHtml(...)(out, groups)``.

    Attributes:
        header: The summary header.
        texts: Fetches the texts of documents by id (called once).
        boilerplate_min_documents: Documents a group must span to be boilerplate.
        max_groups: Groups shown (in the result's order: boilerplate first).
    """

    header: ReportHeader
    texts: TextsById
    boilerplate_min_documents: int = 0
    max_groups: int = DEFAULT_MAX_CLUSTERS

    def __call__(self, out: IO[str], groups: Iterable[BlockGroup]) -> None:
        """Write the page.

        Args:
            out: A text stream.
            groups: The groups, in the result's order (numbers as in the JSONL output).
        """
        numbered = list(enumerate(groups))
        shown = numbered[: self.max_groups]
        blocks: dict[str, list[list[int]]] = {}
        for number, group in shown:
            for o in group.occurrences[:MAX_OCCURRENCES_SHOWN]:
                if o.id in blocks or len(blocks) < MAX_DOCUMENTS_SHOWN:
                    blocks.setdefault(o.id, []).append([o.line, o.end_line, number])
        texts = self.texts(list(blocks))
        context = {
            "header": self.header,
            "total": len(numbered),
            "boilerplate": sum(g.boilerplate for _, g in numbered),
            "boilerplate_min_documents": self.boilerplate_min_documents,
            "shown": len(shown),
            "capped": len(shown) < len(numbered),
            "max_occurrences": MAX_OCCURRENCES_SHOWN,
            "groups": (_group_record(number, g, texts) for number, g in shown),
            "documents": (
                {"id": printable(doc_id), "text": texts[doc_id], "blocks": sorted(spans)}
                for doc_id, spans in blocks.items()
                if doc_id in texts
            ),
        }
        _render(out, "blocks.html.j2", context)


def _group_record(number: int, group: BlockGroup, texts: Mapping[str, str]) -> dict[str, object]:
    return {
        "number": number,
        "kind": group.kind,
        "boilerplate": group.boilerplate,
        "text": group.text,
        "count": group.count,
        "documents": group.documents,
        "occurrences": [
            {"id": printable(o.id), "line": o.line, "end_line": o.end_line, "shown": o.id in texts}
            for o in group.occurrences[:MAX_OCCURRENCES_SHOWN]
        ],
        "more": max(0, group.count - MAX_OCCURRENCES_SHOWN),
    }


# --- index query --------------------------------------------------------------


@dataclass
class MatchesHtml:
    """The HTML report of ``index query``: ``MatchesHtml(...)(out, matches)``.

    Attributes:
        header: The summary header.
        texts: Fetches the queried documents' texts by id (called once).
        stored: Fetches the indexed documents' stored (normalized) texts by id.
        spec: The index's shingles.
        fold_accents: The index's ``fold_accents``.
        max_documents: Queried documents shown.
    """

    header: ReportHeader
    texts: TextsById
    stored: TextsById
    spec: ShingleSpec | str = "word:5"
    fold_accents: bool = False
    max_documents: int = DEFAULT_MAX_CLUSTERS

    def __call__(self, out: IO[str], matches: Iterable[Match]) -> None:
        """Write the page.

        Args:
            out: A text stream.
            matches: One Match per queried document with matches, in input order.
        """
        spec = parse_shingle_spec(self.spec) if isinstance(self.spec, str) else self.spec
        listed = list(matches)
        shown = listed[: self.max_documents]
        texts = self.texts([m.id for m in shown])
        stored = self.stored(sorted({i for m in shown for i, _ in m.matches[:MAX_MEMBERS_SHOWN]}))
        context = {
            "header": self.header,
            "total": len(listed),
            "shown": len(shown),
            "capped": len(shown) < len(listed),
            "queries": (_query_record(n, m, texts, stored, spec, self.fold_accents) for n, m in enumerate(shown)),
        }
        _render(out, "query.html.j2", context)


def _query_record(
    number: int,
    match: Match,
    texts: Mapping[str, str],
    stored: Mapping[str, str],
    spec: ShingleSpec,
    fold_accents: bool,
) -> dict[str, object]:
    text = texts.get(match.id)
    tokens = tokenize(text, spec, fold_accents=fold_accents) if text is not None else None
    docs: list[dict[str, object]] = []
    found = []
    for position, (other, similarity) in enumerate(match.matches):
        shown = position < MAX_MEMBERS_SHOWN and other in stored and text is not None and tokens is not None
        found.append({"id": printable(other), "similarity": similarity, "shown": shown})
        if not shown or tokens is None or text is None:
            continue
        other_text = stored[other]
        left, right = _passages(tokens, other_text, spec, fold_accents)
        docs.append(
            {
                "m": position,
                "id": printable(other),
                "sim": round(float(similarity), 6),
                "text": other_text,
                "keep_marks": utf16_spans(text, left),
                "marks": utf16_spans(other_text, right),
            }
        )
    return {
        "number": number,
        "id": printable(match.id),
        "matches": found,
        "search": "\n".join([printable(match.id), *(printable(i) for i, _ in match.matches)]).lower(),
        "data": {"query": printable(match.id), "text": text, "docs": docs},
    }
