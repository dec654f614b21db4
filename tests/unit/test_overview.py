"""The Overview page on a real SQLite store holding the real MOF JGB curve to 2026-01-20 (the day
JGB 30Y rose 20.3 bp) and the alerts the real pipeline raised on it: tiles, curves and the alert
feed as plain callback results; an unchanged snapshot gives no_update, a new close a Patch."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from dash import Patch, no_update

from config import Settings
from views.snapshot import SnapshotService
from tests.unit.realjgb import NOW, UNIVERSE, add_closes, copy_store, seed

UTC = dt.UTC


@pytest.fixture(scope="module")
def store(market_dir, tmp_path_factory):
    st = seed(tmp_path_factory.mktemp("overview") / "ov.db", market_dir)
    yield st
    st.dispose()


def _web(store):
    import app as app_module

    service = SnapshotService(store, UNIVERSE, check_every=3600)
    return app_module.create_app(Settings(), service), service


@pytest.fixture(scope="module")
def web(store):
    from web import state

    old = state._service
    dash_app, service = _web(store)
    yield dash_app, service
    state._service = old


def _tiles(result):
    from components.overview import KEY_SERIES

    tiles = result[0]
    assert [t.id for t in tiles] == [f"ov-tile-{s}" for s in KEY_SERIES]
    return {t.id.removeprefix("ov-tile-"): t for t in tiles}


def test_key_series_exist_in_the_universe():
    from components.overview import KEY_SERIES

    assert len(KEY_SERIES) == 10 and all(s in UNIVERSE for s in KEY_SERIES)


def test_jgb_30y_tile_shows_move_z_rarity_tier_and_links_to_its_page(web):
    from callbacks.overview import overview_view
    from web import state

    out = overview_view(1, None)
    tiles = _tiles(out)
    jgb = tiles["jgb_30y"]
    text = str(jgb)
    assert jgb.href == "/series/jgb_30y"
    assert "3.765%" in text and "+20.3 bp" in text
    # z60 precomputed by the snapshot (not recomputed here): ≈ 7.6 (BRIEF §2)
    f = state.snapshot().move_frame()
    z60 = f[(f.series_id == "jgb_30y") & (f.kind == "daily") & (f.horizon == 1)]["z_w60"].iloc[0]
    assert z60 == pytest.approx(7.6, abs=0.05) and "+7.6σ" in text
    assert "1 in 13.0 years" in text                     # on the declared base, since 2000 (docs/MOVE_STATS.md)
    assert "cm-tier-critical" in text and "CRITICAL" in text
    assert "cm-ov-stale" not in text                     # the data clock is 2026-01-21 01:00
    # the sparkline: the last 60 closes, ending with the 2026-01-19 and -20 closes
    spark = next(c for c in jgb.children.children if getattr(c, "className", "") == "cm-ov-spark")
    y = spark.figure["data"][0]["y"]
    assert len(y) == 60 and y[-1] == pytest.approx(3.765) and y[-2] == pytest.approx(3.562)
    assert spark.figure["data"][0]["x"][-1] == "2026-01-20"
    # tiers follow each series' own firing alerts: 10Y watch (2-day), 40Y critical (2-day move)
    assert "cm-tier-watch" in str(tiles["jgb_10y"]) and "cm-tier-critical" in str(tiles["jgb_40y"])
    ust = str(tiles["ust_10y"])
    assert "NO DATA" in ust and "cm-tier" not in ust and "no history yet" in ust
    assert "1 in" not in str(tiles["tlt"])


def test_curves_now_vs_1d_1w_1m_and_feed_newest_first_with_permalinks(web):
    from callbacks.overview import overview_view
    from web import state

    _tiles_out, jgb_fig, ust_fig, note, feed, _tag = overview_view(1, None)
    names = [t.name for t in jgb_fig.data]
    assert [n.split()[0] for n in names] == ["1M", "1W", "1D", "now"]
    assert "2026-01-20" in names[3] and "2026-01-19" in names[2] and "2026-01-13" in names[1] \
        and "2025-12-19" in names[0]
    now, d1 = jgb_fig.data[3], jgb_fig.data[2]
    assert list(now.x)[:2] == ["1Y", "2Y"] and list(now.x)[-1] == "40Y" and len(now.x) == 15
    i30 = list(now.x).index("30Y")
    assert now.y[i30] == pytest.approx(3.765) and d1.y[i30] == pytest.approx(3.562)
    assert d1.customdata[i30][1] == pytest.approx(20.3)            # now − 1D in bp, for the hover
    assert "No UST curve yet" in str(ust_fig.layout.annotations[0].text)
    assert "JGB: now = 2026-01-20" in note
    # feed: alert events from the snapshot, newest first, each linking to its permalink
    items = feed.children.children
    events = state.snapshot().alerts["events"]
    assert 0 < len(items) <= 15 and len(events) >= 12
    ats = [e["at"] for e in events[:len(items)]]
    assert ats == sorted(ats, reverse=True)
    link = items[0].children[1]
    first = max(events, key=lambda e: (e["at"], e["seq"]))
    assert link.href == "/alerts?alert=" + first["alert_id"].replace(":", "%3A")
    assert link.children == first["text"]
    assert any("JGB 30Y +20.3 bp = 7.6σ" in str(i) for i in items)


def test_unchanged_snapshot_gives_no_update(web):
    from callbacks.overview import OUTPUTS, overview_view

    first = overview_view(1, None)
    assert overview_view(2, first[-1]) == (no_update,) * (len(OUTPUTS) + 1)


def test_every_web_process_agrees_on_the_tag(store):
    """gunicorn -w N: another process's service on the same store (its own snapshot, built at
    another time) answers the first one's tag with no_update — the tag itself included."""
    from callbacks.overview import OUTPUTS, overview_view
    from web import state

    old = state._service
    try:
        _app, one = _web(store)
        tag = overview_view(1, None)[-1]
        _app, two = _web(store)
        assert state.service() is two and two.current().built_at > one.current().built_at
        assert overview_view(2, tag) == (no_update,) * (len(OUTPUTS) + 1)
    finally:
        state._service = old


def test_new_close_patches_only_the_changed_tiles_and_curve(store, market_dir, tmp_path):
    """2026-01-21's real MOF closes arrive: the three JGB tiles are replaced through a Patch, the
    JGB curve's traces are patched in place, untouched tiles and the UST curve are not sent."""
    from callbacks.overview import overview_view
    from components.overview import KEY_SERIES
    from web import state

    old = state._service
    copy = copy_store(store, tmp_path / "copy.db")
    try:
        _app, service = _web(copy)
        first = overview_view(1, None)
        add_closes(copy, market_dir, "2026-01-21", NOW + dt.timedelta(days=1))
        service.refresh()
        tiles, jgb, ust, _note, feed, tag = overview_view(2, first[-1])
        assert isinstance(tiles, Patch)
        ops = tiles.to_plotly_json()["operations"]
        replaced = sorted(op["location"][0] for op in ops)
        assert replaced == [KEY_SERIES.index(s) for s in ("jgb_10y", "jgb_30y", "jgb_40y")]
        new_30 = next(op["params"]["value"] for op in ops if op["location"] == [KEY_SERIES.index("jgb_30y")])
        assert "2026" in str(new_30) and "+20.3 bp" not in str(new_30)
        assert isinstance(jgb, Patch) and ust is no_update
        jops = {tuple(op["location"]): op["params"]["value"] for op in jgb.to_plotly_json()["operations"]}
        assert "2026-01-21" in jops[("data", 3, "name")] and "2026-01-20" in jops[("data", 2, "name")]
        assert (feed is no_update) == (tag["feed"] == first[-1]["feed"])   # new alert events → new feed
        assert overview_view(3, tag) == (no_update,) * 6
    finally:
        state._service = old
        copy.dispose()


def test_page_serves_and_curves_download_png(web):
    from components import overview as ov
    from tests.unit.realjgb import find

    dash_app, _service = web
    client = dash_app.server.test_client()
    for path in ("/", "/?unknown=1"):
        assert client.get(path).status_code == 200
    page = ov.layout()
    for gid in (ov.OV_CURVE_JGB, ov.OV_CURVE_UST):
        cfg = find(page, gid).config
        assert cfg["displaylogo"] is False and cfg["toImageButtonOptions"]["format"] == "png"


def test_ui_code_does_no_statistics():
    root = Path(__file__).resolve().parents[2]
    for rel in ("components/overview.py", "callbacks/overview.py", "components/series.py", "callbacks/series.py",
                "components/figures.py"):
        src = (root / rel).read_text()
        for banned in ("yfinance", "apscheduler", "statsmodels", ".rolling(", ".ewm(", "compute_move_stats",
                       "compute_contagion", ".std(", ".var(", "sigma_history", "zscores("):
            assert banned not in src, f"{rel} uses {banned}"
