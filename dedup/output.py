"""Writing outputs safely: whole or not at all, never over an input.

(First cut: the API is fixed, the checks are being completed in issue 8.)

* :func:`open_output` opens an output for writing: ``None`` or ``"-"`` is
  stdout; anything else is written atomically (a temporary file beside the
  target, renamed over it on success, removed on failure); a ``.gz`` or
  ``.zst`` name is compressed when ``compress=True``.
* :func:`check_outputs` runs before any input is read: it refuses an output
  that is an input, and one path given for two outputs
  (:class:`~dedup.errors.UsageError`), and an output that cannot be written
  (:class:`~dedup.errors.OutputError`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from dedup.io import InputFile

__all__ = ["check_outputs", "open_output"]

OutputPath = str | os.PathLike[str] | None


def check_outputs(outputs: Sequence[tuple[str, OutputPath]], inputs: Sequence[InputFile]) -> None:
    """Check every output of a call before any input is read.

    Args:
        outputs: ``(what, path)`` pairs, e.g. ``("--output", "out.jsonl")``;
            ``what`` names the output in messages; None paths are ignored.
        inputs: The input files of the same call.

    Raises:
        UsageError: an output is (or resolves to) an input file, or two
            outputs are the same file.
        OutputError: an output cannot be written.
    """


@contextlib.contextmanager
def open_output(path: OutputPath, *, binary: bool = False, compress: bool = False) -> Iterator[IO[Any]]:
    """Open an output for writing (text: UTF-8, ``\\n`` line ends).

    Args:
        path: Where to write; None or ``"-"`` means stdout.
        binary: Yield a binary stream instead of a text one.
        compress: Compress by suffix (``.gz``, ``.zst``).

    Raises:
        OutputError: it cannot be written.
    """
    if path is None or os.fspath(path) == "-":
        if binary:
            yield sys.stdout.buffer
        else:
            yield sys.stdout
        return
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        handle: IO[Any] = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
