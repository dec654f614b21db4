"""A real SQLite store holding the real MOF JGB curve to 2026-01-20 (the day JGB 30Y rose 20.3 bp)
and the alerts the real pipeline raised on it, shared by the overview tests of every layer."""
from __future__ import annotations

import pytest

from tests.unit.realjgb import seed


@pytest.fixture(scope="session")
def jgb_store(market_dir, tmp_path_factory):
    st = seed(tmp_path_factory.mktemp("overview") / "ov.db", market_dir)
    yield st
    st.dispose()
