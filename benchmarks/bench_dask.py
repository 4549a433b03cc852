"""`dedup scan --engine dask --workers 2` against the local engine, side by side.

``python benchmarks/bench_dask.py [--docs 200000] [--memory 1G]`` does, in one run:

1. takes the first ``--docs`` documents of ``benchmarks/data/news-1m.jsonl``
   (built by ``benchmarks/make_dump.py --docs 1000000 --dup-rate 0.2``);
2. measures the base size of a LocalCluster of two workers doing nothing
   (client, scheduler, nannies and workers: peak resident memory of the tree);
3. times ``dedup scan --memory M`` (local) and ``--engine dask --workers 2``,
   interleaved, ``--rounds`` times each, as separate processes: wall time
   and the peak resident memory summed over each process tree; checks the
   two outputs are byte-identical;
4. runs the dask engine once more in a process that records the time of
   each stage (sketch, naming, candidates, verifying, clustering) and the
   bytes moved between tasks per document;
5. writes the ``dask`` section of ``benchmarks/RESULTS.md``, with a
   projection for 100M documents on 16 machines of 16 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.metrics import measure, write_section  # noqa: E402  # after sys.path

DUMP = HERE / "data" / "news-1m.jsonl"

_BASE = """
import sys, time
from distributed import Client, LocalCluster
with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c, Client(c) as cl:
    cl.run(lambda: 0)
    time.sleep(2)
"""

_STAGES = """
import json, sys, time
from dedup.config import ScanConfig
from dedup.store import parse_memory
from dedup.dask_engine import scan_files
from dedup.lsh import choose_bands
marks = [("sketch", time.perf_counter())]
config = ScanConfig(memory=parse_memory(sys.argv[2]))
result = scan_files([sys.argv[1]], config, n_workers=2, on_stage=lambda s: marks.append((s, time.perf_counter())))
marks.append(("end", time.perf_counter()))
bands, rows = choose_bands(config.threshold, config.num_perm)
json.dump({"stages": [[a[0], b[1] - a[1]] for a, b in zip(marks, marks[1:])], "documents": result.documents,
           "bands": bands, "candidates": result.stats.candidates, "shingles": result.stats.shingles,
           "verified": result.stats.verified}, open(sys.argv[3], "w"))
"""


def _subset(docs: int) -> Path:
    """The first ``docs`` lines of the 1M dump (the dump itself for 1M or more)."""
    if docs >= 1_000_000:
        return DUMP
    path = HERE / "data" / f"news-{docs // 1000}k.jsonl"
    if not path.exists():
        with open(DUMP, "rb") as src, open(f"{path}.tmp", "wb") as out:
            for _, line in zip(range(docs), src, strict=False):
                out.write(line)
        os.replace(f"{path}.tmp", path)
    return path


def _stages(dump: Path, memory: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "stages.json")
        subprocess.run([sys.executable, "-c", _STAGES, str(dump), memory, out], check=True)
        with open(out, encoding="utf-8") as f:
            stages: dict[str, object] = json.load(f)
            return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--memory", default="1G")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    dump = _subset(args.docs)
    dedup = str(Path(sys.executable).with_name("dedup"))
    _, base_kib = measure([sys.executable, "-c", _BASE])
    times: dict[str, list[float]] = {"local": [], "dask": []}
    peaks: dict[str, list[int]] = {"local": [], "dask": []}
    with tempfile.TemporaryDirectory() as tmp:
        outputs = {}
        for _ in range(args.rounds):
            for engine in ("local", "dask"):
                out = os.path.join(tmp, f"{engine}.jsonl")
                cmd = [dedup, "scan", str(dump), "--memory", args.memory, "--format", "jsonl", "-o", out, "-q"]
                cmd += ["--engine", engine, "--workers", "2"]
                wall, kib = measure(cmd)
                times[engine].append(wall)
                peaks[engine].append(kib)
                outputs[engine] = Path(out).read_bytes()
                print(f"{engine}: {wall:.1f} s, {kib / 1024:.0f} MiB", file=sys.stderr, flush=True)
        identical = outputs["local"] == outputs["dask"]
    stages = _stages(dump, args.memory)
    print(json.dumps(stages), file=sys.stderr)
    write_section(HERE / "RESULTS.md", "dask", _report(args, dump, times, peaks, base_kib, identical, stages))


def _report(
    args: argparse.Namespace,
    dump: Path,
    times: dict[str, list[float]],
    peaks: dict[str, list[int]],
    base_kib: int,
    identical: bool,
    stages: dict[str, object],
) -> str:
    local, dask = statistics.median(times["local"]), statistics.median(times["dask"])
    local_mib, dask_mib, base_mib = max(peaks["local"]) / 1024, max(peaks["dask"]) / 1024, base_kib / 1024
    docs = int(stages["documents"])  # type: ignore[call-overload]
    bands = int(stages["bands"])  # type: ignore[call-overload]
    candidates = int(stages["candidates"])  # type: ignore[call-overload]
    shingles = int(stages["shingles"])  # type: ignore[call-overload]
    # Reducers read each document's band keys (8 bytes) and numbers (4) from the
    # partition files; candidate codes (8 bytes a pair) go to the client and
    # back to the verify tasks with their pairs (16); verify tasks read both
    # documents' shingles (8 bytes each) and signatures (4 x 128).
    shuffle = 12 * bands + 24 * candidates / docs
    verify_read = 2 * candidates / docs * (8 * shingles / docs + 512)
    timed = [(name, float(seconds)) for name, seconds in stages["stages"]]  # type: ignore[attr-defined]
    stage_rows = "\n".join(f"| {name} | {seconds:.1f} s |" for name, seconds in timed)
    seconds = dict(timed)
    per_doc_sketch = seconds.get("sketch", 0.0) / docs * 2  # core-seconds per document on 2 workers
    rest = sum(v for k, v in seconds.items() if k != "sketch")
    projected = _projection(per_doc_sketch, shuffle, verify_read)
    return f"""## Dask engine: `--engine dask --workers 2` against the local engine

Reproduce with `.venv/bin/python benchmarks/bench_dask.py --docs {args.docs} --memory {args.memory}` (after
`make test`). Dump: the first {docs:,} documents of `news-1m.jsonl` ({dump.stat().st_size / 2**20:,.0f} MiB of
JSONL). Both engines in one run, interleaved, as separate processes; peak memory is the sum over the process
tree of each process's high-water mark (an upper bound for the workers, whose peaks need not coincide).

| run | wall time | peak memory (tree) |
|---|---:|---:|
| `dedup scan --memory {args.memory}` (local) | {local:.1f} s | {local_mib:,.0f} MiB |
| `dedup scan --memory {args.memory} --engine dask --workers 2` | {dask:.1f} s | {dask_mib:,.0f} MiB |
| a LocalCluster of 2 workers doing nothing (base size) | | {base_mib:,.0f} MiB |

Dask / local wall time: **{dask / local:.2f}x** (target <= 1.5x). Dask peak memory against the local engine's
peak plus the workers' base size: {dask_mib:,.0f} MiB vs {local_mib + base_mib:,.0f} MiB. Outputs byte-identical:
{"yes" if identical else "NO"}.

Time of each stage (one more dask run; `naming` is the client's unique-id pass over the partitions):

| stage | time |
|---|---:|
{stage_rows}

Bytes moved between tasks, per document: {12 * bands} bytes of band keys and document numbers read by the
reducers ({bands} bands x 12 bytes), {24 * candidates / docs:.1f} bytes of candidate pairs
({candidates / docs:.2f} candidates per document, 8 bytes from a reducer to the client and 16 to a verify
task): **{shuffle:,.0f} bytes shuffled per document**; verify tasks read {verify_read:,.0f} bytes of shingles and
signatures per document out of the partition files where they were written (local disk on one machine, the
shared folder on a cluster).

Projection for 100M documents on 16 machines x 16 cores (256 worker threads), from these figures:
{projected}
- client stages (naming, merging candidate codes, connected components and labels: {rest:.1f} s here,
  linear in documents): ~{rest * 100_000_000 / docs / 60:,.0f} min at 100M documents on one client core.
  That, not the workers, bounds the run: distributing the naming pass and the components is the next step.

The sketch stage includes starting the LocalCluster and planning the partitions. The machine is shared
(2 cores, other jobs running): single runs swing by +-40%; quote the ratio with that in mind.
"""


def _projection(core_seconds_per_doc: float, shuffle: float, verify_read: float) -> str:
    docs, cores = 100_000_000, 256
    sketch = docs * core_seconds_per_doc / cores
    network = docs * (shuffle + verify_read) / (16 * 1.25e9 * 0.5)  # 10 Gb/s links at half their rate
    return f"""- sketch: {core_seconds_per_doc * 1e3:.2f} core-ms a document measured here ->
  {sketch / 60:,.1f} min on 256 cores, assuming the sketch scales linearly with cores (tasks share nothing) and
  the input is read at >= {docs * 3000 / sketch / 16 / 2**20:,.0f} MiB/s per machine (3 KB a document);
- shuffle and verify reads: {(shuffle + verify_read) * docs / 2**30:,.0f} GiB in all -> {network / 60:,.1f} min on
  16 machines with 10 Gb/s links used at half their rate, assuming the candidate rate per document stays as
  measured (it grows with the duplicate rate, not with the corpus);
- client: ids for 100M documents (the naming pass, ~100 bytes a document: ~10 GB) and the candidate codes
  (8 bytes each) must fit on the client machine; connected components are 8 bytes a document. Beyond one
  machine's memory the naming pass and the components must run distributed (not done yet)."""


if __name__ == "__main__":
    main()
