"""Micro-benchmark: sorting a document's shingle hashes.

The fused sketch kernel sorts each document's shingle hashes (uniform
uint64, ~300-1,100 per news document). This times, per hash, the kernel's
sort with the AVX-512 networks, the same kernel's portable path (bucket +
insertion sort, ``sort_simd_for_tests(False)``) and ``np.sort`` on the same
rows (2-D, ``axis=1``: no Python call per row for either), as CPU time, the
best of ``--repeat`` interleaved rounds. With ``--fused DUMP``, also the
fused sketch kernel (``sketch_units``, word 5-grams, 128 permutations, one
thread) over the dump's batches with either sort, interleaved, in CPU
seconds.

    .venv/bin/python benchmarks/bench_sort.py [--fused benchmarks/data/vntc-50k.jsonl]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dedup._kernels import SORT_SIMD, sort_runs_for_tests, sort_simd_for_tests


def _ns_per_hash(sort: Callable[[np.ndarray], None], rows: np.ndarray) -> float:
    work = rows.copy()
    t0 = time.process_time_ns()
    sort(work)
    elapsed = time.process_time_ns() - t0
    assert np.array_equal(work, np.sort(rows, axis=1))
    return elapsed / rows.size


def _fused(dump: Path, repeat: int) -> None:
    from dedup.document import UniqueIds
    from dedup.io import read_documents
    from dedup.shingle import ShingleSpec
    from dedup.stages import sketch_units, text_batches

    batches = [texts for _, texts, _ in text_batches(read_documents([dump]), 2048, UniqueIds())]
    seconds: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(repeat):
        for on in seconds:
            was = sort_simd_for_tests(on)
            try:
                t0 = time.process_time()
                for batch in batches:
                    sketch_units(batch.text, batch.starts, ShingleSpec(), 128, 1, False, 1)
                seconds[on].append(time.process_time() - t0)
            finally:
                sort_simd_for_tests(was)
    for on, runs in seconds.items():
        name = "networks (new)" if on else "insertion (old)"
        print(f"fused kernel, 1 thread, {name}: " + " ".join(f"{t:.3f}" for t in runs) + f" CPU s; min {min(runs):.3f}")


def main() -> None:
    """Print ns per hash for each row length, side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 100, 300, 500, 700, 1100, 5000])
    parser.add_argument("--hashes", type=int, default=2_000_000, help="hashes per size and method")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--fused", type=Path, help="a JSONL dump: also time the fused kernel with either sort")
    args = parser.parse_args()
    rng = np.random.default_rng(0)

    def ours(on: bool) -> Callable[[np.ndarray], None]:
        def sort(rows: np.ndarray) -> None:
            was = sort_simd_for_tests(on)
            try:
                flat = rows.reshape(-1)
                starts = np.arange(0, flat.size + 1, rows.shape[1], dtype=np.int64)
                sort_runs_for_tests(flat, starts)
            finally:
                sort_simd_for_tests(was)

        return sort

    def numpy_sort(rows: np.ndarray) -> None:
        rows.sort(axis=1)

    methods = {"insertion (old)": ours(False), "networks (new)": ours(True), "np.sort": numpy_sort}
    print(f"AVX-512 sort built: {SORT_SIMD}; CPU ns per hash, best of {args.repeat}")
    print("| hashes per row | " + " | ".join(methods) + " | old / new | np.sort / new |")
    print("|---:|" + "---:|" * (len(methods) + 2))
    for size in args.sizes:
        rows = rng.integers(0, 2**64, (max(args.hashes // size, 1), size), dtype=np.uint64)
        best = dict.fromkeys(methods, float("inf"))
        for _ in range(args.repeat):
            for name, sort in methods.items():
                best[name] = min(best[name], _ns_per_hash(sort, rows))
        old, new, ref = best.values()
        cells = " | ".join(f"{t:.2f}" for t in best.values())
        print(f"| {size} | {cells} | {old / new:.2f}x | {ref / new:.2f}x |")
    if args.fused:
        _fused(args.fused, args.repeat)


if __name__ == "__main__":
    main()
