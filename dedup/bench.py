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

import csv
import io
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from dedup._scratch import scratch_folder
from dedup.document import Document, Skipped
from dedup.errors import DedupError, UsageError
from dedup.generate import generate_dump
from dedup.io import atomic_writer, read_documents
from dedup.lsh import catch_probability, choose_bands, datasketch_pairs
from dedup.metrics import exact_pairs, measure, precision_recall
from dedup.output import open_output
from dedup.pipeline import find_duplicates, sketch_texts

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["BenchReport", "MethodRun", "ThresholdRun", "plot_report", "report_figure", "run_bench"]

METHODS = ("dedup", "datasketch", "exact")
CSV_COLUMNS = ("method", "size", "threshold", "seconds", "docs_per_second", "peak_mib", "pairs", "precision", "recall")


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
    """Everything ``dedup bench`` measured.

    Attributes:
        source: The input, or a description of the generated dump.
        threshold: Jaccard threshold of the method comparison.
        runs: One per method and sample size, in size order.
        thresholds: The S-curve: dedup at each threshold, in increasing order.
        notes: What was capped or skipped (sizes above the input, exact runs
            above the limit).
        documents: Documents read from the input (at most the largest size).
        skipped: Input documents that could not be read, in input order.
        target_recall: The recall the band shapes of ``thresholds`` reach.
    """

    source: str
    threshold: float
    runs: list[MethodRun]
    thresholds: list[ThresholdRun]
    notes: list[str]
    documents: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    target_recall: float = 0.99

    def to_json(self) -> str:
        """The whole report as one JSON object."""
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)

    def to_jsonl(self) -> str:
        """One JSON object per line: ``{"kind": "run", ...}`` per method run
        (with the comparison's ``threshold``), then ``{"kind": "threshold",
        ...}`` per S-curve point (with ``target_recall``)."""
        lines = [json.dumps({"kind": "run", **_run_record(self, run)}, ensure_ascii=False) for run in self.runs]
        lines += [
            json.dumps({"kind": "threshold", **asdict(t), "target_recall": self.target_recall}, ensure_ascii=False)
            for t in self.thresholds
        ]
        return "".join(line + "\n" for line in lines)

    def to_csv(self) -> str:
        """One row per method run, columns :data:`CSV_COLUMNS`; no precision
        or recall (no exact oracle at that size) is an empty cell."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for run in self.runs:
            writer.writerow({k: "" if v is None else v for k, v in _run_record(self, run).items()})
        return buffer.getvalue()


def _run_record(report: BenchReport, run: MethodRun) -> dict[str, object]:
    record = asdict(run)
    return {name: report.threshold if name == "threshold" else record[name] for name in CSV_COLUMNS}


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


def _validate(
    sizes: Sequence[int],
    threshold: float,
    thresholds: Sequence[float],
    target_recall: float,
    exact_limit: int,
    methods: Sequence[str],
) -> None:
    if not sizes or min(sizes) < 2:
        raise UsageError("sizes must be at least 2 documents each", option="sizes")
    for method in methods:
        if method not in METHODS:
            raise UsageError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if not 0.0 < threshold <= 1.0:
        raise UsageError(f"threshold must be in (0, 1], got {threshold}", option="threshold")
    for t in thresholds:
        if not 0.0 < t <= 1.0:
            raise UsageError(f"thresholds must be in (0, 1], got {t}", option="thresholds")
    if not 0.0 < target_recall < 1.0:
        raise UsageError(f"target_recall must be in (0, 1), got {target_recall}", option="target_recall")
    if exact_limit < 0:
        raise UsageError(f"exact_limit must not be negative, got {exact_limit}", option="exact_limit")


def _read_texts(source: str, limit: int, on_skip: Callable[[Skipped], None]) -> list[str]:
    """The first ``limit`` documents' texts; each input skipped on the way goes to ``on_skip``."""
    texts: list[str] = []
    for item in read_documents([source]):
        if isinstance(item, Document):
            texts.append(item.text)
            if len(texts) >= limit:
                break
        else:
            on_skip(item)
    return texts


def _run_methods(
    folder: str,
    texts: list[str],
    size: int,
    threshold: float,
    methods: Sequence[str],
    exact_limit: int,
    say: Callable[[str], None],
    notes: list[str],
) -> list[MethodRun]:
    """Each method as its own process on the first ``size`` texts; recall and
    precision against the exact run when there is one."""
    sample = os.path.join(folder, f"sample-{size}.jsonl")
    with open(sample, "w", encoding="utf-8") as f:
        for i, text in enumerate(texts[:size]):
            f.write(json.dumps({"id": str(i), "text": text}, ensure_ascii=False) + "\n")
    runs: list[MethodRun] = []
    found: dict[str, set[tuple[int, int]]] = {}
    for method in methods:
        if method == "exact" and size > exact_limit:
            notes.append(f"exact all-pairs skipped at {size:,} documents (above the exact limit {exact_limit:,})")
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
            if run.method != "exact":
                run.precision, run.recall = precision_recall(found[run.method], found["exact"])
    return runs


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
    on_skip: Callable[[Skipped], None] | None = None,
) -> BenchReport:
    """Measure the methods on samples of ``path`` (or of a generated dump).

    Args:
        path: A file or folder of documents (any ``dedup`` input), or None
            for a generated news-like dump of ``max(sizes)`` documents.
        sizes: Sample sizes (the first N documents); sizes above the input's
            document count are capped to it.
        threshold: Jaccard threshold of the method comparison.
        thresholds: Also run dedup against the oracle at each of these.
        target_recall: Band shapes reaching this recall are listed per threshold.
        seed: Seed of the generated dump.
        exact_limit: Largest sample for exact all-pairs Jaccard.
        methods: Some of :data:`METHODS`.
        progress: Called with a short message as each run starts.
        on_skip: Called with each input document that cannot be read, as it
            is met (also when none can, before the error).

    Raises:
        UsageError: a size below 2, an unknown method, a threshold outside
            (0, 1], ``target_recall`` outside (0, 1), ``exact_limit``
            negative, or ``seed`` outside [0, 2**32).
        InputError: ``path`` does not exist.
        DedupError: ``path`` holds no documents.
    """
    _validate(sizes, threshold, thresholds, target_recall, exact_limit, methods)
    say = progress or (lambda message: None)
    notes: list[str] = []
    skipped: list[Skipped] = []
    runs: list[MethodRun] = []

    def skip(item: Skipped) -> None:
        skipped.append(item)
        if on_skip is not None:
            on_skip(item)

    with scratch_folder("dedup-bench-") as folder:
        if path is None:
            source = os.path.join(folder, "generated.jsonl")
            with open(source, "w", encoding="utf-8") as f:
                generate_dump(f, docs=max(sizes), dup_rate=0.2, seed=seed)
            label = f"generated news-like dump ({max(sizes):,} documents, 20% edited copies, seed {seed})"
        else:
            source, label = os.fspath(path), os.fspath(path)
        texts = _read_texts(source, max(sizes), skip)
        if not texts:
            raise DedupError(f"{label} holds no documents")
        if len(texts) < max(sizes):
            plural = "" if len(texts) == 1 else "s"
            notes.append(f"the input has {len(texts):,} document{plural}; larger sizes were capped")
        for size in sorted({min(s, len(texts)) for s in sizes}):
            runs += _run_methods(folder, texts, size, threshold, methods, exact_limit, say, notes)
        threshold_runs = _s_curve(texts[: min(len(texts), exact_limit)], thresholds, target_recall, say)
    return BenchReport(label, threshold, runs, threshold_runs, notes, len(texts), skipped, target_recall)


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


def report_figure(report: BenchReport) -> Figure:
    """Draw the report: throughput against size, recall and precision against
    size (per method, against exact Jaccard), and with ``thresholds`` the S-curve.

    Raises:
        ImportError: matplotlib is not installed (``pip install 'dedup[plot]'``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 3 if report.thresholds else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4.2))
    accuracy: list[float] = []
    for method in METHODS:
        runs = [r for r in report.runs if r.method == method]
        if runs:
            axes[0].loglog([r.size for r in runs], [r.docs_per_second for r in runs], "o-", label=method)
        scored = [r for r in runs if r.recall is not None and r.precision is not None]
        if scored:
            sizes = [r.size for r in scored]
            line = axes[1].semilogx(sizes, [r.recall for r in scored], "o-", label=f"{method} recall")[0]
            axes[1].semilogx(
                sizes, [r.precision for r in scored], "s--", color=line.get_color(), label=f"{method} precision"
            )
            accuracy += [v for r in scored for v in (r.recall, r.precision) if v is not None]
    axes[0].set(xlabel="documents", ylabel="documents per second", title="Throughput")
    axes[1].set(
        xlabel="documents",
        ylabel=f"against exact Jaccard >= {report.threshold:g}",
        title="Recall and precision",
        ylim=(max(0.0, min(accuracy, default=0.0) - 0.05), 1.01),
    )
    if not accuracy:
        axes[1].text(0.5, 0.5, "no exact run at these sizes", ha="center", va="center", transform=axes[1].transAxes)
    if report.thresholds:
        ts = [r.threshold for r in report.thresholds]
        axes[2].plot(ts, [r.recall for r in report.thresholds], "o-", label="recall")
        axes[2].plot(ts, [r.precision for r in report.thresholds], "s-", label="precision")
        axes[2].set(
            xlabel="Jaccard threshold",
            ylabel="against exact Jaccard",
            title="S-curve: dedup by threshold",
            ylim=(0, 1.05),
        )
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.suptitle(f"dedup bench: {report.source}", fontsize=9)
    fig.tight_layout()
    return fig


def plot_report(report: BenchReport, path: str | os.PathLike[str]) -> list[str]:
    """Draw the report (:func:`report_figure`) to a PNG, written atomically.

    Returns:
        The panels' titles, left to right.

    Raises:
        ImportError: matplotlib is not installed (``pip install 'dedup[plot]'``).
        OutputError: ``path`` cannot be written.
    """
    import matplotlib.pyplot as plt

    fig = report_figure(report)
    try:
        with open_output(path, binary=True) as out:
            fig.savefig(out, format="png", dpi=110)
        return [str(ax.get_title()) for ax in fig.axes]
    finally:
        plt.close(fig)


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4])
