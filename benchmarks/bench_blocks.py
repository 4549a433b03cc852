"""``dedup blocks`` over all of VNTC (84k articles): wall and CPU time, peak memory.

``python benchmarks/bench_blocks.py`` writes its section of RESULTS.md.
``--against DIR`` also runs another checkout of dedup (its kernels built in
place, e.g. a ``git worktree`` of main with main's ``dedup/_kernels*.so``),
through ``PYTHONPATH``, interleaved with this one: the machine is shared and
noisy, so only figures of one run side by side compare. Outputs of both
must be byte-identical (sha256).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.metrics import measure, write_section  # noqa: E402  # after sys.path

CORPUS = HERE.parents[1] / "shared" / "corpora" / "vntc" / "vntc.jsonl.gz"
ARTICLES = 84_132


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(cmd: list[str], pythonpath: str | None) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak KiB of ``cmd`` (with ``pythonpath`` first on the path)."""
    saved = os.environ.get("PYTHONPATH")
    if pythonpath is not None:
        os.environ["PYTHONPATH"] = pythonpath
    try:
        before = _children_cpu()
        seconds, peak = measure(cmd)
        return seconds, _children_cpu() - before, peak
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", metavar="DIR", help="another dedup checkout to run side by side")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds (medians reported)")
    args = parser.parse_args()
    dedup_bin = str(Path(sys.executable).with_name("dedup"))
    versions: list[tuple[str, str | None]] = [("this branch", None)]
    if args.against:
        versions.insert(0, (f"`{Path(args.against).name}`", str(Path(args.against).resolve())))
    rows = []
    with tempfile.TemporaryDirectory(prefix="dedup-blocks-") as tmp:
        for extra in ([], ["--unit", "paragraph"]):
            label = " ".join(["dedup blocks vntc.jsonl.gz", *extra])
            times: dict[str, list[tuple[float, float, int]]] = {name: [] for name, _ in versions}
            digests: dict[str, str] = {}
            for _ in range(args.rounds):
                for name, path in versions:
                    out = Path(tmp) / "groups.jsonl"
                    cmd = [dedup_bin, "blocks", str(CORPUS), "--format", "jsonl", "--output", str(out), "-q", *extra]
                    times[name].append(_run(cmd, path))
                    digests[name] = hashlib.sha256(out.read_bytes()).hexdigest()
                    groups = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
            if len(set(digests.values())) != 1:
                raise SystemExit(f"{label}: outputs differ: {digests}")
            boilerplate = sum(g["boilerplate"] for g in groups)
            repeats = sum(g["count"] - 1 for g in groups)
            for name, _ in versions:
                wall = statistics.median(t[0] for t in times[name])
                cpu = statistics.median(t[1] for t in times[name])
                peak = max(t[2] for t in times[name])
                rows.append(
                    f"| `{label}` | {name} | {wall:.1f} s | {cpu:.1f} s | {ARTICLES / wall:,.0f} | "
                    f"{peak / 1024:.0f} MiB | {len(groups):,} ({boilerplate:,} boilerplate) | {repeats:,} |"
                )
                print(rows[-1], flush=True)
            print(f"{label}: output sha256 {next(iter(digests.values()))} (identical)", flush=True)
    text = "\n".join(
        [
            "## Repeated blocks: all of VNTC",
            "",
            "Reproduce with `.venv/bin/python benchmarks/bench_blocks.py [--against OTHER_CHECKOUT] [--rounds N]`: "
            "`dedup blocks` over the 84,132 articles of `../shared/corpora/vntc/vntc.jsonl.gz`; CPU is user + "
            "system seconds of the process, peak resident memory its high-water mark (VmHWM, read from /proc). "
            "With `--against`, the other checkout runs interleaved with this one and both outputs must be "
            "byte-identical.",
            "",
            "| command | version | wall time | CPU | articles/s | peak memory | groups | repeats removed by --strip |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
            *rows,
        ]
    )
    write_section(HERE / "RESULTS.md", "blocks-vntc", text)


if __name__ == "__main__":
    main()
