"""HTML pages and WARC archives as inputs (dedup.web through dedup.io)."""

from __future__ import annotations

import builtins
import gzip
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from test_web_pages import URL, build_pages, raw_warc_record, stories, warc_bytes, warc_record, write_pages

from dedup import Document, Skipped, find_duplicates, read_documents
from dedup.errors import InputError, UsageError
from dedup.io import collect_inputs

ARTICLE = (
    "<html><head><title>t</title></head><body><nav><a href='/'>Trang chủ</a> <a href='/x'>Thế giới</a></nav>"
    "<article><h1>Mưa lớn ở Hà Nội</h1><p>Chiều nay một trận mưa lớn kéo dài hai giờ làm ngập nhiều tuyến phố "
    "của thủ đô, giao thông ùn tắc tới tối.</p><p>Người dân phải dắt xe qua những đoạn nước sâu.</p></article>"
    "<footer>Bản quyền thuộc về tòa soạn</footer></body></html>"
)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inputs named as given (``a.html``), so skips name them so."""
    monkeypatch.chdir(tmp_path)


def _items(path: Path | str, **options: str) -> list[Document | Skipped]:
    return list(read_documents([path], **options))


def test_html_file_is_one_document_of_its_main_text(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text(ARTICLE, encoding="utf-8")
    [doc] = _items(tmp_path)
    assert isinstance(doc, Document) and doc.id == "a.html"
    assert doc.text.splitlines()[0] == "Mưa lớn ở Hà Nội"
    assert "Người dân phải dắt xe" in doc.text
    assert "Bản quyền" not in doc.text  # the footer is not main content


def test_html_text_all_keeps_menus_and_footer(tmp_path: Path) -> None:
    (tmp_path / "a.htm").write_text(ARTICLE, encoding="utf-8")
    [doc] = _items(tmp_path, html_text="all")
    assert isinstance(doc, Document)
    assert "Bản quyền thuộc về tòa soạn" in doc.text and "Trang chủ" in doc.text


def test_html_text_is_checked() -> None:
    with pytest.raises(UsageError, match="html_text must be 'main' or 'all'"):
        read_documents(["x"], html_text="body")


def test_html_in_a_legacy_encoding_is_decoded(tmp_path: Path) -> None:
    page = (
        '<html><head><meta charset="windows-1252"></head><body><article><p>Le café crème de la brasserie à '
        "côté de la gare, déjà célèbre, ferme ses portes après quarante années.</p></article></body></html>"
    )
    (tmp_path / "a.html").write_bytes(page.encode("cp1252"))
    [doc] = _items(tmp_path)
    assert isinstance(doc, Document) and "café crème de la brasserie à côté" in doc.text


def test_html_compressed_and_cut(tmp_path: Path) -> None:
    data = gzip.compress(ARTICLE.encode("utf-8"))
    (tmp_path / "a.html.gz").write_bytes(data)
    (tmp_path / "b.html.gz").write_bytes(data[: len(data) // 2])
    items = _items(tmp_path)
    assert isinstance(items[0], Document) and items[0].id == "a.html.gz"
    assert isinstance(items[1], Skipped)
    assert items[1].describe() == f"skipped {tmp_path}/b.html.gz: compressed file is truncated or corrupt"


def test_page_without_text_is_skipped_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "empty.html").write_text("<html><body><script>x()</script></body></html>", encoding="utf-8")
    [item] = _items("empty.html")
    assert isinstance(item, Skipped)
    assert item.describe() == "skipped empty.html: no text extracted (--html-text main)"


def test_warc_documents_are_html_responses_with_their_uri(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    data = (
        warc_record(URL + "a", ARTICLE.encode("utf-8"))
        + warc_record(URL + "logo.png", png, "image/png")
        + warc_record(URL + "gone", b"<html><body>Not found</body></html>", status="404 Not Found")
        + warc_record(URL + "a", ARTICLE.encode("utf-8"))
    )
    (tmp_path / "crawl.warc").write_bytes(data)
    items = _items("crawl.warc")
    assert [i.describe() for i in items if isinstance(i, Skipped)] == [
        "skipped crawl.warc:2: not HTML (image/png)",
        "skipped crawl.warc:3: HTTP status 404",
    ]
    docs = [i for i in items if isinstance(i, Document)]
    assert [(d.id, d.location) for d in docs] == [(URL + "a", "crawl.warc:1"), (URL + "a", "crawl.warc:4")]
    # A repeated URI is qualified by its location, as every repeated id.
    result = find_duplicates(items)
    assert result.clusters[0].ids == [URL + "a", "crawl.warc:4"]


@pytest.mark.parametrize("compress", [False, True])
def test_every_complete_record_before_a_cut_is_kept(tmp_path: Path, compress: bool) -> None:
    pages = build_pages(stories(3))
    names = list(pages)
    # Written once: a record's id and date differ each time it is written.
    records = [warc_record(URL + n, pages[n].encode("utf-8")) for n in names]
    members = [gzip.compress(r, mtime=0) if compress else r for r in records]
    whole = b"".join(members)
    ends = [sum(len(m) for m in members[: i + 1]) for i in range(len(members))]
    suffix = ".warc.gz" if compress else ".warc"
    for cut in range(0, len(whole), max(1, len(whole) // 211)):
        (tmp_path / f"cut{suffix}").write_bytes(whole[:cut])
        items = _items(f"cut{suffix}")
        complete = sum(end <= cut for end in ends)
        docs = [i for i in items if isinstance(i, Document)]
        assert [d.id for d in docs] == [URL + n for n in names[:complete]], cut
        skips = [i.describe() for i in items if isinstance(i, Skipped)]
        if cut == 0:
            assert skips == [f"skipped cut{suffix}: not a WARC file (no record found)"]
        elif cut not in ends:
            expected = (
                f"skipped cut{suffix}: compressed file is truncated or corrupt after record {complete}"
                if compress
                else f"skipped cut{suffix}:{complete + 1}: record is cut short (the file ends inside it)"
            )
            assert skips == [expected], cut


def test_chunked_gzipped_bodies_are_decoded(tmp_path: Path) -> None:
    (tmp_path / "coded.warc").write_bytes(warc_record(URL + "a", ARTICLE.encode("utf-8"), coded=True))
    [doc] = _items("coded.warc")
    assert isinstance(doc, Document) and "Người dân phải dắt xe" in doc.text


def _read_in_thread(name: str) -> list[Document | Skipped]:
    """The items of ``name``, failing (not hanging) when reading never ends."""
    import threading

    box: list[list[Document | Skipped]] = []
    reader = threading.Thread(target=lambda: box.append(_items(name)), daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert box, f"reading {name} did not end"
    return box[0]


def test_a_hostile_http_block_skips_its_record_only(tmp_path: Path) -> None:
    page = ARTICLE.encode("utf-8")
    head = b"Content-Type: text/html; charset=utf-8\r\n"
    data = (
        # "\xb2" is "²" in latin-1, a digit to str.isdigit and not to int().
        raw_warc_record(URL + "sup", b"HTTP/1.1 \xb2 OK\r\n" + head + b"\r\n" + page)
        # A negative chunk size once stepped back to itself forever.
        + raw_warc_record(
            URL + "neg", b"HTTP/1.1 200 OK\r\n" + head + b"Transfer-Encoding: chunked\r\n\r\n-6\r\nabcdef\r\n0\r\n\r\n"
        )
        # A bytes-to-bytes codec is no charset: the page is read as if none were declared.
        + raw_warc_record(URL + "b64", b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=base64\r\n\r\n" + page)
        + warc_record(URL + "ok", page)
    )
    (tmp_path / "crawl.warc").write_bytes(data)
    items = _read_in_thread("crawl.warc")
    assert [i.describe() for i in items if isinstance(i, Skipped)] == [
        "skipped crawl.warc:2: undecodable HTTP body (chunk size '-6' is not hexadecimal)"
    ]
    assert [i.id for i in items if isinstance(i, Document)] == [URL + "sup", URL + "b64", URL + "ok"]


def test_a_file_that_is_not_warc_is_reported(tmp_path: Path) -> None:
    (tmp_path / "notes.warc").write_text("hello\nthis is not a WARC file\n", encoding="utf-8")
    [item] = _items("notes.warc")
    assert isinstance(item, Skipped) and item.describe().startswith("skipped notes.warc: malformed WARC")


def test_html_and_warc_are_input_kinds(tmp_path: Path) -> None:
    for name in ("a.html", "b.HTM", "c.warc", "d.warc.gz"):
        (tmp_path / name).write_bytes(b"")
    kinds = {name: collect_inputs([name]).files[0].kind for name in ("a.html", "b.HTM", "c.warc", "d.warc.gz")}
    assert kinds == {"a.html": "html", "b.HTM": "html", "c.warc": "warc", "d.warc.gz": "warc"}


def test_missing_extra_is_an_input_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.html").write_text(ARTICLE, encoding="utf-8")
    real_import = builtins.__import__

    def no_web(name: str, *args: object, **kwargs: object) -> object:
        if name.split(".")[0] in ("fastwarc", "resiliparse"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_web)
    with pytest.raises(InputError, match=r"pip install 'dedup\[web\]'"):
        read_documents([tmp_path])
    (tmp_path / "a.html").unlink()
    (tmp_path / "b.txt").write_text("một văn bản", encoding="utf-8")
    assert len(_items(tmp_path)) == 1  # other inputs do not need it


def test_cli_names_the_missing_extra(tmp_path: Path) -> None:
    import subprocess

    (tmp_path / "a.html").write_text(ARTICLE, encoding="utf-8")
    blocker = tmp_path / "block"
    blocker.mkdir()
    for name in ("fastwarc", "resiliparse"):
        (blocker / name).mkdir()
        (blocker / name / "__init__.py").write_text("raise ImportError('not installed')\n")
    run = subprocess.run(
        [sys.executable, "-m", "dedup", "scan", str(tmp_path / "a.html")],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": f"{blocker}:{Path(__file__).parents[1]}", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert run.returncode == 2
    assert "dedup[web]" in run.stderr and "Traceback" not in run.stderr


def test_warc_scans_like_its_html_files(tmp_path: Path) -> None:
    pages = build_pages(stories(12))
    write_pages(tmp_path / "html", pages)
    (tmp_path / "all.warc.gz").write_bytes(warc_bytes(pages, compress=True))
    as_files = find_duplicates(read_documents([tmp_path / "html"]))
    as_warc = find_duplicates(read_documents([tmp_path / "all.warc.gz"]))
    assert as_files.documents == as_warc.documents == len(pages)
    assert [[URL + i for i in c.ids] for c in as_files.clusters] == [c.ids for c in as_warc.clusters]
    assert [c.similarities for c in as_files.clusters] == [c.similarities for c in as_warc.clusters]
