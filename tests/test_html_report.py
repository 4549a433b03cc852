"""HTML reports without a browser: shared passages, reading texts back by
position, escaping, capping, streaming and the command line's rules.
(Tests in a real browser: test_html_report_browser.py.)"""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import unicodedata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dedup.cli import app
from dedup.cluster import Cluster
from dedup.document import Document
from dedup.html_report import ReportHeader, ScanHtml, utf16_spans
from dedup.io import collect_inputs
from dedup.passages import jaccard, shared_passages
from dedup.pipeline import find_duplicates
from dedup.readback import Locations, _lines_at, read_texts_by_id

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
runner = CliRunner()

STORY = "Mỹ và Taliban nối lại đàm phán hòa bình tại thủ đô Doha của Qatar sau nhiều tháng"


def _marked(text: str, spans: list[tuple[int, int]]) -> list[str]:
    return [text[s:e] for s, e in spans]


def test_shared_passages_are_the_word_spans_both_share_in_the_original_text() -> None:
    a = f"Tin nóng. {STORY}. Một đoạn chỉ có ở bản này thôi nhé."
    b = f"{STORY.upper()}! Phần khác hẳn của bài đăng lại ở đây."
    left, right = shared_passages(a, b, "word:5")
    assert _marked(a, left) == [STORY]
    assert _marked(b, right) == [STORY.upper()]


def test_shared_passages_follow_tone_marks_nfd_and_accent_folding() -> None:
    tones = STORY.replace("hòa", "hoà")
    nfd = unicodedata.normalize("NFD", STORY)
    assert _marked(tones, shared_passages(STORY, tones)[1]) == [tones]
    assert _marked(nfd, shared_passages(STORY, nfd)[1]) == [nfd]  # offsets into the NFD text as read
    plain = "my va taliban noi lai dam phan hoa binh tai thu do doha cua qatar sau nhieu thang"
    assert shared_passages(STORY, plain)[1] == []
    assert _marked(plain, shared_passages(STORY, plain, fold_accents=True)[1]) == [plain]


def test_shared_passages_of_char_shingles_and_the_unspaced_fallback() -> None:
    thai = "ข่าวการเจรจาสันติภาพระหว่างสหรัฐกับตาลีบันที่โดฮา"
    left, right = shared_passages(thai + " ท้าย", "หัว " + thai, "word:5")
    assert _marked(thai + " ท้าย", left)[0].startswith(thai)
    assert thai in _marked("หัว " + thai, right)[0]
    # A word text and a char-fallback text never share a shingle, as in a scan.
    assert shared_passages(thai, STORY) == ([], [])
    assert _marked("xx abcdefgh", shared_passages("abcdefgh yy", "xx abcdefgh", "char:5")[1]) == ["abcdefgh"]


def test_short_texts_share_their_one_shingle_whole() -> None:
    assert shared_passages("Hòa bình!", "HOÀ BÌNH") == ([(0, 8)], [(0, 8)])


@pytest.mark.parametrize("spec", ["word:5", "word:2", "char:5"])
@pytest.mark.parametrize("fold", [False, True])
def test_highlight_counts_what_the_scan_counts(spec: str, fold: bool) -> None:
    docs = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(EXAMPLES.glob("*/*.*"))]
    texts = dict(docs)
    result = find_duplicates(docs, threshold=0.3, shingle=spec, fold_accents=fold)
    assert result.pairs
    for pair in result.pairs:
        assert jaccard(texts[pair.a], texts[pair.b], spec, fold_accents=fold) == pytest.approx(pair.similarity)


def test_utf16_offsets_count_astral_characters_twice() -> None:
    assert utf16_spans("ab", [(0, 1)]) == [0, 1]
    assert utf16_spans("😀😀ab", [(2, 4)]) == [4, 6]


def test_lines_at_finds_lines_across_chunk_boundaries() -> None:
    lines = [f"line {i} " + "x" * (i % 7) for i in range(1, 60)]
    data = ("\n".join(lines)).encode()
    for size in (1, 3, 7, 64):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        wanted = [1, 2, 17, 18, 40, 59]
        assert list(_lines_at(chunks, wanted)) == [(n, lines[n - 1].encode()) for n in wanted]


def _dump(tmp_path: Path) -> Path:
    path = tmp_path / "d.jsonl"
    records = [
        {"id": "a", "text": STORY},
        {"id": "b", "text": "!!! ..."},  # no words: skipped by the scan, not numbered
        "not json",
        {"id": "a", "text": STORY + " thêm"},  # id taken: renamed d.jsonl:4
        {"id": "c", "text": "Chuyện khác hẳn về thời tiết hôm nay ở Hà Nội"},
    ]
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records))
    return path


def test_texts_are_read_back_by_position(tmp_path: Path) -> None:
    inputs = collect_inputs([_dump(tmp_path)])
    where = Locations(inputs)
    result = find_duplicates(where.read_documents(), threshold=0.5)
    (cluster,) = result.clusters
    renamed = f"{tmp_path}/d.jsonl:4"
    assert cluster.ids == ["a", renamed]
    wanted = dict(zip(cluster.members, cluster.ids, strict=True))
    texts = where.texts(wanted, no_words=1, renamed={r.new_id for r in result.renamed})
    assert texts == {cluster.members[0]: STORY, cluster.members[1]: STORY + " thêm"}
    # Positions that disagree with the scan are refused, never misread.
    assert where.texts(wanted, no_words=0) is None
    assert where.texts({cluster.members[0]: "zzz"}, no_words=1) is None
    assert read_texts_by_id(inputs, [renamed, "c", "missing"]) == {
        renamed: STORY + " thêm",
        "c": "Chuyện khác hẳn về thời tiết hôm nay ở Hà Nội",
    }


def _page(clusters: list[Cluster], texts: dict[int, str], **options: object) -> str:
    out = io.StringIO()
    header = ReportHeader("scan", ["in/"], {"threshold": 0.8}, len(texts))
    ScanHtml(header, lambda wanted: {m: texts[m] for m in wanted}, **options)(out, clusters)  # type: ignore[arg-type]
    return out.getvalue()


def test_every_input_text_and_id_is_escaped() -> None:
    hostile = "<script>window.pwned = 1</script></script><!-- " + STORY
    clusters = [Cluster([0, 1], 0, [1.0, 0.9], ["<b>a</b>", "x&y"])]
    page = _page(clusters, {0: STORY, 1: hostile})
    assert "<script>window.pwned" not in page and "<b>a</b>" not in page
    assert "&lt;b&gt;a&lt;/b&gt;" in page and "x&amp;y" in page
    data = re.findall(r'<script type="application/gzip" class="data">(.*?)</script>', page, re.S)
    assert len(data) == 1 and "<" not in data[0]
    assert json.loads(gzip.decompress(base64.b64decode(data[0])))["docs"][1]["text"] == hostile


def test_largest_clusters_first_and_the_cap_is_said() -> None:
    clusters = [Cluster([0, 1], 0, [1.0, 0.9], ["a", "b"]), Cluster([2, 3, 4], 2, [1.0, 0.9, 0.85], ["c", "d", "e"])]
    texts = dict.fromkeys(range(5), STORY)
    page = _page(clusters, texts)
    assert page.index('id="cluster-1"') < page.index('id="cluster-0"')
    assert 'id="capped"' not in page and 'data-count="2"' in page
    capped = _page(clusters, texts, max_clusters=1)
    assert 'id="cluster-1"' in capped and 'id="cluster-0"' not in capped
    assert "Showing the 1 largest of 2 clusters" in capped


def test_the_page_is_streamed_piece_by_piece() -> None:
    writes: list[str] = []

    class Recorder(io.StringIO):
        def write(self, text: str) -> int:
            writes.append(text)
            return len(text)

    clusters = [Cluster([2 * i, 2 * i + 1], 2 * i, [1.0, 1.0], [f"a{i}", f"b{i}"]) for i in range(20)]
    header = ReportHeader("scan", ["in/"], {}, 40)
    ScanHtml(header, lambda wanted: dict.fromkeys(wanted, STORY))(Recorder(), clusters)
    assert len(writes) > 20 * 5 and max(map(len, writes)) < 10_000


def test_html_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["scan", str(EXAMPLES), "--format", "html", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and 'data-count="3"' in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    for args, message in [
        (["scan", str(EXAMPLES), "--format", "html", "-o", str(out), "--pairs"], "drop --pairs"),
        (["scan", str(EXAMPLES), "--format", "html", "-o", str(out), "--html-max-clusters", "0"], "positive"),
        (["blocks", str(EXAMPLES), "--format", "html", "-o", str(out), "--html-max-clusters", "-1"], "positive"),
    ]:
        failed = runner.invoke(app, args)
        assert failed.exit_code == 2 and message in failed.stderr


def test_html_to_a_terminal_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    from dedup.cli import OutputFormat, _check_format
    from dedup.errors import UsageError

    with pytest.raises(UsageError, match="--output"):
        _check_format(OutputFormat.html, None)
    with pytest.raises(UsageError, match="scan, blocks and index query"):
        _check_format(OutputFormat.html, "x.html", html=False)
    _check_format(OutputFormat.html, "x.html")


def test_blocks_and_index_query_pages(tmp_path: Path) -> None:
    out = tmp_path / "b.html"
    result = runner.invoke(app, ["blocks", str(EXAMPLES / "originals"), "--format", "html", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "doc-data" in out.read_text(encoding="utf-8")
    index = tmp_path / "i.idx"
    assert runner.invoke(app, ["index", "create", str(index), "-q"]).exit_code == 0
    assert runner.invoke(app, ["index", "add", str(index), str(EXAMPLES / "originals"), "-q"]).exit_code == 0
    query = tmp_path / "q.html"
    args = ["index", "query", str(index), str(EXAMPLES / "republished"), "--format", "html", "-o", str(query), "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert 'data-count="3"' in query.read_text(encoding="utf-8")
    refused = runner.invoke(app, ["index", "add", str(index), str(EXAMPLES), "--format", "html", "-o", str(out)])
    assert refused.exit_code == 2


def test_document_is_found_by_position_in_a_text_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(STORY, encoding="utf-8")
    (tmp_path / "b.txt").write_text(STORY + "!", encoding="utf-8")
    inputs = collect_inputs([tmp_path])
    where = Locations(inputs)
    docs = list(where.read_documents())
    assert [d.id for d in docs if isinstance(d, Document)] == ["a.txt", "b.txt"]
    assert where.texts({1: "b.txt"}) == {1: STORY + "!"}


def test_a_containment_page_names_its_measure(tmp_path: Path) -> None:
    story = (EXAMPLES / "originals" / "taliban-talks.txt").read_text(encoding="utf-8")
    news = tmp_path / "news"
    news.mkdir()
    (news / "full.txt").write_text(story, encoding="utf-8")
    (news / "teaser.txt").write_text(" ".join(story.split()[: len(story.split()) // 2]), encoding="utf-8")
    out = tmp_path / "r.html"
    for measure in ("jaccard", "containment"):
        args = ["scan", str(news), "--measure", measure, "--threshold", "0.2", "--format", "html", "-o", str(out)]
        result = runner.invoke(app, [*args, "-q"])
        assert result.exit_code == 0, result.output
        page = out.read_text(encoding="utf-8")
        name = "containment" if measure == "containment" else "similarity"
        other = "similarity" if measure == "containment" else "containment"
        assert f'class="sim" title="{name}"' in page and f'title="{other}"' not in page
        assert f'"{name}" + " " + member.sim' in page


def test_worker_processes_mark_the_same_passages(monkeypatch: pytest.MonkeyPatch) -> None:
    """A large report marks its pairs in spawned worker processes; the page is the same byte for byte."""
    import dedup.html_report as html_report

    words = STORY.split()
    texts = {n: " ".join(words[: len(words) - n % 7]) + f" tin {n}" for n in range(24)}
    clusters = [
        Cluster(list(range(k, k + 4)), k + 1, [0.9, 1.0, 0.85, 0.8], [f"d{k + j}" for j in range(4)])
        for k in range(0, 24, 4)
    ]
    header = ReportHeader("scan", ["in/"], {}, 24)
    pages = []
    for processes in (1, 2):
        monkeypatch.setattr(html_report, "_POOL_MIN_TEXTS", 1)
        out = io.StringIO()
        ScanHtml(header, lambda wanted: {m: texts[m] for m in wanted}, processes=processes)(out, clusters)
        pages.append(out.getvalue())
    assert pages[0] == pages[1] and pages[0].count('class="doc member"') == 18


def test_a_lone_surrogate_in_a_text_keeps_the_highlight_in_place() -> None:
    # A JSONL "\ud800" escape gives a text with a lone surrogate. The browser
    # decodes the page's data as UTF-8: written raw (surrogatepass) it would
    # become three U+FFFD and shift every highlight after it.
    kept = "a \ud800 😀 " + STORY + " end"
    member = "b \udfff\ud800 " + STORY + " fin"
    clusters = [Cluster([0, 1], 0, [1.0, 0.9], ["k", "m"])]
    page = _page(clusters, {0: kept, 1: member})
    data = re.findall(r'<script type="application/gzip" class="data">(.*?)</script>', page, re.S)
    raw = gzip.decompress(base64.b64decode(data[0])).decode("utf-8")  # strict: what TextDecoder reads
    doc = json.loads(raw)["docs"][1]

    def js_slices(text: str, flat: list[int]) -> list[str]:
        units = text.encode("utf-16-le", "surrogatepass")
        pairs = zip(flat[0::2], flat[1::2], strict=True)
        return [units[2 * s : 2 * e].decode("utf-16-le", "surrogatepass") for s, e in pairs]

    assert doc["text"] == member
    assert js_slices(kept, doc["keep_marks"]) == [STORY]
    assert js_slices(member, doc["marks"]) == [STORY]


def test_nfd_hangul_beside_marks_that_do_not_compose_keeps_the_spans() -> None:
    # NFD Hangul (macOS) composes across starters (fewer code points) and a
    # mark with no precomposed letter stays (more): when the counts happen to
    # balance, the k-th NFC code point is not the k-th segment.
    marks = " ".join(letter + "\u0301" for letter in "xyzqwjfvb")  # no precomposed letter: 9 code points more
    a = unicodedata.normalize("NFD", "한국 뉴스") + " " + STORY + " " + marks  # 9 fewer
    b = STORY + " khác"
    left, right = shared_passages(a, b, "word:5")
    assert _marked(a, left) == [STORY] and _marked(b, right) == [STORY]


def test_nfd_hangul_shares_its_passages_with_the_composed_copy() -> None:
    # Text from a macOS file system has its Hangul in jamo; the scan composes
    # them (NFC, across starters), so the highlight must too.
    story = "서울 시장 선거 결과가 오늘 발표되었으며 많은 시민들이 관심을 보였다 다음 주에 새 시장이 취임한다"
    nfd = unicodedata.normalize("NFD", story)
    left, right = shared_passages(nfd, story, "word:5")
    assert _marked(nfd, left) == [nfd] and _marked(story, right) == [story]
    assert jaccard(nfd, story, "word:5") == 1.0
