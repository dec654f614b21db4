"""Real headless Chromium (Debian's build) driven by Playwright; no browser download.

Outside CI the browser tests skip with a reason when /usr/bin/chromium is missing; with
CI=true they fail instead, so a broken install step in .ci/run cannot hide (BRIEF §5).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.conftest import IN_CI

CHROMIUM = os.environ.get("CM_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage",
         # DNS rebinding, for real: a page on attacker.example whose name resolves to this machine.
         "--host-resolver-rules=MAP attacker.example 127.0.0.1"]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        msg = f"Chromium not found at {CHROMIUM} (apt-get install chromium chromium-driver)"
        if IN_CI:
            pytest.fail(msg + " — required under CI=true")
        pytest.skip(msg)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover
        if IN_CI:
            pytest.fail(f"playwright missing: {exc}")
        pytest.skip(f"playwright missing: {exc}")
    profile = tempfile.mkdtemp(prefix="cm-chromium-")
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                    args=FLAGS, viewport={"width": 1600, "height": 1000})
        yield ctx
        ctx.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser):
    p = browser.new_page()
    p.console_errors = []
    p.on("console", lambda m: p.console_errors.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: p.console_errors.append(str(e)))
    yield p
    p.close()
