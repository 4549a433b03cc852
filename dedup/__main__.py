"""``python -m dedup``."""

from dedup.cli import run

if __name__ == "__main__":
    run()
