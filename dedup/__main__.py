"""``python -m dedup`` and the ``dedup`` console script."""

import os
import signal
import sys


def main() -> None:
    """Run the command line; a Ctrl-C or SIGTERM while the libraries load
    exits 130 quietly, as one during a command does (the CLI handles those)."""
    _hold_standard_descriptors()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        from dedup.cli import run
    except KeyboardInterrupt:
        sys.stderr.write("dedup: error: interrupted\n")
        sys.exit(130)
    run()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _hold_standard_descriptors() -> None:
    """A standard descriptor closed at start (``>&-``, ``2>&-``) would be the
    number the next file opened gets, and what is written to it would land
    in that file: hold each on /dev/null. Messages for a closed stderr go
    nowhere; writing output to a closed stdout is an error (dedup.output)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            held = os.open(os.devnull, os.O_RDWR)
            if held != fd:
                os.dup2(held, fd)
                os.close(held)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115  # the process's own stderr, never closed


if __name__ == "__main__":
    main()
