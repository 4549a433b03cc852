"""Time the normalization: the fused sketch kernel and normalize_kernel alone.

Over a JSONL dump's batches of 2,048 texts (read before timing): the fused
kernel (``sketch_units``, word 5-grams, 128 permutations, seed 1, one thread)
and ``normalize_utf8`` alone (one thread), process CPU seconds, best of
``--repeat`` rounds. The ``dedup`` imported is the one in the current
directory, so the same script times another checkout's build when run from
there (alternate the two for a side-by-side figure: the shared machine's
speed drifts by up to 30% within minutes). With ``--modes``, the word-step
modes of this build (``word_steps_for_tests``: 0 characters only, 2 AVX2,
3 AVX-512) alternate within each round instead; with ``--switch hash`` (or
``sort``), the build's SIMD shingle hashing (or sort) on and off.

    .venv/bin/python benchmarks/bench_normalize.py benchmarks/data/vntc-50k.jsonl [--modes 2,3 | --switch hash]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, ".")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dump", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--modes", help="word-step modes to alternate, e.g. 2,3 (this build only)")
    parser.add_argument("--switch", choices=["hash", "sort"], help="alternate this SIMD path on and off")
    args = parser.parse_args()

    import dedup._kernels as kernels
    from dedup.document import UniqueIds
    from dedup.io import read_documents
    from dedup.normalize import normalize_utf8
    from dedup.shingle import ShingleSpec
    from dedup.stages import sketch_units, text_batches

    batches = [t for _, t, _ in text_batches(read_documents([args.dump]), 2048, UniqueIds())]
    modes: list[int | None] = [int(m) for m in args.modes.split(",")] if args.modes else [None]
    switch = getattr(kernels, f"{args.switch}_simd_for_tests") if args.switch else kernels.word_steps_for_tests
    if args.switch:
        modes = [1, 0]
    best: dict[int | None, tuple[float, float]] = {}
    for _ in range(args.repeat):
        for mode in modes:
            was = switch(mode) if mode is not None else None
            try:
                start = time.process_time()
                for b in batches:
                    sketch_units(b.text, b.starts, ShingleSpec(), 128, 1, False, 1)
                fused = time.process_time() - start
                start = time.process_time()
                for b in batches:
                    normalize_utf8(b.text, b.starts, workers=1)
                alone = time.process_time() - start
            finally:
                if was is not None:
                    switch(was)
            old = best.get(mode, (fused, alone))
            best[mode] = (min(old[0], fused), min(old[1], alone))
    for mode, (fused, alone) in best.items():
        if mode is None:
            name = kernels.__file__
        else:
            name = f"{args.switch} {['off', 'on'][mode]}" if args.switch else f"mode {mode}"
        print(f"{name}: fused kernel {fused:.3f} CPU s, normalize_kernel {alone:.3f} CPU s (best of {args.repeat})")


if __name__ == "__main__":
    main()
