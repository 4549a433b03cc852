"""Temporary folders that never outlive a run, whenever Ctrl-C or SIGTERM arrives.

``tempfile.TemporaryDirectory`` leaves its folder behind when the
interrupt lands between ``mkdir`` and the moment the folder is registered
for cleanup, or in the middle of removing it (the command line turns SIGTERM
into KeyboardInterrupt, so both signals unwind the same way). Here both
windows run with the two signals deferred: a signal that arrives then is
re-delivered as soon as the window closes, when the folder is either fully
owned by a ``try``/``finally`` or already gone.

A process killed outright (``kill -9``, out of memory) cannot remove its
folder: each folder holds a lock file its process keeps locked while it
lives, and the next run's :func:`scratch_folder` removes the folders (its
prefix, same parent) whose lock it can take: their process is gone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["deferred_signals", "scratch_folder"]

try:
    import fcntl
except ImportError:  # not on POSIX: no lock, no sweeping
    fcntl = None  # type: ignore[assignment]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_OWNER = ".dedup-owner.lock"


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
    owner = -1
    _sweep(prefix, parent)
    try:
        with deferred_signals():
            folder = tempfile.mkdtemp(prefix=prefix, dir=parent)
            owner = _own(folder)
        yield folder
    finally:
        if folder is not None:
            with deferred_signals():
                shutil.rmtree(folder, ignore_errors=True)
                if owner >= 0:
                    os.close(owner)


def _own(folder: str) -> int:
    """Lock a new owner file in ``folder``, held until the returned
    descriptor is closed or the process ends; -1 where locks do not work."""
    if fcntl is None:
        return -1
    path = os.path.join(folder, _OWNER)
    fd = os.open(path + ".new", os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # Locked before it has its name: a sweep never finds an owner file
        # that is not locked yet.
        os.rename(path + ".new", path)
    except OSError:  # no locks here (some network file systems): never swept
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path + ".new")
        return -1
    return fd


def _sweep(prefix: str, parent: str | None) -> None:
    """Remove this user's folders named ``prefix...`` in ``parent`` whose
    owner file can be locked: the process that made them is gone."""
    if fcntl is None:
        return
    try:
        entries = list(os.scandir(parent or tempfile.gettempdir()))
    except OSError:
        return
    for entry in entries:
        try:
            if not entry.name.startswith(prefix) or entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            if not entry.is_dir(follow_symlinks=False):  # a file, or a link to a folder elsewhere
                continue
            # O_NONBLOCK: a FIFO of that name would block open() until a writer came.
            fd = os.open(os.path.join(entry.path, _OWNER), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:  # gone, not a folder, no owner file (made before owners existed, or elsewhere)
            continue
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # a run only ever makes a regular owner file
                raise OSError
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # its process is alive, or not a folder of ours
            os.close(fd)
            continue
        try:
            shutil.rmtree(entry.path, ignore_errors=True)
        finally:
            os.close(fd)
