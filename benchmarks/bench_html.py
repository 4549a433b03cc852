"""HTML report: time to render 1,000 clusters of a big dump, its size, and the
time Chromium takes to open it (issue 12).

Usage (after ``make test``; Chromium from ``apt-get install chromium``)::

    .venv/bin/python benchmarks/bench_html.py benchmarks/data/news-1m.jsonl [--limit 200000]

Steps, one process: the scan (reading through :class:`dedup.readback.Locations`,
as ``scan --format html`` does), then the report alone: reading the shown
members' texts back by position, shared passages, writing the page (the
"render" figure), then Chromium opening the file from disk until its load
event, and a click on the first member.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.chromium import launch  # after sys.path
from dedup.html_report import ReportHeader, ScanHtml
from dedup.io import collect_inputs
from dedup.output import open_output
from dedup.pipeline import ScanConfig, find_duplicates
from dedup.readback import Locations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dump")
    parser.add_argument("--limit", type=int, default=0, help="scan only the first N documents")
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--memory", default="2G")
    args = parser.parse_args()

    from dedup.store import parse_memory

    inputs = collect_inputs([args.dump])
    locations = Locations(inputs)
    config = ScanConfig(memory=parse_memory(args.memory))
    started = time.perf_counter()
    documents = locations.read_documents()
    if args.limit:
        documents = itertools.islice(documents, args.limit)
    result = find_duplicates(documents, config)
    scanned = time.perf_counter() - started
    print(f"scan: {result.documents:,} documents, {len(result.clusters):,} clusters, {scanned:.1f} s")

    no_words = sum(s.reason == "no words after normalization" for s in result.skipped)
    renamed = {r.new_id for r in result.renamed}

    read_back: list[float] = []

    def texts(wanted: dict[int, str]) -> dict[int, str]:
        started = time.perf_counter()
        found = locations.texts(wanted, no_words=no_words, renamed=renamed)
        assert found is not None, "positions disagree with the scan"
        read_back.append(time.perf_counter() - started)
        print(f"  of which reading {len(found):,} texts back by position: {read_back[0]:.2f} s")
        return found

    header = ReportHeader("scan", [args.dump], {"threshold": 0.8}, result.documents, result.skipped, scanned)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.html"
        started = time.perf_counter()
        with open_output(path) as out:
            ScanHtml(header, texts, max_clusters=args.clusters)(out, result.clusters)
        rendered = time.perf_counter() - started
        size = os.path.getsize(path)
        shown = min(args.clusters, len(result.clusters))
        print(f"render: {shown:,} clusters in {rendered:.2f} s, {size / 2**20:.1f} MiB")
        _open_in_chromium(path)


def _open_in_chromium(path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        for attempt in range(3):
            started = time.perf_counter()
            page.goto(path.as_uri(), wait_until="load")
            loaded = time.perf_counter() - started
            started = time.perf_counter()
            page.locator("button.member").first.click()
            page.locator("article .pane mark").first.wait_for()
            clicked = time.perf_counter() - started
            print(f"chromium open #{attempt + 1}: load event {loaded:.2f} s, first member shown {clicked:.3f} s")
        browser.close()
        assert not errors, errors


if __name__ == "__main__":
    main()
