"""The Yen watch page (issue 12 §2) on a store filled from the real USD/JPY file as it stood on
2026-06-30: the levels of past interventions read from the stored bars, the pace now and before
them recomputed here with pandas from the raw export, the detector's last flags, the verbal-warning
note, and refreshes that send only what changed."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from dash import no_update

from data.frame import COLUMNS
from data.interventions import load_interventions
from universe import load_universe
from views.snapshot import intervention_watch
from tests.webapp import app_on_closes
from tests.layout import find

UNIVERSE = load_universe()
CUT = pd.Timestamp("2026-06-30 06:00", tz="UTC")
FX = ("usdjpy", "usdjpy_high", "usdjpy_low")


@pytest.fixture(scope="module")
def raw(market_dir) -> pd.DataFrame:
    d = pd.read_csv(market_dir / "fx/USDJPY.csv")
    return d.assign(Date=pd.to_datetime(d["Date"])).set_index("Date")


@pytest.fixture(scope="module")
def web(market_dir, tmp_path_factory):
    with app_on_closes(market_dir, tmp_path_factory.mktemp("yen") / "y.db", CUT, since="1990-01-01", series=FX) as web_:
        yield web_


def test_the_watch_is_computed_once_with_the_daily_data_and_matches_the_raw_file(web, raw):
    _app, service, hist = web
    w = service.current().intervention
    assert w is not None and w.asof == pd.Timestamp("2026-06-26")
    # Close of record = the next bar's Open (the stale daily Close is never read).
    close = raw["Open"].shift(-1).dropna()
    assert w.level == pytest.approx(close.loc["2026-06-26"])
    assert w.pace_1w == pytest.approx(100 * np.log(close.iloc[-1] / close.iloc[-6]))
    assert w.pace_1m == pytest.approx(100 * np.log(close.iloc[-1] / close.iloc[-22]))
    past = {p["date"].date().isoformat(): p for p in w.past}
    record = load_interventions()
    assert set(past) == {iv.date.isoformat() for iv in record}
    # Yen-buying: the day's High (where MOF leaned against); yen-selling: its Low.
    assert past["2024-04-29"]["level"] == pytest.approx(raw.loc["2024-04-29", "High"])
    assert past["2011-10-31"]["level"] == pytest.approx(raw.loc["2011-10-31", "Low"])
    # The pace INTO a day ends the day before (close of record of t−1 against 21 rows earlier).
    i = close.index.get_loc(pd.Timestamp("2022-09-22"))
    assert past["2022-09-22"]["pace_1m"] == pytest.approx(100 * np.log(close.iloc[i - 1] / close.iloc[i - 22]))
    buy_1m = [p["pace_1m"] for p in w.past if p["direction"] == "buy_jpy"]
    assert w.pace_before["1m"] == pytest.approx((np.median(buy_1m), min(buy_1m), max(buy_1m)))
    # The detector's flags of the last year: the 2026-04-30 fall.
    assert [f["day"] for f in w.flags] == [pd.Timestamp("2026-04-30")] and w.flags[0]["direction"] == "yen-buying"
    # The snapshot's function over the stored rows is the one the service used.
    d = hist.assign(quality="ok")
    assert intervention_watch(d, UNIVERSE, record).past == w.past


def test_the_page_shows_level_pace_past_levels_and_what_it_cannot_see(web):
    from callbacks.intervention import tick

    _app, service, _hist = web
    content, tag = tick(service.current, 1, None)
    text = str(content)
    w = service.current().intervention
    assert f"{w.level:.2f}" in text and "Verbal warnings" in text and "cannot see them" in text
    # Within 2 % of the 2024-07-11 level (161.75): the page says so, loudly.
    near = find(content, "yen-near")
    assert near is not None and "2024-07-11" in str(near.children) and "161.75" in str(near.children)
    rows = find(content, "yen-past").children[1].children
    assert len(rows) == len(load_interventions())
    by_day = {r.children[0].children: r for r in rows}
    assert by_day["2022-10-21"].children[2].children == "¥5,620.2bn"
    assert by_day["2024-07-11"].children[2].children == "¥5,534.8bn for the 2 days"
    assert by_day["2010-09-15"].children[2].children == "not published"
    fig = find(content, "yen-chart").figure
    levels = sorted(round(s.y0, 2) for s in fig.layout.shapes if (s.name or "").startswith("level:"))
    assert levels == sorted(round(p["level"], 2) for p in w.past if p["direction"] == "buy_jpy")
    assert "SIMULATED" not in text
    assert tick(service.current, 2, tag) == (no_update, no_update)      # nothing changed: nothing sent
    assert tick(service.current, "x", tag) == (no_update, no_update)    # a hand-made input: ignored
    assert tick(service.current, 3, ["damaged"])[1] == tag              # a damaged tag: sent in full


def test_without_bars_the_page_says_what_it_waits_for(tmp_path):
    from components.intervention import yen_view
    from views.yen import YenView

    view = YenView(watch=None, live=None, live_at=None, now=pd.Timestamp("2026-06-30", tz="UTC").to_pydatetime(),
                   events=(), simulated=False, near=(), nearest=None, digest="d")
    assert "No USD/JPY daily bars" in str(yen_view(view))
    assert intervention_watch(pd.DataFrame(columns=COLUMNS), UNIVERSE, load_interventions()) is None


def test_the_page_is_served_and_in_the_menu(web):
    dash_app, _service, _hist = web
    client = dash_app.server.test_client()
    r = client.get("/yen")
    assert r.status_code == 200 and b"Contagion Monitor" in r.data
    # The first view arrives with the shell (app.first_view): the level is in the layout response.
    w = _service.current().intervention
    r = client.get("/_dash-layout", headers={"Referer": "http://localhost/yen"})
    assert r.status_code == 200 and b"yen-level" in r.data and f"{w.level:.2f}".encode() in r.data
    from components.shell import NAV

    assert ("Yen watch", "/yen") in NAV
