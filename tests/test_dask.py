"""The dask engine gives the local engine's output, byte for byte."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.blocks import BlocksConfig, BlocksResult, find_repeated_blocks
from dedup.config import ScanConfig
from dedup.document import Skipped
from dedup.errors import InputError
from dedup.io import read_documents
from dedup.pipeline import ScanResult, find_duplicates
from dedup.report import format_groups_jsonl, write_clusters_jsonl, write_pairs_jsonl, write_skipped_jsonl
from tests.strategies import block_corpora, news_texts, scan_corpora

distributed = pytest.importorskip("distributed")
dask_engine = pytest.importorskip("dedup.dask_engine")


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    """One in-process cluster of two workers for the module (start-up once)."""
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def _outputs(result: ScanResult) -> tuple[str, ...]:
    """Everything a scan writes (clusters, pairs, skips, warnings) and its counts."""
    clusters, pairs, skipped = io.StringIO(), io.StringIO(), io.StringIO()
    write_clusters_jsonl(clusters, result.clusters)
    write_pairs_jsonl(pairs, result.pairs)
    write_skipped_jsonl(skipped, result.skipped)
    stats = {**result.stats.__dict__, "spilled": None}
    notes = "\n".join(r.describe() for r in result.renamed)
    return clusters.getvalue(), pairs.getvalue(), skipped.getvalue(), notes, repr(stats), str(result.documents)


@settings(max_examples=30)
@given(
    corpus=scan_corpora(),
    partition_size=st.integers(1, 12),
    batch_size=st.integers(1, 8),
    keep=st.sampled_from(["first", "longest"]),
    verify=st.booleans(),
)
def test_same_output_for_any_partitioning(
    client: object, corpus: list[tuple[str, str]], partition_size: int, batch_size: int, keep: str, verify: bool
) -> None:
    config = ScanConfig(threshold=0.5, num_perm=32, batch_size=batch_size, keep=keep, verify=verify, workers=1)
    items: list[tuple[str, str] | Skipped] = [*corpus[:3], Skipped("bad.jsonl", 4, "line is not JSON"), *corpus[3:]]
    local = find_duplicates(items, config)
    dask = dask_engine.find_duplicates(items, config, scheduler=client, partition_size=partition_size)
    assert _outputs(dask) == _outputs(local)


def test_large_buckets_are_stars_as_locally(client: object) -> None:
    """Over MAX_BUCKET documents in one band bucket: the same star pairs."""
    story = "Mỹ và Taliban nối lại đàm phán hòa bình tại thủ đô Doha của Qatar hôm nay"
    other = "Chuyện khác hẳn về thời tiết ở Hà Nội và Sài Gòn trong những ngày cuối tuần này"
    docs = [text for _ in range(1003) for text in (story, other, story.upper())]
    local = find_duplicates(docs, num_perm=16, workers=1)
    dask = dask_engine.find_duplicates(docs, num_perm=16, workers=1, scheduler=client, partition_size=300)
    assert local.stats.capped_buckets > 0
    assert _outputs(dask) == _outputs(local)


def _write_corpus(folder: Path, corpus: list[tuple[str, str]], seed_texts: list[str]) -> None:
    """A folder of every input kind a scan meets: text files, a JSONL dump
    (ids repeated, bad lines), a gzip dump cut short, a binary file, the
    same file reached twice through a link."""
    (folder / "d").mkdir()
    for i, text in enumerate(seed_texts):
        (folder / "d" / f"{i:03d}.txt").write_text(text, encoding="utf-8")
    lines = [json.dumps({"id": i, "text": t}, ensure_ascii=False) for i, t in corpus]
    lines[1:1] = ["not json", "", json.dumps({"text": seed_texts[0]}), json.dumps({"id": "x", "body": "?"})]
    (folder / "d" / "dump.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    packed = gzip.compress("\n".join(lines).encode())
    (folder / "d" / "cut.jsonl.gz").write_bytes(packed[: len(packed) * 2 // 3])
    (folder / "d" / "zz.txt").write_bytes(b"\x00\x01binary")
    os.symlink(folder / "d" / "000.txt", folder / "d" / "link.txt")


@settings(max_examples=12)
@given(
    corpus=scan_corpora(),
    seed_texts=st.lists(news_texts, min_size=1, max_size=4),
    partition_bytes=st.integers(1, 400),
    batch_size=st.integers(1, 8),
    memory=st.sampled_from([0, 1, 1 << 14]),
)
def test_files_same_output_for_any_partitioning(
    client: object,
    tmp_path_factory: pytest.TempPathFactory,
    corpus: list[tuple[str, str]],
    seed_texts: list[str],
    partition_bytes: int,
    batch_size: int,
    memory: int,
) -> None:
    """Files read by the workers, a JSONL dump in hypothesis-chosen byte
    ranges, a file read whole written in pieces as small as one batch
    (``memory``): ids, renamings, skips and clusters as the local engine's."""
    folder = tmp_path_factory.mktemp("corpus")
    _write_corpus(folder, corpus, [*seed_texts, seed_texts[0]])
    paths = [str(folder / "d"), str(folder / "d" / "001.txt")]
    config = ScanConfig(threshold=0.5, num_perm=32, batch_size=batch_size, workers=1, memory=memory)
    local = find_duplicates(read_documents(paths), config)
    dask = dask_engine.scan_files(paths, config, scheduler=client, partition_bytes=partition_bytes)
    assert _outputs(dask) == _outputs(local)
    assert any(s.reason == "duplicate input" for s in dask.skipped)


def test_cli_engine_dask_with_worker_processes(tmp_path: Path) -> None:
    """`dedup scan --engine dask` on a LocalCluster of two processes writes
    what `--engine local` writes."""
    story = "Mỹ và Taliban nối lại đàm phán hòa bình tại thủ đô Doha của Qatar hôm nay, theo nguồn tin"
    texts = [story, story.upper(), "Chuyện khác hẳn về thời tiết Hà Nội hôm nay", story + " thêm"]
    lines = [json.dumps({"id": "a", "text": t}, ensure_ascii=False) for t in texts]
    (tmp_path / "dump.jsonl").write_text("\n".join([*lines, "oops"]) + "\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text(story, encoding="utf-8")
    outputs = []
    for engine in ("local", "dask"):
        out = tmp_path / f"{engine}.jsonl"
        errors = tmp_path / f"{engine}-errors.jsonl"
        inputs = [str(tmp_path / "dump.jsonl"), str(tmp_path / "b.txt")]
        options = ["--engine", engine, "--workers", "2", "--format", "jsonl", "-o", str(out), "--errors", str(errors)]
        done = subprocess.run(
            [sys.executable, "-m", "dedup", "scan", *inputs, *options],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        outputs.append((out.read_bytes(), errors.read_bytes(), done.stderr.rsplit("(", 1)[0]))
    assert outputs[0] == outputs[1]
    assert b'"size": 4' in outputs[0][0]


def test_scheduler_needs_dask_engine() -> None:
    from typer.testing import CliRunner

    from dedup.cli import app

    result = CliRunner().invoke(app, ["scan", "--scheduler", "tcp://x:1", str(Path(__file__))])
    assert result.exit_code == 2
    assert "--engine dask" in result.output


def test_partition_sizes_refused() -> None:
    with pytest.raises(ValueError, match="partition_size"):
        dask_engine.find_duplicates(["a"], partition_size=0, scheduler="inline")
    with pytest.raises(ValueError, match="partition_bytes"):
        dask_engine.scan_files([__file__], partition_bytes=0, scheduler="inline")


def _block_outputs(result: BlocksResult) -> tuple[str, ...]:
    """Everything `dedup blocks` writes, and what --strip removes."""
    skipped = io.StringIO()
    write_skipped_jsonl(skipped, result.skipped)
    notes = "\n".join(r.describe() for r in result.renamed)
    spans = repr((sorted(result.repeats.items()), sorted(result.boilerplate_spans.items())))
    counts = repr((result.documents, result.blocks, result.boilerplate_min_documents))
    return format_groups_jsonl(result.groups), skipped.getvalue(), notes, spans, counts


@settings(max_examples=25)
@given(
    corpus=block_corpora(),
    partition_bytes=st.integers(1, 300),
    unit=st.sampled_from(["line", "paragraph"]),
    near=st.sampled_from([None, 0.3]),
)
def test_blocks_same_output_for_any_partitioning(
    client: object,
    tmp_path_factory: pytest.TempPathFactory,
    corpus: list[tuple[str, str]],
    partition_bytes: int,
    unit: str,
    near: float | None,
) -> None:
    """Exact and near groups of blocks over a JSONL dump in hypothesis-chosen
    byte ranges, and a text file: the local engine's, to the byte."""
    folder = tmp_path_factory.mktemp("blocks")
    lines = [json.dumps({"id": i, "text": t}, ensure_ascii=False) for i, t in corpus]
    lines.insert(1, "not json")
    (folder / "dump.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "z.txt").write_text(corpus[0][1], encoding="utf-8")
    paths = [str(folder)]
    config = BlocksConfig(unit=unit, min_words=4, near=near, boilerplate_documents=2)
    local = find_repeated_blocks(
        lambda: read_documents(paths), unit=unit, near=near, boilerplate_documents=2, workers=1
    )
    dask = dask_engine.blocks_files(paths, config, scheduler=client, partition_bytes=partition_bytes)
    assert _block_outputs(dask) == _block_outputs(local)


class _KillOnce(distributed.WorkerPlugin):  # type: ignore[misc]  # distributed's classes are untyped
    """Kills its worker's process (SIGKILL, no goodbye) the first time any
    worker starts a task of each prefix; a marker file per prefix in
    ``folder`` records that it happened."""

    def __init__(self, prefixes: list[str], folder: str) -> None:
        self.prefixes = prefixes
        self.folder = folder

    def transition(self, key: object, start: str, finish: str, **kwargs: object) -> None:
        name = str(key[0] if isinstance(key, tuple) else key)
        for prefix in self.prefixes:
            if finish == "executing" and name.startswith(prefix):
                try:
                    fd = os.open(os.path.join(self.folder, prefix), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    return
                os.close(fd)
                os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_mid_scan_changes_nothing(tmp_path: Path) -> None:
    """A worker process of a LocalCluster killed when a sketch task begins,
    and another when a reducer begins: each task is re-run on a new worker
    and the output is the local engine's."""
    story = "Mỹ và Taliban nối lại đàm phán hòa bình tại thủ đô Doha của Qatar hôm nay, theo nguồn tin"
    texts = [story, story.upper(), "Chuyện khác hẳn về thời tiết Hà Nội hôm nay nhé", story + " thêm"] * 20
    lines = [json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) for i, t in enumerate(texts)]
    (tmp_path / "dump.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    paths = [str(tmp_path / "dump.jsonl")]
    config = ScanConfig(threshold=0.5, num_perm=32, workers=1)
    local = find_duplicates(read_documents(paths), config)
    prefixes = ["_sketch_partition", "_reduce_key_range"]
    (tmp_path / "killed").mkdir()
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        distributed.Client(cluster) as c,
    ):
        c.register_plugin(_KillOnce(prefixes, str(tmp_path / "killed")))
        dask = dask_engine.scan_files(paths, config, scheduler=c, partition_bytes=500)
    assert sorted(os.listdir(tmp_path / "killed")) == sorted(prefixes)
    assert _outputs(dask) == _outputs(local)


def test_cli_blocks_engine_dask_with_worker_processes(tmp_path: Path) -> None:
    """`dedup blocks --near --strip --engine dask` on two worker processes
    writes what the local engine writes, copies included."""
    lines = [
        "Mời quý độc giả theo dõi VOV.VN trên",
        "Mời quý độc giả theo dõi VOV.VN trên mạng",
        "Một dòng riêng ở đây",
    ]
    (tmp_path / "in").mkdir()
    for i in range(3):
        (tmp_path / "in" / f"{i}.txt").write_text("\n".join([lines[i % 2], lines[2], lines[0]]), encoding="utf-8")
    outputs = []
    for engine in ("local", "dask"):
        out, copies = tmp_path / f"{engine}.jsonl", tmp_path / f"{engine}-copies"
        options = ["--near", "0.7", "--strip", str(copies), "--format", "jsonl", "-o", str(out)]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "dedup",
                "blocks",
                str(tmp_path / "in"),
                *options,
                "--engine",
                engine,
                "--workers",
                "2",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        stripped = sorted((p.name, p.read_bytes()) for p in copies.iterdir())
        outputs.append((out.read_bytes(), stripped, done.stderr.rsplit("(", 1)[0]))
    assert outputs[0] == outputs[1]
    assert b'"kind": "near"' in outputs[0][0]


def test_fsspec_urls_as_paths(client: object, tmp_path: Path) -> None:
    """A folder behind a ``memory://`` URL (read by the in-process workers,
    a JSONL file in byte ranges) and a ``file://`` URL of a local folder give
    the clusters a local folder of the same files gives; hidden files and
    unknown extensions are treated as locally."""
    fsspec = pytest.importorskip("fsspec")
    story = "Mỹ và Taliban nối lại đàm phán hòa bình tại thủ đô Doha của Qatar hôm nay, theo nguồn tin"
    texts = [story, story.upper(), "Chuyện khác hẳn về thời tiết Hà Nội hôm nay nhé", story + " thêm"] * 5
    files = {
        "a/dump.jsonl": "\n".join(
            json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) for i, t in enumerate(texts)
        ),
        "b.txt": story,
        "notes.xyz": "not read",
        ".hidden.txt": story,
    }
    local = tmp_path / "dump"
    memory = fsspec.filesystem("memory")
    for name, text in files.items():
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        (local / name).write_text(text, encoding="utf-8")
        memory.pipe(f"/dedup-test/dump/{name}", text.encode())
    config = ScanConfig(threshold=0.5, num_perm=32, workers=1)
    expected = find_duplicates(read_documents([str(local)]), config)
    for url in ("memory://dedup-test/dump/", local.as_uri()):
        inputs = dask_engine.collect_inputs_any([url])
        assert inputs.unsupported == ["notes.xyz"]
        result = dask_engine.scan_files(inputs, config, scheduler=client, partition_bytes=300)
        assert _outputs(result)[:2] == _outputs(expected)[:2]
    # A file gone between listing and reading: skipped by its worker, as locally.
    inputs = dask_engine.collect_inputs_any(["memory://dedup-test/dump/"])
    memory.rm("/dedup-test/dump/b.txt")
    result = dask_engine.scan_files(inputs, config, scheduler=client)
    assert [s.path for s in result.skipped if s.reason.startswith("cannot read")] == ["memory://dedup-test/dump/b.txt"]
    with pytest.raises(InputError, match="no such file"):
        dask_engine.collect_inputs_any(["memory://dedup-test/nothing/"])
    memory.rm("/dedup-test", recursive=True)


def test_scratch_folder_is_used_and_left_empty(client: object, tmp_path: Path) -> None:
    scratch = tmp_path / "shared"
    scratch.mkdir()
    seen: list[str] = []
    result = dask_engine.scan_files(
        [__file__], scheduler=client, scratch=str(scratch), on_stage=lambda _: seen.extend(os.listdir(scratch))
    )
    assert result.documents == 1
    assert seen and all(name.startswith("dedup-dask-") for name in seen)
    assert not os.listdir(scratch)
    with pytest.raises(ValueError, match="scratch"):
        dask_engine.scan_files([__file__], scheduler="inline", scratch=str(tmp_path / "missing"))


def test_a_task_left_running_never_recreates_the_removed_scratch_folder(tmp_path: Path) -> None:
    # After Ctrl-C the client removes its scratch folder; a task still running
    # on a worker must fail on its write, not bring the folder back.
    gone = tmp_path / "dedup-dask-removed"
    writer = dask_engine._Writer()
    with pytest.raises(FileNotFoundError):
        writer.write(str(gone / "part-000000-0000"), ScanConfig())
    assert not gone.exists()


def test_the_scratch_folder_outlives_the_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []

    class Client:
        def nthreads(self) -> dict[str, int]:
            return {"w": 1}

    @contextlib.contextmanager
    def connect(*args: object) -> Iterator[object]:
        events.append("connect")
        try:
            yield Client()
        finally:
            events.append(f"close client, scratch {'present' if os.listdir(tmp_path) else 'removed'}")

    monkeypatch.setattr(dask_engine, "_connect", connect)
    where = dask_engine._Cluster(None, 1, str(tmp_path))
    with pytest.raises(KeyboardInterrupt), dask_engine._session(where, 0, None):
        raise KeyboardInterrupt
    assert events == ["connect", "close client, scratch present"]
    assert not os.listdir(tmp_path)


def test_ctrl_c_while_the_local_cluster_starts_closes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Interrupted inside LocalCluster(), the cluster was left half-started for
    # distributed's exit hook, which printed a traceback closing it.
    closed: list[bool] = []

    class Starting:
        def __init__(self, **options: object) -> None:
            os.kill(os.getpid(), signal.SIGINT)

        def close(self) -> None:
            closed.append(True)

    monkeypatch.setattr(distributed, "LocalCluster", Starting)
    with pytest.raises(KeyboardInterrupt), dask_engine._connect(None, 1, None):
        pass
    assert closed == [True]


def test_an_output_over_a_file_url_input_is_refused(tmp_path: Path) -> None:
    from dedup.errors import UsageError
    from dedup.output import check_outputs

    (tmp_path / "news").mkdir()
    story = tmp_path / "news" / "a.txt"
    story.write_text("a story", encoding="utf-8")
    for url in (f"file://{tmp_path}/news", f"file://{story}"):
        inputs = dask_engine.collect_inputs_any([url])
        with pytest.raises(UsageError, match="is an input file"):
            check_outputs([("--output", str(story))], inputs.files)
    assert story.read_text(encoding="utf-8") == "a story"


def test_a_scheduler_that_is_not_an_address_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a story", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "dedup", "scan", str(tmp_path), "--engine", "dask", "--scheduler", "not an address"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("dedup: error: --scheduler 'not an address' is not an address (")
    assert "Traceback" not in done.stderr
