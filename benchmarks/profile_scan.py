"""Where a scan's time goes: each stage of the pipeline timed on the 50k dump.

``python benchmarks/profile_scan.py [--workers N]`` prints a Markdown table
(used in RESULTS.md). Stages run in sequence over the whole dump, with the
library's own functions, so their sum is close to a scan's wall time less
start-up and output.
"""

from __future__ import annotations

import argparse
import os
import sys
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
from dedup.shingle import ShingleSpec, shingle_batch  # noqa: E402
from dedup.similarity import exact_jaccard  # noqa: E402
from dedup.stages import sketch_units, text_batches  # noqa: E402

DUMP = HERE / "data" / "vntc-50k.jsonl"


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


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
