"""The wall screen's callbacks as plain functions on a real SQLite store (no browser)."""
from __future__ import annotations

import datetime as dt
import json
import math

import pandas as pd
import pytest
from dash import no_update

from alerts.gate import judge_stored
from config import Settings
from data.frame import daily_close_ts, make_frame
from data.store import Store
from universe import load_universe
from views.snapshot import SnapshotService

UNIVERSE = load_universe()
UTC = dt.UTC
DEFAULT = {"panels": ["tiles"], "rotate": 0, "asof": None}


def _daily(series_id, dates, values):
    s = UNIVERSE.get(series_id)
    return make_frame(series_id, "D", daily_close_ts(dates, s.timezone, s.close), values)


@pytest.fixture
def store(tmp_path):
    st = Store(f"sqlite:///{tmp_path / 'wall.db'}")
    st.create_schema()
    yield st
    st.dispose()


@pytest.fixture
def web(store):
    import app as app_module

    service = SnapshotService(store, UNIVERSE, cadences={"mof": 1200, "treasury": 1200, "fred": 1200,
                                                         "yahoo": 60}, check_every=0)
    dash_app = app_module.create_app(Settings(), service)
    yield dash_app, store, service


def _no_store_error() -> None:
    return None


def _history(store, *, end: str = "2026-01-20", jump_bp: float = 20.0, mode: str = "live"):
    """100 calm business days of JGB 30Y (±1 bp) ending with a jump, plus one UST 10Y close."""
    dates = pd.bdate_range(end=end, periods=100)
    values = [3.0 + 0.01 * (1 if i % 2 else -1) * (1 + (i % 3)) / 2 for i in range(99)]
    values.append(values[-1] + jump_bp / 100)
    store.upsert(pd.concat([_daily("jgb_30y", dates, values),
                            _daily("ust_10y", dates[-2:], [4.20, 4.25])]),
                 source="mof", known_at=dates[-1].to_pydatetime().replace(tzinfo=UTC) + dt.timedelta(days=1))
    judge_stored(store, UNIVERSE)    # what the collector does before any statistic reads a close
    store.set_meta("mode", mode)
    return values


def _critical_alert(store):
    from alerts.rules import load_rules
    from alerts.service import AlertService
    from analytics.types import MoveStat

    ts = dt.datetime(2026, 1, 20, 6, tzinfo=UTC)
    crit = MoveStat(series_id="jgb_30y", ts=ts, kind="daily", horizon=1, move=20.3, unit="bp",
                    sigma={"w60": 2.66, "w250": 3.63, "ewma": 3.55, "mad250": 2.42},
                    z={"w60": 7.63, "w250": 5.60, "ewma": 5.71, "mad250": 8.39},
                    window_end=dt.datetime(2026, 1, 19, 6, tzinfo=UTC), rarity_share=0.000313,
                    return_period_years=12.7, normal_equiv_sigma=3.6, n_history=6382, source="mof")
    ust = dt.datetime(2026, 1, 20, 20, 30, tzinfo=UTC)
    watch = MoveStat(series_id="ust_10y", ts=ust, kind="daily", horizon=1, move=9.0, unit="bp",
                     sigma={"w60": 2.8, "w250": 3.0, "ewma": 2.9, "mad250": 2.7},
                     z={"w60": 3.2, "w250": 3.0, "ewma": 3.1, "mad250": 3.3},
                     window_end=dt.datetime(2026, 1, 16, 20, 30, tzinfo=UTC), rarity_share=0.01,
                     return_period_years=0.4, normal_equiv_sigma=2.6, n_history=6000, source="treasury")
    AlertService(store, load_rules(universe=UNIVERSE), [], UNIVERSE).run([crit, watch], {}, {}, ust)


def _id(part):
    """The id of a part as sent (the callback sends JSON-ready dicts, not components)."""
    return part["props"].get("id")


def _parts(result):
    from callbacks.wall import OUTPUTS

    return dict(zip(OUTPUTS + ("tag",), result))


def test_tiles_show_value_move_and_z60(web):
    from callbacks.wall import wall_view

    _app, store, service = web
    values = _history(store)
    parts = _parts(wall_view(service.current, _no_store_error, 1, None, DEFAULT))
    tiles = {_id(t): str(t) for t in parts["cm-wall-tiles"]}
    assert list(tiles) == ["tile-jgb_10y", "tile-jgb_30y", "tile-jgb_40y", "tile-ust_10y", "tile-ust_30y",
                           "tile-usdjpy", "tile-ust_10y_yh", "tile-tlt"]
    jgb = tiles["tile-jgb_30y"]
    assert f"{values[-1]:.3f}%" in jgb and "+20.0 bp" in jgb and "z60" in jgb
    # the z shown is the snapshot's precomputed 60-day z of the 1-day move, not recomputed
    frame = service.current().move_frame()
    z = frame[(frame.series_id == "jgb_30y") & (frame.kind == "daily") & (frame.horizon == 1)]["z_w60"].iloc[0]
    assert math.isfinite(z) and z > 6 and f"{z:+.1f}σ" in jgb
    assert "data-asof" in jgb and "cm-tile-stale" in jgb          # January 2026 is long ago: red
    ust = tiles["tile-ust_10y"]
    assert "4.250%" in ust and "+5.0 bp" in ust and "z60" in ust and "—" in ust   # two closes: no σ yet
    assert "NO DATA" in tiles["tile-tlt"]


def test_critical_alert_raises_the_loud_banner_and_watch_stays_quiet(web):
    from callbacks.wall import wall_view

    _app, store, service = web
    _history(store)
    _critical_alert(store)
    parts = _parts(wall_view(service.current, _no_store_error, 1, None, DEFAULT))
    banner = parts["cm-wall-alert"]
    crit = next(b for b in banner if _id(b) == "cm-wall-critical")
    text = str(crit)
    assert "CRITICAL" in text and "JGB 30Y" in text and "+20.3 bp" in text and "7.6σ" in text
    assert "σ 2.7 bp (60d)" in text and "1-day move" in text
    quiet = next(b for b in banner if _id(b) == "cm-wall-quiet")
    assert "WATCH" in str(quiet) and "UST 10Y" in str(quiet) and "UST 10Y" not in text
    assert "cm-wall-is-critical" in parts["cm-wall"]
    assert "cm-tile-critical" in str(parts["cm-wall-tiles"][1]) and "cm-tile-watch" in str(parts["cm-wall-tiles"][3])


def test_no_critical_no_loud_banner(web):
    from callbacks.wall import wall_view

    _app, store, service = web
    _history(store)
    parts = _parts(wall_view(service.current, _no_store_error, 1, None, DEFAULT))
    assert "cm-wall-critical" not in str(parts["cm-wall-alert"])
    assert "cm-wall-is-critical" not in parts["cm-wall"]


def test_unchanged_snapshot_returns_no_update_and_new_data_renders(web):
    from callbacks.wall import wall_view

    _app, store, service = web
    _history(store)
    first = wall_view(service.current, _no_store_error, 1, None, DEFAULT)
    tag = first[-1]
    assert wall_view(service.current, _no_store_error, 2, tag, DEFAULT) == (no_update,) * len(first)
    store.upsert(_daily("jgb_30y", ["2026-01-21"], [3.10]), source="mof",
                 known_at=dt.datetime(2026, 1, 22, tzinfo=UTC))
    again = _parts(wall_view(service.current, _no_store_error, 3, tag, DEFAULT))
    assert again["tag"] != tag
    # only the changed tile travels, as a Patch of the tile list; untouched parts stay no_update
    ops = again["cm-wall-tiles"].to_plotly_json()["operations"]
    assert [(op["operation"], op["location"]) for op in ops] == [("Assign", [1])]
    assert "3.100%" in str(ops[0]["params"]["value"]) and "tile-jgb_30y" in str(ops[0]["params"]["value"])
    assert again["cm-wall-alerts"] is no_update and again["cm-wall-curves"] is no_update
    # a screen that has nothing yet (tag None) gets every part whole
    assert len(_parts(wall_view(service.current, _no_store_error, 4, None, DEFAULT))["cm-wall-tiles"]) == 8


def test_the_tag_is_the_same_in_every_web_process(web):
    """gunicorn -w N: a screen's polls land on any worker. Another process (another service on the
    same store, built later, so other revision counters and build times) sends nothing either."""
    import time

    from callbacks.wall import wall_view

    _app, store, service = web
    _history(store, end=dt.date.today().isoformat())
    first = service.current()
    tag = wall_view(service.current, _no_store_error, 1, None, DEFAULT)[-1]
    time.sleep(1.1)                                   # every age on screen is a second older
    other = SnapshotService(store, UNIVERSE, cadences={"mof": 1200, "treasury": 1200, "fred": 1200, "yahoo": 60},
                            check_every=0)
    other.current()
    other.refresh()
    store.set_meta("mode", "live")                    # a health/meta write: another revision there
    other.refresh()
    snap = other.current()
    assert snap is not first and snap.built_at > first.built_at and snap.revision != first.revision
    assert wall_view(other.current, _no_store_error, 2, tag, DEFAULT) == (no_update,) * 8
    # and a damaged or foreign tag gets the whole view, never an error
    for bad in ({"v": 1}, "x|y", {"v": 2, "cfg": "nope"}, 42):
        parts = _parts(wall_view(other.current, _no_store_error, 3, bad, DEFAULT))
        assert len(parts["cm-wall-tiles"]) == 8 and isinstance(parts["cm-wall-status"], list)


def test_stale_data_frames_the_whole_screen_and_demo_says_simulated(web):
    from callbacks.wall import wall_view

    _app, store, service = web
    _history(store, mode="demo")
    parts = _parts(wall_view(service.current, _no_store_error, 1, None, DEFAULT))
    assert "cm-wall-is-stale" in parts["cm-wall"] and "cm-wall-is-sim" in parts["cm-wall"]
    stale = str(parts["cm-wall-stale"])
    assert "STALE" in stale and "JGB 30Y" in stale and "UST 10Y" in stale
    status = str(parts["cm-wall-status"])
    assert "SIMULATED" in status and "data-clock" in status and "cm-wall-updated" in status


def test_fresh_data_is_not_stale(web):
    from callbacks.wall import wall_view

    _app, store, service = web
    _history(store, end=dt.date.today().isoformat())
    parts = _parts(wall_view(service.current, _no_store_error, 1, None, DEFAULT))
    assert "cm-wall-is-stale" not in parts["cm-wall"] and parts["cm-wall-stale"] == []
    assert "LIVE" in str(parts["cm-wall-status"])


def test_url_params_parse_and_bad_ones_fall_back_with_a_notice():
    from components.wall import parse_query

    assert parse_query({}) == (DEFAULT, [])
    cfg, notices = parse_query({"panels": "tiles,curves,alerts", "rotate": "20"})
    assert cfg == {"panels": ["tiles", "curves", "alerts"], "rotate": 20, "asof": None} and notices == []
    cfg, notices = parse_query({"panels": "curves,bogus,curves", "rotate": "abc", "color": "red"})
    assert cfg == {"panels": ["curves"], "rotate": 0, "asof": None}
    text = "; ".join(notices)
    assert "bogus" in text and "rotate" in text and "color" in text
    cfg, notices = parse_query({"panels": "nope", "rotate": "2"})
    assert cfg == {"panels": ["tiles"], "rotate": 5, "asof": None} and len(notices) == 2
    cfg, notices = parse_query({"rotate": "-3"})
    assert cfg == DEFAULT and "rotate" in notices[0]
    cfg, notices = parse_query({"asof": "2026-01-20"})
    assert cfg == {**DEFAULT, "asof": "2026-01-20"} and notices == []
    cfg, notices = parse_query({"asof": "20/01/2026", "tz": "mars"})
    assert cfg == DEFAULT and "asof" in notices[0] and "tz" in notices[1]


def test_layout_renders_at_once_and_shows_the_notice(web):
    from components.wall import WALL_ROTATE, layout

    _app, store, service = web
    _history(store)
    page = layout(service.current(), None, panels="tiles,bogus", rotate="x")
    text = str(page)
    assert "cm-url-notice" in text and "bogus" in text and "tile-jgb_30y" in text
    rot = _find(page, WALL_ROTATE)
    assert rot.disabled is True
    page = layout(service.current(), None, panels="tiles,alerts", rotate="20")
    rot = _find(page, WALL_ROTATE)
    assert rot.disabled is False and rot.interval == 20000 and "cm-url-notice" not in str(page)


def test_layout_tag_matches_the_first_refresh(web):
    """The layout already shows the current snapshot: the first interval tick sends nothing."""
    from callbacks.wall import wall_view
    from components.wall import WALL_CONFIG, WALL_TAG, layout

    _app, store, service = web
    _history(store)
    page = layout(service.current(), None)
    tag, cfg = _find(page, WALL_TAG).data, _find(page, WALL_CONFIG).data
    assert wall_view(service.current, _no_store_error, 0, tag, cfg) == (no_update,) * 8


def test_a_damaged_config_store_falls_back_to_defaults(web):
    from callbacks.wall import wall_view

    _app, store, service = web
    _history(store)
    parts = _parts(wall_view(service.current, _no_store_error, 1, None, None))
    assert len(parts["cm-wall-tiles"]) == 8


def _find(component, target_id):
    if getattr(component, "id", None) == target_id:
        return component
    children = getattr(component, "children", None)
    if children is None:
        return None
    for child in children if isinstance(children, (list, tuple)) else [children]:
        found = _find(child, target_id)
        if found is not None:
            return found
    return None


def test_banner_lines_for_alerts_without_a_z():
    """Level, spread and contagion-signal alerts carry no z: their own text is shown, no fake σ."""
    from components.wall import alert_banner

    signal = {"label": "Contagion", "state": "firing", "tier": "critical", "series_id": "correlation_break:10Y",
              "value": 1.0, "statistics": {"signal": "correlation_break", "value": 0.43},
              "text": "Contagion: 10Y jp to us: 60-day correlation 0.43 vs 250-day band upper 0.40"}
    level = {"label": "USD/JPY", "state": "firing", "tier": "warning", "series_id": "usdjpy", "value": 160.2,
             "statistics": {"level": 160.2, "unit": "yen"}, "text": "USD/JPY 160.20 above 160"}
    resolved = dict(level, state="resolved", text="old")
    text = str(alert_banner([signal, level, resolved]))
    assert "CRITICAL" in text and "60-day correlation 0.43" in text and "USD/JPY 160.20 above 160" in text
    assert "σ" not in text and "old" not in text
    assert alert_banner([resolved]) == []


def _all_failing(store):
    wall = dt.datetime.now(UTC)
    for src in ("mof", "treasury", "fred", "yahoo"):
        store.record_attempt(src, wall)
        store.record_failure(src, wall, f"FetchError: network error: ConnectionError: HTTPSConnectionPool(host='{src}.example')")


def test_no_data_at_all_is_loud_not_a_green_live(web):
    from callbacks.wall import wall_view

    _app, store, service = web
    store.set_meta("mode", "live")
    _all_failing(store)
    parts = _parts(wall_view(service.current, _no_store_error, 1, None, DEFAULT))
    assert "cm-wall-is-stale" in parts["cm-wall"]                       # the red frame
    strip = str(parts["cm-wall-stale"])
    assert "NO DATA" in strip and "not flowing" in strip and "MOF: no network" in strip
    assert "example" not in strip and "HTTPSConnectionPool" not in strip   # the category, not the raw text
    status = str(parts["cm-wall-status"])
    assert "LIVE · NO DATA" in status and "cm-mode-down" in status and "cm-mode-live" not in status


def test_every_source_failing_with_old_data_says_no_feed(web):
    from callbacks.wall import wall_view

    _app, store, service = web
    _history(store, end=dt.date.today().isoformat())
    _all_failing(store)
    parts = _parts(wall_view(service.current, _no_store_error, 1, None, DEFAULT))
    assert "cm-wall-is-stale" in parts["cm-wall"]
    assert "NO FEED" in str(parts["cm-wall-stale"]) and "LIVE · NO FEED" in str(parts["cm-wall-status"])


def test_one_market_event_is_one_banner_block_with_its_members_and_the_next_events(web):
    """Three JGB tenors critical on one print: one incident, headed by the rarest 1-day move, the
    other tenors on the line under it — not three banners; the next events below, counted from
    the data clock of a pinned view."""
    from alerts.rules import load_rules
    from alerts.service import AlertService
    from analytics.types import MoveStat
    from callbacks.wall import wall_view

    _app, store, service = web
    _history(store)
    ts = dt.datetime(2026, 1, 20, 6, tzinfo=UTC)

    def stat(sid, move, z, rp):
        return MoveStat(series_id=sid, ts=ts, kind="daily", horizon=1, move=move, unit="bp",
                        sigma={"w60": move / z}, z={"w60": z}, window_end=ts - dt.timedelta(days=1),
                        rarity_share=0.0003, return_period_years=rp, normal_equiv_sigma=3.6, n_history=6000,
                        source="mof")
    AlertService(store, load_rules(universe=UNIVERSE), [], UNIVERSE).run(
        [stat("jgb_20y", 15.1, 8.2, 6.0), stat("jgb_30y", 20.3, 7.63, 12.7), stat("jgb_40y", 18.0, 7.9, 9.0)],
        {}, {}, ts)
    parts = _parts(wall_view(service.current, _no_store_error, 1, None, {**DEFAULT, "asof": "2026-01-20"}))
    blocks = [b for b in parts["cm-wall-alert"] if _id(b) == "cm-wall-critical"]
    assert len(blocks) == 1
    text = json.dumps(blocks[0], ensure_ascii=False)
    assert "JGB 30Y +20.3 bp, 7.6σ" in text                      # rarest, not the biggest z (20Y 8.2σ)
    assert "+ JGB 40Y +18.0 bp, 7.9σ · JGB 20Y +15.1 bp, 8.2σ · 3 alerts" in text   # by rarity: 9 y, 6 y
    events = next(b for b in parts["cm-wall-alert"] if _id(b) == "cm-wall-events")
    shown = json.dumps(events, ensure_ascii=False)
    assert "BOJ policy decision (MPM 22–23 Jan" in shown and "in 2 d" in shown
