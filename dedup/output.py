"""Writing outputs safely: whole or not at all, never over an input.

* :func:`open_output` opens an output for writing. ``None`` or ``"-"`` is
  stdout. A regular file (new or existing) is written atomically: to a
  temporary file beside the real target, synced, then renamed over it; it is
  removed on any failure, Ctrl-C included. A symbolic link is written through
  to its final target (the link stays a link). A FIFO, a character device
  (``/dev/null``) or a path under ``/dev`` or ``/proc`` (``/dev/stdout``) is
  written directly, as a stream. A new file's mode follows the umask; a
  replaced file keeps its mode. Text is UTF-8 with ``\\n`` line ends, and a
  lone surrogate (from a file name that is not UTF-8) is written as
  ``\\udcff`` instead of raising. ``.gz`` and ``.zst`` names are compressed
  when ``compress=True`` (gzip deterministically: no time, no name).
* :func:`check_outputs` and :func:`check_output_folder` run before any input
  is read: they refuse an output that is an input file, and one file given
  for two outputs (:class:`~dedup.errors.UsageError`), and an output that
  cannot be written (:class:`~dedup.errors.OutputError`), probing for real
  by creating and removing a temporary file where the output will go.

Every error names the user's path, never the temporary file.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from dedup.errors import OutputError, UsageError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

    # Only for annotations: dedup.io imports this module at run time.
    from dedup.io import InputFile

__all__ = ["check_output_folder", "check_outputs", "open_output"]

OutputPath = str | os.PathLike[str] | None

_STDOUT = "-"
_GZIP_LEVEL = 6
_ZSTD_LEVEL = 3
_STEM_BYTES = 64
# Never renamed over: the special files and magic links of the system
# (``/dev/stdout`` may resolve to the file the shell redirected stdout to).
_SYSTEM_PREFIXES = ("/dev/", "/proc/")


def _error(name: str, err: OSError | str) -> OutputError:
    """``cannot write NAME: REASON`` for the user's path ``name``."""
    reason = err if isinstance(err, str) else (err.strerror or str(err))
    return OutputError(f"cannot write {name}: {reason}")


# --- where an output goes -------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """What writing to a user's path means.

    Attributes:
        name: The path as the user gave it (for messages).
        real: The final target: links resolved, absolute.
        stream: True for a FIFO, a device or a system path: written
            directly, never replaced.
        existing: ``os.stat_result`` of the target when it exists.
    """

    name: str
    real: str
    stream: bool
    existing: os.stat_result | None


def _target(path: str | os.PathLike[str]) -> _Target:
    """Classify an output path (not ``"-"``).

    Raises:
        UsageError: the path is empty.
        OutputError: it is a folder, a block device or a socket, or its
            folder cannot be reached (a missing folder is found later, when
            the temporary file is created).
    """
    name = os.fspath(path)
    if name == "":
        raise UsageError("output path is empty")
    try:
        st: os.stat_result | None = os.stat(name)  # follows links
    except FileNotFoundError:
        st = None
    except OSError as err:  # a loop of links, a path under a file, no permission
        raise _error(name, err) from None
    real = os.path.realpath(name)
    system = any(p.startswith(_SYSTEM_PREFIXES) for p in (os.path.abspath(name), real))
    if st is None:
        if system:
            raise _error(name, "no such file or device")
        if name.endswith(("/", os.sep)):
            # A trailing slash names a folder: never create a file called "dir".
            raise _error(name, "no such folder")
        return _Target(name, real, stream=False, existing=None)
    if stat.S_ISDIR(st.st_mode):
        raise _error(name, "it is a folder")
    if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode) or system:
        return _Target(name, real, stream=True, existing=st)
    if not stat.S_ISREG(st.st_mode):
        raise _error(name, "not a regular file, FIFO or character device")
    return _Target(name, real, stream=False, existing=st)


def _create_temp(folder: str, stem: str) -> tuple[int, str]:
    """Create a new empty file ``.STEM.RANDOM.tmp`` in ``folder``.

    Created with mode 0o666 so that the kernel applies the umask (and a
    default ACL) exactly as for any new file; ``mkstemp`` would make it 0600.

    Raises:
        OSError: it cannot be created.
    """
    # Short enough that a target name of the longest length still leaves room.
    stem = os.fsdecode(os.fsencode(stem)[:_STEM_BYTES])
    for _ in range(100):
        tmp = os.path.join(folder, f".{stem}.{os.urandom(4).hex()}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", folder)


def _keep_owner_and_mode(fd: int, old: os.stat_result) -> None:
    """Give a replacement file the owner and permissions of the file it replaces."""
    new = os.fstat(fd)
    if (old.st_uid, old.st_gid) != (new.st_uid, new.st_gid):
        # Allowed only to root (or to change to one's own group): best effort.
        with contextlib.suppress(OSError):
            os.fchown(fd, old.st_uid, old.st_gid)
    # After fchown, which clears set-id bits.
    os.fchmod(fd, stat.S_IMODE(old.st_mode))


def _sync_folder(folder: str) -> None:
    """Make a rename in ``folder`` durable (best effort: not every system can)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- the stream layers ----------------------------------------------------


class _Sink(io.RawIOBase):
    """The bottom of an output stream: a file descriptor (or stdout's
    buffer) whose failures become :class:`OutputError` naming the user's
    path. Closing it syncs a file to disk (or flushes stdout) first.

    After a failure it discards whatever the layers above still flush into
    it (on close, or when garbage collected), so the failure is reported
    once, as the error, never again from a destructor.
    """

    def __init__(self, label: str, fd: int | None = None, buffer: IO[bytes] | None = None, *, sync: bool) -> None:
        super().__init__()
        self._label = label
        self._fd = fd
        self._buffer = buffer
        self._sync = sync
        self._stdout = buffer is not None
        self.failed = False
        self.error: OutputError | None = None

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        if self._fd is not None:
            return self._fd
        if self._buffer is None:
            raise ValueError("I/O operation on closed file")
        return self._buffer.fileno()

    def isatty(self) -> bool:
        if self._buffer is not None:
            return self._buffer.isatty()
        return self._fd is not None and os.isatty(self._fd)

    def _fail(self, err: OSError) -> Exception:
        """The exception to raise for ``err``: an OutputError naming the
        user's path, except a broken stdout pipe (``dedup ... | head``),
        kept as the BrokenPipeError on which a command-line tool ends quietly."""
        self.failed = True
        if isinstance(err, BrokenPipeError) and self._stdout:
            return err
        self.error = _error(self._label, err)
        return self.error

    def write(self, data: ReadableBuffer, /) -> int:
        view = memoryview(data)
        if self.failed:
            return view.nbytes
        try:
            if self._fd is not None:
                return os.write(self._fd, view)
            if self._buffer is None:
                raise ValueError("I/O operation on closed file")
            self._buffer.write(view)
        except OSError as err:
            raise self._fail(err) from None
        return view.nbytes

    def close(self) -> None:
        """Sync (a file) or flush (stdout), then close the descriptor; stdout
        itself stays open.

        Raises:
            OutputError: the sync, the flush or the close failed.
            BrokenPipeError: stdout's reader went away.
        """
        if self.closed:
            return
        fd, buffer, self._fd, self._buffer = self._fd, self._buffer, None, None
        try:
            if not self.failed:
                try:
                    if buffer is not None:
                        buffer.flush()
                    elif fd is not None and self._sync:
                        os.fsync(fd)
                except OSError as err:
                    raise self._fail(err) from None
            if fd is not None:
                try:
                    os.close(fd)
                except OSError as err:
                    if not self.failed:
                        raise self._fail(err) from None
        finally:
            super().close()


class _Layers:
    """The stack of streams over a sink, bottom first: buffer, then the
    compressor if any, then the text encoder unless binary."""

    def __init__(self, sink: _Sink, *, binary: bool, codec: str | None) -> None:
        self.sink = sink
        buffered = io.BufferedWriter(sink, buffer_size=1 << 16)
        self.stack: list[Any] = [buffered]
        if codec == "gz":
            # No time and no name in the header: the same bytes every run.
            self.stack.append(
                gzip.GzipFile(filename="", mode="wb", fileobj=buffered, mtime=0, compresslevel=_GZIP_LEVEL)
            )
        elif codec == "zst":
            import zstandard  # only for .zst output: 2 ms of every run's start-up otherwise

            compressor = zstandard.ZstdCompressor(level=_ZSTD_LEVEL)
            self.stack.append(compressor.stream_writer(buffered, closefd=False))
        if not binary:
            # backslashreplace: a lone surrogate (a non-UTF-8 file name kept
            # by surrogateescape) is written as \udcff instead of raising.
            self.stack.append(
                io.TextIOWrapper(self.stack[-1], encoding="utf-8", errors="backslashreplace", newline="\n")
            )

    @property
    def top(self) -> IO[Any]:
        top: IO[Any] = self.stack[-1]
        return top

    def finish(self) -> None:
        """Close every layer top down (ending a compressed stream), the
        buffer last, which syncs and closes the sink.

        Raises:
            OutputError: a write, the sync or the close failed.
        """
        for layer in reversed(self.stack):
            layer.close()  # a compressor does not close the layer under it
        if self.sink.error is not None:
            # A write failed and the writer went on: never rename half a file.
            raise self.sink.error

    def abandon(self) -> None:
        """Close everything after a failure; what is still buffered is dropped."""
        self.sink.failed = True
        for layer in reversed(self.stack):
            with contextlib.suppress(Exception):
                layer.close()
        with contextlib.suppress(Exception):
            self.sink.close()


def _codec(name: str, compress: bool) -> str | None:
    if not compress:
        return None
    lower = name.lower()
    if lower.endswith(".gz"):
        return "gz"
    if lower.endswith(".zst"):
        return "zst"
    return None


# --- opening ---------------------------------------------------------------


@contextlib.contextmanager
def open_output(path: OutputPath, *, binary: bool = False, compress: bool = False) -> Iterator[IO[Any]]:
    """Open an output for writing (text: UTF-8, ``\\n`` line ends).

    Args:
        path: Where to write; None or ``"-"`` means stdout (streamed, never
            closed). A regular file is replaced atomically, through links; a
            FIFO or a character device is written directly.
        binary: Yield a binary stream instead of a text one.
        compress: Compress by suffix (``.gz``: gzip, ``.zst``: zstandard).

    Yields:
        The stream to write to. Writing a lone surrogate to a text stream
        writes ``\\udcXX`` (backslashreplace), never raises.

    Raises:
        UsageError: ``path`` is empty.
        OutputError: it cannot be written (a folder, a missing folder, no
            permission, a full disk...): the message names ``path``. A file
            being replaced is left as it was and no temporary file remains,
            whatever the failure (Ctrl-C included).
        BrokenPipeError: stdout's reader went away (``dedup ... | head``);
            a command-line tool ends quietly on it.
    """
    if path is None or os.fspath(path) == _STDOUT:
        with _open_stdout(binary) as handle:
            yield handle
        return
    target = _target(path)
    codec = _codec(target.name, compress)
    if target.stream:
        try:
            # O_APPEND: /dev/stdout may be a file the shell opened with >>.
            fd = os.open(target.name, os.O_WRONLY | os.O_APPEND | os.O_NOCTTY)
        except OSError as err:
            raise _error(target.name, err) from None
        with _layered(_Sink(target.name, fd, sync=False), binary, codec) as handle:
            yield handle
        return
    with _replacing(target) as fd, _layered(_Sink(target.name, fd, sync=True), binary, codec) as handle:
        yield handle


@contextlib.contextmanager
def _layered(sink: _Sink, binary: bool, codec: str | None) -> Iterator[IO[Any]]:
    """The layers over ``sink``, finished on success, abandoned on any failure."""
    layers = None
    try:
        layers = _Layers(sink, binary=binary, codec=codec)
        yield layers.top
        layers.finish()
    except BaseException:
        if layers is not None:
            layers.abandon()
        else:
            sink.failed = True
            with contextlib.suppress(Exception):
                sink.close()
        raise


@contextlib.contextmanager
def _replacing(target: _Target) -> Iterator[int]:
    """A temporary file beside ``target.real`` (umask mode, or the mode of
    the file it replaces) that is renamed over it when the body succeeds,
    and removed on any failure; the body owns (closes) the descriptor."""
    folder, base = os.path.split(target.real)
    try:
        fd, tmp = _create_temp(folder, base)
    except OSError as err:
        raise _error(target.name, err) from None
    try:
        if target.existing is not None:
            try:
                _keep_owner_and_mode(fd, target.existing)
            except OSError as err:
                os.close(fd)
                raise _error(target.name, err) from None
        yield fd
        try:
            os.replace(tmp, target.real)
        except OSError as err:
            raise _error(target.name, err) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_folder(folder)


@contextlib.contextmanager
def _open_stdout(binary: bool) -> Iterator[IO[Any]]:
    """Stdout as a UTF-8 (backslashreplace) text or binary stream that is
    flushed, never closed."""
    if sys.stdout is None:  # started with it closed (``>&-``)
        raise OutputError("cannot write to stdout: it is closed (give --output FILE)")
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # replaced by a text-only stream (a test's StringIO)
        if binary:
            raise OutputError("cannot write binary output to this stdout")
        yield sys.stdout
        sys.stdout.flush()
        return
    try:
        sys.stdout.flush()  # what was printed before comes first
    except BrokenPipeError:
        raise
    except OSError as err:
        raise _error("stdout", err) from None
    with _layered(_Sink("stdout", buffer=buffer, sync=False), binary, None) as handle:
        yield handle


# --- checks before any input is read --------------------------------------


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


@dataclass
class _Inputs:
    """Identities and real paths of the regular input files (a FIFO or a
    device given as input is never read, so writing it loses nothing)."""

    identities: set[tuple[int, int]]
    reals: set[str]

    @classmethod
    def of(cls, inputs: Sequence[InputFile]) -> _Inputs:
        identities: set[tuple[int, int]] = set()
        reals: set[str] = set()
        for file in inputs:
            try:
                st = os.stat(file.path)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                identities.add(_identity(st))
                reals.add(os.path.realpath(file.path))
        return cls(identities, reals)

    def holds(self, target: _Target) -> bool:
        if target.existing is not None and _identity(target.existing) in self.identities:
            return True  # also a hard link to an input
        return target.real in self.reals


def check_outputs(outputs: Sequence[tuple[str, OutputPath]], inputs: Sequence[InputFile]) -> None:
    """Check every output of a call before any input is read.

    Args:
        outputs: ``(what, path)`` pairs, e.g. ``("--output", "out.jsonl")``;
            ``what`` names the output in messages; None paths are ignored
            (pass ``"-"`` for an output that goes to stdout, so that two on
            stdout are refused).
        inputs: The input files of the same call.

    Raises:
        UsageError: a path is empty; an output is (or resolves to, through
            links or as a hard link) an input file; two outputs are the same
            file (also through a link, or both stdout); the same character
            device (``/dev/null``) may take several.
        OutputError: an output cannot be written: its folder is missing or
            is not a folder, it is a folder, the place is read-only or not
            writable, or the file exists and is not writable.
    """
    known = _Inputs.of(inputs)
    seen: dict[object, tuple[str, str]] = {}
    for what, path in outputs:
        if path is None:
            continue
        name = os.fspath(path)
        if name == "":
            raise UsageError(f"{what}: output path is empty")
        if name == _STDOUT:
            key: object = _STDOUT
        else:
            target = _target(name)
            if known.holds(target):
                raise UsageError(f"{what} {name} is an input file; it would be overwritten: choose another path")
            _check_writable(target)
            if target.existing is not None and stat.S_ISCHR(target.existing.st_mode):
                continue  # a device takes any number of writers (/dev/null)
            key = _identity(target.existing) if target.existing is not None else target.real
        if key in seen:
            other_what, other = seen[key]
            same = "both write to stdout" if key == _STDOUT else f"{other} and {name} are the same file"
            raise UsageError(f"{other_what} and {what}: {same}; give each its own path")
        seen[key] = (what, name)


def _check_writable(target: _Target) -> None:
    """Find for real whether ``target`` can be written (see check_outputs).

    Raises:
        OutputError: it cannot.
    """
    if target.stream:
        # Never opened here: opening a FIFO for writing blocks until a reader comes.
        if not os.access(target.real, os.W_OK):
            raise _error(target.name, "permission denied")
        return
    if target.existing is not None and not os.access(target.real, os.W_OK):
        raise _error(target.name, "the file is not writable")
    folder, base = os.path.split(target.real)
    if not os.path.isdir(folder):
        reason = "not a folder" if os.path.exists(folder) else "no such folder"
        raise _error(target.name, f"{reason}: {_shown_folder(target.name, folder)}")
    _probe(target.name, folder, base)


def _shown_folder(name: str, real_folder: str) -> str:
    """The missing folder as the user named it, or where a link points."""
    if os.path.islink(name):
        return real_folder
    return os.path.dirname(name) or "."


def _probe(name: str, folder: str, stem: str) -> None:
    """Create and remove a temporary file in ``folder``: the one test that
    also catches a read-only filesystem and what ``os.access`` cannot see.

    Raises:
        OutputError: it cannot be created (named after ``name``).
    """
    try:
        fd, tmp = _create_temp(folder, stem)
    except OSError as err:
        raise _error(name, err) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def check_output_folder(what: str, folder: str | os.PathLike[str], inputs: Sequence[InputFile]) -> None:
    """Check an output folder (``blocks --strip``) before any input is read.

    The folder may not exist yet (it will be created: its nearest existing
    parent must be a writable folder). It may be inside an input folder
    (the caller excludes it from the inputs); whether a file written in it
    would overwrite an input is for the writer to check, file by file.

    Args:
        what: The option, for messages (``"--strip"``).
        folder: The folder.
        inputs: The input files of the same call.

    Raises:
        UsageError: the path is empty, or is an input file.
        OutputError: it is a file, or it (or its nearest existing parent)
            is not a writable folder.
    """
    name = os.fspath(folder)
    if name == "":
        raise UsageError(f"{what}: output folder path is empty")
    real = os.path.realpath(name)
    known = _Inputs.of(inputs)
    try:
        st: os.stat_result | None = os.stat(name)
    except FileNotFoundError:
        st = None
    except OSError as err:
        raise _error(name, err) from None
    if real in known.reals or (st is not None and _identity(st) in known.identities):
        raise UsageError(f"{what} {name} is an input file; choose a folder")
    existing = real
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise _error(name, "not a folder" if existing == real else f"not a folder: {existing}")
    _probe(name, existing, ".dedup-check")
