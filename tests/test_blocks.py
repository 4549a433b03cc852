"""Repeated blocks: exact groups against a reference, near groups, boilerplate, strip."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from dedup import Document, _kernels, find_duplicates
from dedup._kernels import hash_kernel
from dedup.blocks import Block, block_batches, find_repeated_blocks, split_blocks
from dedup.cli import app
from dedup.normalize import normalize_batch, normalize_text
from dedup.strip import strip_text
from tests.strategies import block_texts, sentences

runner = CliRunner()


def reference_groups(docs: list[tuple[str, str]], min_words: int = 4) -> list[list[tuple[str, int]]]:
    """Every non-blank line of min_words+ words occurring twice or more, the slow way."""
    seen: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for doc_id, text in docs:
        for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
            key = normalize_text(line)
            if line.strip() and key and len(key.split(" ")) >= min_words:
                seen[key].append((doc_id, number))
    return sorted(occ for occ in seen.values() if len(occ) > 1)


def _as_lists(result: object) -> list[list[tuple[str, int]]]:
    return sorted([(o.id, o.line) for o in g.occurrences] for g in result.groups)  # type: ignore[attr-defined]


def test_seeds_exact_groups_match_reference(seed_texts: dict[str, str]) -> None:
    docs = sorted(seed_texts.items())
    result = find_repeated_blocks(docs)
    assert _as_lists(result) == reference_groups(docs)
    assert all(g.kind == "exact" for g in result.groups)
    by_text = {g.text: g for g in result.groups}
    # Shared across 000 and 001: the title and lead of 000 reprinted in 001's list, the subscription line.
    assert by_text["Mỹ và Taliban nối lại đàm phán hòa bình"].documents == 2
    assert by_text["Mời quý độc giả theo dõi VOV.VN trên"].documents == 2
    lead = next(t for t in by_text if normalize_text(t).startswith("vov vn đây là một phần"))
    assert {o.id for o in by_text[lead].occurrences} == {"000", "001"}


def test_near_duplicate_teaser_joins_the_group(seed_texts: dict[str, str]) -> None:
    teaser = next(line for line in seed_texts["000"].splitlines() if "Jawzjan" in line and "VOV.VN" in line)
    edited = teaser.replace("trả tự do", "phóng thích tự do")
    docs = [("000", seed_texts["000"]), ("edited", f"Một dòng khác hẳn ở đây nhé\n{edited}")]
    exact = find_repeated_blocks(docs)
    near = find_repeated_blocks(docs, near=0.8)
    exact_group = next(g for g in exact.groups if g.text == teaser)
    near_group = next(g for g in near.groups if g.text == teaser)
    assert exact_group.kind == "exact" and ("edited", 2) not in [(o.id, o.line) for o in exact_group.occurrences]
    assert near_group.kind == "near"
    assert [(o.id, o.line) for o in near_group.occurrences][-1] == ("edited", 2)
    assert 0.8 <= near_group.occurrences[-1].similarity < 1.0


def test_paragraph_unit_and_line_spans() -> None:
    text = "Đoạn một dòng một\nđoạn một dòng hai\n\nkhác hẳn ở đây nhé\n\r\nĐoạn một dòng một\r\nĐOẠN MỘT DÒNG HAI\n"
    assert split_blocks(text, "paragraph") == [
        Block("Đoạn một dòng một\nđoạn một dòng hai", 1, 2),
        Block("khác hẳn ở đây nhé", 4, 4),
        Block("Đoạn một dòng một\nĐOẠN MỘT DÒNG HAI", 6, 7),
    ]
    (group,) = find_repeated_blocks([("a", text)], unit="paragraph").groups
    assert [(o.line, o.end_line) for o in group.occurrences] == [(1, 2), (6, 7)]


def test_min_words() -> None:
    docs = [("a", "ba từ thôi\nba từ thôi\nbốn từ ở đây\nbốn từ ở đây")]
    assert [g.text for g in find_repeated_blocks(docs).groups] == ["bốn từ ở đây"]
    assert len(find_repeated_blocks(docs, min_words=3).groups) == 2
    with pytest.raises(ValueError, match="min_words"):
        find_repeated_blocks(docs, min_words=0)


def test_jsonl_lines_count_inside_each_document(tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    records = [{"id": "x", "text": "tiêu đề bài báo thứ nhất\nnội dung riêng của bài\ntiêu đề bài báo thứ nhất"}]
    dump.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["blocks", str(dump), "--format", "jsonl"])
    (group,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert group["occurrences"] == [{"id": "x", "line": 1, "end_line": 1}, {"id": "x", "line": 3, "end_line": 3}]
    assert group["count"] == 2 and group["documents"] == 1 and group["boilerplate"] is False


def test_boilerplate_marked_and_listed_first() -> None:
    footer = "Mời quý độc giả theo dõi VOV.VN trên"
    docs = [(f"d{i}", f"Bài số {i} có nội dung riêng biệt\n{footer}") for i in range(4)]
    docs.append(("z", "dòng lặp lại hai lần nhé\ndòng lặp lại hai lần nhé"))
    docs.insert(0, ("a", "dòng đầu tiên lặp lại nhé\ndòng đầu tiên lặp lại nhé"))
    result = find_repeated_blocks(docs)
    assert [(g.text, g.boilerplate) for g in result.groups] == [
        (footer, True),
        ("dòng đầu tiên lặp lại nhé", False),
        ("dòng lặp lại hai lần nhé", False),
    ]
    assert find_repeated_blocks(docs, boilerplate_documents=5).groups[0].boilerplate is False


def test_strip_cli_is_idempotent(tmp_path: Path, seed_texts: dict[str, str]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name, text in seed_texts.items():
        (src / f"{name}.txt").write_text(text, encoding="utf-8")
    (src / "dump.jsonl").write_text(
        json.dumps({"id": "j", "text": "câu lặp lại trong bài\nxen giữa một câu\ncâu lặp lại trong bài", "k": 1})
        + "\nnot json\n",
        encoding="utf-8",
    )
    once, twice = tmp_path / "once", tmp_path / "twice"
    assert runner.invoke(app, ["blocks", str(src), "--strip", str(once), "-q"]).exit_code == 0
    assert runner.invoke(app, ["blocks", str(once), "--strip", str(twice), "-q"]).exit_code == 0
    for path in sorted(once.rglob("*")):
        if path.is_file():
            assert (twice / path.relative_to(once)).read_bytes() == path.read_bytes(), path
    result = runner.invoke(app, ["blocks", str(once), "--format", "jsonl"])
    assert result.stdout == ""  # nothing repeated is left, inside a file or across files
    lines = (once / "dump.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == {"id": "j", "text": "câu lặp lại trong bài\nxen giữa một câu", "k": 1}
    assert lines[1] == "not json"  # not a document: copied as it was
    for name, text in seed_texts.items():  # inputs never modified
        assert (src / f"{name}.txt").read_text(encoding="utf-8") == text


@st.composite
def document_with_copies(draw: st.DrawFn) -> tuple[str, str]:
    lines = draw(
        st.lists(sentences.filter(lambda s: len(s.split()) >= 4), min_size=1, max_size=12, unique_by=normalize_text)
    )
    result = list(lines)
    for _ in range(draw(st.integers(0, 8))):
        source = draw(st.integers(0, len(lines) - 1))
        first = result.index(lines[source])
        result.insert(draw(st.integers(first + 1, len(result))), lines[source])
    return "\n".join(lines), "\n".join(result)


@given(document_with_copies())
def test_strip_removes_exactly_the_inserted_copies(case: tuple[str, str]) -> None:
    original, with_copies = case
    result = find_repeated_blocks([("doc", with_copies)])
    assert strip_text(with_copies, result.spans_to_strip(0)) == original


@pytest.mark.parametrize("text", ["hai từ\nhai từ", "!!! ... ???\n-- --\n!!! ... ???", "", "\n\n"])
@pytest.mark.parametrize("near", [None, 0.8])
def test_no_block_long_enough_gives_an_empty_result(tmp_path: Path, text: str, near: float | None) -> None:
    result = find_repeated_blocks([("tiny", text)], near=near)
    assert (result.groups, result.documents, result.blocks) == ([], 1, 0)
    assert find_repeated_blocks([], near=near).groups == []
    tiny = tmp_path / "tiny.txt"
    tiny.write_text(text or "!!!", encoding="utf-8")
    extra = [] if near is None else ["--near", str(near)]
    for output_format in ("table", "jsonl"):
        cli = runner.invoke(app, ["blocks", str(tiny), "--format", output_format, *extra])
        assert cli.exit_code == 0, cli.stderr
        assert "Error" not in cli.stderr and "Traceback" not in cli.stderr
    assert cli.stdout == ""


def _block_hash(text: str) -> int:
    """The 64-bit hash blocks groups by (its order is the order of the
    distinct-block indices)."""
    buf, offsets = normalize_batch([text])
    hashes, _ = hash_kernel(buf, offsets, 1)
    return int(hashes[0])


def _char5_jaccard(a: str, b: str) -> float:
    (pair,) = find_duplicates([a, b], threshold=0.3, shingle="char:5").pairs
    return pair.similarity


def test_near_members_carry_their_measured_similarity_to_the_first_block() -> None:
    first = "Mỹ và Taliban nối lại đàm phán hòa bình tại thủ đô Doha của Qatar sau nhiều tháng căng thẳng"
    second = first.replace("sau nhiều tháng căng thẳng", "sau nhiều tuần căng thẳng kéo dài")
    third = second.replace("Mỹ và Taliban nối lại", "Hoa Kỳ cùng Taliban mở lại")
    # Constructed so that the first block in the stream has the largest hash,
    # i.e. the largest internal index: the order that lost the similarity.
    assert _block_hash(first) > _block_hash(second) > _block_hash(third)
    near = 0.65
    expected = [1.0, _char5_jaccard(first, second), _char5_jaccard(first, third)]
    # third is below the threshold to first: it joins only through second.
    assert expected[1] >= near and _char5_jaccard(second, third) >= near and expected[2] < near
    docs = [("a", f"{first}\nmột dòng riêng ở đây nhé"), ("b", second), ("c", f"{third}\n{first}")]
    (group,) = find_repeated_blocks(docs, near=near).groups
    assert group.kind == "near" and group.text == first
    assert [(o.id, o.line) for o in group.occurrences] == [("a", 1), ("b", 1), ("c", 1), ("c", 2)]
    got = [o.similarity for o in group.occurrences]
    assert got == pytest.approx([*expected, 1.0], abs=1e-12)
    assert all(s != near for s in got) and all(s < 1.0 for s in got[1:3])


def test_block_ids_are_unique_and_renamings_reported() -> None:
    line = "một dòng lặp lại trong hai bài"
    docs = [Document("5", line, "a.jsonl:1"), Document("5", line, "b.jsonl:1"), Document("5", line)]
    result = find_repeated_blocks(docs)
    assert [o.id for o in result.groups[0].occurrences] == ["5", "b.jsonl:1", "5#2"]
    assert [(r.id, r.new_id) for r in result.renamed] == [("5", "b.jsonl:1"), ("5", "5#2")]
    # A fresh iterable per pass gives the same ids.
    again = find_repeated_blocks(lambda: iter(docs))
    assert again.groups == result.groups and again.renamed == result.renamed


@given(st.lists(block_texts(), min_size=1, max_size=5), st.sampled_from(["line", "paragraph"]), st.integers(1, 3))
def test_compiled_blocks_match_split_blocks(texts: list[str], unit: str, workers: int) -> None:
    """The kernel's blocks are split_blocks' (spans, texts as written) with
    the hashes and word counts of normalize_batch + hash_kernel."""
    expected = [(number, block) for number, text in enumerate(texts) for block in split_blocks(text, unit)]
    (batch,) = block_batches(texts, unit, 2, workers)
    got = [
        (int(o), Block(batch.text(i), int(a), int(b)))
        for i, (o, a, b) in enumerate(zip(batch.owner, batch.line, batch.end, strict=True))
    ]
    assert got == expected
    buf, offsets = normalize_batch([block.text for _, block in expected])
    hashes, words = hash_kernel(buf, offsets, 1)
    assert batch.hashes.tolist() == hashes.tolist()
    assert batch.keep.tolist() == (words >= 2).tolist()


@pytest.mark.parametrize("doc", [0, 3])
def test_blocks_kernel_reports_out_of_memory(doc: int) -> None:
    texts = [f"dòng {i} của bài\ndòng chung của mọi bài" for i in range(4)]
    _kernels.fail_allocation_for_tests(doc, _kernels.SITE_TEXT)
    try:
        with pytest.raises(MemoryError, match=f"the first at position {doc}"):
            find_repeated_blocks(texts, workers=2)
    finally:
        _kernels.fail_allocation_for_tests(-1, -1)
    assert len(find_repeated_blocks(texts, workers=2).groups) == 1
