"""Headless Debian Chromium as the HTML report's tests, benchmark and
screenshot open it (never a browser Playwright downloads: there is none here)."""

from __future__ import annotations

import os
from typing import Any

CHROMIUM = os.environ.get("DEDUP_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling out, which this
# machine's closed network refuses; as root it needs --no-sandbox.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright: Any) -> Any:
    """``playwright.chromium.launch`` of :data:`CHROMIUM` with :data:`ARGS`."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
