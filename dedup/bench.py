"""``dedup bench``: speed, memory and accuracy on the user's data (or a generated dump).

For each size, the first N documents of the input are written to a sample
file, and each method runs on it as its own process (so its peak memory,
the sum of its processes' high-water marks (VmHWM, from /proc), is its own):

* ``dedup``: :func:`dedup.find_duplicates` (verified pairs);
* ``datasketch``: the pipeline a datasketch user writes
  (:func:`dedup.lsh.datasketch_pairs`, unverified LSH matches);
* ``exact``: exact all-pairs Jaccard by sparse products
  (:func:`dedup.metrics.exact_pairs`), the oracle; skipped above
  ``exact_limit`` documents.

Recall and precision are against the oracle's pairs at the threshold. With
``thresholds``, dedup is also run at each threshold against the oracle (the
S-curve), next to the band shapes that reach ``target_recall``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import numpy.typing as npt

from dedup.document import Document
from dedup.generate import generate_dump
from dedup.io import atomic_writer, read_documents
from dedup.lsh import catch_probability, choose_bands, datasketch_pairs
from dedup.metrics import exact_pairs, measure, precision_recall
from dedup.pipeline import find_duplicates, sketch_texts

__all__ = ["BenchReport", "MethodRun", "ThresholdRun", "plot_report", "run_bench"]

METHODS = ("dedup", "datasketch", "exact")


@dataclass
class MethodRun:
    """One method on one sample."""

    method: str
    size: int
    seconds: float
    docs_per_second: float
    peak_mib: float
    pairs: int
    precision: float | None = None
    recall: float | None = None


@dataclass
class ThresholdRun:
    """dedup against the oracle at one threshold, and band shapes reaching the target recall."""

    threshold: float
    true_pairs: int
    found_pairs: int
    precision: float
    recall: float
    shapes: list[dict[str, float]] = field(default_factory=list)


@dataclass
class BenchReport:
    """Everything ``dedup bench`` measured."""

    source: str
    threshold: float
    runs: list[MethodRun]
    thresholds: list[ThresholdRun]
    notes: list[str]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)


def _worker(method: str, sample: str, threshold: float, out: str) -> None:
    """Run one method on a sample and write its pairs (positions) as JSON."""
    texts = [d.text for d in read_documents([sample]) if isinstance(d, Document)]
    if method == "dedup":
        result = find_duplicates(texts, threshold=threshold)
        pairs = [(int(p.a), int(p.b)) for p in result.pairs]
    elif method == "datasketch":
        pairs = datasketch_pairs(texts, threshold=threshold)
    else:
        values, starts = _sketch_all(texts)
        pairs = sorted(exact_pairs(values, starts, threshold))
    with atomic_writer(out) as f:
        json.dump(pairs, f)


def _sketch_all(texts: list[str]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    values_parts, sizes = [], []
    for lo in range(0, len(texts), 2048):
        values, starts, _ = sketch_texts(texts[lo : lo + 2048], num_perm=1)
        values_parts.append(values)
        sizes.append(np.diff(starts))
    flat_sizes = np.concatenate(sizes) if sizes else np.zeros(0, dtype=np.int64)
    starts = np.zeros(len(flat_sizes) + 1, dtype=np.int64)
    np.cumsum(flat_sizes, out=starts[1:])
    values = np.concatenate(values_parts) if values_parts else np.zeros(0, dtype=np.uint64)
    return values, starts


def run_bench(
    path: str | os.PathLike[str] | None,
    *,
    sizes: Sequence[int] = (1000, 10000),
    threshold: float = 0.8,
    thresholds: Sequence[float] = (),
    target_recall: float = 0.99,
    seed: int = 1,
    exact_limit: int = 20000,
    methods: Sequence[str] = METHODS,
    progress: Callable[[str], None] | None = None,
) -> BenchReport:
    """Measure the methods on samples of ``path`` (or of a generated dump).

    Raises:
        ValueError: a size below 2, an unknown method, or a threshold outside (0, 1].
    """
    if not sizes or min(sizes) < 2:
        raise ValueError("sizes must be at least 2 documents each")
    for method in methods:
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    for t in (threshold, *thresholds):
        if not 0.0 < t <= 1.0:
            raise ValueError(f"thresholds must be in (0, 1], got {t}")
    say = progress or (lambda message: None)
    notes: list[str] = []
    runs: list[MethodRun] = []
    with tempfile.TemporaryDirectory(prefix="dedup-bench-") as folder:
        if path is None:
            source = os.path.join(folder, "generated.jsonl")
            with open(source, "w", encoding="utf-8") as f:
                generate_dump(f, docs=max(sizes), dup_rate=0.2, seed=seed)
            label = f"generated news-like dump ({max(sizes):,} documents, 20% edited copies, seed {seed})"
        else:
            source, label = os.fspath(path), os.fspath(path)
        texts: list[str] = []
        for doc in read_documents([source]):
            if isinstance(doc, Document):
                texts.append(doc.text)
                if len(texts) >= max(sizes):
                    break
        if len(texts) < max(sizes):
            notes.append(f"the input has {len(texts):,} documents; larger sizes were capped")
        for size in sorted({min(s, len(texts)) for s in sizes}):
            sample = os.path.join(folder, f"sample-{size}.jsonl")
            with open(sample, "w", encoding="utf-8") as f:
                for i, text in enumerate(texts[:size]):
                    f.write(json.dumps({"id": str(i), "text": text}, ensure_ascii=False) + "\n")
            found: dict[str, set[tuple[int, int]]] = {}
            for method in methods:
                if method == "exact" and size > exact_limit:
                    notes.append(f"exact all-pairs skipped at {size:,} documents (above --exact-limit {exact_limit:,})")
                    continue
                say(f"{method} on {size:,} documents")
                out = os.path.join(folder, f"{method}-{size}.json")
                cmd = [sys.executable, "-m", "dedup.bench", method, sample, str(threshold), out]
                started = time.perf_counter()
                seconds, peak_kib = measure(cmd)
                seconds = min(seconds, time.perf_counter() - started)
                with open(out, encoding="utf-8") as f:
                    found[method] = {(int(a), int(b)) for a, b in json.load(f)}
                runs.append(MethodRun(method, size, seconds, size / seconds, peak_kib / 1024, len(found[method])))
            if "exact" in found:
                for run in runs:
                    if run.size == size and run.method != "exact":
                        run.precision, run.recall = precision_recall(found[run.method], found["exact"])
        threshold_runs = _s_curve(texts[: min(len(texts), exact_limit)], thresholds, target_recall, say)
    return BenchReport(label, threshold, runs, threshold_runs, notes)


def _s_curve(
    texts: list[str], thresholds: Sequence[float], target_recall: float, say: Callable[[str], None]
) -> list[ThresholdRun]:
    if not thresholds:
        return []
    say(f"thresholds on {len(texts):,} documents")
    values, starts = _sketch_all(texts)
    truth_all = exact_pairs(values, starts, min(thresholds))
    out = []
    for t in sorted(thresholds):
        truth = {p for p, j in truth_all.items() if j >= t}
        result = find_duplicates(texts, threshold=t)
        found = {(int(p.a), int(p.b)) for p in result.pairs}
        precision, recall = precision_recall(found, truth)
        shapes = []
        for num_perm in (64, 128, 256):
            bands, rows = choose_bands(t, num_perm, target_recall)
            shapes.append(
                {"num_perm": num_perm, "bands": bands, "rows": rows, "catch": catch_probability(t, bands, rows)}
            )
        out.append(ThresholdRun(t, len(truth), len(found), precision, recall, shapes))
    return out


def plot_report(report: BenchReport, path: str | os.PathLike[str]) -> None:
    """Draw throughput and memory against size, and the S-curve, to a PNG.

    Raises:
        ImportError: matplotlib is not installed (``pip install 'dedup[plot]'``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 3 if report.thresholds else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4.2))
    for method in METHODS:
        runs = [r for r in report.runs if r.method == method]
        if runs:
            axes[0].loglog([r.size for r in runs], [r.docs_per_second for r in runs], "o-", label=method)
            axes[1].loglog([r.size for r in runs], [r.peak_mib for r in runs], "o-", label=method)
    axes[0].set(xlabel="documents", ylabel="documents per second", title="Throughput")
    axes[1].set(xlabel="documents", ylabel="peak memory (MiB, process tree)", title="Peak memory")
    if report.thresholds:
        ts = [r.threshold for r in report.thresholds]
        axes[2].plot(ts, [r.recall for r in report.thresholds], "o-", label="recall")
        axes[2].plot(ts, [r.precision for r in report.thresholds], "s-", label="precision")
        axes[2].set(xlabel="Jaccard threshold", ylabel="against exact Jaccard", title="dedup accuracy", ylim=(0, 1.05))
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(f"dedup bench: {report.source}", fontsize=9)
    fig.tight_layout()
    target = os.fspath(path)
    tmp = f"{target}.tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, target)


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4])
