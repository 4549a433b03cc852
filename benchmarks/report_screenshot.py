"""The README's screenshot: a real ``dedup scan --format html`` report of the
seeds' clusters, opened in headless Chromium with a member chosen.

Usage (after ``make test``; Chromium from ``apt-get install chromium``)::

    .venv/bin/python benchmarks/report_screenshot.py [docs/report.png]

The corpus is ``../shared/seeds`` (``examples/originals`` when it is not
beside the checkout: the same three pages) plus their republished copies in
``examples/republished``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.chromium import launch  # noqa: E402  # after sys.path

SEEDS = ROOT.parent / "shared" / "seeds"


def main() -> None:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "report.png")
    originals = SEEDS if SEEDS.is_dir() else ROOT / "examples" / "originals"
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.html"
        dedup = Path(sys.executable).with_name("dedup")
        # Paths relative to the checkout, as a reader would type them: the header shows them.
        command = [str(dedup), "scan", os.path.relpath(originals, ROOT), "examples/republished"]
        subprocess.run([*command, "--format", "html", "--output", str(report), "--quiet"], check=True, cwd=ROOT)
        _shoot(report, target)
    print(f"wrote {target}")


def _shoot(report: Path, target: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1200, "height": 860}, device_scale_factor=1)
        page.goto(report.as_uri())
        # The republished copy with edits: the most telling pair.
        page.get_by_role("button", name="taliban-refuses-edited.md").click()
        article = page.locator("article.cluster", has=page.get_by_role("button", name="taliban-refuses-edited.md"))
        article.scroll_into_view_if_needed()
        page.evaluate("window.scrollTo(0, 0)")
        # The cluster with the edited copy first, under the header.
        page.evaluate(
            "(id) => document.getElementById(id).parentNode.prepend(document.getElementById(id))",
            article.get_attribute("id"),
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target), type="png")
        browser.close()


if __name__ == "__main__":
    main()
