"""A news-site corpus as published: each story on two outlets' page templates.

The stories are the seed pages (``../shared/seeds``, else
``examples/originals``) and real articles of ``../shared/corpora/vn_baomoi``
(the first few dozen long enough; when ``../shared`` is not there, originals
from ``dedup.generate``, said so on stderr, never a skip). Each story is put
in two outlet templates: a header (outlet name, menu, date line), the story,
a related-news box of four titles of that outlet's other stories, a
subscription line and a footer. So one story on two sites shares less than
the threshold (the templates differ), and two stories on one site share
their template: what ``--ignore-boilerplate`` is for.

Also imported by ``benchmarks/bench_web.py``; the tests here check the
corpus is what it claims.
"""

from __future__ import annotations

import gzip
import html
import io
import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
BAOMOI = SHARED / "corpora" / "vn_baomoi" / "baomoi.jsonl.gz"
SEEDS = SHARED / "seeds"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "originals"


@dataclass(frozen=True)
class Story:
    """A story: its title and paragraphs."""

    title: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class Outlet:
    """A news site's page template."""

    key: str
    name: str
    menu: tuple[str, ...]
    related: str
    subscribe: str
    footer: str
    hour: int


OUTLETS = (
    Outlet(
        "a",
        "Báo Tin Nhanh Việt Nam",
        ("Trang chủ", "Thời sự", "Thế giới", "Kinh doanh", "Giải trí", "Thể thao", "Pháp luật"),
        "Tin liên quan",
        "Mời quý độc giả theo dõi Báo Tin Nhanh Việt Nam trên Facebook và Zalo",
        "Bản quyền thuộc về Báo Tin Nhanh Việt Nam, cấm sao chép dưới mọi hình thức",
        8,
    ),
    Outlet(
        "b",
        "Thời Sự Hai Bốn Giờ",
        ("Mới nhất", "Xã hội", "Quốc tế", "Tài chính", "Văn hóa", "Công nghệ", "Sức khỏe"),
        "Đọc thêm",
        "Đăng ký nhận bản tin Thời Sự Hai Bốn Giờ mỗi sáng qua thư điện tử, hoàn toàn miễn phí",
        "Giấy phép số 123/GP-BTTTT do Bộ Thông tin và Truyền thông cấp, ghi rõ nguồn khi phát hành lại",
        14,
    ),
)


def _seed_stories() -> list[Story]:
    folder = SEEDS if SEEDS.is_dir() else EXAMPLES
    stories = []
    for path in sorted(folder.glob("*.txt")):
        lines = [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
        stories.append(Story(lines[0], tuple(lines[1:])))
    return stories


def _paragraphs(body: str) -> tuple[str, ...]:
    sentences = re.split(r"(?<=[.!?])\s+", body.strip())
    return tuple(" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3))


def _corpus_stories(count: int) -> list[Story]:
    """The first ``count`` baomoi articles of 150 words or more, titles
    distinct (the set has a few stories filed twice)."""
    stories: list[Story] = []
    titles: set[str] = set()
    with gzip.open(BAOMOI, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            parts = record["text"].split("\n")
            body = " ".join(parts[2:])
            title = record["title"].strip()
            if len(body.split()) < 150 or title.lower() in titles:
                continue
            titles.add(title.lower())
            stories.append(Story(title, (record["sapo"].strip(), *_paragraphs(body))))
            if len(stories) == count:
                break
    return stories


def _generated_stories(count: int) -> list[Story]:
    from dedup.generate import generate_dump

    out = io.StringIO()
    generate_dump(out, docs=count, dup_rate=0.0, seed=7)
    stories = []
    for line in out.getvalue().splitlines():
        text = json.loads(line)["text"]
        paragraphs = [p for p in text.split("\n") if p.strip()]
        stories.append(Story(" ".join(paragraphs[0].split()[:9]), tuple(paragraphs)))
    return stories


def stories(count: int = 40) -> list[Story]:
    """The seed stories, then ``count`` real articles (generated ones when
    ``../shared`` is missing: said on stderr, the tests still run)."""
    if BAOMOI.is_file():
        return _seed_stories() + _corpus_stories(count)
    print(f"test_web_pages: {BAOMOI} not found; generated stories instead", file=sys.stderr)
    return _seed_stories() + _generated_stories(count)


def page(outlet: Outlet, number: int, story: Story, related: list[str]) -> str:
    """One page of ``story`` on ``outlet``'s template."""
    e = html.escape
    menu = "".join(f'<li><a href="/{i}">{e(item)}</a></li>' for i, item in enumerate(outlet.menu))
    paragraphs = "".join(f"<p>{e(p)}</p>" for p in story.paragraphs)
    links = "".join(f'<p><a href="/tin/{i}">{e(title)}</a></p>' for i, title in enumerate(related))
    day = 1 + number % 28
    return (
        f'<!DOCTYPE html>\n<html lang="vi"><head><meta charset="utf-8"><title>{e(story.title)} | {e(outlet.name)}'
        f"</title><script>var page = {number};</script></head><body>"
        f'<header><div class="logo">{e(outlet.name)}</div><nav><ul class="menu">{menu}</ul></nav></header>'
        f'<main><article><div class="date">{day:02d}/02/2017 {outlet.hour:02d}:{number % 60:02d}</div>'
        f"<h1>{e(story.title)}</h1>{paragraphs}"
        # Unnamed boxes: a main-content extractor keeps them, as the seed pages show.
        f"<div><h3>{e(outlet.related)}</h3>{links}</div>"
        f'<p class="note">{e(outlet.subscribe)}</p></article></main>'
        f"<footer><p>{e(outlet.footer)}</p></footer></body></html>\n"
    )


def build_pages(story_list: list[Story], seed: int = 1) -> dict[str, str]:
    """``{"a/007.html": page, ...}``: every story on every outlet, related
    titles drawn (deterministically) from the outlet's other stories."""
    rng = random.Random(seed)
    pages = {}
    titles = [s.title for s in story_list]
    for outlet in OUTLETS:
        for number, story in enumerate(story_list):
            others = titles[:number] + titles[number + 1 :]
            pages[f"{outlet.key}/{number:03d}.html"] = page(outlet, number, story, rng.sample(others, 4))
    return pages


def write_pages(folder: Path, pages: dict[str, str]) -> None:
    """Write the pages as files under ``folder``."""
    for name, text in pages.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


URL = "https://news.example/"


def warc_record(
    uri: str,
    body: bytes,
    content_type: str = "text/html; charset=utf-8",
    status: str = "200 OK",
    coded: bool = False,
) -> bytes:
    """One WARC response record (uncompressed), written by fastwarc;
    ``coded``: the body sent gzip-compressed in chunks, as a server may."""
    if coded:
        payload = gzip.compress(body, mtime=0)
        chunks = [payload[i : i + 100] for i in range(0, len(payload), 100)]
        sent = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        framing = "Content-Encoding: gzip\r\nTransfer-Encoding: chunked"
    else:
        sent, framing = body, f"Content-Length: {len(body)}"
    http = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{framing}\r\n\r\n".encode() + sent
    return raw_warc_record(uri, http)


def raw_warc_record(uri: str, http: bytes) -> bytes:
    """A response record holding ``http`` byte for byte (fastwarc writes it)."""
    from fastwarc.warc import WarcRecord, WarcRecordType

    record = WarcRecord()
    record.init_headers(WarcRecordType.response)
    record.headers["WARC-Target-URI"] = uri
    record.headers["Content-Type"] = "application/http; msgtype=response"
    record.set_bytes_content(http)
    out = io.BytesIO()
    record.write(out)
    return out.getvalue()


def warc_bytes(pages: dict[str, str], compress: bool = False) -> bytes:
    """The pages as one WARC (target URI ``URL + name``); ``compress``: one
    gzip member per record, as crawlers write them."""
    records = [warc_record(URL + name, text.encode("utf-8")) for name, text in pages.items()]
    return b"".join(gzip.compress(r, mtime=0) if compress else r for r in records)


# ---------------------------------------------------------------- the corpus is what it claims


def test_every_story_is_on_both_outlets_with_its_template() -> None:
    story_list = stories(6)
    pages = build_pages(story_list)
    assert len(story_list) == 9  # three seeds, six articles
    assert len(pages) == 2 * len(story_list)
    for outlet in OUTLETS:
        for number, story in enumerate(story_list):
            text = pages[f"{outlet.key}/{number:03d}.html"]
            assert html.escape(story.paragraphs[-1]) in text
            assert html.escape(outlet.subscribe) in text
            assert text.count('<p><a href="/tin/') == 4


def test_related_titles_are_the_outlets_other_stories() -> None:
    story_list = stories(6)
    pages = build_pages(story_list)
    titles = {html.escape(s.title) for s in story_list}
    for name, text in pages.items():
        own = html.escape(story_list[int(name[2:5])].title)
        related = re.findall(r'<p><a href="/tin/[^"]*">([^<]*)</a>', text)
        assert set(related) <= titles - {own}
