"""From the store to a persisted alert: the real JGB history up to 2026-01-20 through the same
pipeline the collector runs after each cycle, on SQLite (and PostgreSQL in CI)."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from alerts.pipeline import AlertPipeline, series_status
from alerts.rules import load_rules
from alerts.store import AlertStore
from data.clock import ReplayClock
from data.sources.mof import parse_mof_csv
from universe import load_universe
from tests.backends import store, store_url  # noqa: F401  (SQLite, and PostgreSQL when configured)

UNIVERSE = load_universe()
UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def jgb_history(market_dir):
    frame = parse_mof_csv((market_dir / "jgb" / "jgbcme_all.csv").read_bytes(),
                          [s for s in UNIVERSE if s.source == "mof"])
    return frame[frame["ts"] >= pd.Timestamp("2015-01-01", tz="UTC")]


def _pipeline(store, clock):
    return AlertPipeline(store, UNIVERSE, load_rules(universe=UNIVERSE), [], clock=clock,
                         cadences={"mof": 1200})


def test_jgb_30y_on_2026_01_20_fires_critical_once_and_survives_a_restart(store, jgb_history):

    clock = ReplayClock.starting(dt.datetime(2026, 1, 21, 1, 0, tzinfo=UTC), 1.0)
    upto_19 = jgb_history[jgb_history["ts"] < pd.Timestamp("2026-01-20", tz="UTC")]
    store.upsert(upto_19, source="mof", known_at=dt.datetime(2026, 1, 19, 12, tzinfo=UTC))
    store.record_success("mof", dt.datetime.now(UTC), len(upto_19))
    p1 = _pipeline(store, clock)
    p1.run()
    before = {(a.rule_id, a.subject): a for a in AlertStore(store).load_states().values()}
    assert not any(a.tier == "critical" and str(a.state) == "firing" and a.subject == "jgb_30y"
                   for a in before.values())

    upto_20 = jgb_history[jgb_history["ts"] < pd.Timestamp("2026-01-21", tz="UTC")]
    store.upsert(upto_20, source="mof", known_at=dt.datetime(2026, 1, 21, tzinfo=UTC))
    events = p1.run()
    crit = [e for e in events if e.subject == "jgb_30y" and e.tier == "critical" and e.kind in ("firing", "escalated")]
    one_day = [e for e in crit if e.rule_id == "jgb_curve_z"]
    assert len(one_day) == 1
    e = one_day[0]
    # 2026-01-19 (+10 bp) opened the episode at warning; 2026-01-20 escalates the SAME alert.
    assert e.kind == "escalated" and e.alert_id.endswith("20260119T060000Z")
    assert "JGB 30Y" in e.text and "+20.3 bp" in e.text and "7.6σ" in e.text and "σ60" in e.text and "window to 2026-01-19" in e.text
    assert e.detail["z"]["w60"] == pytest.approx(7.63, abs=0.01)

    # A restart (a new pipeline on the same database) neither loses nor duplicates it.
    p2 = _pipeline(store, clock)
    assert p2.run() == []
    states = AlertStore(store).load_states()
    assert str(states[(e.rule_id, "jgb_30y")].state) == "firing"
    n_events = len(AlertStore(store).list_events(series="jgb_30y", limit=1000))
    p2.run()
    assert len(AlertStore(store).list_events(series="jgb_30y", limit=1000)) == n_events


def test_series_status_marks_nodata_and_errors():
    from alerts.engine import Level

    now = dt.datetime(2026, 1, 30, tzinfo=UTC)
    levels = {"jgb_30y": Level("jgb_30y", dt.datetime(2026, 1, 20, 6, tzinfo=UTC), 3.683),
              "ust_10y": Level("ust_10y", dt.datetime(2026, 1, 29, 20, tzinfo=UTC), 4.2)}
    st = series_status(UNIVERSE, levels, {"mof": "ok", "treasury": "failing"}, now)
    assert st["jgb_30y"] == "stale"          # MOF answers, but its data stopped: NoData
    assert st["ust_10y"] == "failing"        # Treasury errors: Error
    assert st["jgb_10y"] == "ok"             # no data yet and a healthy source: nothing to say


def test_a_6_sigma_close_followed_by_a_calm_one_in_the_same_batch_still_alerts(store, jgb_history):
    """Two closes arrive in one cycle (2026-01-20: +20.3 bp, 2026-01-21): the first is judged too."""
    clock = ReplayClock.starting(dt.datetime(2026, 1, 22, 1, 0, tzinfo=UTC), 1.0)
    upto_19 = jgb_history[jgb_history["ts"] < pd.Timestamp("2026-01-20", tz="UTC")]
    store.upsert(upto_19, source="mof", known_at=dt.datetime(2026, 1, 19, 12, tzinfo=UTC))
    store.record_success("mof", dt.datetime.now(UTC), len(upto_19))
    p = _pipeline(store, clock)
    p.run()
    upto_21 = jgb_history[jgb_history["ts"] < pd.Timestamp("2026-01-22", tz="UTC")]
    store.upsert(upto_21, source="mof", known_at=dt.datetime(2026, 1, 22, tzinfo=UTC))
    events = p.run()
    crit = [e for e in events if e.subject == "jgb_30y" and e.rule_id == "jgb_curve_z" and e.tier == "critical"]
    assert len(crit) == 1 and "+20.3 bp" in crit[0].text
    assert crit[0].data_ts.date() == dt.date(2026, 1, 20)
