"""``python -m dedup`` and the ``dedup`` console script."""

import sys


def main() -> None:
    """Run the command line; a Ctrl-C while the libraries load exits 130
    quietly, as one during a command does (the CLI handles those)."""
    try:
        from dedup.cli import run
    except KeyboardInterrupt:
        sys.stderr.write("dedup: error: interrupted\n")
        sys.exit(130)
    run()


if __name__ == "__main__":
    main()
