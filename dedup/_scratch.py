"""Temporary folders that never outlive a run, whenever Ctrl-C or SIGTERM arrives.

``tempfile.TemporaryDirectory`` leaves its folder behind when the
interrupt lands between ``mkdir`` and the moment the folder is registered
for cleanup, or in the middle of removing it (the command line turns SIGTERM
into KeyboardInterrupt, so both signals unwind the same way). Here both
windows run with the two signals deferred: a signal that arrives then is
re-delivered as soon as the window closes, when the folder is either fully
owned by a ``try``/``finally`` or already gone.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["deferred_signals", "scratch_folder"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then deliver them.

    Only the main thread can install handlers: elsewhere the block runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def defer(signum: int, frame: Any) -> None:
        caught.append(signum)

    previous = {int(signum): signal.signal(signum, defer) for signum in _SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            handler = previous[caught[0]]
            if callable(handler):
                handler(caught[0], None)
            elif handler == signal.SIG_DFL or caught[0] == signal.SIGINT:
                raise KeyboardInterrupt


@contextlib.contextmanager
def scratch_folder(prefix: str = "dedup-", parent: str | None = None) -> Iterator[str]:
    """A new temporary folder (in ``parent``, default the system's temporary
    folder), removed on return, on error and on interrupt."""
    folder = None
    try:
        with deferred_signals():
            folder = tempfile.mkdtemp(prefix=prefix, dir=parent)
        yield folder
    finally:
        if folder is not None:
            with deferred_signals():
                shutil.rmtree(folder, ignore_errors=True)
