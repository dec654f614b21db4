"""A view pinned to a past day (`?asof=` on the overview and the wall) shows every close dated on
or before the end of that day with the statistics the live screen had for it: checked on the real
history by running the live path on one store — with the data clock on 2026-01-21 12:00 UTC, when
every close dated 2026-01-20 is published and none of the 21st's JGB/UST/FRED closes is, then
three weeks later, pinned back to 2026-01-20 — and comparing every series' value, move, z and
rarity."""
from __future__ import annotations

import datetime as dt
import math

import pytest

from universe import load_universe
from views.snapshot import PinnedClock, pin_cut
from tests.layout import text

UTC = dt.UTC
DAY = dt.date(2026, 1, 20)


@pytest.fixture(scope="module")
def two_runs(market_dir, tmp_path_factory):
    """One store living through the event: the replayed live path (collector → gate → store →
    alert pipeline → web snapshot) with the data clock on 2026-01-21 12:00 UTC (`then`), then
    three weeks later on the same store (`later`)."""
    from config import Settings
    from data.clock import ReplayClock
    from data.collector import Collector, SourceJob
    from main import build_alert_pipeline
    from views.snapshot import SnapshotService
    from data.sources.replay import ReplaySource
    from data.store import Store

    universe = load_universe()
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('pinned') / 'r.db'}")
    clock = ReplayClock.starting(dt.datetime(2026, 1, 21, 12, 0, tzinfo=UTC), 1.0, held=True)
    settings = Settings(mode="replay", replay_dir=market_dir, replay_start=dt.date(2026, 1, 21))
    pipeline = build_alert_pipeline(settings, universe, store, clock)
    c = Collector(store, universe, {"replay": SourceJob(ReplaySource(market_dir, universe), 2, session_factory=None,
                                                       cursor="datetime")}, mode="replay", clock=clock,
                  after_cycle=pipeline.run, judge=pipeline.gate.judge)
    c.claim()
    assert c.run_once("replay").ok
    then = SnapshotService(store, universe).current()
    clock.start = dt.datetime(2026, 2, 10, 12, 0, tzinfo=UTC)       # three weeks on, same store
    clock.t0 = None                                                 # held there
    store.set_meta("clock", clock.to_meta())
    assert c.run_once("replay").ok
    later = SnapshotService(store, universe).current()
    assert later.now() > then.now()
    yield then, later
    store.dispose()


def test_the_cut_is_midnight_new_york():
    assert pin_cut(DAY) == dt.datetime(2026, 1, 21, 4, 59, 59, 999999, tzinfo=UTC)   # EST: UTC−5
    assert pin_cut(dt.date(2026, 7, 1)) == dt.datetime(2026, 7, 2, 3, 59, 59, 999999, tzinfo=UTC)  # EDT


def test_pinned_view_reproduces_what_the_live_screen_showed(two_runs):
    then, later = two_runs
    pinned = later.view(DAY.isoformat())
    assert pinned.pinned == DAY and isinstance(pinned.clock, PinnedClock) and later.pinned is None
    assert later.view(DAY) is pinned                     # built once per day and snapshot
    live = {r.id: r for r in then.rows}
    cut = pin_cut(DAY)
    compared = 0
    for r in pinned.rows:
        was = live[r.id]
        assert r.as_of is None or r.as_of <= cut, r.id
        if was.freq == "I" or was.value is None or was.as_of > cut:   # intraday bars, or dated after the day
            continue
        assert r.as_of == was.as_of and r.value == pytest.approx(was.value, abs=1e-12), r.id
        assert r.change == pytest.approx(was.change, abs=1e-9), r.id
        compared += 1
    assert compared >= 35
    jgb = next(r for r in pinned.rows if r.id == "jgb_30y")
    assert jgb.as_of.date() == DAY and 20.0 < jgb.change < 20.5   # the six-sigma day, +20.3 bp
    a = then.move_frame()
    b = pinned.move_frame()
    a = a[(a["kind"] == "daily") & (a["ts"] <= cut)].set_index(["series_id", "horizon"])
    b = b.set_index(["series_id", "horizon"])
    common = a.index.intersection(b.index)
    assert len(common) >= 100
    for col in ("move", "z_w60", "z_w250", "sigma_w60", "rarity_share", "return_period_years", "n_history"):
        for key in common:
            x, y = a.loc[key, col], b.loc[key, col]
            if isinstance(x, float) and math.isnan(x):
                assert isinstance(y, float) and math.isnan(y), (key, col)
            else:
                assert y == pytest.approx(x, rel=1e-9, abs=1e-12), (key, col, x, y)


def test_pinned_alerts_and_curves_are_those_of_that_day(two_runs):
    then, later = two_runs
    pinned = later.view(DAY)
    cut = pin_cut(DAY)
    firing = {(a["series_id"], a["rule_id"]) for a in pinned.alerts["alerts"] if a["state"] == "firing"}
    assert ("jgb_30y", "jgb_curve_z") in firing
    # Alert states are those of the closes dated by the end of the day (the same rule as the
    # values): what was firing on the screen then, later resolutions not shown.
    was = {(a["series_id"], a["rule_id"]) for a in then.alerts["alerts"] if a["state"] == "firing"
           and dt.datetime.fromisoformat(a["last_data_ts"].replace("Z", "+00:00")) <= cut}
    assert firing == was
    about = lambda e: dt.datetime.fromisoformat((e.get("data_ts") or e["at"]).replace("Z", "+00:00"))
    assert pinned.alerts["events"] and all(about(e) <= cut for e in pinned.alerts["events"])
    assert any(about(e) > cut for e in later.alerts["events"])      # …and later ones existed
    jgb = pinned.contagion.curves["JGB"]
    assert str(jgb.dates["now"].date()) == "2026-01-20"
    assert jgb.changes_bp.loc["30Y", "1D"] == pytest.approx(then.contagion.curves["JGB"].changes_bp.loc["30Y", "1D"])


def test_pinned_overview_and_wall_say_pinned_and_do_not_tick(two_runs):
    from callbacks.overview import refresh
    from components import overview as ov
    from views.overview import overview_view
    from components.wall import wall_view_model

    _then, later = two_runs
    pinned = later.view(DAY)
    tiles = text(refresh(pinned, None)[0])
    assert "3.765%" in tiles and "+20.3 bp" in tiles and "data-asof" not in tiles and "cm-pinned-age" in tiles
    assert "PINNED to 2026-01-20" in text(ov.pinned_banner(overview_view(pinned)))
    view = wall_view_model(later, None, {"panels": ["tiles"], "rotate": 0, "asof": "2026-01-20"})
    status = text(view.parts["cm-wall-status"])
    assert "PINNED 2026-01-20" in status and "2026-01-21 04:59:59 UTC" in status
    assert "CRITICAL" in text(view.parts["cm-wall-alert"]) and "data-asof" not in text(view.parts["cm-wall-tiles"])
