"""Persistent index benchmark: ``dedup index`` against ``dedup scan`` on the same dumps.

``python benchmarks/bench_index.py`` (after ``make test``; builds the dumps
with ``make_dump.py`` when they are missing, like ``bench_scale.py``):

1. the 50k VNTC dump: ``dedup scan`` and ``dedup index add`` into an empty
   index, side by side (interleaved rounds, medians), and whether the add
   reported exactly the scan's verified pairs;
2. the 1M dump: ``index add`` of all of it into an empty index (wall time,
   peak memory of the process tree, size on disk per document), then
   ``index add`` of 10,000 new documents, then ``index query`` of 1,000
   documents (half edited copies of indexed ones, half new), with the
   start-up cost (a query of one document) measured and subtracted;
3. writes its section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.metrics import measure, write_section  # noqa: E402  # after sys.path
from dedup.generate import republish  # noqa: E402  # after sys.path

SHARED = HERE.parents[1] / "shared" / "corpora"
DUMP_50K = HERE / "data" / "vntc-50k.jsonl"
DUMP_1M = HERE / "data" / "news-1m.jsonl"
SOURCES = [SHARED / "vntc" / "vntc.jsonl.gz", SHARED / "vn_baomoi" / "baomoi.jsonl.gz"]
DEDUP = str(Path(sys.executable).with_name("dedup"))


def run(*args: str) -> tuple[float, int]:
    """Wall seconds and peak KiB of one ``dedup`` command writing JSONL quietly."""
    return measure([DEDUP, *args, "--format", "jsonl", "-q"])


def ensure_dumps() -> None:
    if not DUMP_50K.exists():
        cmd = [sys.executable, str(HERE / "make_dump.py"), "--docs", "50000", "--dup-rate", "0.2", "--seed", "1"]
        subprocess.run([*cmd, "--out", str(DUMP_50K)], check=True)
    if not DUMP_1M.exists():
        cmd = [sys.executable, str(HERE / "make_dump.py"), "--docs", "1000000", "--dup-rate", "0.2"]
        for source in SOURCES:
            cmd += ["--source", str(source)]
        subprocess.run([*cmd, "--out", str(DUMP_1M)], check=True)


def pairs_of_add(path: Path) -> set[tuple[str, str]]:
    """Unordered pairs from ``index add --format jsonl`` records."""
    out = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            for match in record["matches"]:
                out.add(tuple(sorted((record["id"], match["id"]))))
    return out  # type: ignore[return-value]


def pairs_of_scan(path: Path) -> set[tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        return {tuple(sorted((r["a"], r["b"]))) for r in map(json.loads, f)}  # type: ignore[misc]


def compare_50k(folder: Path, rounds: int) -> list[str]:
    scan_times, add_times, scan_peaks, add_peaks = [], [], [], []
    same = True
    for _ in range(rounds):
        scan_out = folder / "scan.jsonl"
        seconds, peak = measure(
            [DEDUP, "scan", str(DUMP_50K), "--pairs", "--format", "jsonl", "-o", str(scan_out), "-q"]
        )
        scan_times.append(seconds)
        scan_peaks.append(peak)
        index = folder / "50k.dedup"
        index.unlink(missing_ok=True)
        subprocess.run([DEDUP, "index", "create", str(index)], check=True)
        add_out = folder / "add.jsonl"
        seconds, peak = measure(
            [DEDUP, "index", "add", str(index), str(DUMP_50K), "--format", "jsonl", "-o", str(add_out), "-q"]
        )
        add_times.append(seconds)
        add_peaks.append(peak)
        same = same and pairs_of_add(add_out) == pairs_of_scan(scan_out)
    scan_s, add_s = statistics.median(scan_times), statistics.median(add_times)
    scan_mib, add_mib = max(scan_peaks) / 1024, max(add_peaks) / 1024
    return [
        "| run (50,000 VNTC documents) | wall time | docs/s | peak memory |",
        "|---|---:|---:|---:|",
        f"| `dedup scan --pairs` | {scan_s:.2f} s | {50_000 / scan_s:,.0f} | {scan_mib:.0f} MiB |",
        f"| `dedup index add` (empty index) | {add_s:.2f} s | {50_000 / add_s:,.0f} | {add_mib:.0f} MiB |",
        "",
        f"`index add` takes {add_s / scan_s:.2f}x the time of `scan` (median of {rounds} interleaved rounds); "
        f"the pairs it reports are {'exactly' if same else 'NOT'} the scan's verified pairs.",
    ]


def query_documents(folder: Path, count: int) -> Path:
    """``count`` query documents: half edited copies of indexed ones, half new."""
    rng = random.Random(7)
    indexed: list[str] = []
    with open(DUMP_1M, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i % 997 == 0:
                indexed.append(json.loads(line)["text"])
            if len(indexed) >= count // 2:
                break
    fresh = folder / "fresh.jsonl"
    subprocess.run([DEDUP, "generate", str(fresh), "--docs", str(count), "--seed", "11", "-q"], check=True)
    new = [json.loads(line)["text"] for line in fresh.read_text(encoding="utf-8").splitlines()][: count - len(indexed)]
    path = folder / "queries.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for i, text in enumerate([republish(t, rng) for t in indexed] + new):
            f.write(json.dumps({"id": f"q-{i}", "text": text}, ensure_ascii=False) + "\n")
    return path


def scale_1m(folder: Path) -> list[str]:
    index = folder / "1m.dedup"
    subprocess.run([DEDUP, "index", "create", str(index)], check=True)
    add_s, add_peak = measure(
        [DEDUP, "index", "add", str(index), str(DUMP_1M), "--format", "jsonl", "-o", os.devnull, "-q"]
    )
    print(f"1M add: {add_s:.1f} s, {add_peak / 2**20:.2f} GiB", flush=True)
    size = sum(p.stat().st_size for p in folder.glob("1m.dedup*"))
    more = folder / "more.jsonl"
    subprocess.run([DEDUP, "generate", str(more), "--docs", "10000", "--seed", "5", "-q"], check=True)
    more_s, _ = run("index", "add", str(index), str(more), "-o", os.devnull)
    queries = query_documents(folder, 1000)
    one = folder / "one.jsonl"
    one.write_text(queries.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    start_s, _ = measure([DEDUP, "index", "query", str(index), str(one), "--format", "jsonl", "-o", os.devnull, "-q"])
    query_s, _ = measure(
        [DEDUP, "index", "query", str(index), str(queries), "--format", "jsonl", "-o", os.devnull, "-q"]
    )
    work = max(query_s - start_s, 1e-9)
    return [
        "| step (1,000,000-document dump) | wall time | rate | peak memory |",
        "|---|---:|---:|---:|",
        f"| `index add` of all into an empty index | {add_s:.1f} s | {1_000_000 / add_s:,.0f} docs/s | "
        f"{add_peak / 2**20:.2f} GiB |",
        f"| `index add` of 10,000 more | {more_s:.1f} s | {10_000 / more_s:,.0f} docs/s | |",
        f"| `index query` of 1,000 (500 edited copies, 500 new) | {query_s:.2f} s ({start_s:.2f} s start-up) | "
        f"{1000 / work:,.0f} queries/s of work | |",
        "",
        f"Index size on disk: {size / 2**30:.2f} GiB, {size / 1_010_000:,.0f} bytes per document.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-1m", action="store_true", help="Only the 50k comparison.")
    args = parser.parse_args()
    ensure_dumps()
    with tempfile.TemporaryDirectory(prefix="dedup-index-bench-", dir=HERE / "data") as tmp:
        folder = Path(tmp)
        lines = [
            "## Persistent index: `dedup index` on the scan's dumps",
            "",
            "Reproduce with `.venv/bin/python benchmarks/bench_index.py` (after `make test`). Wall time and peak "
            "memory of each command's process tree (VmHWM), as in the other sections.",
            "",
            *compare_50k(folder, args.rounds),
        ]
        if not args.skip_1m:
            lines += ["", *scale_1m(folder)]
    write_section(HERE / "RESULTS.md", "index", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
