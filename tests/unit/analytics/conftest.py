"""Fixtures for the move-statistics tests: the real MOF/FRED/Yahoo files, parsed by data.sources."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from data.sources.fred import parse_fred_csv
from data.sources.mof import parse_mof_csv
from universe import load_universe


@pytest.fixture(scope="session")
def universe():
    return load_universe()


@pytest.fixture(scope="session")
def jgb_obs(market_dir, universe) -> pd.DataFrame:
    raw = (market_dir / "jgb" / "jgbcme_all.csv").read_bytes()
    return parse_mof_csv(raw, [s for s in universe if s.source == "mof"])


@pytest.fixture(scope="session")
def fred_obs(market_dir, universe) -> pd.DataFrame:
    parts = [parse_fred_csv((market_dir / "raw" / f"{sym}.csv").read_bytes(), universe.get(sid))
             for sym, sid in (("DGS10", "ust_10y"), ("DGS30", "ust_30y"), ("DEXJPUS", "usdjpy_noon"))]
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="session")
def expected(verify_dir) -> dict:
    return json.loads((verify_dir / "expected_event_zscores_2026-01-20_SELF_COMPUTED.json").read_text())
