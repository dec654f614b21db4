"""The Series page on a real SQLite store holding the real MOF JGB curve to 2026-01-20: σ bands of
the chosen window, the histogram with today's move marked, rarity, the alert history, URL state
(a link reproduces the view; `asof` reproduces a past day), bad parameters and unknown series."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from dash import no_update

from config import Settings
from views.snapshot import SnapshotService
from tests.unit.realjgb import NOW, UNIVERSE, add_closes, copy_store, find, seed

DEFAULT = ("60", "1", 3, None, "1y")


@pytest.fixture(scope="module")
def store(market_dir, tmp_path_factory):
    st = seed(tmp_path_factory.mktemp("series") / "se.db", market_dir)
    yield st
    st.dispose()


def _service(store):
    import app as app_module

    service = SnapshotService(store, UNIVERSE, check_every=3600)
    app_module.create_app(Settings(), service)
    return service


@pytest.fixture(scope="module")
def web(store):
    return _service(store)


def _view(service, series_id="jgb_30y", window="60", horizon="1", threshold=3, asof=None, range_="1y", tag=None):
    from callbacks.series import OUTPUTS, series_view

    out = series_view(service.current, 1, window, horizon, threshold, asof, range_, series_id, tag)
    return dict(zip(OUTPUTS + ("tag",), out))


def _trace(fig, name_start):
    """The trace named exactly so, else the first whose name starts so."""
    exact = [t for t in fig.data if t.name == name_start]
    return exact[0] if exact else next(t for t in fig.data if (t.name or "").startswith(name_start))


def _hist(service, series_id="jgb_30y", horizon=1) -> pd.DataFrame:
    h = service.current().moves.history(series_id)
    return h[h.horizon == horizon].reset_index(drop=True)


def test_latest_view_numbers_match_the_brief(web):
    v = _view(web)
    stats, rarity = str(v["stats"]), str(v["rarity"])
    assert "1-day move to 2026-01-20" in stats and "+20.3 bp" in stats
    assert find(v["stats"], "se-z").children == "+7.6σ"
    for est, z in (("w250", "+5.6σ"), ("ewma", "+5.7σ"), ("mad250", "+8.4σ")):
        assert z in str(find(v["stats"], f"se-z-{est}"))
    # On the declared base (since 2000): 2 larger moves in 6,382 → about once in 13.0 years.
    assert find(v["rarity"], "se-period").children == "1 in 13.0 years"
    assert "largest one-day rise on record (series since 1999-09-02)" in str(find(v["rarity"], "se-largest"))
    assert "largest move of either sign since 2016-03-08" in str(find(v["rarity"], "se-largest"))
    assert find(v["rarity"], "se-neq").children == "3.6σ"
    assert "6,382 past 1-day moves" in rarity
    src = str(v["source"])
    assert "mof" in src and "2026-01-20 06:00 UTC" in src and "no fallback" in src and "STALE" not in src


def test_histogram_marks_todays_move_and_the_band(web):
    v = _view(web, window="250", threshold=4)
    fig = v["hist"]
    shapes = {s.name: s for s in fig.layout.shapes}
    assert shapes["today"].x0 == pytest.approx(20.3) and shapes["today"].x1 == pytest.approx(20.3)
    assert "2026-01-20 +20.3 bp" in fig.layout.annotations[0].text
    past = np.asarray(fig.data[0].x)
    assert len(past) == 6461 and np.nanmax(np.abs(past)) == pytest.approx(26.8, abs=0.05)   # 2013-04-04
    assert fig.layout.xaxis.range[1] > 20.3                  # today's line is inside the view
    h = _hist(web)
    last = h.iloc[-1]
    assert shapes["band-hi"].x0 == pytest.approx(last.mu_w250 + 4 * last.sigma_w250)
    assert shapes["band-lo"].x0 == pytest.approx(last.mu_w250 - 4 * last.sigma_w250)
    assert fig.layout.yaxis.type == "log"


@pytest.mark.parametrize("window,est", [("60", "w60"), ("250", "w250"), ("ewma", "ewma"), ("mad250", "mad250")])
def test_sigma_bands_use_the_chosen_window(web, window, est):
    v = _view(web, window=window, threshold=3)
    fig = v["history"]
    h = _hist(web)
    h = h[h.ts >= h.ts.iloc[-1] - pd.DateOffset(years=1)]
    upper = _trace(fig, "band upper")
    lower = _trace(fig, "μ ± 3σ")
    assert len(upper.y) == len(h)                           # one year: not thinned
    np.testing.assert_allclose(upper.y, h[f"mu_{est}"] + 3 * h[f"sigma_{est}"])
    np.testing.assert_allclose(lower.y, h[f"mu_{est}"] - 3 * h[f"sigma_{est}"])
    moves = _trace(fig, "1-day move")
    assert moves.y[-1] == pytest.approx(20.3) and str(moves.x[-1])[:10] == "2026-01-20"
    breach = _trace(fig, "|z| ≥ 3")
    assert breach.y[-1] == pytest.approx(20.3)            # the move of the day breaks every band
    closes = _trace(fig, "close")
    assert closes.y[-1] == pytest.approx(3.765) and closes.y[-2] == pytest.approx(3.562)
    # level band around the previous close: 3.562% ⊕ (μ ± 3σ) bp
    lv = _trace(fig, "close 1d before")
    assert lv.y[-1] == pytest.approx(3.562 + (h[f"mu_{est}"].iloc[-1] - 3 * h[f"sigma_{est}"].iloc[-1]) / 100)
    assert fig.layout.xaxis.range[1] >= "2026-01-20" and fig.layout.xaxis.range[0] <= "2025-01-20"


def test_two_day_horizon_and_long_range_are_thinned_for_the_browser(web):
    v = _view(web, window="250", horizon="2", threshold=4, range_="all")
    fig = v["history"]
    moves = _trace(fig, "2-day move")
    assert len(moves.y) <= 3100 and moves.y[-1] == pytest.approx(30.3)
    assert "thinned" in str(v["note"])
    # σ of 2-day moves from the variance ratio of the last 500 days (not √2 × the 1-day σ):
    # 5.6 on w250; "six sigma over two days" holds on the 60-day window (7.6).
    assert find(v["stats"], "se-z").children == "+5.6σ"
    assert "+30.3 bp" in str(v["stats"])
    # every band breach survives the thinning
    h = _hist(web, horizon=2)
    assert len(_trace(fig, "|z| ≥ 4").y) == int((h.z_w250.abs() >= 4).sum())
    assert fig.layout.xaxis.range[0] < "2000-01-01"


def test_asof_reproduces_the_2026_01_20_view_after_newer_data(web, store, market_dir, tmp_path):
    before = _view(web, window="250", horizon="1", threshold=4, range_="3y")
    copy = copy_store(store, tmp_path / "later.db")
    try:
        add_closes(copy, market_dir, "2026-01-21", NOW + dt.timedelta(days=1))
        add_closes(copy, market_dir, "2026-01-22", NOW + dt.timedelta(days=2))
        later = _service(copy)
        latest = _view(later, window="250", threshold=4, range_="3y")
        assert "2026-01-22" in str(latest["stats"])
        past = _view(later, window="250", threshold=4, asof="2026-01-20", range_="3y")
    finally:
        copy.dispose()
    # same numbers: move, z, rarity (recomputed for the past day = the snapshot's figures that day)
    for pid in ("se-move", "se-z", "se-z-w60", "se-z-ewma"):
        assert str(find(past["stats"], pid)) == str(find(before["stats"], pid))
    for pid in ("se-period", "se-share", "se-neq"):
        assert find(past["rarity"], pid).children == find(before["rarity"], pid).children
    # same figures: data, bands and ranges
    for key in ("history", "hist"):
        a, b = before[key], past[key]
        assert a.layout.xaxis.range == b.layout.xaxis.range
        assert len(a.data) == len(b.data)
        for ta, tb in zip(a.data, b.data):
            assert ta.name == tb.name
            np.testing.assert_allclose(np.asarray(ta.y if ta.y is not None else ta.x, dtype=float),
                                       np.asarray(tb.y if tb.y is not None else tb.x, dtype=float), atol=1e-9)
    assert [s.x0 for s in before["hist"].layout.shapes] == [s.x0 for s in past["hist"].layout.shapes]
    # the alert log of the past view stops at the viewed day
    assert "2026-01-21" not in str(past["alerts"]) and "2026-01-22" not in str(past["alerts"])
    copy.dispose()


def test_asof_before_any_data_falls_back_with_a_notice(web):
    v = _view(web, asof="1990-01-01")
    assert "before the first" in str(v["note"]) and "+20.3 bp" in str(v["stats"])


def test_alert_history_lists_the_series_events_with_permalinks(web):
    v = _view(web)
    items = v["alerts"].children[0].children
    assert items and all("JGB 30Y" in str(i) for i in items)
    links = [i.children[3] for i in items]
    assert all(link.href.startswith("/alerts?alert=") and "jgb_30y" in link.href for link in links)
    assert any("+20.3 bp = 7.6σ" in str(link.children) for link in links)
    other = _view(web, series_id="jgb_5y")
    assert "No alerts for this series" in str(other["alerts"])


def test_refresh_without_change_gives_no_update_and_a_tick_reuses_the_cache(web, store):
    from components import series as se

    first = _view(web)
    assert _view(web, tag=first["tag"]) == {k: no_update for k in first}
    misses = se._VIEWS.misses, se._HISTORY.misses
    # a new snapshot revision without new daily data (a source reported in): nothing recomputed
    store.record_attempt("mof", dt.datetime.now(dt.UTC))
    web.refresh()
    again = _view(web, tag=first["tag"])
    assert (se._VIEWS.misses, se._HISTORY.misses) == misses
    assert again["history"] is no_update and again["hist"] is no_update
    # changing a control rebuilds the figures
    other = _view(web, window="250", threshold=3.5, tag=first["tag"])
    assert other["history"] is not no_update and se._VIEWS.misses == misses[0] + 1


def test_url_round_trip_restores_the_controls(web):
    from callbacks.series import url_search
    from components import series as se

    search = url_search("250", "2", 4, "2026-01-20", "all")
    assert search == "?asof=2026-01-20&horizon=2&range=all&threshold=4&window=250"
    assert url_search(*DEFAULT) == ""
    query = dict(pair.split("=") for pair in search[1:].split("&"))
    page = se.layout(web.current(), "jgb_30y", **query)
    assert find(page, se.SE_WINDOW).value == "250" and find(page, se.SE_HORIZON).value == "2"
    assert find(page, se.SE_THRESHOLD).value == 4.0 and find(page, se.SE_RANGE).value == "all"
    assert find(page, se.SE_ASOF).value == "2026-01-20"
    assert find(page, se.SE_NOTICE).children is None and find(page, se.SE_SERIES).data == "jgb_30y"


def test_bad_parameters_give_a_notice_and_defaults(web):
    from components import series as se

    page = se.layout(web.current(), "jgb_30y", window="7", horizon="3", threshold="99", asof="yesterday", range="5y", x="1")
    notice = str(find(page, se.SE_NOTICE).children)
    for needle in ("window='7'", "horizon='3'", "threshold='99'", "asof='yesterday'", "range='5y'", "'x'"):
        assert needle in notice
    assert find(page, se.SE_WINDOW).value == "60" and find(page, se.SE_HORIZON).value == "1"
    assert find(page, se.SE_THRESHOLD).value == 3.0 and find(page, se.SE_RANGE).value == "1y"
    assert find(page, se.SE_ASOF).value is None
    # a control left empty or out of range in the browser falls back too (never an error)
    v = _view(web, threshold=None, window="bogus", horizon=None, asof="not-a-date", range_=None)
    assert find(v["stats"], "se-z").children == "+7.6σ"


def test_unknown_series_renders_a_notice_never_an_error(web):
    from components import series as se

    page = se.layout(web.current(), "not_a_series")
    assert "unknown series 'not_a_series'" in str(find(page, se.SE_NOTICE).children)
    assert find(page, se.SE_SERIES).data is None
    v = _view(web, series_id=None)
    assert "Unknown series" in v["history"].layout.annotations[0].text
    client = __import__("app").create_app(Settings(), web).server.test_client()
    for path in ("/series/not_a_series", "/series/jgb_30y?window=7&threshold=abc&asof=2026-13-45",
                 "/series/ust_10y", "/series/jgb_30y?window=250&horizon=2&threshold=4"):
        assert client.get(path).status_code == 200


def test_series_without_data_shows_empty_figures(web):
    v = _view(web, series_id="ust_10y")
    assert "No daily history" in v["history"].layout.annotations[0].text
    assert "No move statistics" in str(v["stats"])


def test_graphs_download_png(web):
    from components import series as se

    page = se.layout(web.current(), "jgb_30y")
    for gid in (se.SE_HISTORY, se.SE_HIST):
        cfg = find(page, gid).config
        assert cfg["displaylogo"] is False and cfg["toImageButtonOptions"]["format"] == "png"


def test_calendar_events_are_marked_on_the_history(web):
    """Every events.toml entry in the shown window is a dotted line; its label (alone, or merged
    with the events just after it: "auction+2") hovers to the label and source; none outside it.
    Seed data ends 2026-01-20 → 1y window 2025-01…2026-01."""
    v = _view(web)
    fig = v["history"]
    events = web.current().events
    assert events, "events.toml ships entries"
    xr = [pd.Timestamp(x) for x in fig.layout.xaxis.range]
    shown = [e for e in events if xr[0] <= pd.Timestamp(e.instant_utc).tz_convert("Asia/Tokyo").tz_localize(None) <= xr[1]]
    marks = [a for a in fig.layout.annotations if (a.name or "").startswith("event:")]
    hovers = [a.hovertext for a in marks]
    for e in shown:                                   # each event listed by exactly one label
        assert sum(e.label in h for h in hovers) == 1, e.label
    assert sum(h.count("source: ") for h in hovers) == len(shown)
    assert any("JGB 20Y auction (No. 195)" in h for h in hovers)       # the day of the 30Y +20.3 bp
    auction = next(a for a in marks if "20Y auction" in a.hovertext)
    # 01-20 is 14 days after the 01-06 cluster (11 days = 3 % of the range): a label of its own,
    # which the BOJ decision three days later joins.
    assert auction.text == "auction+1" and "BOJ policy decision (MPM 22–23 Jan" in auction.hovertext
    assert pd.Timestamp(auction.x).date().isoformat() == "2026-01-20"
    lines = [s for s in fig.layout.shapes if s.line.dash == "dot"]
    assert len(lines) == len(shown) > len(marks)      # one line per event; the early-January three share a label


def test_a_pinned_views_history_never_reaches_a_live_view_with_the_same_last_close():
    """A pinned view reads the WHOLE table's history (its readers cut it at the pin); a live view
    whose newest close has the same statistics must not be handed that history from the cache
    (found as an Overview sparkline ending in later closes after a pinned test ran)."""
    from types import SimpleNamespace

    from components.series import _KEEP, series_history

    def frame(last: str):
        return pd.DataFrame({"series_id": ["jgb_77y"], "kind": ["daily"], "horizon": [1], "ts": [pd.Timestamp(last)],
                             "n_history": [500], "move": [20.3], "z_w60": [7.6]})

    def history(values):
        h = pd.DataFrame({c: 0.0 for c in _KEEP}, index=range(len(values)))
        h["value"], h["ts"], h["horizon"], h["unit"], h["quality"] = values, range(len(values)), 1, "bp", "ok"
        return lambda sid: h

    live_moves = SimpleNamespace(frame=frame("2026-01-20"), history=history([3.562, 3.765]))
    full = SimpleNamespace(frame=frame("2026-02-27"), history=history([3.562, 3.765, 3.52]))
    pinned = SimpleNamespace(move_frame=lambda: frame("2026-01-20"),
                             moves=SimpleNamespace(full=full, frame=frame("2026-01-20"), history=full.history))
    live = SimpleNamespace(move_frame=lambda: live_moves.frame, moves=live_moves)
    assert list(series_history(pinned, "jgb_77y").by_h[1]["value"]) == [3.562, 3.765, 3.52]
    assert list(series_history(live, "jgb_77y").by_h[1]["value"]) == [3.562, 3.765]
