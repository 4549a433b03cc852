"""Where a scan's time goes on the 50k dump: the phases of a real scan, then each stage alone.

``python benchmarks/profile_scan.py [--workers N] [--cpu]`` prints two Markdown
tables (used in RESULTS.md). The first times the phases of one scan as a user
runs it (start-up of the command line, reading + sketching, which overlap on
all cores, matching, writing the clusters) in wall and process CPU seconds.
The second runs each stage alone over the whole dump, in sequence, with the
library's own functions: the breakdown of the sketching phase's CPU.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from dedup.document import UniqueIds  # noqa: E402  # after sys.path
from dedup.io import read_documents  # noqa: E402
from dedup.lsh import band_keys, choose_bands, pairs_from_band_columns  # noqa: E402
from dedup.minhash import compute_signatures  # noqa: E402
from dedup.normalize import normalize_utf8  # noqa: E402
from dedup.pipeline import find_duplicates  # noqa: E402
from dedup.report import write_clusters_jsonl  # noqa: E402
from dedup.shingle import ShingleSpec, shingle_batch  # noqa: E402
from dedup.similarity import exact_jaccard  # noqa: E402
from dedup.stages import sketch_units, text_batches  # noqa: E402

DUMP = HERE / "data" / "vntc-50k.jsonl"


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _startup() -> tuple[float, float]:
    """Wall and CPU seconds of ``dedup scan`` on two short files: the
    command line's fixed cost (interpreter, imports, parsing, threads)."""
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("a.txt", "b.txt"):
            Path(tmp, name).write_text("Mỹ và Taliban nối lại đàm phán hòa bình tại Doha", encoding="utf-8")
        cmd = [str(Path(sys.executable).with_name("dedup")), "scan", tmp, "-q", "--format", "jsonl", "-o", os.devnull]
        runs = []
        for _ in range(5):
            before = os.times()
            start = time.perf_counter()
            subprocess.run(cmd, check=True)
            wall = time.perf_counter() - start
            after = os.times()
            runs.append(
                (wall, after.children_user + after.children_system - before.children_user - before.children_system)
            )
    runs.sort()
    return runs[len(runs) // 2]


def scan_phases(workers: int | None) -> None:
    """Print the phases of one scan of the dump, wall and CPU."""
    rows = [("start-up: `dedup scan` of two short files (interpreter, imports, CLI, threads)", *_startup())]
    marks: dict[str, tuple[float, float]] = {}
    start = (time.perf_counter(), _cpu_seconds())
    result = find_duplicates(
        read_documents([DUMP]),
        workers=workers,
        on_stage=lambda s: marks.setdefault(s, (time.perf_counter(), _cpu_seconds())),
    )
    end = (time.perf_counter(), _cpu_seconds())
    write_clusters_jsonl(io.StringIO(), result.clusters)
    written = (time.perf_counter(), _cpu_seconds())
    matching = marks["matching"]
    rows += [
        ("read + sketch (JSONL parser and fused kernel, overlapped)", matching[0] - start[0], matching[1] - start[1]),
        ("matching (candidate pairs, verification, clusters, ids)", end[0] - matching[0], end[1] - matching[1]),
        ("writing the clusters as JSONL", written[0] - end[0], written[1] - end[1]),
    ]
    print(f"| phase of one scan ({result.documents:,} documents, workers={workers or 'all'}) | wall s | CPU s |")
    print("|---|---:|---:|")
    for name, wall, cpu in rows:
        print(f"| {name} | {wall:.2f} | {cpu:.2f} |")
    print(f"| **sum** | **{sum(r[1] for r in rows):.2f}** | **{sum(r[2] for r in rows):.2f}** |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="process CPU seconds (user + system) instead of wall time: steadier on a shared machine",
    )
    args = parser.parse_args()
    clock = _cpu_seconds if args.cpu else time.perf_counter
    w = args.workers
    scan_phases(w)
    t: dict[str, float] = {}

    start = clock()
    batches = [texts for _, texts, _ in text_batches(read_documents([DUMP]), args.batch_size, UniqueIds())]
    t["read + parse JSONL (compiled parser, ids in Python), batches of UTF-8"] = clock() - start

    parts: dict[str, float] = {
        "normalize (incl. NFC check)": 0.0,
        "shingle + hash": 0.0,
        "minhash": 0.0,
        "band keys": 0.0,
    }
    values_all, sizes_all, keys_all = [], [], []
    for batch in batches:
        a = clock()
        buf, offsets = normalize_utf8(batch.text, batch.starts, workers=w)
        b = clock()
        values, starts = shingle_batch(buf, offsets, ShingleSpec(), workers=w)
        c = clock()
        signatures = compute_signatures(values, starts, workers=w)
        d = clock()
        keys_all.append(band_keys(signatures, *choose_bands(0.8, 128)))
        e = clock()
        parts["normalize (incl. NFC check)"] += b - a
        parts["shingle + hash"] += c - b
        parts["minhash"] += d - c
        parts["band keys"] += e - d
        values_all.append(values)
        sizes_all.append(np.diff(starts))
    t.update(parts)

    start = clock()
    for batch in batches:
        sketch_units(batch.text, batch.starts, ShingleSpec(), 128, 1, False, w)
    t["fused kernel (what a scan runs instead of the three above)"] = clock() - start

    start = clock()
    keys = np.concatenate(keys_all)
    left, right, _, _ = pairs_from_band_columns(
        (np.ascontiguousarray(keys[:, b]) for b in range(keys.shape[1])), len(keys)
    )
    t["candidate pairs (sort + group)"] = clock() - start

    values = np.concatenate(values_all)
    starts = np.zeros(sum(len(s) for s in sizes_all) + 1, dtype=np.int64)
    np.cumsum(np.concatenate(sizes_all), out=starts[1:])
    start = clock()
    exact_jaccard(values, starts, left, right, workers=w)
    t["verify (exact Jaccard, in memory)"] = clock() - start

    total = sum(v for k, v in t.items() if "part of" not in k and "instead" not in k)
    unit = "CPU seconds" if args.cpu else "seconds"
    n_docs = sum(len(b.lengths) for b in batches)
    print(f"| stage ({n_docs:,} documents, workers={w or 'all'}) | {unit} | share |")
    print("|---|---:|---:|")
    for name, seconds in t.items():
        share = "" if "part of" in name or "instead" in name else f"{seconds / total:.0%}"
        print(f"| {name} | {seconds:.2f} | {share} |")
    print(f"| **sum** | **{total:.2f}** | |")


if __name__ == "__main__":
    main()
