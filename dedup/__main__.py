"""``python -m dedup``."""

from dedup.cli import run

run()
