"""Scans and repeated blocks on a Dask cluster (``--engine dask``): the stages as tasks over partitions.

The same stages as the local engine (:mod:`dedup.pipeline`), cut where a
cluster needs them cut:

1. **Sketch** (one task per partition). A *partition* is an input file, or a
   line-aligned byte range of an uncompressed JSONL file larger than the
   partition size (``partition_bytes``: 32 MiB, or from ``memory``), or a
   slice of an iterable of documents the client reads
   (:func:`find_duplicates`). A compressed file (``.gz``, ``.zst``: its
   stream cannot be entered in the middle), a CSV file and a Parquet file
   are each one partition, read by one task from start to end; Parquet row
   groups are not split yet (that needs a row-group reader in
   :mod:`dedup.io`, so the ids ``FILE:ROW`` stay the local reader's). The
   task reads its documents with the local readers, sketches them with the
   compiled kernel (:func:`dedup.stages.sketch_units`,
   :func:`dedup.stages.as_batch`) and writes *piece folders* in the scan's
   scratch folder, one each time the sketches it holds reach the piece size,
   so a task's memory is bounded by the budget whatever the file's size:
   numpy ``.npy`` files (read with ``allow_pickle=False``) and a
   ``manifest.json`` naming the format and its version. Only counts and
   skips travel back to the client.
2. **Ids** (client). :class:`dedup.document.UniqueIds` runs over the
   pieces' ids in order: the stream the local engine sees, so renamings are
   identical. Only the renamed ids stay in memory.
3. **Candidates** (one task per key range). Each piece stores every band's
   keys sorted (stable), with each key's document; a reducer takes one range
   of the 64-bit key space from every band of every piece, merges them
   (piece order, so inside a key documents are in input order) and pairs
   each bucket by :func:`dedup.lsh.pairs_in_buckets`. A bucket lies in one
   key range, so the pairs, the star rule of large buckets and the counts
   are those of :func:`dedup.lsh.pairs_from_band_columns`. The client
   merges the reducers' distinct pairs.
4. **Verify** (one task per chunk of pairs, sorted by first document):
   exact Jaccard and the MinHash estimate, from shingles and signatures read
   out of the piece files.
5. **Clusters** (client): connected components, keep policy, each member's
   similarity to the kept document (verified as in step 4), ids.

Repeated blocks (:func:`blocks_files`) run the phases of
:mod:`dedup.blocks` over the same partitions: pass 1 counts each
partition's distinct blocks (the client merges the counts, remembers the
first partition holding each block and names the documents); pass 2
records each partition's repeated blocks and, with ``near``, sketches the
distinct blocks it holds first; the near scan is steps 2-5 above.

The output is byte-identical to the local engine's for any partitioning and
any number of workers (tests hold it). A worker that dies mid-task is
replaced and its task re-run by Dask: tasks are pure, and a piece folder
appears whole (renamed into place) or not at all.

Memory: ``memory`` (``--memory``) is the budget of the whole cluster, shared
by its worker threads: each task gets ``memory / threads``, an eighth of
which sizes a JSONL byte range (read whole, then decoded), a quarter the
sketches held before a piece is written, a 64th the band entries a reducer
merges (48 bytes each); 0 keeps the defaults (32 MiB ranges, 128 MiB pieces,
8M entries a reducer). A verify task holds one chunk of pairs. The client
holds the candidate pairs (8 bytes each), the verified pairs and the
union-find labels (8 bytes a document); beyond that, the components would
run distributed too (label propagation over the verified pairs shuffled by
document, or a distributed union-find as in NeMo Curator), which this module
does not do yet.

Paths: local paths, which every worker must see at the same path (a shared
folder on a cluster), or fsspec URLs (``s3://bucket/dump/``, ``memory://``,
``file://``; the protocol's package, e.g. ``s3fs``, installed on the client
and the workers), listed by :func:`collect_inputs_any` as a folder is
locally. A worker copies a remote file (or its byte range) to a local
temporary file by streaming, then reads it with the local readers; a file a
worker cannot read is reported as skipped, as locally.

The scratch folder must be visible to the client and every worker at the
same path: the default temporary folder (``TMPDIR``) works for a
LocalCluster; for machines of a cluster, pass ``scratch`` (``--scratch``)
or set ``TMPDIR`` to a shared folder.

Example:
    >>> from dedup.config import ScanConfig, check_html_text
    >>> story = "Mỹ và Taliban nối lại đàm phán hòa bình tại thủ đô Doha của Qatar hôm nay"
    >>> result = find_duplicates([("a", story), ("b", story.upper())], ScanConfig(), scheduler="inline")
    >>> [c.ids for c in result.clusters]
    [['a', 'b']]
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import itertools
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from dedup._scratch import deferred_signals, scratch_folder
from dedup.blocks import (
    BlockPositions,
    BlocksConfig,
    BlocksResult,
    Counts,
    DistinctCounts,
    HashRows,
    block_batches,
    count_blocks,
    first_texts,
    group_blocks,
    keyed_rows,
    keyed_texts,
    near_labels,
)
from dedup.cluster import Cluster, connected_components, group_clusters
from dedup.config import ScanConfig, check_html_text
from dedup.document import Document, DocumentLike, Renamed, Skipped, UniqueIds, as_document, check_documents
from dedup.errors import InputError, UsageError
from dedup.io import (
    InputFile,
    InputSet,
    _classify,  # a file's kind by its name, as collect_inputs decides it
    collect_inputs,
    read_documents,
    read_jsonl_range,
)
from dedup.lsh import MAX_BUCKET, choose_bands, pairs_in_buckets
from dedup.normalize import encode_texts
from dedup.pipeline import ScanResult, ScanStats, kept_and_members, name_results
from dedup.similarity import estimate_jaccard, exact_jaccard
from dedup.stages import as_batch, sketch_units

if TYPE_CHECKING:
    from distributed import Client, Future

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "RemoteFile",
    "blocks_files",
    "collect_inputs_any",
    "find_duplicates",
    "is_url",
    "scan_files",
]

FORMAT = "dedup-dask-partition"
FORMAT_VERSION = 1

_DOCS_PER_PARTITION = 8192
"""Documents per partition when the client reads them (:func:`find_duplicates`)."""
_PARTITION_BYTES = 32 << 20
"""An uncompressed JSONL file larger than this is read in parts of about this size."""
_PAIRS_PER_TASK = 16384
_PAIRS_PER_READ = 2048
_PAIRS_PER_REDUCER = 8 << 20
_PIECE_BYTES = 128 << 20
"""Sketch bytes a task holds before it writes them out as a piece of its partition."""


@dataclass(frozen=True)
class _Budget:
    """What one task may hold: partitions' bytes (a JSONL byte range is read
    whole, then decoded: about 3x its size), sketch bytes before a piece is
    written, band entries a reducer merges (about 48 bytes each)."""

    partition_bytes: int = _PARTITION_BYTES
    piece_bytes: int = _PIECE_BYTES
    reducer_entries: int = _PAIRS_PER_REDUCER


def _budget(memory: int, threads: int, partition_bytes: int | None) -> _Budget:
    """Share ``memory`` (bytes; 0: the defaults) among ``threads`` task slots."""
    if memory == 0:
        return _Budget(partition_bytes or _PARTITION_BYTES)
    task = max(1, memory // max(1, threads))
    return _Budget(partition_bytes or max(64 << 10, task // 8), max(1, task // 4), max(4096, task // 64))


"""Band entries (a document in a band) a reducer takes, roughly: 12 bytes each."""


# ---------------------------------------------------------------- partitions


@dataclass(frozen=True)
class RemoteFile(InputFile):
    """An input file behind an fsspec URL (``s3://bucket/dump/a.jsonl``,
    ``memory://...``, ``file://...``); ``path`` holds the URL only for
    display, or for a ``file://`` URL the local path (so an output is never
    written over it), ``url`` is what workers open."""

    url: str = ""


def is_url(path: str | os.PathLike[str]) -> bool:
    """Whether a PATH argument is an fsspec URL (``protocol://...``)."""
    return "://" in os.fspath(path)


def collect_inputs_any(
    paths: Sequence[str | os.PathLike[str]], *, exclude: Sequence[str | os.PathLike[str]] = ()
) -> InputSet:
    """:func:`dedup.io.collect_inputs`, where a PATH may also be an fsspec
    URL of a file or a folder (listed with fsspec: files in sorted order of
    their relative path, hidden ones skipped, as locally).

    Raises:
        InputError: a path or URL is empty or does not exist.
        UsageError: a URL's protocol needs a package that is not installed.
    """
    local = [(i, p) for i, p in enumerate(paths) if not is_url(p)]
    found = collect_inputs([p for _, p in local], exclude=exclude) if local else InputSet([], [])
    files = [dataclasses.replace(f, argument=local[f.argument][0]) for f in found.files]
    unsupported = list(found.unsupported)
    for argument, path in enumerate(paths):
        if is_url(path):
            remote, others = _list_url(os.fspath(path), argument)
            files.extend(remote)
            unsupported.extend(others)
    files.sort(key=lambda f: f.argument)  # stable: each argument's files keep their order
    return InputSet(files, unsupported)


def _list_url(url: str, argument: int) -> tuple[list[InputFile], list[str]]:
    """The files under a URL (or the URL's file), and names no reader takes."""
    import fsspec
    from fsspec.implementations.local import LocalFileSystem

    try:
        fs, root = fsspec.core.url_to_fs(url)
        exists, folder = fs.exists(root), fs.isdir(root)
    except ImportError as err:
        raise UsageError(f"{url}: reading this URL needs a package: {err}", option="paths") from None
    except (OSError, ValueError) as err:
        raise InputError(f"{url}: cannot list: {err}") from None
    if not exists:
        raise InputError(f"{url}: no such file or directory")
    local = isinstance(fs, LocalFileSystem)
    if not folder:
        given = _classify(url.rsplit("/", 1)[-1]) or ("text", None)
        path = Path(root) if local else Path(url)
        return [RemoteFile(path, url, given[0], given[1], "", argument, url=url)], []
    base = root.rstrip("/") + "/"
    files: list[InputFile] = []
    unsupported: list[str] = []
    for name in fs.find(root):
        rel = name[len(base) :] if name.startswith(base) else name.rsplit("/", 1)[-1]
        if any(part.startswith(".") for part in rel.split("/")):
            continue
        kind = _classify(rel)
        if kind is None:
            unsupported.append(rel)
        else:
            remote = fs.unstrip_protocol(name)
            path = Path(name) if local else Path(url, rel)
            files.append(RemoteFile(path, rel, kind[0], kind[1], url, argument, url=remote))
    files.sort(key=lambda f: f.name)
    return files, unsupported


def _address(file: InputFile) -> str:
    """What fsspec opens for a file: its URL, or its local path."""
    return file.url if isinstance(file, RemoteFile) else str(file.path)


def _remote_items(
    file: RemoteFile, span: tuple[int, int] | None, read: Callable[[InputFile], Iterator[Document | Skipped]]
) -> Iterator[Document | Skipped]:
    """A remote file (or a byte range of it) copied to a local temporary
    file by streaming, then read as a local file: the readers stay the local
    engine's. A file the worker cannot read is skipped, as locally."""
    import fsspec

    handle, local = tempfile.mkstemp(prefix="dedup-remote-")
    try:
        try:
            with os.fdopen(handle, "wb") as out, fsspec.open(file.url, "rb") as src:
                if span is None:
                    shutil.copyfileobj(src, out, 1 << 22)
                else:
                    src.seek(span[0])
                    left = span[1] - span[0]
                    while left > 0 and (chunk := src.read(min(left, 1 << 22))):
                        out.write(chunk)
                        left -= len(chunk)
        except (OSError, ValueError) as err:  # fsspec's backends raise OSErrors (FileNotFoundError...)
            yield Skipped(file.qualified, None, f"cannot read: {err}")
            return
        yield from read(dataclasses.replace(file, path=Path(local)))
    finally:
        os.unlink(local)


@dataclass(frozen=True)
class _FileSource:
    """A partition that is one input file, read on the worker."""

    file: InputFile
    text_field: str
    id_field: str
    # Pages and WARC archives are read whole (never split in byte ranges): only here.
    html_text: str = "main"

    def items(self) -> Iterator[Document | Skipped]:
        if isinstance(self.file, RemoteFile):
            return _remote_items(self.file, None, self._read)
        return self._read(self.file)

    def _read(self, file: InputFile) -> Iterator[Document | Skipped]:
        return read_documents(
            InputSet([file], []), text_field=self.text_field, id_field=self.id_field, html_text=self.html_text
        )


@dataclass(frozen=True)
class _RangeSource:
    """A partition that is the lines of a JSONL file in a byte range."""

    file: InputFile
    start: int
    end: int
    first_line: int
    text_field: str
    id_field: str

    def items(self) -> Iterator[Document | Skipped]:
        if isinstance(self.file, RemoteFile):
            return _remote_items(self.file, (self.start, self.end), self._read_copy)
        return read_jsonl_range(
            self.file, self.start, self.end, self.first_line, text_field=self.text_field, id_field=self.id_field
        )

    def _read_copy(self, copy: InputFile) -> Iterator[Document | Skipped]:
        """The range copied alone to a local file."""
        return read_jsonl_range(
            copy, 0, self.end - self.start, self.first_line, text_field=self.text_field, id_field=self.id_field
        )


@dataclass(frozen=True)
class _ItemsSource:
    """A partition of documents the client read (already ``as_document``)."""

    items_: tuple[Document | Skipped, ...]

    def items(self) -> Iterator[Document | Skipped]:
        return iter(self.items_)


@dataclass(frozen=True)
class _PartitionMeta:
    """What a sketch task sends back: counts, and its read skips, each with
    the number of the partition's documents read before it."""

    index: int
    pieces: tuple[tuple[int, int], ...]  # per piece folder: (documents kept, documents read)
    shingles: int
    char_fallback: int
    skips: tuple[tuple[Skipped, int], ...]
    size: int = 0

    @property
    def count(self) -> int:
        """Documents kept (with words)."""
        return sum(kept for kept, _ in self.pieces)

    @property
    def documents(self) -> int:
        """Documents read."""
        return sum(read for _, read in self.pieces)


def _encode(strings: Sequence[str]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """UTF-8 (lone surrogates kept) back to back, and int64 offsets ``(n + 1,)``."""
    encoded = [s.encode("utf-8", "surrogatepass") for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def _decode(raw: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], which: npt.NDArray[np.int64]) -> list[str]:
    data = np.asarray(raw).tobytes()
    return [data[offsets[i] : offsets[i + 1]].decode("utf-8", "surrogatepass") for i in which.tolist()]


class _Writer:
    """One partition's sketches, gathered batch by batch, then written."""

    def __init__(self) -> None:
        self.values: list[npt.NDArray[np.uint64]] = []
        self.sizes: list[npt.NDArray[np.int64]] = []
        self.signatures: list[npt.NDArray[np.uint32]] = []
        self.keys: list[npt.NDArray[np.uint64]] = []
        self.lengths: list[npt.NDArray[np.int64]] = []
        self.kept: list[npt.NDArray[np.uint8]] = []
        self.ids: list[str] = []
        self.locations: list[str] = []
        self.char_fallback = 0
        self.held = 0  # bytes of the arrays and strings above

    def add(self, docs: list[Document], config: ScanConfig) -> None:
        spec = config.validate()
        units, unit_starts = encode_texts([d.text for d in docs])
        # One kernel thread: Dask runs tasks side by side, one per worker thread.
        values, starts, signatures, by_chars = sketch_units(
            units, unit_starts, spec, config.num_perm, config.seed, config.fold_accents, 1
        )
        batch, _ = as_batch(docs, values, starts, signatures, by_chars, None, config.threshold)
        self.kept.append((np.diff(starts) > 0).astype(np.uint8))
        self.values.append(batch.values)
        self.sizes.append(np.diff(batch.starts))
        self.signatures.append(batch.signatures)
        self.keys.append(batch.keys)
        self.lengths.append(batch.lengths)
        self.ids.extend(d.id for d in docs)
        # None and "" mean the same to UniqueIds: no location to fall back on.
        self.locations.extend(d.location or "" for d in docs)
        self.char_fallback += int(np.count_nonzero(batch.by_chars))
        arrays = (batch.values, batch.signatures, batch.keys, batch.lengths)
        self.held += sum(a.nbytes for a in arrays) + 17 * len(docs) + sum(len(d.id) for d in docs)

    def write(self, folder: str, config: ScanConfig) -> tuple[int, int]:
        """Write the partition folder (whole, or not at all); return
        ``(documents kept, shingles)``."""
        num_bands, rows_per_band = choose_bands(config.threshold, config.num_perm)
        sizes = np.concatenate(self.sizes) if self.sizes else np.zeros(0, dtype=np.int64)
        starts = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=starts[1:])
        keys = np.concatenate(self.keys) if self.keys else np.zeros((0, num_bands), dtype=np.uint64)
        # Each band sorted once here, so a reducer reads one key range of it
        # with two binary searches. Stable: documents of one key stay in order.
        order = np.argsort(keys, axis=0, kind="stable").T.astype(np.uint32)
        sorted_keys = np.take_along_axis(keys.T, order.astype(np.int64), axis=1)
        ids, id_offsets = _encode(self.ids)
        locations, location_offsets = _encode(self.locations)
        arrays: dict[str, npt.NDArray[Any]] = {
            "shingles": np.concatenate(self.values) if self.values else np.zeros(0, dtype=np.uint64),
            "starts": starts,
            "signatures": (
                np.concatenate(self.signatures) if self.signatures else np.zeros((0, config.num_perm), np.uint32)
            ),
            "keys": sorted_keys,
            "order": order,
            "lengths": np.concatenate(self.lengths) if self.lengths else np.zeros(0, dtype=np.int64),
            "kept": np.concatenate(self.kept) if self.kept else np.zeros(0, dtype=np.uint8),
            "ids": ids,
            "id_offsets": id_offsets,
            "locations": locations,
            "location_offsets": location_offsets,
        }
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "count": len(sizes),
            "documents": len(self.ids),
            "num_perm": config.num_perm,
            "num_bands": num_bands,
            "rows_per_band": rows_per_band,
            "shingle": config.shingle,
            "seed": config.seed,
            "fold_accents": config.fold_accents,
        }
        # Written beside, then renamed into place: a task killed half-way
        # leaves no partition that looks whole. A re-run writes the same bytes.
        staging = f"{folder}.{uuid.uuid4().hex}.tmp"
        # mkdir, not makedirs: a task still running after the run ended (Ctrl-C)
        # must fail here, not recreate the scratch folder the client removed.
        os.mkdir(staging)
        try:
            for name, array in arrays.items():
                np.save(os.path.join(staging, f"{name}.npy"), np.ascontiguousarray(array), allow_pickle=False)
            with open(os.path.join(staging, "manifest.json"), "w", encoding="utf-8") as out:
                json.dump(manifest, out, sort_keys=True)
            try:
                os.rename(staging, folder)
            except OSError:
                if not os.path.exists(os.path.join(folder, "manifest.json")):
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return len(sizes), int(starts[-1])


_Source = _FileSource | _RangeSource | _ItemsSource


def _sketch_partition(
    index: int, source: _Source, config: ScanConfig, folder: str, piece_bytes: int = _PIECE_BYTES
) -> _PartitionMeta:
    """Task: read, sketch and write one partition."""
    meta = _sketch_items(index, source.items(), config, folder, piece_bytes)
    return dataclasses.replace(meta, size=_source_size(source))


def _sketch_items(
    index: int, items: Iterable[Document | Skipped], config: ScanConfig, folder: str, piece_bytes: int = _PIECE_BYTES
) -> _PartitionMeta:
    """Sketch documents into the partition ``index`` of ``folder``: one
    piece folder each time the sketches held reach ``piece_bytes`` (so a
    task's memory does not grow with a file read whole), and one at the end."""
    writer = _Writer()
    pieces: list[tuple[int, int]] = []
    skips: list[tuple[Skipped, int]] = []
    docs: list[Document] = []
    read = shingles = char_fallback = 0

    def flush() -> None:
        nonlocal writer, shingles, char_fallback
        count, more = writer.write(_partition_folder(folder, index, len(pieces)), config)
        pieces.append((count, len(writer.ids)))
        shingles += more
        char_fallback += writer.char_fallback
        writer = _Writer()

    for item in items:
        if isinstance(item, Skipped):
            skips.append((item, read))
            continue
        docs.append(item)
        read += 1
        if len(docs) >= config.batch_size:
            writer.add(docs, config)
            docs = []
            if writer.held >= piece_bytes:
                flush()
    if docs:
        writer.add(docs, config)
    if writer.ids or not pieces:
        flush()
    return _PartitionMeta(index, tuple(pieces), shingles, char_fallback, tuple(skips))


def _partition_folder(folder: str, index: int, piece: int) -> str:
    return os.path.join(folder, f"part-{index:06d}-{piece:04d}")


def _layout(folder: str, metas: Sequence[_PartitionMeta]) -> _Layout:
    """The piece folders of the partitions, in order, and their numbering."""
    folders = tuple(_partition_folder(folder, m.index, p) for m in metas for p in range(len(m.pieces)))
    counts = np.array([kept for m in metas for kept, _ in m.pieces], dtype=np.int64)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return _Layout(folders, offsets)


class _Partition:
    """A partition folder, opened for reading (arrays memory-mapped)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        try:
            with open(os.path.join(folder, "manifest.json"), encoding="utf-8") as src:
                manifest = json.load(src)
        except (OSError, ValueError) as err:
            raise OSError(f"{folder}: not a readable partition of this scan ({err})") from None
        if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
            raise OSError(f"{folder}: not a {FORMAT} of version {FORMAT_VERSION}")
        self.count = int(manifest["count"])
        self.documents = int(manifest["documents"])
        self._arrays: dict[str, npt.NDArray[Any]] = {}

    def __getitem__(self, name: str) -> npt.NDArray[Any]:
        if name not in self._arrays:
            self._arrays[name] = np.load(os.path.join(self.folder, f"{name}.npy"), mmap_mode="r", allow_pickle=False)
        return self._arrays[name]


@dataclass(frozen=True)
class _Layout:
    """Where each partition's documents sit in the global numbering."""

    folders: tuple[str, ...]
    offsets: npt.NDArray[np.int64]  # (partitions + 1,): first global number of each, then the total

    @property
    def total(self) -> int:
        return int(self.offsets[-1])

    def split(self, docs: npt.NDArray[np.int64]) -> Iterator[tuple[int, npt.NDArray[np.int64], slice]]:
        """For ascending global numbers: ``(partition, local numbers, slice of docs)``."""
        which = np.searchsorted(self.offsets, docs, side="right") - 1
        cuts = np.flatnonzero(np.diff(which)) + 1
        bounds = np.concatenate(([0], cuts, [len(docs)])).tolist()
        for lo, hi in itertools.pairwise(bounds):
            if hi > lo:
                part = int(which[lo])
                yield part, docs[lo:hi] - self.offsets[part], slice(lo, hi)


def _count_lines(path: str, start: int, end: int) -> int:
    """Task: newlines in a file's byte range (a local path or an fsspec URL)."""
    import fsspec

    count = 0
    with fsspec.open(path, "rb") as handle:
        handle.seek(start)
        left = end - start
        while left > 0:
            chunk = handle.read(min(left, 1 << 24))
            if not chunk:
                break
            count += chunk.count(b"\n")
            left -= len(chunk)
    return count


def _line_starts(file: InputFile, part_bytes: int) -> list[int] | None:
    """Byte offsets splitting a large uncompressed JSONL file at line starts
    about every ``part_bytes`` (first 0, last the size), or None when it is
    read whole (small, compressed, another kind, or not a readable file)."""
    if file.kind != "jsonl" or file.compression is not None or file.duplicate or file.problem is not None:
        return None
    import fsspec

    try:
        if isinstance(file, RemoteFile):
            fs, where = fsspec.core.url_to_fs(file.url)
            size = int(fs.size(where))
        else:
            size = file.path.stat().st_size
            if not file.path.is_file():
                return None
        if size <= part_bytes:
            return None
        bounds = [0]
        with fsspec.open(_address(file), "rb") as handle:
            for target in range(part_bytes, size, part_bytes):
                if target <= bounds[-1]:
                    continue
                handle.seek(target - 1)
                while True:
                    chunk = handle.read(1 << 16)
                    cut = chunk.find(b"\n")
                    if cut >= 0 or not chunk:
                        break
                if not chunk:
                    break
                start = handle.tell() - len(chunk) + cut + 1
                if start < size:
                    bounds.append(start)
        return [*bounds, size]
    except OSError:
        return None


def _plan(
    client: Client, inputs: InputSet, text_field: str, id_field: str, part_bytes: int, html_text: str = "main"
) -> list[_FileSource | _RangeSource]:
    """One partition per file, and large JSONL files in line-aligned byte
    ranges (their line numbers counted by tasks, in parallel)."""
    splits = {i: _line_starts(f, part_bytes) for i, f in enumerate(inputs.files)}
    counts = {
        i: client.gather(
            [client.submit(_count_lines, _address(inputs.files[i]), a, b) for a, b in itertools.pairwise(s)]
        )
        for i, s in splits.items()
        if s is not None
    }
    sources: list[_FileSource | _RangeSource] = []
    for i, file in enumerate(inputs.files):
        bounds = splits[i]
        if bounds is None:
            sources.append(_FileSource(file, text_field, id_field, html_text))
            continue
        first = 1
        for (a, b), lines in zip(itertools.pairwise(bounds), counts[i], strict=True):
            sources.append(_RangeSource(file, a, b, first, text_field, id_field))
            first += lines
    return sources


# ---------------------------------------------------------------- candidates


def _reduce_key_range(
    layout: _Layout, num_bands: int, lo: int, hi: int | None, max_bucket: int
) -> tuple[npt.NDArray[np.int64], int, int]:
    """Task: the candidate pairs of keys in ``[lo, hi)`` (``hi`` None: to
    the end) in every band: ``(distinct codes, collisions, capped buckets)``."""
    parts = [_Partition(f) for f in layout.folders]
    low = np.uint64(lo)
    high = None if hi is None else np.uint64(hi)
    distinct = [np.zeros(0, dtype=np.int64)]
    collisions = capped = 0
    for band in range(num_bands):
        keys, docs = [], []
        for part, offset in zip(parts, layout.offsets[:-1].tolist(), strict=True):
            if part.count == 0:
                continue
            column = part["keys"][band]
            a = int(np.searchsorted(column, low, side="left"))
            b = len(column) if high is None else int(np.searchsorted(column, high, side="left"))
            keys.append(np.asarray(column[a:b]))
            docs.append(np.asarray(part["order"][band, a:b], dtype=np.int64) + offset)
        if not keys:
            continue
        merged = np.concatenate(keys)
        # Stable over partitions in order: a key's documents stay in input order.
        order = np.argsort(merged, kind="stable")
        codes, band_capped = pairs_in_buckets(np.concatenate(docs)[order], merged[order], layout.total, max_bucket)
        collisions += len(codes)
        capped += band_capped
        distinct.append(np.unique(codes))
    return np.unique(np.concatenate(distinct)), collisions, capped


def _key_ranges(entries: int, per_reducer: int) -> list[tuple[int, int | None]]:
    """Equal ranges of the 64-bit key space (band keys are hashes, so about
    equal work), enough for ``entries`` band entries in all, ``per_reducer``
    for each."""
    count = max(1, -(-entries // per_reducer))
    bounds = [(1 << 64) * r // count for r in range(count)]
    return [(b, bounds[r + 1] if r + 1 < count else None) for r, b in enumerate(bounds)]


# ---------------------------------------------------------------- verify


def _gather(
    layout: _Layout, docs: npt.NDArray[np.int64], num_perm: int, exact: bool
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64], npt.NDArray[np.uint32]]:
    """Shingles ``(values, starts)`` (when ``exact``) and signatures of
    ascending distinct global documents."""
    values, sizes, signatures = [], [], []
    for index, local, _ in layout.split(docs):
        part = _Partition(layout.folders[index])
        signatures.append(np.asarray(part["signatures"][local]))
        if exact:
            starts = np.asarray(part["starts"])
            lo, n = starts[local], starts[local + 1] - starts[local]
            within = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
            values.append(np.asarray(part["shingles"][np.repeat(lo, n) + within]))
            sizes.append(n)
    flat = np.concatenate(sizes) if sizes else np.zeros(0, dtype=np.int64)
    starts_out = np.zeros(len(flat) + 1, dtype=np.int64)
    np.cumsum(flat, out=starts_out[1:])
    sig = np.concatenate(signatures) if signatures else np.zeros((0, num_perm), dtype=np.uint32)
    vals = np.concatenate(values) if values else np.zeros(0, dtype=np.uint64)
    return vals, starts_out, sig


def _verify_pairs(
    layout: _Layout, left: npt.NDArray[np.int64], right: npt.NDArray[np.int64], num_perm: int, exact: bool
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Task: ``(exact Jaccard, MinHash estimate)`` per pair (exact is the
    estimate when not ``exact``)."""
    similarity = np.empty(len(left), dtype=np.float64)
    estimates = np.empty(len(left), dtype=np.float64)
    for lo in range(0, len(left), _PAIRS_PER_READ):
        part = slice(lo, lo + _PAIRS_PER_READ)
        a, b = left[part], right[part]
        docs, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
        values, starts, signatures = _gather(layout, docs, num_perm, exact)
        ia, ib = inverse[: len(a)], inverse[len(a) :]
        estimates[part] = estimate_jaccard(signatures, ia, ib)
        similarity[part] = exact_jaccard(values, starts, ia, ib, workers=1) if exact else estimates[part]
    return similarity, estimates


# ---------------------------------------------------------------- client


@dataclass
class _Run:
    """The client's state of one scan."""

    client: Client
    config: ScanConfig
    folder: str
    metas: list[_PartitionMeta] = field(default_factory=list)
    budget: _Budget = field(default_factory=_Budget)
    on_stage: Callable[[str], None] | None = None
    renamed: list[Renamed] = field(default_factory=list)
    new_ids: dict[int, str] = field(default_factory=dict)  # global kept number -> its unique id
    skipped: list[Skipped] = field(default_factory=list)


def _sketch_all(
    run: _Run,
    sources: Iterable[_Source],
    progress: Callable[[int], None] | None,
    on_read: Callable[[int], None] | None,
) -> None:
    """Submit a sketch task per partition, a few per worker at a time (the
    client reads ahead only that far); keep their metadata by partition."""
    from distributed import as_completed

    limit = 2 * max(1, sum(run.client.nthreads().values())) + 2
    pending = as_completed()
    metas: dict[int, _PartitionMeta] = {}
    done = 0

    def collect(future: Future[_PartitionMeta]) -> None:
        nonlocal done
        meta = future.result()
        metas[meta.index] = meta
        done += meta.documents + len(meta.skips)
        if progress is not None:
            progress(done)
        if on_read is not None and meta.size:
            on_read(meta.size)

    futures: list[Future[_PartitionMeta]] = []
    try:
        _submit_and_collect(run, sources, pending, futures, limit, collect)
    except BaseException:
        # Nothing of this scan may run on after it: its scratch folder goes.
        run.client.cancel(futures)
        raise
    run.metas = [metas[i] for i in range(len(metas))]


def _submit_and_collect(
    run: _Run,
    sources: Iterable[_Source],
    pending: Any,
    futures: list[Future[_PartitionMeta]],
    limit: int,
    collect: Callable[[Future[_PartitionMeta]], None],
) -> None:
    in_flight = 0
    for index, source in enumerate(sources):
        # Documents read here travel once, as data, not inside the task graph.
        data = run.client.scatter(source, hash=False) if isinstance(source, _ItemsSource) else source
        piece = run.budget.piece_bytes
        futures.append(run.client.submit(_sketch_partition, index, data, run.config, run.folder, piece, pure=False))
        pending.add(futures[-1])
        in_flight += 1
        while in_flight >= limit:
            collect(next(pending))
            in_flight -= 1
    for future in pending:
        collect(future)


def _assign_ids(run: _Run, layout: _Layout) -> list[Skipped]:
    """Unique ids over the stream in input order, as the local engine gives
    them; return the documents without words (skipped with their final id)."""
    ids = UniqueIds()
    empty: list[tuple[int, Skipped]] = []
    before = 0  # documents read in earlier pieces
    pieces = [read for m in run.metas for _, read in m.pieces]
    for index, documents in enumerate(pieces):
        if documents == 0:
            continue
        part = _Partition(layout.folders[index])
        every = np.arange(documents, dtype=np.int64)
        own = _decode(part["ids"], np.asarray(part["id_offsets"]), every)
        where = _decode(part["locations"], np.asarray(part["location_offsets"]), every)
        docs = [Document(i, "", loc or None) for i, loc in zip(own, where, strict=True)]
        given = ids.assign(docs)
        kept = np.asarray(part["kept"]).astype(bool)
        number = int(layout.offsets[index]) + np.cumsum(kept) - 1
        for k, (old, new) in enumerate(zip(docs, given, strict=True)):
            if not kept[k]:
                empty.append((before + k, Skipped(new.id, None, "no words after normalization")))
            elif new.id != old.id:
                run.new_ids[int(number[k])] = new.id
        before += documents
    run.renamed = ids.renamed
    return _order_skips(run, empty)


def _order_skips(run: _Run, empty: list[tuple[int, Skipped]]) -> list[Skipped]:
    """Skips in the local engine's order: it reports a batch's read skips
    when it reads the batch, and its documents without words one batch later
    (when the batch's sketch is stored), so both depend on ``batch_size``."""
    size = run.config.batch_size
    keyed: list[tuple[int, int, int, Skipped]] = []
    before = 0
    for meta in run.metas:
        for skip, read in meta.skips:
            keyed.append(((before + read) // size, 0, len(keyed), skip))
        before += meta.documents
    for number, skip in empty:
        keyed.append((number // size + 1, 1, len(keyed), skip))
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed]


def _candidates(run: _Run, layout: _Layout, num_bands: int) -> tuple[npt.NDArray[np.int64], int, int]:
    """All candidate pairs as sorted distinct codes, with the LSH counts."""
    futures = [
        run.client.submit(_reduce_key_range, layout, num_bands, lo, hi, MAX_BUCKET, pure=False)
        for lo, hi in _key_ranges(layout.total * num_bands, run.budget.reducer_entries)
    ]
    results = run.client.gather(futures)
    codes = np.unique(np.concatenate([r[0] for r in results])) if results else np.zeros(0, dtype=np.int64)
    return codes, sum(r[1] for r in results), sum(r[2] for r in results)


def _verify(
    run: _Run, layout: _Layout, left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``(similarity, estimates)`` of pairs, as the local engine reports them."""
    if len(left) == 0:
        return np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.float64)
    futures = [
        run.client.submit(
            _verify_pairs,
            layout,
            left[lo : lo + _PAIRS_PER_TASK],
            right[lo : lo + _PAIRS_PER_TASK],
            run.config.num_perm,
            run.config.verify,
            pure=False,
        )
        for lo in range(0, len(left), _PAIRS_PER_TASK)
    ]
    results = run.client.gather(futures)
    return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])


def _labels(run: _Run, layout: _Layout, docs: npt.NDArray[np.int64]) -> dict[int, str]:
    """Final ids of global documents (any order, repeats allowed)."""
    wanted = np.unique(docs)
    out: dict[int, str] = {}
    for index, local, span in layout.split(wanted):
        part = _Partition(layout.folders[index])
        # Kept documents' positions among all the partition's documents.
        position = np.flatnonzero(np.asarray(part["kept"]))[local]
        names = _decode(part["ids"], np.asarray(part["id_offsets"]), position)
        for number, name in zip(wanted[span].tolist(), names, strict=True):
            out[number] = run.new_ids.get(number, name)
    return out


def _lengths(layout: _Layout) -> npt.NDArray[np.int64]:
    parts = [np.asarray(_Partition(f)["lengths"]) for f in layout.folders]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _match(run: _Run, layout: _Layout) -> ScanResult:
    """Candidates, verification and clusters: :func:`dedup.pipeline._match`'s
    steps over partitions."""
    config = run.config
    num_bands, rows_per_band = choose_bands(config.threshold, config.num_perm)
    stage = run.on_stage or (lambda name: None)
    stage("candidates")
    codes, collisions, capped = _candidates(run, layout, num_bands)
    n = max(layout.total, 1)
    left, right = codes // n, codes % n
    stage("verifying")
    similarity, estimates = _verify(run, layout, left, right)
    ok = similarity >= config.threshold
    left, right, similarity, estimates = left[ok], right[ok], similarity[ok], estimates[ok]
    stage("clustering")

    lengths = _lengths(layout) if config.keep == "longest" else None
    clusters: list[Cluster] = group_clusters(connected_components(layout.total, left, right), config.keep, lengths)
    members = [np.array(c.members, dtype=np.int64) for c in clusters]
    id_of = _labels(run, layout, np.concatenate([left, right, *members]))
    kept, everyone = kept_and_members(clusters)
    sims = _verify(run, layout, kept, everyone)[0] if clusters else np.zeros(0, dtype=np.float64)
    pairs = name_results(clusters, sims, id_of, left, right, similarity, estimates)
    stats = ScanStats(
        num_bands=num_bands,
        rows_per_band=rows_per_band,
        band_collisions=collisions,
        candidates=len(codes),
        verified=len(pairs),
        shingles=sum(m.shingles for m in run.metas),
        spilled=True,
        capped_buckets=capped,
        char_fallback=sum(m.char_fallback for m in run.metas),
    )
    return ScanResult(clusters, pairs, layout.total, run.skipped, stats, run.renamed)


@contextlib.contextmanager
def _connect(
    scheduler: str | Client | None, n_workers: int | None, on_dashboard: Callable[[str], None] | None
) -> Iterator[Client]:
    """A client: the one given, one connected to ``scheduler``'s address, or
    one on a new LocalCluster of ``n_workers`` single-threaded processes."""
    try:
        import logging

        from distributed import Client, LocalCluster
    except ImportError:
        raise UsageError("the dask engine needs dask: pip install 'dedup[dask]'", option="engine") from None
    if isinstance(scheduler, Client):
        yield scheduler
        return
    if scheduler == "inline":
        # A cluster inside this process: tests and doctests, no processes to start.
        cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None)
    elif scheduler is None:
        # Ctrl-C waits until the cluster has started: one stopped half-way is
        # closed again by distributed at exit, which fails with a traceback.
        started: list[LocalCluster] = []
        try:
            with deferred_signals():
                started.append(
                    LocalCluster(
                        n_workers=n_workers or os.cpu_count() or 1,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=":0",
                        silence_logs=logging.ERROR,
                    )
                )
        except BaseException:
            for cluster in started:
                cluster.close()
            raise
        cluster = started[0]
    else:
        try:
            remote = Client(scheduler)
        except ValueError as err:  # distributed cannot parse the address
            raise UsageError(f"scheduler {scheduler!r} is not an address ({err})", option="scheduler") from None
        with remote as client:
            if on_dashboard is not None:
                on_dashboard(client.dashboard_link)
            yield client
        return
    with cluster, Client(cluster) as client:
        if on_dashboard is not None:
            on_dashboard(client.dashboard_link)
        yield client


@dataclass(frozen=True)
class _Cluster:
    """Where a call runs: the scheduler, the LocalCluster's size, the shared
    scratch folder (None: the system's temporary folder), and callbacks."""

    scheduler: str | Client | None
    n_workers: int | None
    scratch: str | None
    on_dashboard: Callable[[str], None] | None = None


@contextlib.contextmanager
def _session(where: _Cluster, memory: int, partition_bytes: int | None) -> Iterator[tuple[Client, str, _Budget]]:
    """A client, a scratch folder every worker sees, and each task's budget."""
    if where.scratch is not None and not os.path.isdir(where.scratch):
        raise UsageError(f"scratch folder {where.scratch!r} is not a folder", option="scratch")
    # The folder outlives the client (and a LocalCluster's workers): on Ctrl-C
    # no task of the run is left writing into it when it is removed.
    with (
        scratch_folder("dedup-dask-", where.scratch) as folder,
        _connect(where.scheduler, where.n_workers, where.on_dashboard) as client,
    ):
        threads = sum(client.nthreads().values())
        yield client, folder, _budget(memory, threads, partition_bytes)


def _run(
    sources: Iterable[_Source] | Callable[[Client, _Budget], Iterable[_Source]],
    config: ScanConfig,
    where: _Cluster,
    partition_bytes: int | None,
    progress: Callable[[int], None] | None,
    on_read: Callable[[int], None] | None,
    on_stage: Callable[[str], None] | None,
) -> ScanResult:
    check_config(config)
    with _session(where, config.memory, partition_bytes) as (client, folder, budget):
        run = _Run(client, config, folder, budget=budget, on_stage=on_stage)
        _sketch_all(run, sources(client, budget) if callable(sources) else sources, progress, on_read)
        layout = _layout(folder, run.metas)
        if on_stage is not None:
            on_stage("naming")
        run.skipped = _assign_ids(run, layout)
        return _match(run, layout)


def _options(config: ScanConfig | None, options: dict[str, object]) -> ScanConfig:
    if config is None:
        return ScanConfig(**options)  # type: ignore[arg-type]  # checked by validate()
    return ScanConfig(**{**config.__dict__, **options}) if options else config


def scan_files(
    paths: Sequence[str | os.PathLike[str]] | InputSet,
    config: ScanConfig | None = None,
    *,
    scheduler: str | Client | None = None,
    n_workers: int | None = None,
    text_field: str = "text",
    id_field: str = "id",
    partition_bytes: int | None = None,
    scratch: str | None = None,
    progress: Callable[[int], None] | None = None,
    on_read: Callable[[int], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
    on_dashboard: Callable[[str], None] | None = None,
    **options: object,
) -> ScanResult:
    """Scan files on a Dask cluster, each file read by a worker.

    The result is :func:`dedup.pipeline.find_duplicates` over
    :func:`dedup.io.read_documents` of the same paths, to the byte.

    Args:
        paths: Files or folders, or what :func:`dedup.io.collect_inputs`
            found. Workers must see them at the same paths.
        config: Scan options (or keywords, as for the local engine).
            ``memory`` is shared by the cluster's worker threads: it sizes
            the partitions, the pieces a task writes and the reducers' key
            ranges (see the module's docstring); ``workers`` does not apply
            (each task runs one kernel thread).
        scheduler: A scheduler's address (``tcp://host:8786``), a
            ``distributed.Client``, ``"inline"`` (a cluster inside this
            process), or None: a LocalCluster of ``n_workers`` processes.
        n_workers: Worker processes of the LocalCluster (default: the cores).
        text_field: Field holding the text (JSONL, CSV, Parquet).
        id_field: Field holding the id.
        partition_bytes: Uncompressed JSONL files larger than this are read
            in parts of about this size (split at line starts); default:
            from ``memory``, else 32 MiB.
        scratch: A folder every worker and the client see at this path,
            for the partitions' sketches (default: the system's temporary
            folder, ``TMPDIR``: right for a LocalCluster).
        progress: Called with the number of items read after each part.
        on_read: Called with the bytes of each file read (progress).
        on_stage: Called with ``"naming"`` once every file is sketched,
            then ``"candidates"``, ``"verifying"`` and ``"clustering"``.
        on_dashboard: Called with the Dask dashboard's address.
        **options: Fields of :class:`ScanConfig`.

    Returns:
        The clusters, verified pairs, counts and skipped inputs.

    Raises:
        InputError: a path does not exist.
        UsageError: an option is out of range, ``scratch`` is not a folder,
            ``scheduler`` is not an address, or dask is not installed.
    """
    resolved = _options(config, options)
    check_config(resolved)
    _check_partition_bytes(partition_bytes)
    inputs = paths if isinstance(paths, InputSet) else collect_inputs_any(paths)

    def sources(client: Client, budget: _Budget) -> list[_FileSource | _RangeSource]:
        return _plan(client, inputs, text_field, id_field, budget.partition_bytes, resolved.html_text)

    where = _Cluster(scheduler, n_workers, scratch, on_dashboard)
    return _run(sources, resolved, where, partition_bytes, progress, on_read, on_stage)


def check_config(config: ScanConfig) -> None:
    """Refuse, before any work, the scan options this engine does not run.

    Raises:
        UsageError: an option is out of range, or ``measure`` is not
            ``jaccard``, or ``ignore_boilerplate`` is set (both run on the
            local engine only).

    Example:
        >>> check_config(ScanConfig(measure="containment"))
        Traceback (most recent call last):
        ...
        dedup.errors.UsageError: measure containment is not supported by the Dask engine (use the local engine)
    """
    config.validate()
    if config.measure != "jaccard":
        message = f"measure {config.measure} is not supported by the Dask engine (use the local engine)"
        raise UsageError(message, option="measure")
    if config.ignore_boilerplate:
        message = "ignore_boilerplate is not supported by the Dask engine (use the local engine)"
        raise UsageError(message, option="ignore_boilerplate")


def _check_partition_bytes(partition_bytes: int | None) -> None:
    if partition_bytes is not None and partition_bytes < 1:
        raise UsageError(f"partition_bytes must be at least 1, got {partition_bytes}", option="partition_bytes")


def _item_partitions(documents: Iterable[DocumentLike], size: int) -> Iterator[_ItemsSource]:
    chunk: list[Document | Skipped] = []
    for position, item in enumerate(documents):
        chunk.append(as_document(item, position))
        if len(chunk) >= size:
            yield _ItemsSource(tuple(chunk))
            chunk = []
    if chunk:
        yield _ItemsSource(tuple(chunk))


def find_duplicates(
    documents: Iterable[DocumentLike],
    config: ScanConfig | None = None,
    *,
    scheduler: str | Client | None = None,
    n_workers: int | None = None,
    partition_size: int = _DOCS_PER_PARTITION,
    progress: Callable[[int], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
    **options: object,
) -> ScanResult:
    """:func:`dedup.pipeline.find_duplicates` on a Dask cluster: the
    documents are read here and sent to the workers ``partition_size`` at a
    time. The result is the local engine's, to the byte.

    Args:
        documents: As for :func:`dedup.pipeline.find_duplicates`.
        config: Scan options; or keywords.
        scheduler: As for :func:`scan_files`.
        n_workers: As for :func:`scan_files`.
        partition_size: Items (documents and skips) per partition.
        progress: Called with the number of items done after each partition.
        on_stage: As for :func:`scan_files`.
        **options: Fields of :class:`ScanConfig`.

    Raises:
        UsageError: an option is out of range, ``scheduler`` is not an
            address, or dask is not installed.
        TypeError: ``documents`` is a single string, or an item is not a document.
    """
    resolved = _options(config, options)
    resolved.validate()
    check_documents(documents)
    if partition_size < 1:
        raise UsageError(f"partition_size must be at least 1, got {partition_size}", option="partition_size")
    sources = _item_partitions(documents, partition_size)
    return _run(sources, resolved, _Cluster(scheduler, n_workers, None), None, progress, None, on_stage)


# ---------------------------------------------------------------- blocks


@dataclass(frozen=True)
class _BlockCounts:
    """What a counting task sends back: its partition's distinct blocks
    (sorted uint64 hashes, int64 counts), documents (ids and locations, in
    order), skips, blocks of ``min_words`` words, and bytes read."""

    hashes: npt.NDArray[np.uint64]
    counts: npt.NDArray[np.int64]
    names: tuple[Document, ...]
    skipped: tuple[Skipped, ...]
    blocks: int
    size: int


def _count_partition(source: _Source, options: BlocksConfig) -> _BlockCounts:
    """Task: pass 1 of :mod:`dedup.blocks` over one partition."""
    names: list[Document] = []
    counted = count_blocks(source.items, options.unit, options.min_words, 1, names.extend)
    return _BlockCounts(
        counted.distinct.hashes,
        counted.distinct.counts,
        tuple(names),
        tuple(counted.skipped),
        counted.blocks,
        _source_size(source),
    )


@dataclass(frozen=True)
class _BlockRows:
    """What a positions task sends back: its rows (:data:`dedup.blocks.HashRows`),
    the first texts of the repeated blocks it owns, and, for ``near``, the
    metadata of the sketch partition of the blocks it owns."""

    rows: HashRows
    texts: dict[int, str]
    sketch: _PartitionMeta | None


def _positions_partition(
    index: int,
    source: _Source,
    options: BlocksConfig,
    repeated: npt.NDArray[np.uint64],
    owned: npt.NDArray[np.uint64],
    folder: str,
) -> _BlockRows:
    """Task: pass 2 of :mod:`dedup.blocks` over one partition; with ``near``,
    the blocks this partition holds first are sketched, as documents whose
    ids are their hashes, into the near scan's partition ``index``."""
    positions = BlockPositions(repeated, owned, options.near is not None)
    firsts = positions.collect(block_batches(source.items, options.unit, options.min_words, 1), None)
    sketch = None
    if options.near is not None:
        items = (Document(str(h), text) for h, text in firsts)
        sketch = _sketch_items(index, items, _near_config(options.near), folder)
    else:
        for _ in firsts:
            pass
    return _BlockRows(positions.rows(), positions.texts, sketch)


def _near_config(near: float) -> ScanConfig:
    """The scan :func:`dedup.blocks.find_repeated_blocks` runs over distinct blocks."""
    return ScanConfig(threshold=near, shingle="char:5", keep="first", workers=1)


def _texts_partition(source: _Source, unit: str, where: dict[tuple[int, int], int]) -> dict[int, str]:
    """Task: the texts as written of blocks at ``(document, line)`` of a partition."""
    return first_texts(source.items, unit, where)


def _source_size(source: _Source) -> int:
    """Bytes a partition reads (progress), 0 when unknown."""
    if isinstance(source, _RangeSource):
        return source.end - source.start
    if isinstance(source, _FileSource) and not source.file.duplicate:
        with contextlib.suppress(OSError):
            return source.file.path.stat().st_size
    return 0


@dataclass
class _BlocksRun:
    """The client's state of one blocks call."""

    client: Client
    options: BlocksConfig
    folder: str
    sources: list[_FileSource | _RangeSource]
    progress: Callable[[str, int], None] | None
    on_read: Callable[[int], None] | None


def _count_all(run: _BlocksRun) -> tuple[Counts, list[int]]:
    """Pass 1 on the workers; the counts merged, the documents named in input
    order; and the documents before each partition."""
    distinct = DistinctCounts()
    unique = UniqueIds()
    ids: list[str] = []
    skipped: list[Skipped] = []
    blocks = 0
    offsets = [0]
    futures = [run.client.submit(_count_partition, s, run.options, pure=False) for s in run.sources]
    # In partition order: ids and skips are named in input order.
    for index, future in enumerate(futures):
        part: _BlockCounts = future.result()
        future.release()
        distinct.add_counted(part.hashes, part.counts, index)
        ids.extend(d.id for d in unique.assign(list(part.names)))
        skipped.extend(part.skipped)
        blocks += part.blocks
        offsets.append(offsets[-1] + len(part.names))
        if run.on_read is not None and part.size:
            run.on_read(part.size)
        if run.progress is not None:
            run.progress("counting", offsets[-1])
    distinct.merge()
    return Counts(distinct, ids, skipped, unique.renamed, blocks), offsets


def _owned_by_partition(distinct: DistinctCounts, partitions: int, near: bool) -> list[npt.NDArray[np.uint64]]:
    """Sorted hashes of the blocks each partition holds first (repeated ones only without ``near``)."""
    chosen = np.ones(len(distinct.hashes), dtype=bool) if near else distinct.counts > 1
    hashes, origin = distinct.hashes[chosen], distinct.origin[chosen]
    # Stable: hashes stay sorted inside each partition's run.
    order = np.argsort(origin, kind="stable")
    cuts = np.searchsorted(origin[order], np.arange(partitions + 1))
    return [hashes[order[a:b]] for a, b in itertools.pairwise(cuts.tolist())]


def _positions_all(run: _BlocksRun, counted: Counts) -> tuple[list[HashRows], dict[int, str], list[_PartitionMeta]]:
    """Pass 2 on the workers: rows and texts in partition order, and the
    near scan's sketch partitions."""
    near = run.options.near is not None
    owned = _owned_by_partition(counted.distinct, len(run.sources), near)
    repeated = run.client.scatter(counted.distinct.repeated(), broadcast=True, hash=False)
    # Made here: a task makes no folder but its own staging one (_Writer.write).
    near_folder = os.path.join(run.folder, "near")
    os.mkdir(near_folder)
    futures = [
        run.client.submit(_positions_partition, i, s, run.options, repeated, owned[i], near_folder, pure=False)
        for i, s in enumerate(run.sources)
    ]
    parts: list[HashRows] = []
    texts: dict[int, str] = {}
    metas: list[_PartitionMeta] = []
    for future in futures:
        part: _BlockRows = future.result()
        future.release()
        parts.append(part.rows)
        texts.update(part.texts)
        if part.sketch is not None:
            metas.append(part.sketch)
        if run.progress is not None:
            run.progress("grouping", len(parts))
    return parts, texts, metas


def _near_all(run: _BlocksRun, near: float, metas: list[_PartitionMeta]) -> Sequence[Cluster]:
    """The near scan's candidates, verification and clusters over the
    sketch partitions the positions tasks wrote."""
    scan = _Run(run.client, _near_config(near), os.path.join(run.folder, "near"), metas)
    layout = _layout(scan.folder, metas)
    _assign_ids(scan, layout)
    return _match(scan, layout).clusters


def _fetch_texts(run: _BlocksRun, offsets: list[int]) -> Callable[[dict[tuple[int, int], int]], dict[int, str]]:
    """Texts as written of blocks at ``(document, line)``, read by the partitions holding them."""

    def fetch(where: dict[tuple[int, int], int]) -> dict[int, str]:
        by_partition: dict[int, dict[tuple[int, int], int]] = {}
        for (doc, line), key in where.items():
            index = bisect.bisect_right(offsets, doc) - 1
            by_partition.setdefault(index, {})[(doc - offsets[index], line)] = key
        futures = [
            run.client.submit(_texts_partition, run.sources[i], run.options.unit, wanted, pure=False)
            for i, wanted in by_partition.items()
        ]
        texts: dict[int, str] = {}
        for part in run.client.gather(futures):
            texts.update(part)
        return texts

    return fetch


def blocks_files(
    paths: Sequence[str | os.PathLike[str]] | InputSet,
    config: BlocksConfig | None = None,
    *,
    scheduler: str | Client | None = None,
    n_workers: int | None = None,
    text_field: str = "text",
    id_field: str = "id",
    html_text: str = "main",
    partition_bytes: int | None = None,
    scratch: str | None = None,
    progress: Callable[[str, int], None] | None = None,
    on_read: Callable[[int], None] | None = None,
    on_dashboard: Callable[[str], None] | None = None,
) -> BlocksResult:
    """:func:`dedup.blocks.find_repeated_blocks` over files, on a Dask cluster.

    The result is the local function's over :func:`dedup.io.read_documents`
    of the same paths, to the byte. Its phases run over the partitions of
    :func:`scan_files`: pass 1 counts each partition's distinct blocks (the
    client merges the counts and names the documents); pass 2 records each
    partition's repeated blocks and, with ``near``, sketches the distinct
    blocks it holds first; the near scan runs as :func:`scan_files` does.

    Args:
        paths: Files or folders, or what :func:`dedup.io.collect_inputs`
            found. Workers must see them at the same paths.
        config: The options (``workers`` does not apply: each task runs one
            kernel thread).
        scheduler: As for :func:`scan_files`.
        n_workers: As for :func:`scan_files`.
        text_field: Field holding the text (JSONL, CSV, Parquet).
        id_field: Field holding the id.
        html_text: ``"main"`` content or ``"all"`` visible text of HTML pages.
        partition_bytes: As for :func:`scan_files` (without ``memory``: 32 MiB).
        scratch: As for :func:`scan_files` (with ``near``, the blocks' sketches).
        progress: Called with ``("counting" | "grouping", done)``: documents
            counted, then partitions grouped.
        on_read: Called with the bytes of each partition counted.
        on_dashboard: Called with the Dask dashboard's address.

    Returns:
        The groups, with counts, skipped inputs and renamed ids.

    Raises:
        InputError: a path does not exist.
        UsageError: an option is out of range, ``scheduler`` is not an
            address, or dask is not installed.
    """
    options = config or BlocksConfig()
    options.validate()
    check_html_text(html_text)
    _check_partition_bytes(partition_bytes)
    inputs = paths if isinstance(paths, InputSet) else collect_inputs_any(paths)
    where = _Cluster(scheduler, n_workers, scratch, on_dashboard)
    with _session(where, 0, partition_bytes) as (client, folder, budget):
        sources = _plan(client, inputs, text_field, id_field, budget.partition_bytes, html_text)
        run = _BlocksRun(client, options, folder, sources, progress, on_read)
        counted, offsets = _count_all(run)
        parts, hash_texts, metas = _positions_all(run, counted)
        rows = keyed_rows(counted.distinct, parts, offsets[:-1])
        texts = keyed_texts(counted.distinct, hash_texts)
        if options.near is not None:
            labels, similarity = near_labels(_near_all(run, options.near, metas), counted.distinct)
        else:
            labels, similarity = np.arange(len(counted.distinct.hashes), dtype=np.int64), {}
        return group_blocks(
            counted, rows, texts, labels, similarity, _fetch_texts(run, offsets), options.boilerplate_documents
        )
