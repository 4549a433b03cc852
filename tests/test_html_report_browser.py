"""HTML reports opened in a real browser: Debian's headless Chromium driven by
Playwright (never a browser Playwright downloads).

Without Chromium (or Playwright) these tests skip, saying why; under CI
(``CI=true``) they fail instead: ``.ci/run`` installs Chromium first.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from benchmarks.chromium import CHROMIUM, launch
from dedup.cli import app
from dedup.passages import shared_passages

try:
    from playwright.sync_api import expect
except ImportError:  # the tests skip (or fail under CI) with the reason, in the browser fixture
    expect = None

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
STORY = "Mỹ và Taliban nối lại đàm phán hòa bình tại thủ đô Doha của Qatar sau nhiều tháng căng thẳng"
HOSTILE = (
    f"<script>window.pwned = 1</script> {STORY} <img src=x onerror='window.pwned = 2'>"
    " </script><!-- Phần riêng của bản đăng lại"
)
runner = CliRunner()


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does), or set DEDUP_CHROMIUM"
    try:
        import playwright.sync_api  # noqa: F401  # only whether it is there
    except ImportError:
        return "playwright is not installed: pip install -e '.[test]'"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must test HTML reports in a browser: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = launch(p)
        yield launched
        launched.close()


class _Page:
    """A page that records console errors, uncaught exceptions and network requests."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri())

    def marks(self, scope: str) -> list[str]:
        """The texts of the <mark> elements in ``scope`` once the script has drawn them."""
        self.page.locator(f"{scope} mark").first.wait_for()
        texts: list[str] = self.page.locator(f"{scope} mark").all_text_contents()
        return texts


def _scan_page(tmp_path: Path) -> Path:
    corpus = tmp_path / "in"
    shutil.copytree(EXAMPLES, corpus)
    (corpus / "story.txt").write_text(f"Tin nóng. {STORY}. Một đoạn chỉ có ở bản này.", encoding="utf-8")
    (corpus / "zz-hostile<b>.txt").write_text(HOSTILE, encoding="utf-8")
    out = tmp_path / "scan.html"
    result = runner.invoke(app, ["scan", str(corpus), "--threshold", "0.2", "--format", "html", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return out


def test_scan_report_in_chromium(browser: Any, tmp_path: Path) -> None:
    out = _scan_page(tmp_path)
    corpus = tmp_path / "in"
    jsonl = runner.invoke(app, ["scan", str(corpus), "--threshold", "0.2", "--format", "jsonl", "-q"]).stdout
    clusters = len(jsonl.splitlines())
    view = _Page(browser, out)
    page = view.page
    assert page.locator("#cluster-count").inner_text() == str(clusters)
    assert page.locator("article.cluster").count() == clusters

    # Clicking a member shows it beside the kept document, shared passages in <mark>.
    article = page.locator("article.cluster", has=page.get_by_role("button", name="zz-hostile<b>.txt"))
    article.get_by_role("button", name="zz-hostile<b>.txt").click()
    keep_id = article.locator("header code").inner_text()
    kept_text = (corpus / keep_id).read_text(encoding="utf-8")
    expected_kept, expected_member = shared_passages(kept_text, HOSTILE)
    assert expected_member
    assert view.marks(f"#{article.get_attribute('id')} .pane:nth-child(1)") == [
        kept_text[s:e] for s, e in expected_kept
    ]
    assert view.marks(f"#{article.get_attribute('id')} .pane:nth-child(2)") == [
        HOSTILE[s:e] for s, e in expected_member
    ]
    # The story's markup shows as text and never runs.
    assert "<script>window.pwned = 1</script>" in article.locator(".pane").nth(1).inner_text()
    assert page.evaluate("window.pwned") is None
    assert page.locator("main img").count() == 0

    # The filter box filters by text and by id.
    shown = page.locator("#filter-count")
    for query, expected in [("đoạn chỉ có ở bản này", 1), ("taliban-refuses", 1), ("", clusters)]:
        page.fill("#filter", query)
        page.press("#filter", "Enter")
        expect(shown).to_have_text(f"{expected} of {clusters} clusters shown")
        assert page.locator("article.cluster:visible").count() == expected

    assert view.errors == []
    assert all(url.startswith("file://") for url in view.requests)


def test_blocks_report_in_chromium(browser: Any, tmp_path: Path) -> None:
    out = tmp_path / "blocks.html"
    result = runner.invoke(app, ["blocks", str(EXAMPLES / "originals"), "--format", "html", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    view = _Page(browser, out)
    page = view.page
    groups = page.locator("article.group")
    assert page.locator("#cluster-count").get_attribute("data-count") == str(groups.count())
    first = groups.first.locator("button.occurrence").first
    block = groups.first.locator("blockquote").inner_text()
    first.click()
    viewer = page.locator("#viewer")
    assert viewer.locator("h2").inner_text() == first.get_attribute("data-doc")
    assert block in view.marks("#viewer")
    # Each marked block links to the group's other occurrences.
    assert viewer.locator(".others button.occurrence").count() > 0
    assert view.errors == []


def test_index_query_report_in_chromium(browser: Any, tmp_path: Path) -> None:
    index = tmp_path / "i.idx"
    assert runner.invoke(app, ["index", "create", str(index), "-q"]).exit_code == 0
    assert runner.invoke(app, ["index", "add", str(index), str(EXAMPLES / "originals"), "-q"]).exit_code == 0
    out = tmp_path / "query.html"
    args = ["index", "query", str(index), str(EXAMPLES / "republished"), "--format", "html", "-o", str(out), "-q"]
    assert runner.invoke(app, args).exit_code == 0
    view = _Page(browser, out)
    page = view.page
    assert page.locator("#cluster-count").get_attribute("data-count") == "3"
    page.locator("button.member").first.click()
    assert len(view.marks("article .pane:nth-child(1)")) >= 1
    assert len(view.marks("article .pane:nth-child(2)")) >= 1
    assert view.errors == []
