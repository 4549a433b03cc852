"""WARC + extraction throughput against the plain JSONL scan (benchmarks/RESULTS.md, section "web").

The pages are tests/test_web_pages.py's corpus (seeds and baomoi articles,
each story on two outlet templates). The same pages are scanned as a WARC, a
gzipped WARC and .html files, and their extracted main texts as JSONL (what
the scan sees once a page is read). Each command runs as its own process,
rounds interleaved; the median wall time is reported. Then the libraries
alone, in this process: main-text extraction (resiliparse against
trafilatura) and WARC reading (fastwarc against warcio), when installed.

Usage: python benchmarks/bench_web.py [--stories 5000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_web_pages import build_pages, stories, warc_bytes, write_pages

from dedup.io import read_documents

DEDUP = [sys.executable, "-m", "dedup"]


def _timed(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([*DEDUP, *args, "--format", "jsonl", "-o", "/dev/null", "-q"], check=True)
    return time.perf_counter() - started


def _per_second(work: Callable[[], int], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        count = work()
        times.append(time.perf_counter() - started)
    return count / statistics.median(times)


def _libraries(pages: dict[str, str], warc: Path, rounds: int) -> list[str]:
    rows = []
    htmls = list(pages.values())[:1000]  # trafilatura is slow: the first 1,000 pages
    from resiliparse.extract.html2text import extract_plain_text

    def resiliparse_main() -> int:
        return sum(bool(extract_plain_text(h, main_content=True)) for h in htmls)

    rows.append(f"| resiliparse 2.0 main content | {_per_second(resiliparse_main, rounds):,.0f} pages/s |")
    try:
        import trafilatura

        def trafilatura_default() -> int:
            return sum(bool(trafilatura.extract(h)) for h in htmls)

        def trafilatura_fast() -> int:
            return sum(bool(trafilatura.extract(h, fast=True)) for h in htmls)

        rows.append(f"| trafilatura 2.3 extract | {_per_second(trafilatura_default, rounds):,.0f} pages/s |")
        rows.append(f"| trafilatura 2.3 extract(fast=True) | {_per_second(trafilatura_fast, rounds):,.0f} pages/s |")
    except ImportError:
        rows.append("| trafilatura | not installed |")
    from fastwarc.warc import ArchiveIterator

    def fastwarc_read() -> int:
        with open(warc, "rb") as stream:
            return sum(len(r.reader.read()) > 0 for r in ArchiveIterator(stream, parse_http=True))

    rows.append(f"| fastwarc 2.0 read records | {_per_second(fastwarc_read, rounds):,.0f} records/s |")
    try:
        from warcio.archiveiterator import ArchiveIterator as WarcioIterator

        def warcio_read() -> int:
            with open(warc, "rb") as stream:
                return sum(len(r.content_stream().read()) > 0 for r in WarcioIterator(stream))

        rows.append(f"| warcio 1.8 read records | {_per_second(warcio_read, rounds):,.0f} records/s |")
    except ImportError:
        rows.append("| warcio | not installed |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    pages = build_pages(stories(options.stories))
    html_bytes = sum(len(p.encode("utf-8")) for p in pages.values())
    with tempfile.TemporaryDirectory(prefix="bench-web-") as folder:
        root = Path(folder)
        write_pages(root / "html", pages)
        (root / "pages.warc").write_bytes(warc_bytes(pages))
        (root / "pages.warc.gz").write_bytes(warc_bytes(pages, compress=True))
        with open(root / "texts.jsonl", "w", encoding="utf-8") as out:
            for doc in read_documents([root / "pages.warc"]):
                out.write(json.dumps({"id": getattr(doc, "id", ""), "text": getattr(doc, "text", "")}) + "\n")
        runs = {
            "JSONL of the extracted texts (plain scan)": [str(root / "texts.jsonl")],
            ".warc": [str(root / "pages.warc")],
            ".warc.gz": [str(root / "pages.warc.gz")],
            ".html files": [str(root / "html")],
            ".warc.gz --ignore-boilerplate": [str(root / "pages.warc.gz"), "--ignore-boilerplate"],
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(options.rounds):
            for name, args in runs.items():
                times[name].append(_timed(["scan", *args]))
        # The .html files' size is the HTML's; every other input is one file.
        sizes = {name: Path(args[0]).stat().st_size for name, args in runs.items() if name != ".html files"}
        sizes[".html files"] = html_bytes
        base = statistics.median(times["JSONL of the extracted texts (plain scan)"])
        print(f"{len(pages):,} pages, {html_bytes / 1e6:.1f} MB of HTML; median of {options.rounds} rounds\n")
        print("| input | wall time | pages/s | MB/s of input | HTML MB/s | time vs JSONL |")
        print("|---|---:|---:|---:|---:|---:|")
        for name in runs:
            wall = statistics.median(times[name])
            print(
                f"| {name} | {wall:.2f} s | {len(pages) / wall:,.0f} | {sizes[name] / 1e6 / wall:.1f} | "
                f"{html_bytes / 1e6 / wall:.1f} | {wall / base:.2f}x |"
            )
        print("\n| library alone (one thread) | throughput |\n|---|---:|")
        for row in _libraries(pages, root / "pages.warc", options.rounds):
            print(row)


if __name__ == "__main__":
    main()
