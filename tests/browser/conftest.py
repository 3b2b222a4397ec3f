"""Browser tests: Debian's Chromium, driven by Playwright, against pytest-django's live server.

Chromium is the system one (``/usr/bin/chromium``, which ``make test`` installs with apt-get);
Playwright's own browser downloads are never used. Playwright's sync API runs an asyncio
event loop in the test's thread while it is open, and Django then refuses ORM calls from that
thread (SynchronousOnlyOperation). So a test makes its data first and only then opens the
browser with the ``chromium`` fixture's context manager; the live server answers the browser
from its own threads, where the ORM works as usual.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, Browse


@pytest.fixture
def chromium(live_server) -> Browse:
    """``with chromium() as page:`` a fresh headless Chromium page (its own profile in a
    temporary folder), in the Europe/London time zone unless told otherwise. Open it after
    the test's data is made (see the module docstring)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium package. "
            "`make test` installs it (apt-get install -y chromium), or install it yourself."
        )
    from playwright.sync_api import sync_playwright

    @contextmanager
    def browse(*, time_zone: str = "Europe/London") -> Iterator:
        with (
            tempfile.TemporaryDirectory(prefix="tipgraph-chromium-") as profile,
            sync_playwright() as playwright,
        ):
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_ARGS,
                timezone_id=time_zone,
                locale="en-GB",
                viewport={"width": 1400, "height": 1100},
                base_url=live_server.url,
            )
            context.set_default_timeout(20_000)
            try:
                yield context.pages[0] if context.pages else context.new_page()
            finally:
                context.close()

    return browse
