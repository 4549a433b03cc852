"""Per-document scan data, held in memory up to a budget and spilled to disk beyond it.

What a scan keeps per document: its id, its length, its distinct shingle
hashes (8 bytes per shingle, most of the data), its signature (4 bytes per
permutation) and its LSH band keys (8 bytes per band). Only candidate pairs
ever need the shingles and signatures, and the LSH needs one band at a time,
so all of these live in :class:`SpillFile` objects: in memory while the
scan's ``memory`` budget allows, else appended to files in the scan's
temporary folder and read back by ranges (``pread``) for the documents a
step needs. What stays in memory regardless is ~24 bytes per document
(offsets and lengths) plus one band or one chunk of pairs at a time.

A spill file starts with a header: magic ``DEDUPSPL``, format version, and a
JSON description (dtype, what the file holds, the scan parameters), padded
to :data:`HEADER_SIZE` bytes; raw native-endian values follow. It is private
to one scan and deleted with its folder, but never pickled and always
self-describing.

Example:
    >>> import tempfile, numpy as np
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     budget = MemoryBudget(0)  # spill everything
    ...     spill = SpillFile(folder, "demo", np.uint32, budget, {"num_perm": 4})
    ...     spill.append(np.arange(10, dtype=np.uint32))
    ...     spill.seal()
    ...     print(spill.on_disk, spill.gather(np.array([2, 7]), np.array([2, 3])).tolist())
    ...     spill.close()
    True [2, 3, 7, 8, 9]
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

import numpy as np
import numpy.typing as npt

from dedup._kernels import pread_kernel, sorted_distinct
from dedup._threads import resolve_workers
from dedup.cluster import component_order
from dedup.document import Document
from dedup.errors import OutputError, UsageError
from dedup.similarity import estimate_jaccard

__all__ = [
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "MemoryBudget",
    "SketchBatch",
    "SketchStore",
    "SpillFile",
    "Store",
    "parse_memory",
]

MAGIC = b"DEDUPSPL"
FORMAT_VERSION = 1
HEADER_SIZE = 512
_PARALLEL_READS = 64
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_memory(text: str) -> int:
    """Parse a memory size: ``"2G"``, ``"512M"``, ``"64k"``, ``"1000000"``.

    Raises:
        UsageError: not a non-negative number with an optional K/M/G/T suffix.
    """
    value = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = value[-1:] if value[-1:] in _UNITS and value[-1:] else ""
    number = value[: len(value) - len(unit)]
    try:
        size = float(number)
    except ValueError:
        raise UsageError(f"memory must look like 2G, 512M or 1000000, got {text!r}", option="memory") from None
    if not 0 <= size < float("inf"):
        raise UsageError(f"memory must be a non-negative size, got {text!r}", option="memory")
    return int(size * _UNITS[unit])


def _release_freed_memory() -> None:
    """Hand freed heap memory back to the OS (glibc's malloc_trim; a no-op
    elsewhere). Spilled chunks are freed in many pieces that glibc would
    otherwise keep for reuse, inflating resident memory for the rest of the
    scan."""
    # CDLL(None) is the running process's own symbols (libc among them).
    # ctypes.util.find_library would fork ldconfig: a copy of this process.
    try:
        malloc_trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return
    if malloc_trim is not None:
        malloc_trim(0)


class MemoryBudget:
    """Bytes of spillable data a scan may keep in memory, shared by its files.

    When an append would exceed the limit, the largest file still in memory
    is moved to disk (usually the shingle hashes), so the small, often-read
    files (signatures, band keys, ids) are the ones that stay.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.files: list[SpillFile] = []

    def take(self, size: int, requester: SpillFile) -> bool:
        """Reserve ``size`` bytes for ``requester``, evicting others if needed;
        return whether the reservation was made."""
        while self.used + size > self.limit:
            in_memory = [f for f in self.files if not f.on_disk and f.held > 0]
            if not in_memory:
                return False
            largest = max(in_memory, key=lambda f: f.held)
            if largest is requester and largest.held < size:
                return False
            largest.to_disk()
            if largest is requester:
                return False
        self.used += size
        return True

    def give_back(self, size: int) -> None:
        self.used -= size


class SpillFile:
    """An append-only array of one dtype, in memory within the budget, else on disk."""

    def __init__(
        self,
        folder: str,
        name: str,
        dtype: type[np.generic],
        budget: MemoryBudget,
        params: Mapping[str, object],
        threads: int = 1,
    ) -> None:
        self.path = os.path.join(folder, f"{name}.spill")
        self.threads = threads  # for reading back from disk
        self.name = name
        self.dtype = np.dtype(dtype)
        self.budget = budget
        self.params = dict(params)
        self.chunks: list[npt.NDArray[Any]] = []
        self.chunk_starts: npt.NDArray[np.int64] = np.zeros(1, dtype=np.int64)
        self.length = 0  # items appended
        self.held = 0  # bytes reserved from the budget
        self.file: BinaryIO | None = None
        self.fd = -1
        self.sealed = False
        budget.files.append(self)

    @property
    def on_disk(self) -> bool:
        """Whether the data went to disk (the budget ran out)."""
        return self.file is not None or self.fd >= 0

    def _header(self) -> bytes:
        meta = json.dumps({"name": self.name, "dtype": self.dtype.str, **self.params}, sort_keys=True).encode()
        if len(meta) > HEADER_SIZE - 12:
            raise ValueError("spill header too long")
        return MAGIC + struct.pack("<I", FORMAT_VERSION) + meta.ljust(HEADER_SIZE - 12, b" ")

    def _failed(self, err: OSError) -> OutputError:
        # ndarray.tofile reports a full disk as "N requested and M written",
        # without an errno: say what it means and what to do.
        reason = err.strerror or "the disk is full"
        folder = os.path.dirname(self.path)
        return OutputError(
            f"cannot write the scan's temporary files in {os.path.dirname(folder)}: {reason} "
            "(set TMPDIR to a folder with more room, or give more --memory)"
        )

    def to_disk(self) -> None:
        """Move everything held in memory to the file; append there from now on.

        Raises:
            OutputError: the temporary file cannot be written (a full disk).
        """
        if self.on_disk:
            return
        try:
            self.file = open(self.path, "wb")  # noqa: SIM115  # closed by seal() or close()
            self.file.write(self._header())
            for chunk in self.chunks:
                chunk.tofile(self.file)
        except OSError as err:
            raise self._failed(err) from None
        self.chunks = []
        self.budget.give_back(self.held)
        self.held = 0
        _release_freed_memory()
        if self.sealed:
            self._open_for_reading()

    def append(self, values: npt.NDArray[Any]) -> None:
        values = np.ascontiguousarray(values, dtype=self.dtype).ravel()
        self.length += len(values)
        if not self.on_disk and self.budget.take(values.nbytes, self):
            self.chunks.append(values)
            self.held += values.nbytes
            return
        self.to_disk()
        assert self.file is not None
        try:
            values.tofile(self.file)
        except OSError as err:
            raise self._failed(err) from None

    def _open_for_reading(self) -> None:
        assert self.file is not None
        file, self.file = self.file, None
        try:
            file.close()
        except OSError as err:
            raise self._failed(err) from None
        self.fd = os.open(self.path, os.O_RDONLY)
        header = os.pread(self.fd, HEADER_SIZE, 0)
        if header[:8] != MAGIC or struct.unpack("<I", header[8:12])[0] != FORMAT_VERSION:
            raise OSError(f"{self.path}: not a dedup spill file of format version {FORMAT_VERSION}")

    def seal(self) -> None:
        """Stop appending, start reading."""
        self.sealed = True
        if self.file is not None:
            self._open_for_reading()
            return
        # In memory the chunks stay as they are (no copy into one array,
        # which would double the peak); gather finds them by offset.
        self.chunk_starts = np.zeros(len(self.chunks) + 1, dtype=np.int64)
        np.cumsum([len(c) for c in self.chunks], out=self.chunk_starts[1:])

    def gather(self, offsets: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
        """The ranges ``[offsets[i], offsets[i] + counts[i])`` (in items,
        ascending and disjoint, each inside one appended array), concatenated."""
        offsets = np.asarray(offsets, dtype=np.int64)
        counts = np.asarray(counts, dtype=np.int64)
        total = int(counts.sum())
        out = np.empty(total, dtype=self.dtype)
        if total == 0:
            return out
        if not self.on_disk:
            nonempty = counts > 0
            offsets, counts = offsets[nonempty], counts[nonempty]
            which = np.searchsorted(self.chunk_starts, offsets, side="right") - 1
            dest = np.zeros(len(counts), dtype=np.int64)
            np.cumsum(counts[:-1], out=dest[1:])
            # One vectorized copy per chunk touched (ranges never straddle chunks).
            bounds = np.flatnonzero(np.diff(which)) + 1
            for part in np.split(np.arange(len(which)), bounds):
                chunk = self.chunks[int(which[part[0]])]
                local = offsets[part] - self.chunk_starts[which[part[0]]]
                n = counts[part]
                src = np.repeat(local - np.concatenate(([0], np.cumsum(n)[:-1])), n) + np.arange(int(n.sum()))
                out[dest[part[0]] : dest[part[0]] + int(n.sum())] = chunk[src]
            return out
        # Adjacent ranges merge into one read. pread, not a memory map: the
        # kernel maps pages around each faulting one (fault-around), which
        # made scattered reads of a mapped file resident by the megabyte.
        # The reads run in compiled code without the GIL, on self.threads.
        ends = offsets + counts
        breaks = np.flatnonzero(offsets[1:] != ends[:-1]) + 1
        run_lo = offsets[np.concatenate(([0], breaks))]
        run_hi = ends[np.concatenate((breaks - 1, [len(offsets) - 1]))]
        size = self.dtype.itemsize
        # A few reads (a band's column) are not worth waking a thread team.
        threads = self.threads if len(run_lo) >= _PARALLEL_READS else 1
        bad, code = pread_kernel(
            self.fd, HEADER_SIZE + run_lo * size, (run_hi - run_lo) * size, out.view(np.uint8), threads
        )
        if bad >= 0:
            if code:
                raise OSError(code, os.strerror(code), self.path)
            raise OSError(f"short read from the scan's spill file {self.path}")
        return out

    def close(self) -> None:
        if self.file is not None:
            # The data is being discarded: a failed flush (full disk) changes nothing.
            with contextlib.suppress(OSError):
                self.file.close()
            self.file = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self.budget.give_back(self.held)
        self.held = 0
        self.chunks = []
        if self in self.budget.files:
            self.budget.files.remove(self)


@dataclass
class SketchBatch:
    """Documents sketched for matching, with everything a store keeps.

    Attributes:
        docs: The documents, in input order (ids unique).
        values: uint64, shape ``(total,)``: each document's distinct shingle
            hashes, sorted ascending, back to back.
        starts: int64, shape ``(n + 1,)``: document ``i`` owns
            ``values[starts[i]:starts[i + 1]]``.
        signatures: uint32, shape ``(n, num_perm)``.
        keys: uint64, shape ``(n, num_bands)``: LSH band keys.
        by_chars: uint8, shape ``(n,)``: 1 where a word scan shingled the
            document by characters (a script written without spaces).
        normalized: uint8, shape ``(bytes,)``, and int64 offsets of shape
            ``(n + 1,)``: the normalized UTF-8 texts, for a store that keeps
            text rather than hashes (None when not computed).
        text_lengths: int64, shape ``(n,)``: each text's length, when the
            documents do not hold their texts (a scan reading JSONL keeps
            them as UTF-8 outside the documents); None: ``len(d.text)``.
    """

    docs: list[Document]
    values: npt.NDArray[np.uint64]
    starts: npt.NDArray[np.int64]
    signatures: npt.NDArray[np.uint32]
    keys: npt.NDArray[np.uint64]
    by_chars: npt.NDArray[np.uint8]
    normalized: tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]] | None = None
    text_lengths: npt.NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return len(self.docs)

    @property
    def lengths(self) -> npt.NDArray[np.int64]:
        """int64, shape ``(n,)``: each document's length in characters."""
        if self.text_lengths is not None:
            return self.text_lengths
        return np.array([len(d.text) for d in self.docs], dtype=np.int64)


class SketchStore(Protocol):
    """Where the per-document state of a scan or an index lives.

    Implementations: :class:`dedup.store.Store` (a scan's temporary data, in
    memory within a budget, spilled to disk beyond it) and
    :class:`dedup.index.SQLiteStore` (a persistent index).
    """

    num_perm: int
    num_bands: int
    rows_per_band: int

    @property
    def count(self) -> int:
        """Documents appended so far (the next document's number)."""
        ...

    def append(self, batch: SketchBatch) -> None:
        """Keep a batch; its documents get the next numbers, in order."""
        ...

    def lookup(self, keys: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Stored documents sharing a band key with each query row.

        Args:
            keys: uint64, shape ``(n, num_bands)``.

        Returns:
            ``(rows, docs)``: int64 arrays, each (query row, stored document)
            pair once, sorted by row then document.
        """
        ...

    def band_columns(self) -> Iterator[npt.NDArray[np.uint64]]:
        """Each band's keys for all stored documents (uint64, shape
        ``(count,)``), one band at a time."""
        ...

    def shingles(self, docs: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
        """Shingle hashes of the given documents (ascending, distinct
        numbers): ``(values, starts)`` as in :class:`SketchBatch`."""
        ...

    def id_list(self, docs: npt.NDArray[np.int64]) -> list[str]:
        """Ids of the given documents (ascending, distinct numbers)."""
        ...


class Store:
    """A scan's per-document data, built batch by batch (see the module doc);
    ``workers`` threads (default: all cores) read spilled data back."""

    PAIRS_PER_CHUNK = 2048
    """Pairs whose signatures are read at once (at most 4,096 signatures)."""

    def __init__(
        self,
        folder: str,
        num_perm: int,
        num_bands: int,
        rows_per_band: int,
        budget: MemoryBudget,
        params: Mapping[str, object],
        workers: int | None = None,
    ) -> None:
        self.num_perm = num_perm
        self.num_bands = num_bands
        self.rows_per_band = rows_per_band
        self.lengths: list[npt.NDArray[np.int64]] = []
        self.sizes: list[npt.NDArray[np.int64]] = []
        self.id_sizes: list[npt.NDArray[np.int64]] = []
        self.batch_sizes: list[int] = []
        described = {**params, "num_perm": num_perm, "num_bands": num_bands, "rows_per_band": rows_per_band}
        self.threads = threads = resolve_workers(workers)
        self.shingle_hashes = SpillFile(folder, "shingles", np.uint64, budget, described, threads)
        self.signatures = SpillFile(folder, "signatures", np.uint32, budget, described, threads)
        self.keys = SpillFile(folder, "band-keys", np.uint64, budget, described, threads)
        self.ids = SpillFile(folder, "ids", np.uint8, budget, described, threads)
        self.starts = np.zeros(1, dtype=np.int64)
        self.id_starts = np.zeros(1, dtype=np.int64)
        self.count = 0

    def _files(self) -> tuple[SpillFile, ...]:
        return (self.shingle_hashes, self.signatures, self.keys, self.ids)

    @property
    def spilled(self) -> bool:
        """Whether any data went to disk."""
        return any(f.on_disk for f in self._files())

    def append(self, batch: SketchBatch) -> None:
        """Keep a sketched batch (every document has words: see
        :func:`dedup.stages.sketch_documents`)."""
        encoded = [d.id.encode("utf-8", "surrogatepass") for d in batch.docs]
        self.ids.append(np.frombuffer(b"".join(encoded), dtype=np.uint8))
        self.id_sizes.append(np.array([len(e) for e in encoded], dtype=np.int64))
        self.lengths.append(batch.lengths)
        self.shingle_hashes.append(batch.values)
        self.signatures.append(batch.signatures)
        self.sizes.append(np.diff(batch.starts))
        # Band-major per batch, so one band's keys are a few contiguous runs.
        self.keys.append(np.ascontiguousarray(batch.keys.T))
        self.batch_sizes.append(len(batch))
        self.count += len(batch)

    def lookup(self, keys: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Stored documents sharing a band key with each query row (after
        :meth:`seal`; see :class:`SketchStore`): one sorted pass per band."""
        n = max(self.count, 1)
        codes = [np.zeros(0, dtype=np.int64)]
        for band, column in enumerate(self.band_columns()):
            order = np.argsort(column, kind="stable").astype(np.int64)
            ordered = column[order]
            lo = np.searchsorted(ordered, keys[:, band], side="left")
            counts = np.searchsorted(ordered, keys[:, band], side="right") - lo
            rows = np.repeat(np.arange(len(keys), dtype=np.int64), counts)
            within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
            codes.append(rows * n + order[np.repeat(lo, counts) + within])
        unique = sorted_distinct(np.concatenate(codes))
        return unique // n, unique % n

    def shingles(self, docs: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
        """Shingle hashes of the given documents (ascending, distinct
        numbers; after :meth:`seal`): ``(values, starts)``."""
        docs = np.asarray(docs, dtype=np.int64)
        sizes = self.starts[docs + 1] - self.starts[docs]
        starts = np.zeros(len(docs) + 1, dtype=np.int64)
        np.cumsum(sizes, out=starts[1:])
        return self.shingle_hashes.gather(self.starts[docs], sizes), starts

    def seal(self) -> npt.NDArray[np.int64]:
        """Finish adding; return the document lengths (int64, one per document)."""
        self.starts = self._offsets(self.sizes)
        self.id_starts = self._offsets(self.id_sizes)
        self.sizes, self.id_sizes = [], []
        for spill in self._files():
            spill.seal()
        return np.concatenate(self.lengths) if self.lengths else np.zeros(0, dtype=np.int64)

    @staticmethod
    def _offsets(sizes: list[npt.NDArray[np.int64]]) -> npt.NDArray[np.int64]:
        flat = np.concatenate(sizes) if sizes else np.zeros(0, dtype=np.int64)
        offsets = np.zeros(len(flat) + 1, dtype=np.int64)
        np.cumsum(flat, out=offsets[1:])
        return offsets

    def close(self) -> None:
        for spill in self._files():
            spill.close()

    def band_columns(self) -> Iterator[npt.NDArray[np.uint64]]:
        """Each band's keys for all documents, one band at a time."""
        counts = np.array(self.batch_sizes, dtype=np.int64)
        block_starts = np.zeros(len(counts), dtype=np.int64)
        np.cumsum(counts[:-1] * self.num_bands, out=block_starts[1:])
        nonempty = counts > 0
        for band in range(self.num_bands):
            yield self.keys.gather(block_starts[nonempty] + band * counts[nonempty], counts[nonempty])

    def id_list(self, docs: npt.NDArray[np.int64]) -> list[str]:
        """Ids of the given documents (ascending, distinct indices)."""
        docs = np.asarray(docs, dtype=np.int64)
        sizes = self.id_starts[docs + 1] - self.id_starts[docs]
        raw = self.ids.gather(self.id_starts[docs], sizes).tobytes()
        ends = np.cumsum(sizes).tolist()
        bounds = zip([0, *ends][:-1], ends, strict=True)
        if raw.isascii():
            # One decode; an ASCII string is sliced by its byte offsets.
            text = raw.decode("ascii")
            return [text[lo:hi] for lo, hi in bounds]
        return [raw[lo:hi].decode("utf-8", "surrogatepass") for lo, hi in bounds]

    def _chunks(
        self, left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]
    ) -> Iterator[tuple[slice, npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
        """Chunks of pairs: (slice, documents, local left, local right)."""
        for lo in range(0, len(left), self.PAIRS_PER_CHUNK):
            part = slice(lo, lo + self.PAIRS_PER_CHUNK)
            a, b = left[part], right[part]
            docs = sorted_distinct(np.concatenate([a, b]))
            yield part, docs, np.searchsorted(docs, a), np.searchsorted(docs, b)

    def estimates(self, left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """MinHash estimate per pair, reading only the signatures involved
        (a group of connected documents' pairs together: see
        :func:`dedup.cluster.component_order`)."""
        order = component_order(self.count, left, right)
        out = np.empty(len(left), dtype=np.float64)
        for part, docs, a, b in self._chunks(left[order], right[order]):
            rows = self.signatures.gather(docs * self.num_perm, np.full(len(docs), self.num_perm))
            out[order[part]] = estimate_jaccard(rows.reshape(-1, self.num_perm), a, b, workers=self.threads)
        return out
