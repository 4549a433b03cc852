"""Command line: a thin shell over the library (the only module importing typer).

Every command runs under one mapping of failures to exit codes
(:func:`dedup.errors.exit_code`): 0 success (duplicates or not), 1 fatal
error (one line on stderr, never a traceback), 2 usage error, 3 duplicates
found with ``--fail-on-duplicates``, 130 interrupted. Outputs are checked
before any input is read.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import errno
import importlib.util
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer
import typer.core

from dedup import __version__
from dedup.cluster import Cluster
from dedup.config import DEFAULT_MAX_CLUSTERS, INDEX_BATCH_SIZE, check_max_shown
from dedup.document import Document, Renamed, Skipped, printable
from dedup.errors import EXIT_DUPLICATES, EXIT_FATAL, EXIT_USAGE, DedupError, UsageError, exit_code
from dedup.io import WEB_KINDS, InputFile, InputSet, collect_inputs, read_documents
from dedup.lsh import MAX_BUCKET
from dedup.output import check_output_folder, check_outputs, open_output
from dedup.pipeline import ScanConfig, ScanResult, find_duplicates
from dedup.report import (
    Renderer,
    write_clusters_csv,
    write_clusters_jsonl,
    write_contained_csv,
    write_contained_jsonl,
    write_groups_csv,
    write_groups_jsonl,
    write_info_csv,
    write_info_jsonl,
    write_matches_csv,
    write_matches_jsonl,
    write_pairs_csv,
    write_pairs_jsonl,
    write_skipped_jsonl,
)
from dedup.store import parse_memory

if TYPE_CHECKING:
    from rich.progress import Progress

    from dedup.bench import BenchReport
    from dedup.blocks import BlockGroup, BlocksResult
    from dedup.index import Index, IndexInfo, IndexResult, Match
    from dedup.readback import Locations
    from dedup.strip import CleanedCopy


class _PanelCommand(typer.core.TyperCommand):
    """Plain-text help with options grouped into panels (input, matching,
    output, performance), so the common ones fit one screen."""

    # ctx and formatter are click's Context and HelpFormatter, which typer vendors
    # under a private name (typer._click) in recent releases: typed by their use.
    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = ["[OPTIONS]"]
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = param.metavar or (param.name or "").upper()
                pieces.append(f"{name}..." if param.nargs == -1 else name)
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                name = "Arguments"
                # typer shows the Python type (<list[str]>): the metavar says it all.
                record = (
                    (param.metavar or (param.name or "").upper()) + ("..." if param.nargs == -1 else ""),
                    record[1],
                )
            else:
                name = getattr(param, "rich_help_panel", None) or "Other options"
            sections.setdefault(name, []).append(record)
        for name, records in sections.items():
            with formatter.section(name):
                formatter.write_dl(records)


app = typer.Typer(
    name="dedup",
    help="Find duplicate and near-duplicate stories in news corpora.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)

INPUT, MATCHING, OUTPUT, PERFORMANCE = "Input", "Matching", "Output", "Performance"

# Strings, not Paths: typer turns "" into Path("."), the current folder.
Paths = Annotated[
    list[str],
    typer.Argument(
        metavar="PATH",
        help="Files or folders: .txt .md .jsonl .ndjson .csv .parquet .html .warc, optionally .gz/.zst.",
        show_default=False,
    ),
]
OutputOption = Annotated[
    str | None,
    typer.Option(
        "--output", "-o", metavar="FILE", help="Write here (atomically; - is stdout).", rich_help_panel=OUTPUT
    ),
]
FormatHelp = "jsonl/csv for machines."
HtmlFormatHelp = "table, jsonl, csv or html (-o FILE)."
HtmlMaxClusters = Annotated[
    int,
    typer.Option(metavar="N", help="html: at most N shown.", rich_help_panel=OUTPUT),
]
TextField = Annotated[
    str, typer.Option(metavar="NAME", help="Field with the text (JSONL, CSV...).", rich_help_panel=INPUT)
]
IdField = Annotated[
    str, typer.Option(metavar="NAME", help="Field holding the id (else FILE:LINE).", rich_help_panel=INPUT)
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress and no summary.", rich_help_panel=OUTPUT)]


class OutputFormat(enum.StrEnum):
    """Output formats of every command."""

    table = "table"
    jsonl = "jsonl"
    csv = "csv"
    html = "html"


class BlockUnit(enum.StrEnum):
    """What a block is."""

    line = "line"
    paragraph = "paragraph"


class Engine(enum.StrEnum):
    """Where a scan runs."""

    local = "local"
    dask = "dask"


class Measure(enum.StrEnum):
    """What a scan matches by."""

    jaccard = "jaccard"
    containment = "containment"


class HtmlText(enum.StrEnum):
    """What text of an HTML page is read."""

    main = "main"
    all = "all"


HtmlTextOption = Annotated[HtmlText, typer.Option(help="HTML: main content or all text.", rich_help_panel=INPUT)]


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


def _message(err: BaseException) -> str:
    if isinstance(err, UsageError):
        return err.for_command_line()
    if isinstance(err, DedupError):
        return str(err)
    if isinstance(err, MemoryError):
        return "out of memory (try a smaller --batch-size, or --memory 0)"
    if isinstance(err, OSError) and err.strerror:
        where = f"{err.filename}: " if err.filename else ""
        return f"{where}{err.strerror}"
    return f"{type(err).__name__}: {err}"


@contextlib.contextmanager
def _errors_as_exits() -> Iterator[None]:
    """Turn whatever goes wrong inside into an exit code and one line, never a
    traceback (:func:`dedup.errors.exit_code`)."""
    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        raise _fail("interrupted", 130) from None
    except BrokenPipeError:
        # The reader went away (``dedup scan ... | head``): nothing left to say.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(EXIT_FATAL) from None
    except OSError as err:
        if err.errno == errno.EPIPE:
            raise typer.Exit(EXIT_FATAL) from None
        raise _fail(_message(err), EXIT_FATAL) from None
    except Exception as err:  # the contract: one line, never a traceback
        if os.environ.get("DEDUP_DEBUG") and not isinstance(err, DedupError):
            raise  # a bug report needs the traceback: DEDUP_DEBUG=1 shows it
        raise _fail(_message(err), exit_code(err)) from None


def _plural(count: int, noun: str) -> str:
    """``1 cluster``, ``2 clusters`` (with thousands separators)."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


class _Progress:
    """A progress bar on stderr (hidden when stderr is not a terminal or with
    --quiet): percent done and time left from bytes read of the total, and
    the number of documents."""

    def __init__(self, enabled: bool, description: str, total_bytes: int) -> None:
        self.bar: Progress | None = None
        self.documents = 0
        self.read = 0
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[documents]:,} documents"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.task = self.bar.add_task(description, total=max(total_bytes, 1), documents=0)

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)

    def on_read(self, size: int) -> None:
        self.read += size
        if self.bar is not None:
            self.bar.update(self.task, completed=self.read)

    def on_documents(self, done: int) -> None:
        self.documents = done
        if self.bar is not None:
            self.bar.update(self.task, documents=done)

    def stage(self, name: str, restart: bool = False) -> None:
        """A new stage; ``restart`` starts the byte count over (another pass
        over the inputs), resetting the speed estimate behind the time left."""
        if restart:
            self.read = 0
        if self.bar is None:
            return
        if restart:
            self.bar.reset(self.task, description=name, documents=self.documents)
        else:
            # After the last byte (matching): no fraction to show, a pulse instead.
            self.bar.update(self.task, description=name, total=None)


def _report_inputs(inputs: InputSet, quiet: bool) -> None:
    """Say which files were not read because no reader takes them."""
    if quiet or not inputs.unsupported:
        return
    suffixes = collections.Counter(Path(name).suffix.lower() or "no extension" for name in inputs.unsupported)
    listed = ", ".join(f"{suffix} ({n:,})" if n > 1 else suffix for suffix, n in sorted(suffixes.items()))
    typer.echo(
        f"dedup: {_plural(len(inputs.unsupported), 'file')} with unsupported extensions not read: {listed}", err=True
    )


def _report_skips(skipped: Sequence[Skipped], renamed: Sequence[Renamed]) -> None:
    for skip in skipped:
        typer.echo(skip.describe(), err=True)
    for item in renamed:
        typer.echo(item.describe(), err=True)


def _shown(text: str) -> str:
    """Text for a rich table: markup escaped, control characters and lone
    surrogates (file names that are not UTF-8) spelled out, so a name can
    neither drive the terminal nor misalign the columns."""
    from rich.markup import escape

    return escape(printable(text))


def _render_table(result: ScanResult, pairs: bool, out: IO[str]) -> None:
    from rich.console import Console
    from rich.text import Text

    from dedup.table import TextTable

    console = Console(file=out, width=None if out.isatty() else 120, highlight=False)
    if not ((result.pairs or result.contained) if pairs else result.clusters):
        console.print(f"No near-duplicates at this threshold among {_plural(result.documents, 'document')}.")
        return
    if pairs and result.measure == "containment":
        title = _plural(len(result.contained), "contained pair")
        headers = ["contained", "container", "containment", "jaccard"]
        rows = [
            [printable(c.contained), printable(c.container), f"{c.containment:.4f}", f"{c.jaccard:.4f}"]
            for c in result.contained
        ]
        table = TextTable(title, headers, rows, [])
    elif pairs:
        title = _plural(len(result.pairs), "near-duplicate pair")
        rows = [[printable(p.a), printable(p.b), f"{p.similarity:.4f}", f"{p.estimate:.4f}"] for p in result.pairs]
        table = TextTable(title, ["a", "b", "similarity", "estimate"], rows, [])
    else:
        measure = "containment" if result.measure == "containment" else "similarity"
        rows, ends = [], []
        for index, cluster in enumerate(result.clusters):
            for member, doc_id, sim in zip(cluster.members, cluster.ids, cluster.similarities, strict=True):
                mark = " (keep)" if member == cluster.keep else ""
                rows.append([str(index), str(cluster.size), printable(doc_id) + mark, f"{sim:.4f}"])
            ends.append(len(rows))
        table = TextTable(
            _plural(len(result.clusters), "cluster"), ["cluster", "size", "document", measure], rows, ends
        )
    # Plain lines (see dedup.table); rich styles only the title and header.
    lines = table.lines(console.width)
    console.print(Text(lines[0], style="italic"), soft_wrap=True)
    console.print("\n".join(lines[1:4]), style="bold", markup=False, soft_wrap=True)
    console.file.write("\n".join(lines[4:]) + "\n")


def _scan_texts(
    result: ScanResult, inputs: InputSet, locations: Locations | None, text_field: str, id_field: str, html_text: str
) -> Callable[[Mapping[int, str]], Mapping[int, str]]:
    """How an HTML report gets the texts of the members it shows: by the
    positions noted while reading (local engine), else by id."""
    from dedup.readback import read_texts_by_id

    def texts(wanted: Mapping[int, str]) -> Mapping[int, str]:
        if locations is not None:
            no_words = sum(s.reason == "no words after normalization" for s in result.skipped)
            found = locations.texts(wanted, no_words=no_words, renamed={r.new_id for r in result.renamed})
            if found is not None:
                return found
        by_id = read_texts_by_id(
            inputs, list(wanted.values()), text_field=text_field, id_field=id_field, html_text=html_text
        )
        return {number: by_id[i] for number, i in wanted.items() if i in by_id}

    return texts


def _write_scan(result: ScanResult, output_format: OutputFormat, pairs: bool, out: IO[str]) -> None:
    if output_format is OutputFormat.table:
        _render_table(result, pairs, out)
    elif result.measure == "containment":
        _write_containment(result, output_format, pairs, out)
    elif output_format is OutputFormat.jsonl:
        if pairs:
            write_pairs_jsonl(out, result.pairs)
        else:
            write_clusters_jsonl(out, result.clusters)
    else:
        if pairs:
            write_pairs_csv(out, result.pairs)
        else:
            write_clusters_csv(out, result.clusters)


def _write_containment(result: ScanResult, output_format: OutputFormat, pairs: bool, out: IO[str]) -> None:
    if output_format is OutputFormat.jsonl:
        if pairs:
            write_contained_jsonl(out, result.contained)
        else:
            write_clusters_jsonl(out, result.clusters, measure="containment")
    elif pairs:
        write_contained_csv(out, result.contained)
    else:
        write_clusters_csv(out, result.clusters, measure="containment")


def _check_html_inputs(output_format: OutputFormat, inputs: InputSet) -> None:
    """An HTML report reads the texts it shows back from local files only.

    Raises:
        UsageError: --format html with a URL among the inputs.
    """
    if output_format is not OutputFormat.html:
        return
    from dedup.dask_engine import RemoteFile

    if any(isinstance(f, RemoteFile) for f in inputs.files):
        raise UsageError("--format html reads the texts it shows back from local files, not from URLs")


def _check_format(output_format: OutputFormat, output: str | None, *, html: bool = True) -> None:
    """Refuse --format html where a command makes no page, or where the page would go to a terminal.

    Raises:
        UsageError: either.
    """
    if output_format is not OutputFormat.html:
        return
    if not html:
        raise UsageError("--format html is for scan, blocks and index query: use table, jsonl or csv here")
    if (output is None or output == "-") and sys.stdout is not None and sys.stdout.isatty():
        raise UsageError("--format html writes a page, not text for a terminal: give --output FILE.html")


@app.command(
    cls=_PanelCommand,
    epilog="Example: dedup scan dump.jsonl.gz --format jsonl -o clusters.jsonl",
)
def scan(
    paths: Paths,
    text_field: TextField = "text",
    id_field: IdField = "id",
    threshold: Annotated[
        float,
        typer.Option(metavar="T", help="Jaccard similarity (or containment) to match.", rich_help_panel=MATCHING),
    ] = 0.8,
    measure: Annotated[
        Measure,
        typer.Option(help="containment: a smaller document inside a larger one.", rich_help_panel=MATCHING),
    ] = Measure.jaccard,
    shingle: Annotated[
        str,
        typer.Option(metavar="KIND:N", help="word:N or char:N n-grams.", rich_help_panel=MATCHING),
    ] = "word:5",
    fold_accents: Annotated[
        bool,
        typer.Option("--fold-accents", help="Strip diacritics, so unaccented copies match.", rich_help_panel=MATCHING),
    ] = False,
    keep: Annotated[KeepPolicy, typer.Option(help="Member each cluster keeps.", rich_help_panel=MATCHING)] = (
        KeepPolicy.first
    ),
    num_perm: Annotated[int, typer.Option(metavar="N", help="MinHash permutations.", rich_help_panel=MATCHING)] = 128,
    seed: Annotated[int, typer.Option(metavar="N", help="Seed of the permutations.", rich_help_panel=MATCHING)] = 1,
    verify: Annotated[bool, typer.Option(help="Verify candidates exactly.", rich_help_panel=MATCHING)] = True,
    ignore_boilerplate: Annotated[
        bool,
        typer.Option(
            "--ignore-boilerplate",
            help="Drop lines found in many documents first.",
            rich_help_panel=MATCHING,
        ),
    ] = False,
    boilerplate_documents: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Boilerplate: in N docs [default: 3 or 0.5%].",
            rich_help_panel=MATCHING,
        ),
    ] = None,
    html_text: HtmlTextOption = HtmlText.main,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", metavar="FORMAT", help=HtmlFormatHelp, rich_help_panel=OUTPUT)
    ] = OutputFormat.table,
    output: OutputOption = None,
    pairs: Annotated[
        bool, typer.Option("--pairs", help="Verified pairs instead of clusters.", rich_help_panel=OUTPUT)
    ] = False,
    errors: Annotated[
        str | None,
        typer.Option(metavar="FILE", help="Also write skipped inputs here as JSONL.", rich_help_panel=OUTPUT),
    ] = None,
    fail_on_duplicates: Annotated[
        bool, typer.Option("--fail-on-duplicates", help="Exit 3 when a cluster is found.", rich_help_panel=OUTPUT)
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 if any input was skipped.", rich_help_panel=OUTPUT)
    ] = False,
    quiet: Quiet = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="LSH shape and candidate counts.", rich_help_panel=OUTPUT)
    ] = False,
    workers: Annotated[
        int | None, typer.Option(metavar="N", help="Threads [default: all cores].", rich_help_panel=PERFORMANCE)
    ] = None,
    memory: Annotated[
        str,
        typer.Option(
            metavar="SIZE",
            help="Held in memory before spilling: 2G...",
            rich_help_panel=PERFORMANCE,
        ),
    ] = "0",
    batch_size: Annotated[
        int, typer.Option(metavar="N", help="Documents per batch.", rich_help_panel=PERFORMANCE)
    ] = 512,
    engine: Annotated[
        Engine,
        typer.Option(
            help="dask: on a Dask cluster (--workers processes, or --scheduler).", rich_help_panel=PERFORMANCE
        ),
    ] = Engine.local,
    html_max_clusters: HtmlMaxClusters = DEFAULT_MAX_CLUSTERS,
    scheduler: Annotated[
        str | None,
        typer.Option(
            metavar="ADDRESS", help="A running Dask scheduler (tcp://host:8786).", rich_help_panel=PERFORMANCE
        ),
    ] = None,
    scratch: Annotated[
        str | None,
        typer.Option(
            metavar="FOLDER",
            help="With --engine dask: a folder every worker sees [default: TMPDIR].",
            rich_help_panel=PERFORMANCE,
        ),
    ] = None,
) -> None:
    """Find clusters of near-duplicate documents under PATH...

    Clusters name the document to keep; skipped inputs go to stderr, with why.
    """

    started = time.perf_counter()
    with _errors_as_exits():
        config = ScanConfig(
            memory=parse_memory(memory),
            threshold=threshold,
            num_perm=num_perm,
            shingle=shingle,
            seed=seed,
            fold_accents=fold_accents,
            keep=keep.value,
            verify=verify,
            workers=workers,
            batch_size=batch_size,
            measure=measure.value,
            ignore_boilerplate=ignore_boilerplate,
            boilerplate_documents=boilerplate_documents,
            html_text=html_text.value,
        )
        config.validate()
        if engine is not Engine.dask and (scheduler is not None or scratch is not None):
            raise UsageError(f"{'--scheduler' if scheduler is not None else '--scratch'} needs --engine dask")
        if engine is Engine.dask:
            from dedup.dask_engine import check_config, collect_inputs_any, scan_files

            check_config(config)
        _check_format(output_format, output)
        html = output_format is OutputFormat.html
        if html and pairs:
            raise UsageError("--format html shows clusters: drop --pairs (or use jsonl or csv)")
        check_max_shown(html_max_clusters)
        # The dask engine also takes fsspec URLs (s3://bucket/dump/).
        inputs = (collect_inputs_any if engine is Engine.dask else collect_inputs)(paths)
        _check_html_inputs(output_format, inputs)
        locations = None
        check_outputs([("--output", output or "-"), ("--errors", errors)], inputs.files)
        _report_inputs(inputs, quiet)
        with _Progress(not quiet and sys.stderr.isatty(), "reading", inputs.total_bytes) as bar:
            if engine is Engine.dask:
                result = scan_files(
                    inputs,
                    config,
                    scheduler=scheduler,
                    n_workers=workers,
                    scratch=scratch,
                    text_field=text_field,
                    id_field=id_field,
                    progress=bar.on_documents,
                    on_read=bar.on_read,
                    on_stage=bar.stage,
                    on_dashboard=(lambda link: typer.echo(f"dask: dashboard at {link}", err=True)) if verbose else None,
                )
            elif ignore_boilerplate:
                result = _scan_without_boilerplate(inputs, config, text_field, id_field, bar)
            else:
                if html:
                    from dedup.readback import Locations

                    # Notes each document's file and line, to read the shown ones back.
                    locations = Locations(
                        inputs,
                        text_field=text_field,
                        id_field=id_field,
                        fold_accents=fold_accents,
                        html_text=config.html_text,
                    )
                    documents = locations.read_documents(on_read=bar.on_read)
                else:
                    documents = read_documents(
                        inputs,
                        text_field=text_field,
                        id_field=id_field,
                        on_read=bar.on_read,
                        html_text=config.html_text,
                    )
                result = find_duplicates(documents, config, progress=bar.on_documents, on_stage=bar.stage)
        _report_skips(result.skipped, result.renamed)
        with open_output(output) as out:
            if html:
                from dedup.html_report import ReportHeader, ScanHtml

                header = ReportHeader(
                    "scan",
                    paths,
                    {
                        "measure": measure.value,
                        "threshold": threshold,
                        "shingle": shingle,
                        "num_perm": num_perm,
                        "seed": seed,
                        "fold_accents": fold_accents,
                        "keep": keep.value,
                        "verify": verify,
                    },
                    result.documents,
                    result.skipped,
                    time.perf_counter() - started,
                )
                texts = _scan_texts(result, inputs, locations, text_field, id_field, config.html_text)
                measure_name = "containment" if result.measure == "containment" else "similarity"
                page: Renderer[Cluster] = ScanHtml(
                    header, texts, shingle, fold_accents, html_max_clusters, measure_name
                )
                page(out, result.clusters)
            else:
                _write_scan(result, output_format, pairs, out)
        if errors is not None:
            with open_output(errors) as out:
                write_skipped_jsonl(out, result.skipped)
        if verbose:
            _verbose_scan(result, threshold)
    if not quiet:
        typer.echo(
            f"dedup: {_plural(result.documents, 'document')} read, {_skipped_summary(result.skipped)}, "
            f"{_plural(len(result.clusters), 'cluster')}, {_plural(result.duplicates, 'duplicate')}"
            f"{_boilerplate_summary(result) if ignore_boilerplate else ''} ({time.perf_counter() - started:.1f} s)",
            err=True,
        )
    if strict and result.skipped:
        raise _fail(f"{_plural(len(result.skipped), 'input')} skipped (--strict)", EXIT_FATAL)
    if fail_on_duplicates and result.clusters:
        raise typer.Exit(EXIT_DUPLICATES)


def _scan_without_boilerplate(
    inputs: InputSet, config: ScanConfig, text_field: str, id_field: str, bar: _Progress
) -> ScanResult:
    """--ignore-boilerplate: one pass to find the boilerplate, one to scan."""
    from dedup.blocks import find_duplicates_without_boilerplate

    passes = 0

    def documents() -> Iterator[Document | Skipped]:
        nonlocal passes
        passes += 1
        bar.stage("finding boilerplate" if passes == 1 else "reading", restart=True)
        return read_documents(
            inputs, text_field=text_field, id_field=id_field, on_read=bar.on_read, html_text=config.html_text
        )

    def stage(name: str) -> None:
        if name != "scanning":  # the second pass announces itself
            bar.stage(name)

    return find_duplicates_without_boilerplate(documents, config, progress=bar.on_documents, on_stage=stage)


def _boilerplate_summary(result: ScanResult) -> str:
    """``, similarities without boilerplate (340 lines removed)``."""
    return f", similarities without boilerplate ({_plural(result.stats.boilerplate_removed, 'line')} removed)"


def _verbose_scan(result: ScanResult, threshold: float) -> None:
    s = result.stats
    if result.stats.boilerplate_min_documents:
        typer.echo(
            f"boilerplate: {_plural(s.boilerplate_blocks, 'distinct line')} in >= "
            f"{_plural(s.boilerplate_min_documents, 'document')}; {s.boilerplate_removed:,} removed from "
            f"{_plural(s.boilerplate_documents, 'document')} before shingling: similarities are of the cleaned texts",
            err=True,
        )
        if s.boilerplate_whole:
            typer.echo(
                f"boilerplate: {_plural(s.boilerplate_whole, 'document')} left whole: every line of theirs recurs "
                "that often (a story carried by several outlets, not a template)",
                err=True,
            )
    capped = ""
    if s.capped_buckets:
        capped = f"; {s.capped_buckets:,} buckets over {MAX_BUCKET:,} documents paired star-wise"
    shape = f"{s.num_bands} bands x {s.rows_per_band} rows"
    if s.partitions:
        # No band shape used: every set was too small for one to reach 0.99.
        shape = f"from {shape} up" if s.rows_per_band else "every set matched exactly by its shingles"
        shape = f"ensemble of {_plural(s.partitions, 'size partition')}, {shape}"
    typer.echo(
        f"lsh: {shape}; {s.band_collisions:,} band collisions, "
        f"{s.candidates:,} candidate pairs, {s.verified:,} verified at >= {threshold}{capped}",
        err=True,
    )
    if s.char_fallback:
        typer.echo(
            f"shingles: {_plural(s.char_fallback, 'document')} in scripts written without spaces (Thai, Chinese, "
            "Japanese...) shingled by characters; they match only each other",
            err=True,
        )


def _skipped_summary(skipped: Sequence[Skipped]) -> str:
    """``3 skipped (empty document: 2, line is not valid JSON: 1)``."""
    if not skipped:
        return "0 skipped"
    counts = collections.Counter(
        s.reason.split(": ")[0] if s.reason.startswith("cannot read") else s.reason for s in skipped
    )
    reasons = ", ".join(f"{printable(reason)}: {n:,}" for reason, n in counts.most_common())
    return f"{len(skipped):,} skipped ({reasons})"


def _render_groups(result: BlocksResult, out: IO[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, width=None if out.isatty() else 120, highlight=False)
    if not result.groups:
        console.print(f"No repeated blocks among {_plural(result.documents, 'document')}.")
        return
    boilerplate = sum(g.boilerplate for g in result.groups)
    table = Table(
        "group",
        "kind",
        "count",
        "docs",
        "text",
        "where",
        title=f"{_plural(len(result.groups), 'repeated block')} ({boilerplate:,} boilerplate: in >= "
        f"{_plural(result.boilerplate_min_documents, 'document')}, listed first)",
    )
    for index, g in enumerate(result.groups):
        where = ", ".join(f"{o.id}:{o.line}" for o in g.occurrences[:3])
        if g.count > 3:
            where += f", ... (+{g.count - 3})"
        text = g.text if len(g.text) <= 70 else g.text[:67] + "..."
        kind = g.kind + (" boilerplate" if g.boilerplate else "")
        # Ids and news text may hold square brackets, which rich would read as markup.
        table.add_row(str(index), kind, str(g.count), str(g.documents), _shown(text), _shown(where))
    console.print(table)


def _refuse_output_among_copies(output: str | None, strip: str, copies: Sequence[CleanedCopy]) -> None:
    """--output may not be the --strip folder, hold it, or be where --strip
    will put a cleaned copy."""
    if output is None or output == "-":
        return
    target = os.path.realpath(output)
    folder = os.path.realpath(strip)
    if folder == target or folder.startswith(target.rstrip(os.sep) + os.sep):
        raise UsageError(f"--output {output} and --strip {strip}: the report would take the folder's place")
    for copy in copies:
        if os.path.realpath(copy.target) == target:
            raise UsageError(f"--output {output} is where --strip writes the cleaned copy of {copy.file.qualified}")


def _write_copies(
    inputs: InputSet,
    folder: str,
    clean: Callable[[int, str], str],
    text_field: str,
    id_field: str,
    paths: Sequence[str],
) -> None:
    """--strip: the cleaned copies; if stopped half-way, say how far it got
    (each copy written is whole, the rest are not there)."""
    from dedup.strip import write_cleaned_copies

    written: list[Path] = []
    try:
        write_cleaned_copies(
            inputs, folder, clean, text_field=text_field, id_field=id_field, arguments=paths, on_copy=written.append
        )
    except BaseException:
        if written:
            typer.echo(
                f"dedup: {len(written):,} cleaned {'copy' if len(written) == 1 else 'copies'} written whole to "
                f"{folder} before this stopped",
                err=True,
            )
        raise


def _write_groups(result: BlocksResult, output_format: OutputFormat, out: IO[str]) -> None:
    if output_format is OutputFormat.table:
        _render_groups(result, out)
    elif output_format is OutputFormat.jsonl:
        write_groups_jsonl(out, result.groups)
    else:
        write_groups_csv(out, result.groups)


@app.command(
    cls=_PanelCommand,
    epilog="Examples: dedup blocks news/ | dedup blocks dump.jsonl --near 0.8 --strip cleaned/",
)
def blocks(
    paths: Paths,
    text_field: TextField = "text",
    id_field: IdField = "id",
    html_text: HtmlTextOption = HtmlText.main,
    unit: Annotated[
        BlockUnit, typer.Option(help="A block is a non-blank line or a paragraph.", rich_help_panel=MATCHING)
    ] = BlockUnit.line,
    min_words: Annotated[
        int,
        typer.Option(
            metavar="N", help="Ignore blocks with fewer words (after normalization).", rich_help_panel=MATCHING
        ),
    ] = 4,
    near: Annotated[
        float | None,
        typer.Option(
            metavar="T", help="Also group blocks with character 5-gram Jaccard >= T.", rich_help_panel=MATCHING
        ),
    ] = None,
    boilerplate_documents: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="A block in this many documents is boilerplate [default: max(3, 0.5% of them)].",
            rich_help_panel=MATCHING,
        ),
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", metavar="FORMAT", help=HtmlFormatHelp, rich_help_panel=OUTPUT)
    ] = OutputFormat.table,
    output: OutputOption = None,
    html_max_clusters: HtmlMaxClusters = DEFAULT_MAX_CLUSTERS,
    strip: Annotated[
        str | None,
        typer.Option(
            metavar="FOLDER", help="Write cleaned copies here: later repeats removed.", rich_help_panel=OUTPUT
        ),
    ] = None,
    strip_boilerplate: Annotated[
        bool,
        typer.Option("--strip-boilerplate", help="With --strip, also remove boilerplate.", rich_help_panel=OUTPUT),
    ] = False,
    quiet: Quiet = False,
    workers: Annotated[
        int | None, typer.Option(metavar="N", help="Threads [default: all cores].", rich_help_panel=PERFORMANCE)
    ] = None,
    engine: Annotated[
        Engine,
        typer.Option(
            help="dask: on a Dask cluster (--workers processes, or --scheduler).", rich_help_panel=PERFORMANCE
        ),
    ] = Engine.local,
    scheduler: Annotated[
        str | None,
        typer.Option(
            metavar="ADDRESS", help="A running Dask scheduler (tcp://host:8786).", rich_help_panel=PERFORMANCE
        ),
    ] = None,
    scratch: Annotated[
        str | None,
        typer.Option(
            metavar="FOLDER",
            help="With --engine dask: a folder every worker sees [default: TMPDIR].",
            rich_help_panel=PERFORMANCE,
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="The Dask dashboard's address.", rich_help_panel=OUTPUT)
    ] = False,
) -> None:
    """Find repeated lines or paragraphs inside files and across files.

    Reports every block that occurs more than once (exact after
    normalization; with --near also near-duplicates), where it occurs, and
    which blocks are template boilerplate; --strip writes cleaned copies.
    """
    from dedup.blocks import BlocksConfig, find_repeated_blocks
    from dedup.dask_engine import RemoteFile, blocks_files, collect_inputs_any
    from dedup.html_report import BlocksHtml, ReportHeader
    from dedup.readback import read_texts_by_id
    from dedup.strip import plan_cleaned_copies, strip_text

    started = time.perf_counter()
    with _errors_as_exits():
        options = BlocksConfig(unit.value, min_words, near, boilerplate_documents, workers)
        options.validate()
        if engine is not Engine.dask and (scheduler is not None or scratch is not None):
            raise UsageError(f"{'--scheduler' if scheduler is not None else '--scratch'} needs --engine dask")
        if strip_boilerplate and strip is None:
            raise UsageError("--strip-boilerplate needs --strip FOLDER")
        if strip == "":
            raise UsageError("--strip folder is empty")
        # Resolved: making bl/sub/../clean must not create bl/sub.
        strip_dir = None if strip is None else os.path.realpath(strip)
        _check_format(output_format, output)
        check_max_shown(html_max_clusters)
        collect = collect_inputs_any if engine is Engine.dask else collect_inputs
        inputs = collect(paths, exclude=[strip_dir] if strip_dir else [])
        _check_html_inputs(output_format, inputs)
        check_outputs([("--output", output or "-")], inputs.files)
        if strip is not None and any(isinstance(f, RemoteFile) for f in inputs.files):
            raise UsageError("--strip writes copies of local files only, not of URLs")
        if strip is not None and any(f.kind in WEB_KINDS for f in inputs.files):
            # Their blocks are lines of the extracted text, not of the file: a copy could not remove them.
            raise UsageError("--strip writes copies of text files only, not of HTML pages or WARC archives")
        if strip is not None and strip_dir is not None:
            check_output_folder("--strip", strip, inputs.files)
            _refuse_output_among_copies(output, strip, plan_cleaned_copies(inputs, strip_dir, arguments=paths))
        _report_inputs(inputs, quiet)
        with _Progress(not quiet and sys.stderr.isatty(), "counting", inputs.total_bytes) as bar:
            passes = 0

            def documents() -> Iterator[Document | Skipped]:
                nonlocal passes
                passes += 1
                bar.stage(["counting", "grouping", "reading texts"][min(passes, 3) - 1], restart=True)
                return read_documents(
                    inputs, text_field=text_field, id_field=id_field, on_read=bar.on_read, html_text=html_text.value
                )

            def advance(stage: str, done: int) -> None:
                bar.on_documents(done)

            if engine is Engine.dask:
                bar.stage("counting", restart=True)
                result = blocks_files(
                    inputs,
                    options,
                    scheduler=scheduler,
                    n_workers=workers,
                    scratch=scratch,
                    text_field=text_field,
                    id_field=id_field,
                    html_text=html_text.value,
                    progress=lambda stage, done: bar.stage(stage) if stage == "grouping" else bar.on_documents(done),
                    on_read=bar.on_read,
                    on_dashboard=(lambda link: typer.echo(f"dask: dashboard at {link}", err=True)) if verbose else None,
                )
            else:
                result = find_repeated_blocks(
                    documents,
                    unit=unit.value,
                    min_words=min_words,
                    near=near,
                    boilerplate_documents=boilerplate_documents,
                    workers=workers,
                    progress=advance,
                )
        _report_skips(result.skipped, result.renamed)
        if strip_dir is not None:
            # Copies first: files are what --strip asked for, and a report
            # whose reader went away (| head) must not cost them.

            def clean(number: int, text: str) -> str:
                return strip_text(text, result.spans_to_strip(number, strip_boilerplate))

            _write_copies(inputs, strip_dir, clean, text_field, id_field, paths)
        with open_output(output) as out:
            if output_format is OutputFormat.html:
                header = ReportHeader(
                    "blocks",
                    paths,
                    {"unit": unit.value, "min_words": min_words, "near": near},
                    result.documents,
                    result.skipped,
                    time.perf_counter() - started,
                )

                def texts(ids: Sequence[str]) -> Mapping[str, str]:
                    return read_texts_by_id(
                        inputs, ids, text_field=text_field, id_field=id_field, html_text=html_text.value
                    )

                page: Renderer[BlockGroup] = BlocksHtml(
                    header, texts, result.boilerplate_min_documents, html_max_clusters
                )
                page(out, result.groups)
            else:
                _write_groups(result, output_format, out)
    if not quiet:
        repeated = sum(g.count - 1 for g in result.groups)
        boilerplate = sum(g.boilerplate for g in result.groups)
        typer.echo(
            f"dedup: {_plural(result.documents, 'document')} read, {_skipped_summary(result.skipped)}, "
            f"{_plural(len(result.groups), 'repeated block')} ({boilerplate:,} boilerplate), "
            f"{_plural(repeated, 'repeat')} ({time.perf_counter() - started:.1f} s)",
            err=True,
        )


@app.command(epilog="Example: dedup generate dump.jsonl.gz --docs 100000 --source ../shared/corpora/vntc/vntc.jsonl.gz")
def generate(
    out: Annotated[
        str,
        typer.Argument(
            metavar="OUT.jsonl", help="Where to write the dump (.gz/.zst: compressed; -: stdout).", show_default=False
        ),
    ],
    docs: Annotated[int, typer.Option(help="Number of documents.")] = 10000,
    dup_rate: Annotated[float, typer.Option(help="Share of documents that are edited copies of others.")] = 0.2,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same bytes.")] = 1,
    source: Annotated[
        list[str] | None,
        typer.Option(metavar="PATH", help="Real text to draw originals from (any dedup input; repeatable)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary.")] = False,
) -> None:
    """Write a news-like JSONL dump with known near-duplicate clusters.

    Each record is {id, text, cluster}: documents sharing a cluster are one
    story and its republished copies (word edits, re-wrapping, case,
    punctuation, credit lines, Unicode form, tone-mark style).
    """
    from dedup.generate import write_dump

    with _errors_as_exits():
        written = write_dump(out, docs=docs, dup_rate=dup_rate, seed=seed, sources=source or [], on_skip=_echo_skip)
    if not quiet:
        typer.echo(f"dedup: wrote {_plural(written, 'document')} to {out}", err=True)


def _echo_skip(skip: Skipped) -> None:
    typer.echo(skip.describe(), err=True)


class BenchFormat(enum.StrEnum):
    """Output formats of ``bench``."""

    table = "table"
    jsonl = "jsonl"
    csv = "csv"


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _render_bench(report: BenchReport, out: IO[str]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=out, width=None if out.isatty() else 120, highlight=False)
    table = Table(
        "documents",
        "method",
        "docs/s",
        "peak MiB",
        "pairs",
        "precision",
        "recall",
        title=f"dedup bench: {escape(report.source)}",
    )
    for r in report.runs:
        p = "" if r.precision is None else f"{r.precision:.4f}"
        rc = "" if r.recall is None else f"{r.recall:.4f}"
        table.add_row(f"{r.size:,}", r.method, f"{r.docs_per_second:,.0f}", f"{r.peak_mib:.0f}", f"{r.pairs:,}", p, rc)
    console.print(table)
    if report.thresholds:
        curve = Table(
            "threshold",
            "true pairs",
            "found",
            "precision",
            "recall",
            f"bands x rows for recall >= {report.target_recall}",
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


def _write_bench(report: BenchReport, output_format: BenchFormat, out: IO[str]) -> None:
    if output_format is BenchFormat.table:
        _render_bench(report, out)
    elif output_format is BenchFormat.jsonl:
        out.write(report.to_jsonl())
    else:
        out.write(report.to_csv())


@app.command(
    epilog="Example: dedup bench dump.jsonl --sizes 1000,10000,50000 --thresholds 0.5,0.7,0.8,0.9 --plot b.png"
)
def bench(
    path: Annotated[
        str | None, typer.Argument(metavar="[PATH]", help="Your dump; without it a news-like dump is generated.")
    ] = None,
    sizes: Annotated[str, typer.Option(help="Sample sizes, comma-separated.")] = "1000,10000",
    threshold: Annotated[float, typer.Option(help="Jaccard threshold of the comparison.")] = 0.8,
    thresholds: Annotated[
        str, typer.Option(help="Also measure dedup's recall/precision at these thresholds, e.g. 0.5,0.6,0.7,0.8,0.9.")
    ] = "",
    target_recall: Annotated[
        float, typer.Option(help="Band shapes reaching this recall (in (0, 1)) are listed per threshold.")
    ] = 0.99,
    exact_limit: Annotated[int, typer.Option(help="Largest sample for exact all-pairs Jaccard.")] = 20000,
    seed: Annotated[int, typer.Option(help="Seed of the generated dump.")] = 1,
    plot: Annotated[
        str | None,
        typer.Option(metavar="FILE", help="Draw throughput and recall against size (and the S-curve) to a PNG."),
    ] = None,
    output_format: Annotated[BenchFormat, typer.Option("--format", help=FormatHelp)] = BenchFormat.table,
    output: OutputOption = None,
    quiet: Quiet = False,
) -> None:
    """Measure speed, memory and accuracy: dedup vs datasketch vs exact Jaccard.

    Each method runs on the same samples as its own process; peak memory is
    its process tree's, sampled from /proc. Recall and precision are against
    exact all-pairs Jaccard at the threshold. jsonl: one record per method
    run ("kind": "run"), then one per --thresholds point ("kind":
    "threshold"); csv: one row per method run.
    """
    from dedup.bench import plot_report, run_bench

    started = time.perf_counter()
    try:
        size_list = [int(x) for x in sizes.split(",") if x.strip()]
        threshold_list = _floats(thresholds)
    except ValueError:
        raise _fail("--sizes takes integers and --thresholds numbers, comma-separated", EXIT_USAGE) from None
    if plot is not None and importlib.util.find_spec("matplotlib") is None:
        raise _fail("--plot needs matplotlib: pip install 'dedup[plot]'", EXIT_FATAL)

    def say(message: str) -> None:
        if not quiet:
            typer.echo(f"dedup bench: {message}", err=True)

    with _errors_as_exits():
        inputs = collect_inputs([path]).files if path is not None else []
        check_outputs([("--output", output), ("--plot", plot)], inputs)
        report = run_bench(
            path,
            sizes=size_list,
            threshold=threshold,
            thresholds=threshold_list,
            target_recall=target_recall,
            seed=seed,
            exact_limit=exact_limit,
            progress=say,
            on_skip=_echo_skip,
        )
        with open_output(output) as out:
            _write_bench(report, output_format, out)
        if plot is not None:
            plot_report(report, plot)
    if not quiet:
        for note in report.notes:
            typer.echo(f"note: {note}", err=True)
        curve = f", {_plural(len(report.thresholds), 'threshold')}" if report.thresholds else ""
        typer.echo(
            f"dedup bench: {_plural(report.documents, 'document')} read, {_skipped_summary(report.skipped)}, "
            f"{_plural(len(report.runs), 'run')}{curve} ({time.perf_counter() - started:.1f} s)",
            err=True,
        )


index_app = typer.Typer(
    name="index",
    help="A persistent index: keep an archive's sketches, check new stories against it.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
app.add_typer(index_app, name="index")

IndexPath = Annotated[
    str, typer.Argument(metavar="INDEX", help="The index file (one SQLite file).", show_default=False)
]
Workers = Annotated[
    int | None, typer.Option(metavar="N", help="Threads [default: all cores].", rich_help_panel=PERFORMANCE)
]


def _index_inputs(index: str) -> list[InputFile]:
    """The index file (and its write-ahead log) as inputs that no output may overwrite."""
    return [InputFile(Path(index + suffix), index + suffix, "index", None) for suffix in ("", "-wal", "-shm")]


def _render_matches(result: IndexResult, verb: str, out: IO[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, width=None if out.isatty() else 120, highlight=False)
    if not result.matches:
        console.print(f"No near-duplicates in the index for {_plural(result.documents, 'document')} {verb}.")
        return
    table = Table("document", "match", "similarity", title=_plural(len(result.matches), "document") + " with matches")
    for m in result.matches:
        for position, (other, sim) in enumerate(m.matches):
            table.add_row(_shown(m.id) if position == 0 else "", _shown(other), f"{sim:.4f}")
        table.add_section()
    console.print(table)


def _write_matches(result: IndexResult, output_format: OutputFormat, verb: str, out: IO[str]) -> None:
    if output_format is OutputFormat.table:
        _render_matches(result, verb, out)
    elif output_format is OutputFormat.jsonl:
        write_matches_jsonl(out, result.matches)
    else:
        write_matches_csv(out, result.matches)


def _index_documents(
    index: Index,
    paths: Sequence[str],
    output: str | None,
    text_field: str,
    id_field: str,
    quiet: bool,
    run: Callable[[Iterator[Document | Skipped], Callable[[int], None]], IndexResult],
    stage: str,
) -> IndexResult:
    """Read PATH... (the index never overwritten by --output) and run ``add`` or ``query`` on them."""
    inputs = collect_inputs(paths)
    check_outputs([("--output", output or "-")], [*inputs.files, *_index_inputs(index.path)])
    _report_inputs(inputs, quiet)
    with _Progress(not quiet and sys.stderr.isatty(), stage, inputs.total_bytes) as bar:
        documents = read_documents(inputs, text_field=text_field, id_field=id_field, on_read=bar.on_read)
        result = run(documents, bar.on_documents)
    _report_skips(result.skipped, result.renamed)
    return result


@index_app.command("create", cls=_PanelCommand, epilog="Example: dedup index create news.index --threshold 0.8")
def index_create(
    index: IndexPath,
    threshold: Annotated[
        float, typer.Option(metavar="T", help="Jaccard similarity to match.", rich_help_panel=MATCHING)
    ] = 0.8,
    shingle: Annotated[
        str, typer.Option(metavar="KIND:N", help="word:N or char:N n-grams.", rich_help_panel=MATCHING)
    ] = "word:5",
    fold_accents: Annotated[
        bool,
        typer.Option("--fold-accents", help="Strip diacritics, so unaccented copies match.", rich_help_panel=MATCHING),
    ] = False,
    num_perm: Annotated[int, typer.Option(metavar="N", help="MinHash permutations.", rich_help_panel=MATCHING)] = 128,
    seed: Annotated[int, typer.Option(metavar="N", help="Seed of the permutations.", rich_help_panel=MATCHING)] = 1,
    quiet: Quiet = False,
) -> None:
    """Create an empty index; its matching options are fixed from now on."""
    from dedup.index import Index

    with _errors_as_exits():
        Index.create(
            index, threshold=threshold, num_perm=num_perm, shingle=shingle, seed=seed, fold_accents=fold_accents
        ).close()
    if not quiet:
        typer.echo(
            f"dedup: created {printable(index)} (threshold {threshold}, {shingle} shingles, {num_perm} permutations, "
            f"seed {seed}{', accents folded' if fold_accents else ''})",
            err=True,
        )


@index_app.command("add", cls=_PanelCommand, epilog="Example: dedup index add news.index today.jsonl --format jsonl")
def index_add(
    index: IndexPath,
    paths: Paths,
    text_field: TextField = "text",
    id_field: IdField = "id",
    replace: Annotated[
        bool,
        typer.Option("--replace", help="Replace a document whose id is already indexed.", rich_help_panel=INPUT),
    ] = False,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help=FormatHelp, rich_help_panel=OUTPUT)
    ] = OutputFormat.table,
    output: OutputOption = None,
    fail_on_duplicates: Annotated[
        bool, typer.Option("--fail-on-duplicates", help="Exit 3 when any match is found.", rich_help_panel=OUTPUT)
    ] = False,
    quiet: Quiet = False,
    workers: Workers = None,
    batch_size: Annotated[
        int,
        typer.Option(metavar="N", help="Documents per transaction.", rich_help_panel=PERFORMANCE),
    ] = INDEX_BATCH_SIZE,
) -> None:
    """Add documents; report each one's near-duplicates already indexed.

    Matches are verified (exact Jaccard) against the indexed documents and
    the earlier documents of the same call. An id already indexed is
    skipped (or replaced with --replace). Each batch is one transaction:
    an interrupted add keeps every batch it committed.
    """
    from dedup.index import Index

    started = time.perf_counter()
    with _errors_as_exits(), Index.open(index, workers=workers) as opened:
        _check_format(output_format, output, html=False)

        def run(documents: Iterator[Document | Skipped], progress: Callable[[int], None]) -> IndexResult:
            return opened.add(documents, replace=replace, progress=progress, batch_size=batch_size)

        result = _index_documents(opened, paths, output, text_field, id_field, quiet, run, "adding")
        with open_output(output) as out:
            _write_matches(result, output_format, "added", out)
    _finish_index_call(result, "added", started, quiet, fail_on_duplicates)


@index_app.command("query", cls=_PanelCommand, epilog="Example: dedup index query news.index new.jsonl --top 3")
def index_query(
    index: IndexPath,
    paths: Paths,
    text_field: TextField = "text",
    id_field: IdField = "id",
    top: Annotated[
        int | None, typer.Option(metavar="K", help="Keep the K best matches per document.", rich_help_panel=MATCHING)
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", metavar="FORMAT", help=HtmlFormatHelp, rich_help_panel=OUTPUT)
    ] = OutputFormat.table,
    output: OutputOption = None,
    fail_on_duplicates: Annotated[
        bool, typer.Option("--fail-on-duplicates", help="Exit 3 when any match is found.", rich_help_panel=OUTPUT)
    ] = False,
    html_max_clusters: HtmlMaxClusters = DEFAULT_MAX_CLUSTERS,
    quiet: Quiet = False,
    workers: Workers = None,
) -> None:
    """Find each document's near-duplicates in the index (read-only).

    The whole call reads one snapshot of the index, even while another
    process adds to it.
    """
    from dedup.index import Index

    started = time.perf_counter()
    with _errors_as_exits(), Index.open(index, readonly=True, workers=workers) as opened:
        _check_format(output_format, output)
        check_max_shown(html_max_clusters)

        def run(documents: Iterator[Document | Skipped], progress: Callable[[int], None]) -> IndexResult:
            return opened.query(documents, top=top, progress=progress)

        result = _index_documents(opened, paths, output, text_field, id_field, quiet, run, "querying")
        with open_output(output) as out:
            if output_format is OutputFormat.html:
                _write_matches_html(opened, result, paths, text_field, id_field, started, html_max_clusters, out)
            else:
                _write_matches(result, output_format, "queried", out)
    _finish_index_call(result, "queried", started, quiet, fail_on_duplicates)


def _write_matches_html(
    opened: Index,
    result: IndexResult,
    paths: Sequence[str],
    text_field: str,
    id_field: str,
    started: float,
    max_shown: int,
    out: IO[str],
) -> None:
    """``index query --format html``: queried texts read back from PATH...,
    indexed ones as the index keeps them."""
    from dedup.html_report import MatchesHtml, ReportHeader
    from dedup.readback import read_texts_by_id

    config = opened.config
    options = {
        "index": opened.path,
        "threshold": config.threshold,
        "shingle": config.shingle,
        "num_perm": config.num_perm,
        "seed": config.seed,
        "fold_accents": config.fold_accents,
    }
    header = ReportHeader(
        "index query", paths, options, result.documents, result.skipped, time.perf_counter() - started
    )
    inputs = collect_inputs(paths)

    def texts(ids: Sequence[str]) -> Mapping[str, str]:
        return read_texts_by_id(inputs, ids, text_field=text_field, id_field=id_field)

    page: Renderer[Match] = MatchesHtml(
        header, texts, opened.stored_texts, config.shingle, config.fold_accents, max_shown
    )
    page(out, result.matches)


def _finish_index_call(result: IndexResult, verb: str, started: float, quiet: bool, fail_on_duplicates: bool) -> None:
    """The summary line of ``index add``/``query``, and exit 3 on a match with --fail-on-duplicates."""
    if not quiet:
        typer.echo(
            f"dedup: {_plural(result.documents, 'document')} {verb}, {_skipped_summary(result.skipped)}, "
            f"{_plural(len(result.matches), 'document')} with matches ({time.perf_counter() - started:.1f} s)",
            err=True,
        )
    if fail_on_duplicates and result.matches:
        raise typer.Exit(EXIT_DUPLICATES)


def _read_ids(source: str) -> list[str]:
    """Ids one per line from a file (``-``: stdin); blank lines ignored."""
    try:
        if source == "-":
            text = sys.stdin.read()
        else:
            with open(source, encoding="utf-8", errors="surrogateescape") as file:
                text = file.read()
    except FileNotFoundError:
        raise UsageError(f"--ids-from {source}: no such file") from None
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


@index_app.command("remove", cls=_PanelCommand, epilog="Example: dedup index remove news.index doc-17 doc-42")
def index_remove(
    index: IndexPath,
    ids: Annotated[
        list[str] | None, typer.Argument(metavar="ID", help="Ids of the documents to remove.", show_default=False)
    ] = None,
    ids_from: Annotated[
        str | None, typer.Option(metavar="FILE", help="Also remove the ids in FILE, one per line (- is stdin).")
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Remove documents from the index by id."""
    from dedup.index import Index

    started = time.perf_counter()
    unknown: list[str] = []
    with _errors_as_exits():
        wanted = list(ids or [])
        if ids_from is not None:
            wanted.extend(_read_ids(ids_from))
        if not wanted:
            raise UsageError("give the ids to remove, or --ids-from FILE")
        with Index.open(index) as opened:
            removed = opened.remove(wanted, on_unknown=unknown.append)
    for doc_id in unknown:
        typer.echo(f"warning: id '{printable(doc_id)}' is not in the index", err=True)
    if not quiet:
        typer.echo(
            f"dedup: {_plural(removed, 'document')} removed, {len(unknown):,} not in the index "
            f"({time.perf_counter() - started:.1f} s)",
            err=True,
        )


def _render_info(info: IndexInfo, out: IO[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, width=None if out.isatty() else 120, highlight=False)
    table = Table("", "", show_header=False, title=_shown(info.path))
    table.add_row("documents", f"{info.documents:,}")
    for key, value in info.options.items():
        table.add_row(key, _shown(str(value)))
    table.add_row("format version", str(info.format_version))
    table.add_row("created by dedup", _shown(info.dedup_version))
    per_document = f" ({info.size / info.documents:,.0f} per document)" if info.documents else ""
    table.add_row("size on disk", f"{info.size:,} bytes{per_document}")
    console.print(table)


@index_app.command("info", cls=_PanelCommand, epilog="Example: dedup index info news.index --format jsonl")
def index_info(
    index: IndexPath,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help=FormatHelp, rich_help_panel=OUTPUT)
    ] = OutputFormat.table,
    output: OutputOption = None,
) -> None:
    """Documents, matching options, format version and size on disk."""
    from dedup.index import Index

    with _errors_as_exits():
        _check_format(output_format, output, html=False)
        with Index.open(index, readonly=True) as opened:
            check_outputs([("--output", output or "-")], _index_inputs(opened.path))
            info = opened.info()
        with open_output(output) as out:
            if output_format is OutputFormat.table:
                _render_info(info, out)
            elif output_format is OutputFormat.jsonl:
                write_info_jsonl(out, info)
            else:
                write_info_csv(out, info)


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM unwinds like Ctrl-C, so temporary folders are removed on the way out.
    raise KeyboardInterrupt


def run() -> None:
    """Console-script entry point: runs the command, then ends the process
    without the interpreter's teardown."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    except SystemExit as done:
        code = _exit_status(done.code)
    else:
        code = 0
    if "multiprocessing" in sys.modules:
        # Its finalizers (an interrupted dask run's semaphores) must run, or
        # its resource tracker warns of leaks on the way out.
        raise SystemExit(code)
    # By now every output is written, synced and closed and every temporary
    # folder removed; what the interpreter's teardown would add is freeing
    # every object one by one (40-80 ms after a scan of 50k documents).
    try:
        if sys.stdout is not None:  # None: started with stdout closed (``>&-``)
            sys.stdout.flush()
    except OSError:  # the reader went away (``dedup scan ... | head``)
        code = code or EXIT_FATAL
    with contextlib.suppress(OSError):
        if sys.stderr is not None:
            sys.stderr.flush()
    os._exit(code)


def _exit_status(code: object) -> int:
    """The process status ``sys.exit(code)`` would give."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    with contextlib.suppress(OSError):
        sys.stderr.write(f"{code}\n")
    return 1
