"""``dedup blocks`` over all of VNTC (84k articles): throughput and peak memory.

``python benchmarks/bench_blocks.py`` writes its section of RESULTS.md.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.metrics import measure, write_section  # noqa: E402  # after sys.path

CORPUS = HERE.parents[1] / "shared" / "corpora" / "vntc" / "vntc.jsonl.gz"


def main() -> None:
    dedup_bin = str(Path(sys.executable).with_name("dedup"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="dedup-blocks-") as tmp:
        for extra in ([], ["--unit", "paragraph"]):
            out = Path(tmp) / "groups.jsonl"
            cmd = [dedup_bin, "blocks", str(CORPUS), "--format", "jsonl", "--output", str(out), "-q", *extra]
            seconds, peak = measure(cmd)
            groups = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
            boilerplate = sum(g["boilerplate"] for g in groups)
            repeats = sum(g["count"] - 1 for g in groups)
            label = " ".join(["dedup blocks vntc.jsonl.gz", *extra])
            rows.append(
                f"| `{label}` | {seconds:.1f} s | {84_132 / seconds:,.0f} | {peak / 1024:.0f} MiB | "
                f"{len(groups):,} ({boilerplate:,} boilerplate) | {repeats:,} |"
            )
            print(rows[-1], flush=True)
    text = "\n".join(
        [
            "## Repeated blocks: all of VNTC",
            "",
            "Reproduce with `.venv/bin/python benchmarks/bench_blocks.py`: `dedup blocks` over the 84,132 articles "
            "of `../shared/corpora/vntc/vntc.jsonl.gz` (gzip read twice: hashes first, texts second), peak "
            "resident memory is the process's high-water mark (VmHWM, read from /proc).",
            "",
            "| command | wall time | articles/s | peak memory | groups | repeats removed by --strip |",
            "|---|---:|---:|---:|---:|---:|",
            *rows,
        ]
    )
    write_section(HERE / "RESULTS.md", "blocks-vntc", text)


if __name__ == "__main__":
    main()
