"""Floor check: every exact-duplicate group in ../shared/corpora/*/derived_exact_dups.json
is found by ``dedup scan`` (all its members in one cluster).

``python benchmarks/bench_exact_dups.py`` prints and writes its section of RESULTS.md;
exits 1 if any group is missed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.metrics import write_section  # noqa: E402  # after sys.path
from dedup import find_duplicates, read_documents  # noqa: E402

CORPORA = HERE.parents[1] / "shared" / "corpora"
SETS = [
    ("bbc_news", "bbc.jsonl.gz"),
    ("reuters21578", "reuters21578.jsonl.gz"),
    ("vn_baomoi", "baomoi.jsonl.gz"),
    ("vntc", "vntc.jsonl.gz"),
]


def check(name: str, dump: str) -> tuple[int, int, int, float, list[list[str]]]:
    groups = json.loads((CORPORA / name / "derived_exact_dups.json").read_text(encoding="utf-8"))["groups"]
    started = time.perf_counter()
    result = find_duplicates(read_documents([CORPORA / name / dump]))
    seconds = time.perf_counter() - started
    cluster_of = {doc_id: i for i, c in enumerate(result.clusters) for doc_id in c.ids}
    missed = [g for g in groups if len({cluster_of.get(doc_id, f"alone:{doc_id}") for doc_id in g}) != 1]
    return len(groups), len(groups) - len(missed), result.documents, seconds, missed


def main() -> None:
    rows = []
    all_found = True
    for name, dump in SETS:
        total, found, documents, seconds, missed = check(name, dump)
        all_found &= not missed
        rows.append(f"| {name} | {documents:,} | {total:,} | {found:,} | {seconds:.1f} s |")
        print(rows[-1], *(f"  missed: {g}" for g in missed[:5]), sep="\n", flush=True)
    text = "\n".join(
        [
            "## Known exact duplicates: all found",
            "",
            "Reproduce with `.venv/bin/python benchmarks/bench_exact_dups.py`: `dedup scan` (library, default "
            "options) on each corpus; a group counts as found when all its members are in one cluster.",
            "",
            "| corpus | documents | exact-duplicate groups | found | scan time |",
            "|---|---:|---:|---:|---:|",
            *rows,
        ]
    )
    write_section(HERE / "RESULTS.md", "exact-dups", text)
    if not all_found:
        sys.exit(1)


if __name__ == "__main__":
    main()
