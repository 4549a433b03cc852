"""scan --ignore-boilerplate: page templates removed before matching.

The acceptance corpus (tests/test_web_pages.py): every story on two outlets'
templates. One story on two outlets clusters once the templates are removed;
two stories on one outlet never cluster, with or without it.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from test_web_pages import URL, build_pages, stories, warc_bytes, write_pages

from dedup import Document, ScanConfig, Skipped, dask_engine, find_duplicates, find_repeated_blocks, read_documents
from dedup.blocks import find_boilerplate, find_duplicates_without_boilerplate
from dedup.errors import UsageError


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 articles and the three seeds, each on both outlets: 86 pages."""
    folder = tmp_path_factory.mktemp("site")
    write_pages(folder / "pages", build_pages(stories(40)))
    return folder / "pages"


def _story(doc_id: str) -> str:
    return doc_id.rsplit("/", 1)[-1][:3]


def _scan(site: Path, html_text: str, ignore: bool) -> list[list[str]]:
    if ignore:
        result = find_duplicates_without_boilerplate(lambda: read_documents([site], html_text=html_text))
    else:
        result = find_duplicates(read_documents([site], html_text=html_text))
    return [c.ids for c in result.clusters]


@pytest.mark.parametrize("html_text", ["main", "all"])
def test_one_story_on_two_outlets_clusters_without_the_templates(site: Path, html_text: str) -> None:
    clusters = _scan(site, html_text, ignore=True)
    stories_count = len(list(site.glob("a/*.html")))
    assert clusters == [[f"a/{n:03d}.html", f"b/{n:03d}.html"] for n in range(stories_count)]


@pytest.mark.parametrize("html_text", ["main", "all"])
def test_templates_alone_keep_one_story_apart_from_itself(site: Path, html_text: str) -> None:
    """Without --ignore-boilerplate the two outlets' copies of a story share
    less than the threshold for many stories: the templates weigh."""
    plain = _scan(site, html_text, ignore=False)
    assert len(plain) < len(list(site.glob("a/*.html"))) * 0.75


@pytest.mark.parametrize(("html_text", "ignore"), list(itertools.product(["main", "all"], [False, True])))
def test_two_stories_on_one_outlet_never_cluster(site: Path, html_text: str, ignore: bool) -> None:
    for cluster in _scan(site, html_text, ignore):
        assert len({_story(i) for i in cluster}) == 1, cluster


def test_warc_of_the_pages_clusters_like_the_files(site: Path, tmp_path: Path) -> None:
    pages = {p.relative_to(site).as_posix(): p.read_text(encoding="utf-8") for p in sorted(site.rglob("*.html"))}
    (tmp_path / "crawl.warc.gz").write_bytes(warc_bytes(pages, compress=True))
    as_warc = _scan(tmp_path / "crawl.warc.gz", "main", ignore=True)
    assert as_warc == [[URL + i for i in c] for c in _scan(site, "main", ignore=True)]


def test_find_boilerplate_is_what_blocks_marks(site: Path) -> None:
    def docs() -> Iterator[Document | Skipped]:
        return read_documents([site])

    marked = {g.text for g in find_repeated_blocks(docs).groups if g.boilerplate}
    boilerplate = find_boilerplate(docs)
    cleaned = list(boilerplate.clean(docs()))
    assert len(boilerplate.hashes) == len(marked)
    left = {line for d in cleaned if isinstance(d, Document) for line in d.text.split("\n")}
    assert not marked & left
    assert boilerplate.removed == sum(g.count for g in find_repeated_blocks(docs).groups if g.boilerplate)


def test_a_line_repeated_in_one_document_is_not_boilerplate() -> None:
    """Boilerplate is counted in documents, not occurrences."""
    line = "Mời quý độc giả theo dõi chúng tôi trên mạng xã hội"
    docs = [("a", f"{line}\n{line}\n{line}\nmột đoạn khác hẳn của bài viết này"), ("b", "chuyện khác hẳn hôm nay")]
    assert len(find_boilerplate(docs).hashes) == 0
    docs += [("c", f"{line}\nbài thứ ba có nội dung riêng"), ("d", f"{line}\nbài thứ tư cũng có nội dung riêng")]
    boilerplate = find_boilerplate(docs)
    assert len(boilerplate.hashes) == 1
    cleaned = list(boilerplate.clean(docs))
    assert [d.text for d in cleaned if isinstance(d, Document)][2:] == [
        "bài thứ ba có nội dung riêng",
        "bài thứ tư cũng có nội dung riêng",
    ]
    assert (boilerplate.removed, boilerplate.changed) == (5, 3)


def test_clean_streams_and_passes_skips_through() -> None:
    """A batch at a time (an endless stream gives its first items); skips
    and documents each keep their order (a batch's skips come first)."""
    boilerplate = find_boilerplate([("a", "x y z w v"), ("b", "x y z w v"), ("c", "x y z w v")])

    def endless() -> Iterator[Document | Skipped]:
        for n in itertools.count():
            yield Skipped(f"bad{n}", None, "empty document") if n % 3 == 0 else Document(str(n), "x y z w v\nriêng")

    head = list(itertools.islice(boilerplate.clean(endless()), 20000))
    skips = [i.path for i in head if isinstance(i, Skipped)]
    docs = [i for i in head if isinstance(i, Document)]
    assert skips == [f"bad{n}" for n in range(0, 3 * len(skips), 3)]
    assert [d.id for d in docs] == [str(n) for n in range(3 * len(skips)) if n % 3][: len(docs)]
    assert {d.text for d in docs} == {"riêng"}


def test_find_duplicates_refuses_ignore_boilerplate() -> None:
    with pytest.raises(UsageError, match="find_duplicates_without_boilerplate"):
        find_duplicates(["một", "hai"], ignore_boilerplate=True)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"boilerplate_documents": 0}, "boilerplate_documents must be at least 1"), ({"html_text": "x"}, "html_text")],
)
def test_options_are_checked(options: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ScanConfig(**options).validate()  # type: ignore[arg-type]


def _dedup(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dedup", *args], capture_output=True, text=True, check=False)


def test_cli_says_similarities_are_of_the_cleaned_texts(site: Path) -> None:
    run = _dedup("scan", str(site), "--ignore-boilerplate", "--verbose", "--format", "jsonl")
    assert run.returncode == 0, run.stderr
    clusters = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(clusters) == len(list(site.glob("a/*.html")))
    assert "similarities are of the cleaned texts" in run.stderr
    summary = run.stderr.strip().splitlines()[-1]
    assert "similarities without boilerplate (" in summary and "lines removed)" in summary


def test_cli_boilerplate_documents_option(site: Path) -> None:
    run = _dedup("scan", str(site), "--ignore-boilerplate", "--boilerplate-documents", "1000", "-v", "-q")
    assert run.returncode == 0
    run = _dedup("scan", str(site), "--ignore-boilerplate", "--boilerplate-documents", "0")
    assert run.returncode == 2 and "--boilerplate-documents must be at least 1" in run.stderr


def test_dask_engine_refuses_ignore_boilerplate_before_any_work(site: Path) -> None:
    run = _dedup("scan", str(site / "missing"), "--engine", "dask", "--ignore-boilerplate")
    assert run.returncode == 2
    assert "--ignore-boilerplate is not supported by the Dask engine" in run.stderr and "Traceback" not in run.stderr
    with pytest.raises(UsageError, match=r"^ignore_boilerplate is not supported") as err:
        dask_engine.find_duplicates(["a b c"], ignore_boilerplate=True, scheduler="inline")
    assert err.value.option == "ignore_boilerplate"


def test_dask_engine_reads_pages_as_the_local_engine_does(site: Path) -> None:
    for text in ("main", "all"):
        local = _dedup("scan", str(site), "--html-text", text, "--format", "jsonl")
        dask = _dedup("scan", str(site), "--html-text", text, "--format", "jsonl", "--engine", "dask", "--workers", "1")
        assert local.returncode == dask.returncode == 0, dask.stderr
        assert local.stdout == dask.stdout and local.stdout


def test_blocks_reads_pages_as_html_text_says_on_both_engines(site: Path, tmp_path: Path) -> None:
    outputs = {}
    for text in ("main", "all"):
        for engine in ("local", "dask"):
            run = _dedup(
                "blocks", str(site), "--html-text", text, "--format", "jsonl", "--engine", engine, "--workers", "1"
            )
            assert run.returncode == 0, run.stderr
            outputs[text, engine] = run.stdout
        assert outputs[text, "local"] == outputs[text, "dask"]
    # All visible text holds the outlets' menus and footers, which main content leaves out.
    assert len(outputs["all", "local"].splitlines()) > len(outputs["main", "local"].splitlines())


def test_blocks_strip_refuses_pages_before_any_work(site: Path, tmp_path: Path) -> None:
    run = _dedup("blocks", str(site), "--strip", str(tmp_path / "clean"))
    assert run.returncode == 2 and "not of HTML pages or WARC archives" in run.stderr
    assert not (tmp_path / "clean").exists()


def test_a_story_carried_by_several_outlets_is_not_erased_as_boilerplate(tmp_path: Path) -> None:
    """Every line of the three copies recurs in >= 3 documents; removing
    them all would lose the story (they were skipped as empty)."""
    story = [
        "Mỹ và Taliban nối lại đàm phán hòa bình tại thủ đô Doha của Qatar hôm nay",
        "Hai bên thảo luận về việc rút quân và lệnh ngừng bắn trên toàn quốc trong nhiều tháng tới",
        "Các nhà ngoại giao cho biết vòng đàm phán mới có thể kéo dài đến cuối tuần này",
        "Phái đoàn Mỹ do đặc phái viên dẫn đầu đã gặp đại diện Taliban trong buổi sáng đầu tiên",
        "Nhiều nước trong khu vực bày tỏ hy vọng tiến trình hòa bình sẽ sớm mang lại kết quả cụ thể",
        "Giới quan sát nhận định đây là cơ hội hiếm hoi để chấm dứt cuộc xung đột kéo dài gần hai thập kỷ",
    ]
    for outlet in range(3):
        header = f"Báo điện tử số {outlet} trang chủ thế giới kinh tế thể thao"
        footer = f"Mời quý độc giả theo dõi báo số {outlet} trên mạng xã hội"
        for page in range(6):
            body = story if page == 0 else [f"Tin riêng số {page} của báo {outlet} về một chủ đề khác hẳn hôm nay"]
            (tmp_path / f"o{outlet}_{page}.txt").write_text("\n".join([header, *body, footer]), encoding="utf-8")
    result = find_duplicates_without_boilerplate(lambda: read_documents([str(tmp_path)]))
    assert [c.ids for c in result.clusters] == [["o0_0.txt", "o1_0.txt", "o2_0.txt"]]
    assert not result.skipped
    assert result.stats.boilerplate_whole == 3
    # The other pages lost their template lines, as before.
    assert result.stats.boilerplate_documents == 15 and result.stats.boilerplate_removed == 30


def test_boilerplate_documents_without_ignore_boilerplate_is_refused(site: Path) -> None:
    run = _dedup("scan", str(site), "--boilerplate-documents", "5")
    assert run.returncode == 2
    assert "--boilerplate-documents is the threshold of the boilerplate pass" in run.stderr
    with pytest.raises(UsageError, match=r"^boilerplate_documents is the threshold") as err:
        find_duplicates(["một hai ba bốn năm"], boilerplate_documents=5)
    assert err.value.option == "boilerplate_documents"
    # The boilerplate pass implies the option; its threshold is taken.
    assert find_duplicates_without_boilerplate(["một hai ba bốn năm"], boilerplate_documents=5).documents == 1
