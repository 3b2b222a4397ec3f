"""Helpers of the browser tests: where Chromium is, how it is started, signing in through the
real form, and screenshots saved as test artefacts."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from django.conf import settings

__all__ = [
    "ARTIFACTS",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "PASSWORD",
    "Browse",
    "screenshot",
    "sign_in",
    "watch",
]

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


def watch(page: Any, origin: str) -> tuple[list[str], list[str]]:
    """(problems, elsewhere), filled as they happen: script errors, console errors and failed
    requests of the page, and every request that went anywhere but ``origin`` (a CDN, say).

    Failed requests are reported with their URL by the response handler (the console only
    says "Failed to load resource"); /favicon.ico is Chromium's own guess, not a request of
    ours."""
    problems: list[str] = []
    elsewhere: list[str] = []

    def console(message: Any) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(f"console: {message.text}")

    def request(r: Any) -> None:
        if not r.url.startswith((origin, "data:")):
            elsewhere.append(r.url)

    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", console)
    page.on("request", request)
    page.on(
        "response",
        lambda r: (
            r.status >= 400
            and not r.url.endswith("/favicon.ico")
            and problems.append(f"HTTP {r.status}: {r.url}")
        ),
    )
    return problems, elsewhere
