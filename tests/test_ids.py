"""Every id in every output is unique (issue 8, item 4)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from dedup import Document, Skipped, find_duplicates, read_documents
from dedup._kernels import sorted_distinct
from dedup.cli import app
from dedup.document import UniqueIds, _id_hash, _id_hashes

runner = CliRunner()
STORY = "Mỹ và Taliban nối lại đàm phán hòa bình tại thủ đô Doha của Qatar hôm nay sau nhiều tháng"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _scan_ids(*args: str) -> tuple[list[str], str]:
    result = runner.invoke(app, ["scan", *args, "--format", "jsonl", "--threshold", "0.5"])
    assert result.exit_code == 0, result.stderr
    ids = [m["id"] for line in result.stdout.splitlines() for m in json.loads(line)["members"]]
    return ids, result.stderr


def test_same_relative_path_under_two_arguments(tmp_path: Path) -> None:
    _write(tmp_path / "d1" / "y.txt", STORY)
    _write(tmp_path / "d2" / "y.txt", STORY + " rồi")
    ids, err = _scan_ids(str(tmp_path / "d1"), str(tmp_path / "d2"))
    assert ids == ["y.txt", f"{tmp_path / 'd2'}/y.txt"]
    assert err.count("warning:") == 1 and "id 'y.txt' is already used" in err


def test_same_file_twice_or_through_a_link_is_read_once(tmp_path: Path) -> None:
    a = _write(tmp_path / "news" / "a.txt", STORY)
    _write(tmp_path / "news" / "b.txt", STORY + " nữa")
    os.symlink(a, tmp_path / "news" / "c-link.txt")
    got = list(read_documents([tmp_path / "news", a]))
    assert [d.id for d in got if isinstance(d, Document)] == ["a.txt", "b.txt"]
    assert [(s.path, s.reason) for s in got if isinstance(s, Skipped)] == [
        (f"{tmp_path / 'news'}/c-link.txt", "duplicate input"),
        (str(a), "duplicate input"),
    ]
    ids, err = _scan_ids(str(tmp_path / "news"), str(a))
    assert ids == ["a.txt", "b.txt"] and "(duplicate input: 2)" in err


def test_one_jsonl_id_in_two_files_and_number_versus_string(tmp_path: Path) -> None:
    _write(tmp_path / "a.jsonl", json.dumps({"id": 5, "text": STORY}) + "\n")
    _write(tmp_path / "b.jsonl", json.dumps({"id": "5", "text": STORY + " a"}) + "\n")
    _write(tmp_path / "c.jsonl", json.dumps({"id": "5", "text": STORY + " b"}) + "\n")
    ids, err = _scan_ids(str(tmp_path))
    assert ids == ["5", "b.jsonl:1", "c.jsonl:1"]
    assert err.count("warning:") == 2


def test_a_qualified_id_that_is_taken_gets_a_number(tmp_path: Path) -> None:
    lines = [
        {"id": "x", "text": STORY},
        {"id": "d.jsonl:3", "text": STORY + " a"},
        {"id": "x", "text": STORY + " b"},  # its location d.jsonl:3 is taken
    ]
    _write(tmp_path / "d.jsonl", "".join(json.dumps(r) + "\n" for r in lines))
    ids, _ = _scan_ids(str(tmp_path))
    assert ids == ["x", "d.jsonl:3", "d.jsonl:3#2"]


def test_library_pairs_with_repeated_ids() -> None:
    result = find_duplicates([("a", STORY), ("a", STORY), ("a#2", STORY)])
    assert result.clusters[0].ids == ["a", "a#2", "a#2#2"]
    assert [(r.id, r.new_id) for r in result.renamed] == [("a", "a#2"), ("a#2", "a#2#2")]


@given(st.lists(st.sampled_from(["1", "2", "x", "x#2", "f:1", "f:2"]), max_size=40), st.integers(1, 7))
def test_unique_ids_whatever_the_batches(ids: list[str], batch: int) -> None:
    docs = [Document(i, "t", f"f:{n + 1}") for n, i in enumerate(ids)]
    whole = UniqueIds().assign(docs)
    registry = UniqueIds()
    parts = [d for lo in range(0, len(docs), batch) for d in registry.assign(docs[lo : lo + batch])]
    assert [d.id for d in parts] == [d.id for d in whole]
    assert len({d.id for d in whole}) == len(whole)
    # A document keeps its own id unless an earlier one was given that id.
    given: set[str] = set()
    for d, new in zip(docs, whole, strict=True):
        assert (new.id == d.id) == (d.id not in given)
        given.add(new.id)


def test_sorted_distinct_is_numpys_unique() -> None:
    rng = np.random.default_rng(3)
    for values in (
        rng.integers(0, 2**64, 5000, dtype=np.uint64),
        rng.integers(-50, 50, 5000, dtype=np.int64),
        np.zeros(0, dtype=np.int64),
        np.array([7], dtype=np.uint64),
    ):
        out = sorted_distinct(values)
        assert out.dtype == values.dtype
        assert np.array_equal(out, np.unique(values))


# Ids with the characters printable() escapes (and their UTF-8 neighbours),
# newlines (the batch hashing splits on them), empty ids and plain ones.
_odd_ids = st.lists(
    st.lists(
        st.one_of(
            st.sampled_from(["\n", "\x00", "\x1b", "\x7f", "\x85", "\xa0", "\u061c", "\u200e", "\u2028", "\u202e"]),
            st.sampled_from(["\u2066", "\u2069", "\u2070", "\ud800", "\udfff", "\ue000", "đ", "ế", "a", "7"]),
            st.characters(),
        ),
        max_size=6,
    ).map("".join),  # not st.text: it never draws lone surrogates
    max_size=12,
)


@given(_odd_ids)
def test_id_hashes_of_a_batch_equal_one_by_one(ids: list[str]) -> None:
    """The ids of a batch are hashed at once in their printable form: the
    same hashes as one by one, whatever they hold."""
    assert _id_hashes(ids).tolist() == [_id_hash(i) for i in ids]
