"""The command line driven with generated arguments and generated files (issue 8).

Whatever the arguments and the bytes on disk: the exit code is one of the
documented ones, no traceback reaches the user, no input file changes, and
no temporary file is left behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dedup.cli import app
from dedup.io import collect_inputs
from tests.strategies import file_contents, file_names

runner = CliRunner()

EXIT_CODES = {0, 1, 2, 3}


def _snapshot(folder: Path) -> dict[bytes, bytes]:
    """The bytes of every file dedup reads under ``folder`` (what "input" means)."""
    out = {}
    for file in collect_inputs([folder]).files:
        path = os.fsencode(file.path)
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path, "rb") as f:
                out[path] = f.read()
    return out


def _targets(base: Path, inputs: Path, first_input: Path) -> st.SearchStrategy[str]:
    """Where an output may be pointed: fresh files, an input, the input
    folder, stdout, an empty name, a path under a regular file."""
    return st.sampled_from(
        [
            str(base / "out" / "result.jsonl"),
            str(base / "out" / "result.csv.gz"),
            str(first_input),
            str(inputs),
            str(inputs / "new-inside-input.jsonl"),
            str(first_input / "under-a-file.jsonl"),
            str(base / "missing-folder" / "x.jsonl"),
            "-",
            "",
        ]
    )


def _arguments(base: Path, inputs: Path, first_input: Path) -> st.SearchStrategy[list[str]]:
    target = _targets(base, inputs, first_input)
    number = st.sampled_from(["0", "1", "-1", "0.5", "0.8", "1.5", "nan", "abc", "100000", "3"])
    scan_options = st.lists(
        st.one_of(
            st.tuples(st.just("--format"), st.sampled_from(["table", "jsonl", "csv", "html", ""])),
            st.tuples(st.just("--output"), target),
            st.tuples(st.just("--errors"), target),
            st.tuples(st.just("--threshold"), number),
            st.tuples(st.just("--shingle"), st.sampled_from(["word:5", "char:3", "word", "char:0", "x:5"])),
            st.tuples(st.just("--workers"), number),
            st.tuples(st.just("--num-perm"), number),
            st.tuples(st.just("--seed"), number),
            st.tuples(st.just("--memory"), st.sampled_from(["0", "1K", "2G", "-5", "lots"])),
            st.tuples(st.just("--batch-size"), number),
            st.tuples(st.sampled_from(["--pairs", "--strict", "--verbose", "--fail-on-duplicates", "-q", "-h"])),
        ),
        max_size=4,
    )
    blocks_options = st.lists(
        st.one_of(
            st.tuples(st.just("--format"), st.sampled_from(["table", "jsonl", "csv"])),
            st.tuples(st.just("--output"), target),
            st.tuples(st.just("--strip"), st.sampled_from([str(base / "clean"), str(inputs / "clean"), ""])),
            st.tuples(st.just("--near"), number),
            st.tuples(st.just("--min-words"), number),
            st.tuples(st.just("--boilerplate-documents"), number),
            st.tuples(st.just("--unit"), st.sampled_from(["line", "paragraph", "word"])),
            st.tuples(st.sampled_from(["--strip-boilerplate", "-q"])),
        ),
        max_size=4,
    )
    paths = st.lists(st.sampled_from([str(inputs), str(first_input), str(base / "nowhere")]), min_size=1, max_size=3)
    scan = st.tuples(st.just(["scan"]), paths, scan_options)
    blocks = st.tuples(st.just(["blocks"]), paths, blocks_options)
    return st.one_of(scan, blocks).map(lambda t: [*t[0], *t[1], *[x for option in t[2] for x in option]])


@pytest.fixture
def base() -> Path:
    with tempfile.TemporaryDirectory(prefix="dedup-fuzz-") as folder:
        yield Path(folder)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.tuples(file_names(), file_contents()), min_size=1, max_size=6), data=st.data())
def test_cli_never_crashes_never_writes_inputs(
    base: Path, files: list[tuple[bytes, bytes]], data: st.DataObject
) -> None:
    case = Path(tempfile.mkdtemp(dir=base))
    inputs = case / "inputs"
    inputs.mkdir()
    for name, content in files:
        with open(os.path.join(os.fsencode(inputs), name), "wb") as f:
            f.write(content)
    first_input = Path(os.fsdecode(os.path.join(os.fsencode(inputs), sorted(files)[0][0])))
    (case / "out").mkdir()
    scratch = case / "tmp"
    scratch.mkdir()
    args = data.draw(_arguments(case, inputs, first_input))
    before = _snapshot(inputs)
    old_tempdir = tempfile.tempdir
    tempfile.tempdir = str(scratch)
    try:
        result = runner.invoke(app, args)
    finally:
        tempfile.tempdir = old_tempdir
    assert result.exit_code in EXIT_CODES, (args, result.exit_code, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    assert "Traceback" not in result.stderr, args
    after = _snapshot(inputs)
    assert {p: after.get(p) for p in before} == before, args
    assert list(scratch.iterdir()) == [], args
    leftovers = [p for p in case.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == [], args
