"""The public API is small, sorted and complete."""

from __future__ import annotations

from pathlib import Path

import dedup


def test_all_sorted_and_complete() -> None:
    assert dedup.__all__ == sorted(dedup.__all__)
    for name in dedup.__all__:
        assert hasattr(dedup, name), name
    public = {n for n in vars(dedup) if not n.startswith("_")}
    modules = {n for n, v in vars(dedup).items() if type(v).__name__ == "module"}
    assert public - modules == set(dedup.__all__)


def test_layering() -> None:
    """Lower layers never import higher ones; only named modules import the
    heavy third-party libraries."""
    import ast
    from pathlib import Path

    layers = {
        "_unicode": 0, "_kernels": 0, "_threads": 0, "_scratch": 0, "errors": 0,
        "document": 0, "normalize": 0, "hashing": 0,
        "shingle": 1, "minhash": 1, "similarity": 1,
        "lsh": 2, "cluster": 2, "store": 2, "ensemble": 2,
        "config": 2, "stages": 3, "pipeline": 3, "index": 3, "io": 3, "output": 3, "metrics": 3, "web": 3, "strip": 4,
        "blocks": 4, "generate": 4, "bench": 5, "report": 4, "dask_engine": 4,
        "passages": 2, "readback": 4, "html_report": 4, "table": 4,
        "cli": 6, "__main__": 7, "__init__": 7,
    }  # fmt: skip
    only = {
        "xxhash": "hashing",
        "datasketch": "lsh",
        "typer": "cli",
        "dask": "dask_engine",
        "distributed": "dask_engine",
        "jinja2": "html_report",
    }
    for path in Path(dedup.__file__).parent.glob("*.py"):
        module = path.stem
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                top = name.split(".")[0]
                if top in only:
                    assert only[top] == module, f"{module} imports {top}"
                if top == "dedup" and "." in name:
                    target = name.split(".")[1]
                    assert layers[target] <= layers[module], f"{module} imports {target}"


def test_scan_loads_no_heavy_library(tmp_path: Path) -> None:
    """A plain scan starts without the libraries only other commands or
    formats need (each costs start-up time and memory on every run)."""
    import subprocess
    import sys

    story = "Mỹ và Taliban nối lại đàm phán hòa bình tại thủ đô Doha của Qatar hôm nay"
    (tmp_path / "a.txt").write_text(story, encoding="utf-8")
    (tmp_path / "b.txt").write_text(story.upper(), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    run = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "dedup",
            "scan",
            str(tmp_path),
            "-q",
            "--format",
            "jsonl",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    modules = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if "|" in line}
    loaded = {name.split(".")[0] for name in modules}
    assert "dedup" in loaded and "numpy" in loaded
    heavy = {"rich", "jinja2", "pydantic", "dask", "distributed", "datasketch", "scipy", "matplotlib", "pyarrow"}
    assert loaded & heavy == set()
    # Only an index, .zst files or numpy's generators need these (~20 ms).
    assert modules & {"sqlite3", "zstandard", "secrets", "numpy.random", "dedup.index"} == set()
    assert out.read_text(encoding="utf-8").count('"size": 2') == 1
