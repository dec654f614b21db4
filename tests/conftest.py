"""Shared test fixtures.

`../shared/data` holds the publishers' real files (read-only, never copied here). Tests that
need it skip with a clear reason when it is absent, so a fresh clone still passes; under
CI=true the tests that need PostgreSQL or Chromium must run, never skip (BRIEF §5).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "data"
MARKET = SHARED / "market"
VERIFY = SHARED / "verify"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real reference data not found at {path} (../shared is absent in this checkout)")
    return path


@pytest.fixture(scope="session")
def market_dir() -> Path:
    """../shared/data/market — the real publisher files."""
    return _require(MARKET)


@pytest.fixture(scope="session")
def verify_dir() -> Path:
    """../shared/data/verify — independent reference numbers."""
    return _require(VERIFY)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(autouse=True)
def _yfinance_cache_in_tmp(tmp_path_factory, monkeypatch):
    """yfinance keeps tz/cookie caches in sqlite files: keep tests away from the user's."""
    try:
        import yfinance as yf
    except ImportError:  # pragma: no cover
        return
    cache = tmp_path_factory.getbasetemp() / "yf-cache"
    cache.mkdir(exist_ok=True)
    yf.set_tz_cache_location(str(cache))
