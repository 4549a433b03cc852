"""Command line: a thin shell over the library (the only module importing typer).

Exit codes: 0 success (duplicates or not), 1 fatal error (one line on stderr),
2 usage error, 3 duplicates found with ``--fail-on-duplicates``.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from dedup import __version__
from dedup.bench import plot_report, run_bench
from dedup.blocks import BlocksResult, find_repeated_blocks, strip_text
from dedup.document import Document, Skipped
from dedup.generate import generate_dump
from dedup.io import InputError, atomic_writer, collect_input_files, read_documents, write_cleaned_copies
from dedup.lsh import MAX_BUCKET
from dedup.pipeline import ScanConfig, ScanResult, find_duplicates
from dedup.report import (
    format_clusters_csv,
    format_clusters_jsonl,
    format_groups_csv,
    format_groups_jsonl,
    format_pairs_csv,
    format_pairs_jsonl,
    format_skipped_jsonl,
)
from dedup.store import parse_memory

app = typer.Typer(
    name="dedup",
    help="Find duplicate and near-duplicate stories in news corpora.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

EXIT_FATAL = 1
EXIT_USAGE = 2
EXIT_DUPLICATES = 3


Paths = Annotated[
    list[Path],
    typer.Argument(
        metavar="PATH",
        help="Files or folders (.txt, .md, .jsonl, .ndjson, .csv, .parquet; .gz/.zst).",
        show_default=False,
    ),
]


class OutputFormat(enum.StrEnum):
    """Output formats of every command."""

    table = "table"
    jsonl = "jsonl"
    csv = "csv"


class BlockUnit(enum.StrEnum):
    """What a block is."""

    line = "line"
    paragraph = "paragraph"


class KeepPolicy(enum.StrEnum):
    """Which member of a cluster to keep."""

    first = "first"
    longest = "longest"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dedup {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Find duplicate and near-duplicate stories in news corpora."""


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"dedup: error: {message}", err=True)
    return typer.Exit(code)


@contextlib.contextmanager
def _errors_as_exits(*usage: type[Exception]) -> Iterator[None]:
    """Turn what goes wrong inside into an exit code and one line, never a
    traceback: ``usage`` errors exit 2, Ctrl-C (or SIGTERM) 130, anything else 1."""
    try:
        yield
    except typer.Exit:
        raise
    except usage as err:
        raise _fail(str(err), EXIT_USAGE) from None
    except KeyboardInterrupt:
        raise _fail("interrupted", 130) from None
    except Exception as err:  # noqa: BLE001  # the contract: one line, never a traceback
        raise _fail(f"{type(err).__name__}: {err}", EXIT_FATAL) from None


@contextlib.contextmanager
def _progress(enabled: bool, description: str) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} documents"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        progress.add_task(description, total=None)
        yield progress


def _open_output(output: Path | None) -> contextlib.AbstractContextManager[IO[str]]:
    if output is None:
        return contextlib.nullcontext(sys.stdout)
    return atomic_writer(output)


def _render_table(result: ScanResult, pairs: bool, out: IO[str]) -> None:
    console = Console(file=out, width=None if out.isatty() else 120, highlight=False)
    if not (result.pairs if pairs else result.clusters):
        console.print(f"No near-duplicates at this threshold among {result.documents:,} documents.")
        return
    if pairs:
        table = Table("a", "b", "similarity", "estimate", title=f"{len(result.pairs)} near-duplicate pairs")
        for p in result.pairs:
            table.add_row(escape(p.a), escape(p.b), f"{p.similarity:.4f}", f"{p.estimate:.4f}")
        console.print(table)
        return
    table = Table("cluster", "size", "document", "similarity", title=f"{len(result.clusters)} clusters")
    for index, cluster in enumerate(result.clusters):
        for member, doc_id, sim in zip(cluster.members, cluster.ids, cluster.similarities, strict=True):
            mark = " (keep)" if member == cluster.keep else ""
            table.add_row(str(index), str(cluster.size), escape(doc_id) + mark, f"{sim:.4f}")
        table.add_section()
    console.print(table)


@app.command(
    epilog="Examples: dedup scan news/ | dedup scan dump.jsonl.gz --format jsonl --output clusters.jsonl"
    " | dedup scan news/ --pairs --threshold 0.9"
)
def scan(
    paths: Paths,
    threshold: Annotated[float, typer.Option(help="Jaccard similarity at or above which two documents match.")] = 0.8,
    num_perm: Annotated[int, typer.Option(help="MinHash permutations (signature width).")] = 128,
    shingle: Annotated[str, typer.Option(help="Shingles: word:N (word n-grams) or char:N (characters).")] = "word:5",
    seed: Annotated[int, typer.Option(help="Seed of the MinHash permutations.")] = 1,
    fold_accents: Annotated[bool, typer.Option(help="Strip diacritics, so unaccented copies match.")] = False,
    keep: Annotated[KeepPolicy, typer.Option(help="Member to keep in each cluster.")] = KeepPolicy.first,
    verify: Annotated[bool, typer.Option(help="Verify candidates with exact Jaccard.")] = True,
    workers: Annotated[int | None, typer.Option(help="Threads for the compiled kernels [default: all cores].")] = None,
    batch_size: Annotated[int, typer.Option(help="Documents per batch.")] = 512,
    memory: Annotated[
        str,
        typer.Option(
            help="Per-document data (shingle hashes, signatures, ids) kept in memory before spilling to a "
            "temporary folder, e.g. 2G; 0 spills all of it (least memory)."
        ),
    ] = "0",
    text_field: Annotated[str, typer.Option(help="JSONL field holding the text.")] = "text",
    id_field: Annotated[str, typer.Option(help="JSONL field holding the id (else FILE:LINE).")] = "id",
    pairs: Annotated[bool, typer.Option("--pairs", help="Print verified pairs instead of clusters.")] = False,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.table,
    output: Annotated[Path | None, typer.Option(help="Write to FILE (atomically) instead of stdout.")] = None,
    fail_on_duplicates: Annotated[
        bool, typer.Option("--fail-on-duplicates", help="Exit 3 when any cluster is found.")
    ] = False,
    errors: Annotated[
        Path | None, typer.Option(help="Also write every skipped input to FILE as JSONL {path, line, reason}.")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 after the scan if any input was skipped.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no summary.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Print LSH bands/rows and candidate counts.")
    ] = False,
) -> None:
    """Find clusters of near-duplicate documents under PATH...

    Each cluster names the document to keep and every member's exact Jaccard
    similarity to it. Skipped inputs are listed on stderr with their reason.
    """
    try:
        memory_bytes = parse_memory(memory)
    except ValueError as err:
        raise _fail(str(err), EXIT_USAGE) from None
    config = ScanConfig(
        memory=memory_bytes,
        threshold=threshold,
        num_perm=num_perm,
        shingle=shingle,
        seed=seed,
        fold_accents=fold_accents,
        keep=keep.value,
        verify=verify,
        workers=workers,
        batch_size=batch_size,
    )
    try:
        config.validate()
    except ValueError as err:
        raise _fail(str(err), EXIT_USAGE) from None
    started = time.perf_counter()
    with _errors_as_exits(InputError):
        documents = read_documents(paths, text_field=text_field, id_field=id_field)
        with _progress(not quiet and sys.stderr.isatty(), "scanning") as bar:

            def advance(done: int) -> None:
                if bar is not None:
                    bar.update(bar.task_ids[0], completed=done)

            def stage(name: str) -> None:
                if bar is not None:
                    bar.update(bar.task_ids[0], description=name)

            result = find_duplicates(documents, config, progress=advance, on_stage=stage)

    for skip in result.skipped:
        typer.echo(skip.describe(), err=True)
    if errors is not None:
        try:
            with atomic_writer(errors) as out:
                out.write(format_skipped_jsonl(result.skipped))
        except OSError as err:
            raise _fail(f"cannot write {errors}: {err}", EXIT_FATAL) from None
    try:
        with _open_output(output) as out:
            if output_format is OutputFormat.table:
                _render_table(result, pairs, out)
            elif output_format is OutputFormat.jsonl:
                out.write(format_pairs_jsonl(result.pairs) if pairs else format_clusters_jsonl(result.clusters))
            else:
                out.write(format_pairs_csv(result.pairs) if pairs else format_clusters_csv(result.clusters))
    except OSError as err:
        raise _fail(f"cannot write output: {err}", EXIT_FATAL) from None

    if verbose:
        s = result.stats
        typer.echo(
            f"lsh: {s.num_bands} bands x {s.rows_per_band} rows; {s.band_collisions:,} band collisions, "
            f"{s.candidates:,} candidate pairs, {s.verified:,} verified at >= {threshold}"
            + (
                f"; {s.capped_buckets:,} buckets over {MAX_BUCKET:,} documents paired star-wise"
                if s.capped_buckets
                else ""
            ),
            err=True,
        )
    if not quiet:
        elapsed = time.perf_counter() - started
        typer.echo(
            f"dedup: {result.documents:,} documents read, {_skipped_summary(result.skipped)}, "
            f"{len(result.clusters):,} clusters, {result.duplicates:,} duplicates ({elapsed:.1f} s)",
            err=True,
        )
    if strict and result.skipped:
        raise _fail(f"{len(result.skipped):,} inputs skipped (--strict)", EXIT_FATAL)
    if fail_on_duplicates and result.clusters:
        raise typer.Exit(EXIT_DUPLICATES)


def _skipped_summary(skipped: list[Skipped]) -> str:
    """``3 skipped (2 empty document, 1 line is not valid JSON)``."""
    if not skipped:
        return "0 skipped"
    counts = collections.Counter(
        s.reason.split(": ")[0] if s.reason.startswith("cannot read") else s.reason for s in skipped
    )
    reasons = ", ".join(f"{n:,} {reason}" for reason, n in counts.most_common())
    return f"{len(skipped):,} skipped ({reasons})"


def _render_groups(result: BlocksResult, out: IO[str]) -> None:
    console = Console(file=out, width=None if out.isatty() else 120, highlight=False)
    if not result.groups:
        console.print(f"No repeated blocks among {result.documents:,} documents.")
        return
    boilerplate = sum(g.boilerplate for g in result.groups)
    table = Table(
        "group",
        "kind",
        "count",
        "docs",
        "text",
        "where",
        title=f"{len(result.groups)} repeated blocks ({boilerplate} boilerplate: in >= "
        f"{result.boilerplate_min_documents} documents, listed first)",
    )
    for index, g in enumerate(result.groups):
        where = ", ".join(f"{o.id}:{o.line}" for o in g.occurrences[:3])
        if g.count > 3:
            where += f", ... (+{g.count - 3})"
        text = g.text if len(g.text) <= 70 else g.text[:67] + "..."
        kind = g.kind + (" boilerplate" if g.boilerplate else "")
        # Ids and news text may hold square brackets, which rich would read as markup.
        table.add_row(str(index), kind, str(g.count), str(g.documents), escape(text), escape(where))
    console.print(table)


@app.command(epilog="Examples: dedup blocks news/ | dedup blocks dump.jsonl --near 0.8 --strip cleaned/")
def blocks(
    paths: Paths,
    unit: Annotated[BlockUnit, typer.Option(help="A block is a non-blank line or a paragraph.")] = BlockUnit.line,
    min_words: Annotated[int, typer.Option(help="Ignore blocks with fewer words (after normalization).")] = 4,
    near: Annotated[
        float | None, typer.Option(help="Also group near-duplicate blocks with character 5-gram Jaccard >= NEAR.")
    ] = None,
    boilerplate_documents: Annotated[
        int | None,
        typer.Option(help="A block in at least this many documents is boilerplate [default: max(3, 0.5% of them)]."),
    ] = None,
    strip: Annotated[
        Path | None, typer.Option(help="Write cleaned copies under this folder: later repeats removed.")
    ] = None,
    strip_boilerplate: Annotated[
        bool, typer.Option("--strip-boilerplate", help="With --strip, also remove boilerplate blocks.")
    ] = False,
    workers: Annotated[int | None, typer.Option(help="Threads [default: all cores].")] = None,
    text_field: Annotated[str, typer.Option(help="JSONL/CSV field holding the text.")] = "text",
    id_field: Annotated[str, typer.Option(help="JSONL/CSV field holding the id.")] = "id",
    output_format: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.table,
    output: Annotated[Path | None, typer.Option(help="Write to FILE (atomically) instead of stdout.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no summary.")] = False,
) -> None:
    """Find repeated lines or paragraphs inside files and across files.

    Reports every block that occurs more than once (exact after
    normalization; with --near also near-duplicates), where it occurs, and
    which blocks are template boilerplate; --strip writes cleaned copies.
    """
    started = time.perf_counter()
    if workers is not None and workers < 1:
        raise _fail(f"workers must be at least 1, got {workers}", EXIT_USAGE)

    def documents() -> Iterator[Document | Skipped]:
        return read_documents(paths, text_field=text_field, id_field=id_field)

    with _errors_as_exits(InputError, ValueError):
        collect_input_files(paths)
        with _progress(not quiet and sys.stderr.isatty(), "counting") as bar:

            def advance(stage: str, done: int) -> None:
                if bar is not None:
                    bar.update(bar.task_ids[0], description=stage, completed=done)

            result = find_repeated_blocks(
                documents,
                unit=unit.value,
                min_words=min_words,
                near=near,
                boilerplate_documents=boilerplate_documents,
                workers=workers,
                progress=advance,
            )
    for skip in result.skipped:
        typer.echo(skip.describe(), err=True)
    try:
        with _open_output(output) as out:
            if output_format is OutputFormat.table:
                _render_groups(result, out)
            elif output_format is OutputFormat.jsonl:
                out.write(format_groups_jsonl(result.groups))
            else:
                out.write(format_groups_csv(result.groups))
        if strip is not None:

            def clean(number: int, text: str) -> str:
                return strip_text(text, result.spans_to_strip(number, strip_boilerplate))

            write_cleaned_copies(paths, strip, clean, text_field=text_field, id_field=id_field)
    except InputError as err:
        raise _fail(str(err), EXIT_USAGE) from None
    except OSError as err:
        raise _fail(f"cannot write output: {err}", EXIT_FATAL) from None
    if not quiet:
        repeated = sum(g.count - 1 for g in result.groups)
        boilerplate = sum(g.boilerplate for g in result.groups)
        typer.echo(
            f"dedup: {result.documents:,} documents read, {_skipped_summary(result.skipped)}, "
            f"{len(result.groups):,} repeated blocks ({boilerplate:,} boilerplate), {repeated:,} repeats "
            f"({time.perf_counter() - started:.1f} s)",
            err=True,
        )


@app.command(epilog="Example: dedup generate dump.jsonl --docs 100000 --source ../shared/corpora/vntc/vntc.jsonl.gz")
def generate(
    out: Annotated[Path, typer.Argument(metavar="OUT.jsonl", help="Where to write the dump.", show_default=False)],
    docs: Annotated[int, typer.Option(help="Number of documents.")] = 10000,
    dup_rate: Annotated[float, typer.Option(help="Share of documents that are edited copies of others.")] = 0.2,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same bytes.")] = 1,
    source: Annotated[
        list[Path] | None, typer.Option(help="Real text to draw originals from (any dedup input; repeatable).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary.")] = False,
) -> None:
    """Write a news-like JSONL dump with known near-duplicate clusters.

    Each record is {id, text, cluster}: documents sharing a cluster are one
    story and its republished copies (word edits, re-wrapping, case,
    punctuation, credit lines, Unicode form, tone-mark style).
    """
    try:
        with atomic_writer(out) as f:
            generate_dump(f, docs=docs, dup_rate=dup_rate, seed=seed, sources=source or [])
    except (ValueError, InputError) as err:
        raise _fail(str(err), EXIT_USAGE) from None
    except OSError as err:
        raise _fail(f"cannot write {out}: {err}", EXIT_FATAL) from None
    if not quiet:
        typer.echo(f"dedup: wrote {docs:,} documents to {out}", err=True)


class BenchFormat(enum.StrEnum):
    """Output formats of ``bench``."""

    table = "table"
    json = "json"


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


@app.command(
    epilog="Example: dedup bench dump.jsonl --sizes 1000,10000,50000 --thresholds 0.5,0.7,0.8,0.9 --plot b.png"
)
def bench(
    path: Annotated[
        Path | None, typer.Argument(metavar="[PATH]", help="Your dump; without it a news-like dump is generated.")
    ] = None,
    sizes: Annotated[str, typer.Option(help="Sample sizes, comma-separated.")] = "1000,10000",
    threshold: Annotated[float, typer.Option(help="Jaccard threshold of the comparison.")] = 0.8,
    thresholds: Annotated[
        str, typer.Option(help="Also measure dedup's recall/precision at these thresholds, e.g. 0.5,0.6,0.7,0.8,0.9.")
    ] = "",
    target_recall: Annotated[
        float, typer.Option(help="Band shapes reaching this recall are listed per threshold.")
    ] = 0.99,
    exact_limit: Annotated[int, typer.Option(help="Largest sample for exact all-pairs Jaccard.")] = 20000,
    seed: Annotated[int, typer.Option(help="Seed of the generated dump.")] = 1,
    plot: Annotated[Path | None, typer.Option(help="Draw throughput, memory and accuracy to FILE.png.")] = None,
    output_format: Annotated[BenchFormat, typer.Option("--format", help="Output format.")] = BenchFormat.table,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False,
) -> None:
    """Measure speed, memory and accuracy: dedup vs datasketch vs exact Jaccard.

    Each method runs on the same samples as its own process; peak memory is
    its process tree's, sampled from /proc. Recall and precision are against
    exact all-pairs Jaccard at the threshold.
    """
    try:
        size_list = [int(x) for x in sizes.split(",") if x.strip()]
        threshold_list = _floats(thresholds)
    except ValueError:
        raise _fail("--sizes takes integers and --thresholds numbers, comma-separated", EXIT_USAGE) from None
    if path is not None and not path.exists():
        raise _fail(f"{path}: no such file or directory", EXIT_USAGE)

    def say(message: str) -> None:
        if not quiet:
            typer.echo(f"dedup bench: {message}", err=True)

    with _errors_as_exits(ValueError):
        report = run_bench(
            path,
            sizes=size_list,
            threshold=threshold,
            thresholds=threshold_list,
            target_recall=target_recall,
            seed=seed,
            exact_limit=exact_limit,
            progress=say,
        )
        if plot is not None:
            try:
                plot_report(report, plot)
            except ImportError:
                raise _fail("--plot needs matplotlib: pip install 'dedup[plot]'", EXIT_FATAL) from None
    if output_format is BenchFormat.json:
        typer.echo(report.to_json())
        return
    console = Console(highlight=False)
    table = Table(
        "documents",
        "method",
        "docs/s",
        "peak MiB",
        "pairs",
        "precision",
        "recall",
        title=f"dedup bench: {report.source}",
    )
    for r in report.runs:
        p = "" if r.precision is None else f"{r.precision:.4f}"
        rc = "" if r.recall is None else f"{r.recall:.4f}"
        table.add_row(f"{r.size:,}", r.method, f"{r.docs_per_second:,.0f}", f"{r.peak_mib:.0f}", f"{r.pairs:,}", p, rc)
    console.print(table)
    if report.thresholds:
        curve = Table(
            "threshold", "true pairs", "found", "precision", "recall", f"bands x rows for recall >= {target_recall}"
        )
        for t in report.thresholds:
            shapes = ", ".join(f"{int(s['num_perm'])}: {int(s['bands'])}x{int(s['rows'])}" for s in t.shapes)
            curve.add_row(
                f"{t.threshold:.2f}",
                f"{t.true_pairs:,}",
                f"{t.found_pairs:,}",
                f"{t.precision:.4f}",
                f"{t.recall:.4f}",
                shapes,
            )
        console.print(curve)
    for note in report.notes:
        typer.echo(f"note: {note}", err=True)


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM unwinds like Ctrl-C, so temporary folders are removed on the way out.
    raise KeyboardInterrupt


def run() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _terminate)
    app()
