"""Helpers of the browser tests: where Chromium is, how it is started, signing in through the
real form, and screenshots saved as test artefacts."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from django.conf import settings

__all__ = ["ARTIFACTS", "CHROMIUM", "CHROMIUM_ARGS", "PASSWORD", "Browse", "screenshot", "sign_in"]

#: The browser; TIPGRAPH_CHROMIUM points elsewhere on a machine without Debian's package.
CHROMIUM = Path(os.environ.get("TIPGRAPH_CHROMIUM", "/usr/bin/chromium"))
#: Screenshots: test artefacts, not committed (artifacts/ is in .gitignore).
ARTIFACTS = Path(settings.BASE_DIR) / "artifacts" / "browser"
#: The password UserFactory gives every account.
PASSWORD = "correct horse battery staple"

# Headless on a closed network: no GPU, no QUIC, and none of Chromium's own background
# connections (updates, sync, component downloads), which are refused here and slow it down.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

Browse = Callable[..., AbstractContextManager]


def sign_in(page: Any, username: str, *, next_path: str = "/dashboard/") -> None:
    """Open ``next_path``, get sent to the sign-in form, fill it in and submit it."""
    page.goto(next_path)
    page.wait_for_url(f"**/accounts/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def screenshot(target: Any, name: str, **options: Any) -> Path:
    """Save a PNG of a page or element (a Playwright Page or Locator) under artifacts/browser/
    and return its path; ``options`` go to Playwright (``full_page=True``)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    target.screenshot(path=str(path), **options)
    return path
