"""Containment benchmark: ``dedup`` (LSH Ensemble + exact verification)
against datasketch's ``MinHashLSHEnsemble`` on the same corpus.

``python benchmarks/bench_containment.py`` (after ``make test``):

1. builds the acceptance corpus with :func:`dedup.generate.containment_corpus`
   from all BBC stories (teasers, wire stories inside local articles, stories
   split over two pages, unrelated stories), and a larger one from the first
   VNTC stories;
2. computes the exact containment of every pair sharing a shingle (a sparse
   document x shingle product, the oracle);
3. at T = 0.8 and 0.5: ``dedup.find_duplicates(measure="containment")`` end
   to end (sketching included), and datasketch's ``MinHashLSHEnsemble``
   (``num_part=16``, 128 permutations, fed dedup's own signatures as
   ``LeanMinHash``, so both see the same sketches) indexing every document
   and querying every document with its size: recall and precision of the
   pairs each returns, and time;
4. writes the ``containment`` section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import dedup  # noqa: E402  # after sys.path
from benchmarks.metrics import exact_containment, write_section  # noqa: E402  # after sys.path
from dedup.generate import containment_corpus  # noqa: E402  # after sys.path

SHARED = HERE.parents[1] / "shared" / "corpora"
CORPORA = {
    "BBC": (SHARED / "bbc_news" / "bbc.jsonl.gz", None),
    "VNTC": (SHARED / "vntc" / "vntc.jsonl.gz", 12000),
}

Pairs = set[tuple[int, int]]


def _stories(path: Path, limit: int | None) -> list[str]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line)["text"].replace("\r\n", "\n"))
            if limit is not None and len(out) >= limit:
                break
    return out


def _datasketch(signatures: np.ndarray, sizes: np.ndarray, threshold: float) -> tuple[Pairs, float]:
    from datasketch import MinHashLSHEnsemble

    lean = dedup.to_lean_minhashes(signatures, seed=1)
    started = time.perf_counter()
    ensemble = MinHashLSHEnsemble(threshold=threshold, num_perm=signatures.shape[1], num_part=16)
    ensemble.index((i, m, int(s)) for i, (m, s) in enumerate(zip(lean, sizes.tolist(), strict=True)))
    found = {(min(i, j), max(i, j)) for i, m in enumerate(lean) for j in ensemble.query(m, int(sizes[i])) if j != i}
    return found, time.perf_counter() - started


def _score(found: Pairs, truth: Pairs) -> tuple[float, float]:
    hit = len(found & truth)
    return hit / max(len(truth), 1), hit / max(len(found), 1)


def run(name: str, texts: list[str]) -> list[str]:
    values, starts, signatures = dedup.sketch_texts(texts)
    sizes = np.diff(starts)
    a, b, containment = exact_containment(values, starts)
    rows = []
    for threshold in (0.8, 0.5):
        ok = containment >= threshold
        truth = set(zip(a[ok].tolist(), b[ok].tolist(), strict=True))
        started = time.perf_counter()
        result = dedup.find_duplicates(texts, measure="containment", threshold=threshold)
        ours_time = time.perf_counter() - started
        ours = {tuple(sorted((int(p.contained), int(p.container)))) for p in result.contained}
        theirs, theirs_time = _datasketch(signatures, sizes, threshold)
        r1, p1 = _score(ours, truth)  # type: ignore[arg-type]
        r2, p2 = _score(theirs, truth)
        rows.append(
            f"| {name} | {len(texts):,} | {threshold} | {len(truth):,} | "
            f"{r1:.4f} / {p1:.4f} ({result.stats.candidates:,} candidates) | {ours_time:.2f} s | "
            f"{r2:.4f} / {p2:.4f} ({len(theirs):,} returned) | {theirs_time:.2f} s |"
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args()
    rows = []
    for name, (path, limit) in CORPORA.items():
        texts = [r["text"] for r in containment_corpus(_stories(path, limit), seed=1)]
        rows += run(name, texts)
    text = "\n".join(
        [
            "## Containment: `dedup scan --measure containment` against datasketch's MinHashLSHEnsemble",
            "",
            "Corpora from `dedup.generate.containment_corpus` (teasers, wire stories inside local articles,",
            "stories split over two pages, unrelated stories; half of the copies edited) over all BBC stories",
            "and the first 12,000 VNTC stories. Truth: exact containment of every pair (sparse product).",
            'dedup: `find_duplicates(measure="containment")` end to end (reading excluded, sketching,',
            "LSH Ensemble candidates, exact verification, clusters). datasketch: `MinHashLSHEnsemble(num_part=16)`",
            "on dedup's own 128-permutation signatures (sketching excluded), indexing and querying every",
            "document; its answers are unverified candidates. Recall / precision of the pairs returned.",
            "",
            "| corpus | docs | T | true pairs | dedup recall / precision | dedup time | "
            "datasketch recall / precision | datasketch time |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Command: `.venv/bin/python benchmarks/bench_containment.py` (2 shared cores, other jobs running).",
        ]
    )
    write_section(args.results, "containment", text)


if __name__ == "__main__":
    main()
