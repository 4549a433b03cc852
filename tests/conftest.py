"""Hypothesis profiles and shared fixtures.

``HYPOTHESIS_PROFILE=ci`` (the default under CI=true) runs more examples;
``dev`` keeps the local loop fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from dedup import _kernels

settings.register_profile("dev", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "ci", max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEEDS = SHARED / "seeds"


EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "originals"
# examples/originals holds the same three pages, byte for byte, under readable names.
EXAMPLE_SEEDS = {"000": "taliban-talks.txt", "001": "taliban-refuses.txt", "003": "vov-world.txt"}


@pytest.fixture(scope="session")
def seed_texts() -> dict[str, str]:
    """The real news pages of ../shared/seeds by file-name prefix ("000", ...);
    from examples/originals when ../shared is not beside the checkout (never
    a skip: the tests that use them must run everywhere)."""
    if SEEDS.is_dir():
        return {p.name[:3]: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}
    return {key: (EXAMPLES / name).read_text(encoding="utf-8") for key, name in EXAMPLE_SEEDS.items()}


@pytest.fixture
def failing() -> Iterator[None]:
    """Whatever a test makes fail (``fail_allocation_for_tests``), allocations
    succeed again after it."""
    try:
        yield
    finally:
        _kernels.fail_allocation_for_tests(-1, -1)
