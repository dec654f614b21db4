"""The Overview read model (views/overview.py) on the real JGB store: what every tile, curve and
feed item says, checked against the snapshot's statistics and the stored closes directly — no
Dash component in sight."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from tests.unit.realjgb import NOW, UNIVERSE, add_closes, copy_store
from views.overview import FEED_LIMIT, KEY_SERIES, SPARK_POINTS, OverviewView, build_overview, overview_view
from views.snapshot import SnapshotService


@pytest.fixture(scope="module")
def snap(jgb_store):
    return SnapshotService(jgb_store, UNIVERSE, check_every=3600).current()


def _tile(view: OverviewView, sid: str):
    return next(t for t in view.tiles if t.id == sid)


def test_key_series_exist_in_the_universe():
    assert len(KEY_SERIES) == 10 and all(s in UNIVERSE for s in KEY_SERIES)


def test_jgb_30y_tile_reads_the_days_move_z_rarity_and_tier(snap, jgb_store):
    view = overview_view(snap)
    assert [t.id for t in view.tiles] == list(KEY_SERIES)
    t = _tile(view, "jgb_30y")
    # the value and move are the stored closes' (independent of the statistics kernel)
    closes = jgb_store.read(series_ids=["jgb_30y"]).sort_values("ts")
    assert t.value == pytest.approx(float(closes["value"].iloc[-1])) == pytest.approx(3.765)
    assert t.change == pytest.approx(100 * (closes["value"].iloc[-1] - closes["value"].iloc[-2])) \
        == pytest.approx(20.3, abs=0.05)
    # z and rarity: the snapshot's own 1-day row, unchanged by the view (BRIEF §2: z60 ≈ 7.6)
    f = snap.move_frame()
    row = f[(f.series_id == "jgb_30y") & (f.kind == "daily") & (f.horizon == 1)].iloc[0]
    assert t.stat_kind == "daily" and t.z60 == row["z_w60"] == pytest.approx(7.6, abs=0.05)
    assert t.period_years == pytest.approx(row["return_period_years"]) == pytest.approx(13.0, abs=0.05)
    assert t.largest.startswith("largest one-day rise on record")
    assert t.tier == "critical" and not t.stale            # the data clock is 2026-01-21 01:00
    # the sparkline: the last 60 accepted closes, ending with 2026-01-19 and -20
    assert len(t.spark_y) == SPARK_POINTS == len(t.spark_x)
    assert list(t.spark_y[-2:]) == pytest.approx(list(closes["value"].iloc[-2:]))
    assert t.spark_x[-1] == "2026-01-20" and t.spark_x == tuple(sorted(t.spark_x))
    # tiers follow each series' own firing alerts
    firing = {a["series_id"]: a["tier"] for a in snap.alerts["alerts"] if a["state"] == "firing"}
    assert _tile(view, "jgb_10y").tier == firing.get("jgb_10y") == "watch"
    assert _tile(view, "jgb_40y").tier == "critical"
    ust = _tile(view, "ust_10y")
    assert ust.value is None and ust.tier is None and ust.spark_y == () and ust.stat_kind is None
    assert _tile(view, "tlt").period_years is None


def test_curves_now_vs_1d_1w_1m_and_the_feed_newest_first(snap):
    view = overview_view(snap)
    jgb = view.curve("JGB")
    assert [t.key for t in jgb.traces] == ["1M", "1W", "1D", "now"]
    names = [t.name for t in jgb.traces]
    assert "2026-01-20" in names[3] and "2026-01-19" in names[2] and "2026-01-13" in names[1] and "2025-12-19" in names[0]
    assert jgb.tenors[:2] == ("1Y", "2Y") and jgb.tenors[-1] == "40Y" and len(jgb.tenors) == 15
    i30 = jgb.tenors.index("30Y")
    now, d1 = jgb.traces[3], jgb.traces[2]
    assert now.y[i30] == pytest.approx(3.765) and d1.y[i30] == pytest.approx(3.562)
    assert d1.custom[i30][1] == pytest.approx(20.3)            # now − 1D in bp, for the hover
    assert not view.curve("UST").present
    assert "JGB: now = 2026-01-20" in view.note
    events = snap.alerts["events"]
    assert len(view.feed) == min(FEED_LIMIT, len(events)) and len(events) >= 12
    first = max(events, key=lambda e: (e["at"], e["seq"]))
    assert (view.feed[0].alert_id, view.feed[0].text) == (first["alert_id"], first["text"])
    ats = [f.at for f in view.feed]
    assert ats == sorted(ats, reverse=True)
    assert any("JGB 30Y +20.3 bp = 7.6σ" in f.text for f in view.feed)


def test_the_view_is_frozen_built_once_per_snapshot_and_equal_in_every_process(jgb_store, snap):
    view = overview_view(snap)
    assert overview_view(snap) is view                         # the memo: one build per snapshot
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.tiles[0].value = 0.0                              # type: ignore[misc]
    other = SnapshotService(jgb_store, UNIVERSE, check_every=3600).current()   # another web worker
    assert other is not snap and other.built_at > snap.built_at
    assert build_overview(other).tag() == view.tag()           # content digests: the same tag


def test_a_new_close_changes_the_digests_of_the_tiles_and_curve_it_touches_only(jgb_store, market_dir, tmp_path):
    copy = copy_store(jgb_store, tmp_path / "copy.db")
    try:
        service = SnapshotService(copy, UNIVERSE, check_every=3600)
        before = overview_view(service.current())
        add_closes(copy, market_dir, "2026-01-21", NOW + dt.timedelta(days=1))
        service.refresh()
        after = overview_view(service.current())
        changed = [a.id for a, b in zip(after.tiles, before.tiles) if a.digest != b.digest]
        assert changed == ["jgb_10y", "jgb_30y", "jgb_40y"]
        assert after.curve("JGB").digest != before.curve("JGB").digest
        assert after.curve("JGB").tenors_digest == before.curve("JGB").tenors_digest
        assert after.curve("UST").digest == before.curve("UST").digest
        assert _tile(after, "jgb_30y").spark_x[-1] == "2026-01-21"
    finally:
        copy.dispose()


def test_a_pinned_view_ends_at_its_day(jgb_store, market_dir, tmp_path):
    copy = copy_store(jgb_store, tmp_path / "copy.db")
    try:
        service = SnapshotService(copy, UNIVERSE, check_every=3600)
        add_closes(copy, market_dir, "2026-01-21", NOW + dt.timedelta(days=1))
        service.refresh()
        view = overview_view(service.current().view("2026-01-20"))
        t = _tile(view, "jgb_30y")
        assert view.pinned == dt.date(2026, 1, 20) and view.pin_notes
        assert t.value == pytest.approx(3.765) and t.spark_x[-1] == "2026-01-20"
        assert t.pinned_age_s is not None and t.quote is None
    finally:
        copy.dispose()
