"""Debian's chromium driven by Playwright, for the tests that open a page in a real browser
(never ``playwright install``): where it is, how it is launched, the listeners that collect what
goes wrong on a page, and where screenshots go (``test-artifacts/``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
#: A headless chromium that starts as root in a container and reaches for nothing online.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MISSING = "apt-get install chromium (.ci/run does)"


def launch(playwright: Any) -> Any:
    """Debian's chromium from a started ``sync_playwright()``."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)


def watch(page: Any) -> list[str]:
    """Listen on ``page``: console errors and warnings, uncaught page errors and any request
    that leaves the machine (an offline page loads only ``file:``, ``data:``, ``blob:`` and
    ``about:``) are appended to the list returned."""
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "request",
        lambda r: (
            problems.append(f"network: {r.url}")
            if not r.url.startswith(("file:", "data:", "blob:", "about:"))
            else None
        ),
    )
    return problems


def screenshot(page: Any, name: str) -> None:
    """The whole page as ``test-artifacts/<name>``."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
