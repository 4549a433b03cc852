"""Temporary folders are removed whenever the interrupt arrives (issue 8, item 13)."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import pytest

from dedup._scratch import scratch_folder


def _interrupting_mkdtemp(real: object, signum: int) -> object:
    def mkdtemp(*args: object, **kwargs: object) -> str:
        folder = real(*args, **kwargs)  # type: ignore[operator]
        os.kill(os.getpid(), signum)  # the signal lands after mkdir, before the caller owns the folder
        return folder  # type: ignore[no-any-return]

    return mkdtemp


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_creation_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int) -> None:
    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # as the command line does for SIGTERM

    previous = signal.signal(signal.SIGTERM, terminate)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(tempfile, "mkdtemp", _interrupting_mkdtemp(tempfile.mkdtemp, signum))
    try:
        with pytest.raises(KeyboardInterrupt), scratch_folder() as folder:
            raise AssertionError(f"the interrupt should have ended the block before it ran ({folder})")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert list(tmp_path.iterdir()) == []


def test_folder_removed_on_error_and_on_return(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with scratch_folder() as folder:
        Path(folder, "spill").write_bytes(b"x")
    with pytest.raises(RuntimeError), scratch_folder() as folder:
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_folder_of_a_killed_run_is_swept_by_the_next(tmp_path: Path) -> None:
    """A run killed outright leaves its folder; the next run removes it, and
    only it: a live run's folder, a folder without an owner file and other
    names stay."""
    import subprocess
    import sys

    code = (
        "import sys, time\n"
        "from dedup._scratch import scratch_folder\n"
        "with scratch_folder('dedup-', sys.argv[1]) as folder:\n"
        "    open(folder + '/shingles.spill', 'wb').write(b'x' * 1000)\n"
        "    print(folder, flush=True)\n"
        "    time.sleep(60)\n"
    )
    killed = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert killed.stdout is not None
    stale = Path(killed.stdout.readline().strip())
    killed.kill()
    killed.wait()
    assert (stale / "shingles.spill").exists()
    unowned = tmp_path / "dedup-unowned"
    unowned.mkdir()
    other = tmp_path / "other-run"
    other.mkdir()
    with scratch_folder("dedup-", str(tmp_path)) as alive:
        assert not stale.exists()
        with scratch_folder("dedup-", str(tmp_path)) as second:
            assert Path(alive).is_dir() and Path(second).is_dir()
        assert Path(alive).is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dedup-unowned", "other-run"]


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_owner_name_that_is_not_a_file_is_left_alone(tmp_path: Path, kind: str) -> None:
    """Only a regular owner file marks a folder as ours: a folder or a FIFO of
    that name (never made by a run) keeps its folder, and a FIFO does not
    block the sweep (opening one for reading waits for a writer)."""
    import threading

    foreign = tmp_path / "dedup-foreign"
    foreign.mkdir()
    (foreign / "keep").write_text("x")
    owner = foreign / ".dedup-owner.lock"
    if kind == "folder":
        owner.mkdir()
    else:
        os.mkfifo(owner)
    done = threading.Event()

    def scan() -> None:
        with scratch_folder("dedup-", str(tmp_path)):
            pass
        done.set()

    worker = threading.Thread(target=scan, daemon=True)
    worker.start()
    worker.join(20)
    if not done.is_set():  # unblock the sweep's open() so the thread ends
        with open(owner, "wb"):
            pass
        worker.join(20)
    assert done.is_set(), "the sweep blocked on a FIFO"
    assert (foreign / "keep").exists()
