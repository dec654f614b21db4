"""The Markets read model (views/markets.py) on a store filled from the publishers' real files as
they stood on 2026-01-21 06:00 UTC: row order, values and moves against the stored closes, the
health word, and digests that move with content only."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import pytest

from tests.webapp import app_on_closes
from universe import load_universe
from views.markets import MARKET_ORDER, build_markets, markets_view

UNIVERSE = load_universe()
CUT = pd.Timestamp("2026-01-21 06:00", tz="UTC")


@pytest.fixture(scope="module")
def web(market_dir, tmp_path_factory):
    with app_on_closes(market_dir, tmp_path_factory.mktemp("mkview") / "m.db", CUT, since="2025-01-01") as web_:
        yield web_


def test_rows_follow_market_then_universe_order_with_the_stored_closes(web):
    _app, service, hist = web
    snap = service.current()
    view = markets_view(snap)
    ids = [s.id for s in UNIVERSE]
    expected = sorted(ids, key=lambda i: (MARKET_ORDER.get(UNIVERSE.get(i).market, 9), ids.index(i)))
    assert [r.id for r in view.rows] == expected
    by = {r.id: r for r in view.rows}
    closes = hist[hist["series_id"] == "jgb_30y"].sort_values("ts")["value"]
    r = by["jgb_30y"]
    assert r.value == pytest.approx(closes.iloc[-1])
    assert r.change == pytest.approx(100 * (closes.iloc[-1] - closes.iloc[-2])) == pytest.approx(20.3, abs=0.05)
    assert r.source == UNIVERSE.get("jgb_30y").source and r.unit == "bp"
    # A series with no stored value says NO DATA; a stored one reads its source's health or STALE.
    stored = set(hist["series_id"])
    for row in view.rows:
        if row.id not in stored:
            assert row.health == "NO DATA" and row.as_of is None and row.age_s is None, row.id
        else:
            age = (snap.now() - row.as_of).total_seconds()
            assert row.age_s == pytest.approx(age, abs=5)          # built moments ago
            assert row.stale == (age > row.stale_after_s), row.id
            assert row.health == ("STALE" if row.stale else row.state.upper()), row.id
    assert any(r.health == "NO DATA" for r in view.rows) and any(r.health != "NO DATA" for r in view.rows)


def test_the_view_is_built_once_per_snapshot_and_health_and_digests_move_with_content(web):
    _app, service, _hist = web
    snap = service.current()
    view = markets_view(snap)
    assert markets_view(snap) is view
    later = dataclasses.replace(snap, memo={}, built_at=snap.built_at + dt.timedelta(hours=1), revision=42)
    assert markets_view(later).table_digest == view.table_digest       # another process, same data
    assert markets_view(later).recent_digest == view.recent_digest
    newer = dataclasses.replace(snap, memo={}, version=snap.version + 1)
    assert markets_view(newer).table_digest != view.table_digest
    # A source's state changes with the wall clock, not the snapshot: a new view, a new digest.
    states = {r.source: "failing" for r in snap.rows}
    failing = build_markets(snap, states)
    assert failing.table_digest != view.table_digest
    assert {r.state for r in failing.rows} == {"failing"}
