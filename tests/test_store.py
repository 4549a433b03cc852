"""Spill files: same data in memory and on disk, versioned header; bounded scan memory."""

from __future__ import annotations

import json
import random
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.metrics import measure
from dedup.document import Document
from dedup.stages import as_batch
from dedup.store import FORMAT_VERSION, HEADER_SIZE, MemoryBudget, SpillFile, Store, parse_memory


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("1000", 1000),
        ("64k", 65536),
        ("512M", 512 << 20),
        ("2G", 2 << 30),
        ("2GiB", 2 << 30),
        ("1.5g", 3 << 29),
    ],
)
def test_parse_memory(text: str, size: int) -> None:
    assert parse_memory(text) == size


@pytest.mark.parametrize("bad", ["", "lots", "-1G", "2X"])
def test_parse_memory_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="memory"):
        parse_memory(bad)


@given(
    st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=20), min_size=1, max_size=6),
    st.sampled_from([0, 40, 1 << 20]),
    st.data(),
)
def test_gather_same_in_memory_and_on_disk(chunks: list[list[int]], limit: int, data: st.DataObject) -> None:
    import tempfile

    flat = np.array([v for c in chunks for v in c], dtype=np.uint64)
    # Ranges are ascending, disjoint, and each inside one appended array (the contract).
    offsets, ends = [], []
    base = 0
    for chunk in chunks:
        if chunk and data.draw(st.booleans()):
            lo = data.draw(st.integers(0, len(chunk)))
            hi = data.draw(st.integers(lo, len(chunk)))
            offsets.append(base + lo)
            ends.append(base + hi)
        base += len(chunk)
    offsets_arr = np.array(offsets, dtype=np.int64)
    counts = np.array(ends, dtype=np.int64) - offsets_arr
    with tempfile.TemporaryDirectory() as folder:
        spill = SpillFile(folder, "test", np.uint64, MemoryBudget(limit), {})
        for chunk in chunks:
            spill.append(np.array(chunk, dtype=np.uint64))
        spill.seal()
        expected = np.concatenate([flat[o:e] for o, e in zip(offsets, ends, strict=True)] + [flat[:0]])
        np.testing.assert_array_equal(spill.gather(offsets_arr, counts), expected)
        assert spill.on_disk == (flat.nbytes > limit)
        spill.close()


def test_budget_evicts_the_largest_file(tmp_path: Path) -> None:
    budget = MemoryBudget(1000)
    big = SpillFile(str(tmp_path), "big", np.uint64, budget, {})
    small = SpillFile(str(tmp_path), "small", np.uint64, budget, {})
    big.append(np.zeros(100, dtype=np.uint64))  # 800 bytes
    small.append(np.zeros(20, dtype=np.uint64))  # 160 bytes
    small.append(np.zeros(20, dtype=np.uint64))  # over budget: the big file goes to disk
    assert big.on_disk and not small.on_disk and budget.used == 320
    for spill in (big, small):
        spill.seal()
    np.testing.assert_array_equal(big.gather(np.array([0]), np.array([100])), np.zeros(100, dtype=np.uint64))
    big.close()
    small.close()


def test_header_is_versioned_and_self_describing(tmp_path: Path) -> None:
    spill = SpillFile(str(tmp_path), "signatures", np.uint32, MemoryBudget(0), {"num_perm": 128, "seed": 1})
    spill.append(np.arange(5, dtype=np.uint32))
    spill.seal()
    raw = (tmp_path / "signatures.spill").read_bytes()
    assert raw[:8] == b"DEDUPSPL" and struct.unpack("<I", raw[8:12])[0] == FORMAT_VERSION
    meta = json.loads(raw[12:HEADER_SIZE])
    assert meta == {"name": "signatures", "dtype": "<u4", "num_perm": 128, "seed": 1}
    assert np.frombuffer(raw[HEADER_SIZE:], dtype=np.uint32).tolist() == [0, 1, 2, 3, 4]
    spill.close()


def test_ids_round_trip(tmp_path: Path) -> None:
    store = Store(str(tmp_path), 4, 2, 2, MemoryBudget(0), {})
    ids = ["a.txt", "tin-tức/đăng.txt", "x\udcff", ""]
    docs = [Document(i, "text") for i in ids]
    values = np.arange(4, dtype=np.uint64)
    starts = np.arange(5, dtype=np.int64)
    signatures = np.zeros((4, 4), dtype=np.uint32)
    batch, _ = as_batch(docs, values, starts, signatures, np.zeros(4, dtype=np.uint8), None, 0.8)
    store.append(batch)
    store.seal()
    assert store.id_list(np.array([0, 1, 2, 3])) == ids
    assert store.id_list(np.array([1, 3])) == [ids[1], ids[3]]
    store.close()


def test_scan_memory_does_not_grow_with_the_corpus(tmp_path: Path) -> None:
    """Spilled scans hold ~24 bytes per document in memory, not the corpus:
    quadrupling the corpus adds far less resident memory than its spilled data."""
    rng = random.Random(5)
    vocab = [f"từ{i}" for i in range(5000)]

    def dump(path: Path, n: int) -> None:
        with open(path, "w", encoding="utf-8") as f:
            for i in range(n):
                f.write(json.dumps({"id": f"d{i}", "text": " ".join(rng.choices(vocab, k=300))}) + "\n")

    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    dump(small, 5_000)
    dump(large, 20_000)
    peaks = {}
    for path in (small, large):
        cmd = [sys.executable, "-m", "dedup", "scan", str(path), "--format", "jsonl", "-q", "--memory", "0"]
        cmd += ["--output", str(tmp_path / "out.jsonl")]
        _, peaks[path] = measure(cmd)
    # 15,000 more documents spill ~15,000 x (300 x 8 + 128 x 4 + 21 x 8) bytes = ~46 MB.
    spilled_mib = 15_000 * (300 * 8 + 128 * 4 + 21 * 8) / 2**20
    grown_mib = (peaks[large] - peaks[small]) / 1024
    assert grown_mib < spilled_mib / 3, (grown_mib, spilled_mib)


def test_full_disk_while_spilling_is_one_clear_error(tmp_path: Path) -> None:
    from dedup.errors import OutputError

    # /dev/full fails every write with ENOSPC: the spill file is a link to it.
    (tmp_path / "demo.spill").symlink_to("/dev/full")
    spill = SpillFile(str(tmp_path), "demo", np.uint64, MemoryBudget(0), {})
    with pytest.raises(OutputError, match=r"No space left on device.*TMPDIR"):
        spill.append(np.arange(100_000, dtype=np.uint64))
    spill.close()
    assert (tmp_path / "demo.spill").is_symlink()  # the device was written to, never replaced
