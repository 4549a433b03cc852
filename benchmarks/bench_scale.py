"""Out-of-core scale benchmark: a 1M-document dump under a memory budget.

``python benchmarks/bench_scale.py`` (after ``make test``):

1. builds ``benchmarks/data/news-1m.jsonl`` (VNTC + baomoi articles, edited
   copies, composites; ``make_dump.py``) unless it exists;
2. scans it end to end with ``--memory 2G``: wall time, docs/s, peak
   resident memory of the process (its VmHWM high-water mark, from /proc);
3. on the first 100k documents, checks that spilling everything
   (``--memory 0``), a 2G budget and an all-in-memory scan (``--memory 64G``)
   give byte-identical clusters;
4. writes its section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.metrics import measure, write_section  # noqa: E402  # after sys.path

SHARED = HERE.parents[1] / "shared" / "corpora"
DUMP = HERE / "data" / "news-1m.jsonl"
SOURCES = [SHARED / "vntc" / "vntc.jsonl.gz", SHARED / "vn_baomoi" / "baomoi.jsonl.gz"]


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def scan(path: Path, out: Path, memory: str) -> tuple[float, int, str]:
    dedup_bin = str(Path(sys.executable).with_name("dedup"))
    cmd = [dedup_bin, "scan", str(path), "--format", "jsonl", "--output", str(out), "-q", "--memory", memory]
    seconds, peak_kib = measure(cmd)
    return seconds, peak_kib, hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    args = parser.parse_args()
    if not DUMP.exists():
        cmd = [sys.executable, str(HERE / "make_dump.py"), "--docs", str(args.docs), "--dup-rate", "0.2"]
        for source in SOURCES:
            cmd += ["--source", str(source)]
        subprocess.run([*cmd, "--out", str(DUMP)], check=True)
    n_docs = count_lines(DUMP)
    with tempfile.TemporaryDirectory(prefix="dedup-scale-") as tmp:
        folder = Path(tmp)
        scaling = []
        for size in (10_000, 100_000):
            prefix = folder / f"prefix-{size}.jsonl"
            with open(DUMP, "rb") as src, open(prefix, "wb") as dst:
                for _, line in zip(range(size), src, strict=False):
                    dst.write(line)
            s, p, _ = scan(prefix, folder / "prefix.jsonl", "2G")
            scaling.append((size, s, p))
            print(f"{size}: {s:.1f} s, {p / 1024:.0f} MiB", flush=True)
        seconds, peak, _ = scan(DUMP, folder / "full.jsonl", "2G")
        scaling.append((n_docs, seconds, peak))
        clusters = count_lines(folder / "full.jsonl")
        print(f"1M: {seconds:.1f} s, {peak / 2**20:.2f} GiB, {clusters} clusters", flush=True)
        sample = folder / "prefix-100000.jsonl"
        budgets = {}
        for memory in ("0", "2G", "64G"):
            budgets[memory] = scan(sample, folder / f"sample-{memory}.jsonl", memory)
            print(
                f"100k --memory {memory}: {budgets[memory][0]:.1f} s, {budgets[memory][1] / 1024:.0f} MiB", flush=True
            )
    identical = len({digest for _, _, digest in budgets.values()}) == 1
    (n0, t0, _), (n1, t1, _) = scaling[0], scaling[-1]
    exponent = math.log(t1 / t0) / math.log(n1 / n0)
    lines = [
        "## Scale: 1,000,000 documents out of core",
        "",
        "Reproduce with `.venv/bin/python benchmarks/bench_scale.py` (after `make test`). The dump is built by "
        "`benchmarks/make_dump.py --docs 1000000 --dup-rate 0.2` from VNTC and baomoi (119k real articles, "
        "then composites of their paragraphs, 20% edited copies), 3 GB of JSONL.",
        "",
        "| run | documents | wall time | docs/s | peak memory |",
        "|---|---:|---:|---:|---:|",
    ]
    for size, s, p in scaling:
        lines.append(f"| `dedup scan --memory 2G` | {size:,} | {s:.1f} s | {size / s:,.0f} | {p / 1024:.0f} MiB |")
    for memory, (s, p, _) in budgets.items():
        lines.append(
            f"| first 100k, `--memory {memory}` | 100,000 | {s:.1f} s | {100_000 / s:,.0f} | {p / 1024:.0f} MiB |"
        )
    lines += [
        "",
        f"{clusters:,} clusters on the full dump. Growth exponent of wall time from {n0:,} to {n1:,} documents: "
        f"{exponent:.2f} (time proportional to n^{exponent:.2f}; start-up weighs on the small end). On the 100k "
        f"sample, spilling everything, a 2G budget and an all-in-memory scan give "
        f"{'byte-identical' if identical else 'DIFFERENT'} output.",
    ]
    write_section(HERE / "RESULTS.md", "scale-1m", "\n".join(lines))
    print("\n".join(lines))
    if not identical:
        sys.exit(1)


if __name__ == "__main__":
    main()
