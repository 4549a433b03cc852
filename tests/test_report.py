"""Reports: exact bytes for ordinary input, streamed record by record, and
never an encoding error for ids that are not valid UTF-8."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedup.blocks import BlockGroup, BlockOccurrence
from dedup.cluster import Cluster
from dedup.document import Skipped, printable
from dedup.output import open_output
from dedup.pipeline import Pair
from dedup.report import (
    _dumps,
    format_clusters_csv,
    format_clusters_jsonl,
    format_groups_csv,
    format_groups_jsonl,
    format_pairs_csv,
    format_pairs_jsonl,
    format_skipped_jsonl,
    write_clusters_csv,
    write_clusters_jsonl,
    write_groups_csv,
    write_groups_jsonl,
    write_pairs_csv,
    write_pairs_jsonl,
    write_skipped_jsonl,
)
from tests.strategies import report_clusters, report_ids

CLUSTERS = [
    Cluster(members=[0, 2], keep=0, similarities=[1.0, 0.9123456789], ids=["a.txt", 'Tiếng/b,"c".txt']),
    Cluster(members=[1, 3, 4], keep=3, similarities=[0.5, 1.0, 0.25], ids=["x", "y", "z"]),
]
PAIRS = [Pair("a.txt", "b.txt", 0.8765432109, 0.875), Pair("é", "line\nbreak", 1.0, 1.0)]
SKIPPED = [Skipped("bad.bin", None, "binary content (NUL bytes)"), Skipped("d.jsonl", 7, "line is not valid JSON")]
GROUPS = [
    BlockGroup("exact", "Đọc thêm", [BlockOccurrence("a.txt", 3, 3), BlockOccurrence("b.txt", 9, 10)], 2, True),
    BlockGroup("near", "Share, like", [BlockOccurrence("a.txt", 1, 1), BlockOccurrence("c", 2, 2, 0.87654321)], 2),
]


def test_exact_output() -> None:
    assert format_clusters_jsonl(CLUSTERS) == (
        '{"cluster": 0, "size": 2, "keep": "a.txt", "members": [{"id": "a.txt", "similarity": 1.0}, '
        '{"id": "Tiếng/b,\\"c\\".txt", "similarity": 0.912346}]}\n'
        '{"cluster": 1, "size": 3, "keep": "y", "members": [{"id": "x", "similarity": 0.5}, '
        '{"id": "y", "similarity": 1.0}, {"id": "z", "similarity": 0.25}]}\n'
    )
    assert format_clusters_csv(CLUSTERS) == (
        'cluster,id,keep,similarity\n0,a.txt,a.txt,1.0\n0,"Tiếng/b,""c"".txt",a.txt,0.912346\n'
        "1,x,y,0.5\n1,y,y,1.0\n1,z,y,0.25\n"
    )
    assert format_pairs_jsonl(PAIRS) == (
        '{"a": "a.txt", "b": "b.txt", "similarity": 0.876543, "estimate": 0.875}\n'
        '{"a": "é", "b": "line\\nbreak", "similarity": 1.0, "estimate": 1.0}\n'
    )
    # Ids in CSV are shown printable: a newline in an id is spelled \x0a, never a row break,
    # nor is a line or paragraph separator.
    assert printable("a\u2028b\u2029c\u2027") == "a\\u2028b\\u2029c\u2027"
    assert format_pairs_csv(PAIRS) == "a,b,similarity,estimate\na.txt,b.txt,0.876543,0.875\né,line\\x0abreak,1.0,1.0\n"
    assert format_skipped_jsonl(SKIPPED) == (
        '{"path": "bad.bin", "line": null, "reason": "binary content (NUL bytes)"}\n'
        '{"path": "d.jsonl", "line": 7, "reason": "line is not valid JSON"}\n'
    )
    assert format_groups_jsonl(GROUPS) == (
        '{"group": 0, "kind": "exact", "text": "Đọc thêm", "count": 2, "documents": 2, "boilerplate": true, '
        '"occurrences": [{"id": "a.txt", "line": 3, "end_line": 3}, {"id": "b.txt", "line": 9, "end_line": 10}]}\n'
        '{"group": 1, "kind": "near", "text": "Share, like", "count": 2, "documents": 2, "boilerplate": false, '
        '"occurrences": [{"id": "a.txt", "line": 1, "end_line": 1, "similarity": 1.0}, '
        '{"id": "c", "line": 2, "end_line": 2, "similarity": 0.876543}]}\n'
    )
    assert format_groups_csv(GROUPS) == (
        "group,kind,boilerplate,count,documents,id,line,end_line,text\n"
        "0,exact,true,2,2,a.txt,3,3,Đọc thêm\n0,exact,true,2,2,b.txt,9,10,Đọc thêm\n"
        '1,near,false,2,2,a.txt,1,1,"Share, like"\n1,near,false,2,2,c,2,2,"Share, like"\n'
    )


def test_write_equals_format() -> None:
    cases = [
        (write_clusters_jsonl, format_clusters_jsonl, CLUSTERS),
        (write_clusters_csv, format_clusters_csv, CLUSTERS),
        (write_pairs_jsonl, format_pairs_jsonl, PAIRS),
        (write_pairs_csv, format_pairs_csv, PAIRS),
        (write_skipped_jsonl, format_skipped_jsonl, SKIPPED),
        (write_groups_jsonl, format_groups_jsonl, GROUPS),
        (write_groups_csv, format_groups_csv, GROUPS),
    ]
    for write, fmt, items in cases:
        buf = io.StringIO()
        write(buf, items)  # type: ignore[operator]
        assert buf.getvalue() == fmt(items), write.__name__  # type: ignore[operator]


class _Recorder(io.StringIO):
    """A stream that counts the lines written so far."""

    def lines(self) -> int:
        return self.getvalue().count("\n")


def test_records_are_streamed_one_by_one() -> None:
    """Each record is on the stream before the next one is even produced:
    a report is never held whole in memory."""
    out = _Recorder()
    seen: list[int] = []

    def clusters() -> Iterator[Cluster]:
        for i in range(5):
            seen.append(out.lines())
            yield Cluster(members=[2 * i, 2 * i + 1], keep=2 * i, similarities=[1.0, 0.9], ids=[f"{i}a", f"{i}b"])

    write_clusters_jsonl(out, clusters())
    assert seen == [0, 1, 2, 3, 4]
    out, seen = _Recorder(), []
    write_clusters_csv(out, clusters())
    assert seen == [1, 3, 5, 7, 9]  # the header, then two rows per cluster


# A file name that is not UTF-8, as os.fsdecode gives it, and a JSONL id
# holding an escaped lone surrogate ("\ud800"), as json.loads gives it.
BAD_IDS = ["caf\udce9.txt", "x\ud800y"]


def test_lone_surrogates_in_jsonl_are_escaped_losslessly(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    clusters = [*CLUSTERS, Cluster(members=[5, 6], keep=5, similarities=[1.0, 1.0], ids=BAD_IDS)]
    with open_output(target) as out:
        write_clusters_jsonl(out, clusters)
        write_pairs_jsonl(out, [Pair(BAD_IDS[0], "é", 1.0, 1.0)])
        write_skipped_jsonl(out, [Skipped(BAD_IDS[0], None, "x")])
    lines = target.read_bytes().decode("utf-8").splitlines()  # all valid UTF-8
    assert [json.loads(line)["members"][1]["id"] for line in lines[:2]] == ['Tiếng/b,"c".txt', "y"]
    assert "Tiếng" in lines[0]  # ordinary records keep their UTF-8 as is
    assert [m["id"] for m in json.loads(lines[2])["members"]] == BAD_IDS
    assert lines[2].isascii()
    assert json.loads(lines[3])["a"] == BAD_IDS[0] and json.loads(lines[4])["path"] == BAD_IDS[0]


@pytest.mark.parametrize("compress", [False, True])
def test_lone_surrogates_in_csv_do_not_raise(tmp_path: Path, compress: bool) -> None:
    target = tmp_path / ("out.csv.gz" if compress else "out.csv")
    with open_output(target, compress=compress) as out:
        write_clusters_csv(out, [Cluster(members=[0, 1], keep=0, similarities=[1.0, 1.0], ids=BAD_IDS)])
        write_groups_csv(out, [BlockGroup("exact", "t", [BlockOccurrence(BAD_IDS[0], 1, 1)], 1)])
    if not compress:
        rows = list(csv.reader(target.read_text(encoding="utf-8").splitlines()))
        assert rows[1][1:3] == ["caf\\udce9.txt", "caf\\udce9.txt"] and rows[2][1] == "x\\ud800y"


@given(report_clusters(), st.sampled_from(["similarity", "containment"]))
def test_clusters_jsonl_is_json_dumps_of_each_record(
    clusters: list[tuple[list[str], list[float], int]], measure: str
) -> None:
    """The lines are spelled out by hand: byte for byte what json.dumps of
    each record gives (ensure_ascii=True for a record with a lone surrogate)."""
    objects = [
        Cluster(members=list(range(len(ids))), keep=kept, similarities=sims, ids=ids) for ids, sims, kept in clusters
    ]
    expected = "".join(
        _dumps(
            {
                "cluster": index,
                "size": len(ids),
                "keep": ids[kept],
                "members": [{"id": i, measure: round(s, 6)} for i, s in zip(ids, sims, strict=True)],
            }
        )
        + "\n"
        for index, (ids, sims, kept) in enumerate(clusters)
    )
    buf = io.StringIO()
    write_clusters_jsonl(buf, objects, measure=measure)
    assert buf.getvalue() == expected


@given(st.lists(st.tuples(report_ids, report_ids, st.floats(0.0, 1.0), st.floats(0.0, 1.0)), max_size=6))
def test_pairs_jsonl_is_json_dumps_of_each_record(pairs: list[tuple[str, str, float, float]]) -> None:
    expected = "".join(
        _dumps({"a": a, "b": b, "similarity": round(s, 6), "estimate": round(e, 6)}) + "\n" for a, b, s, e in pairs
    )
    assert format_pairs_jsonl([Pair(*p) for p in pairs]) == expected
