"""The Contagion page on a real SQLite store filled from the publishers' real files (MOF JGB
curve, FRED/Treasury UST, FRED USD/JPY) as they stood on 2026-01-21 06:00 UTC: figures carry
both clock alignments with their bands, spillover bars, the attribution sentence, and the
risk-parity calculator reproduces Citi's $130bn from its preset."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from dash import no_update

from universe import load_universe
from tests.webapp import app_on_closes
from tests.layout import find  # noqa: F401  (other test modules import it from here)

UNIVERSE = load_universe()
UTC = dt.timezone.utc
CUT = pd.Timestamp("2026-01-21 06:00", tz="UTC")    # what had been published by then




@pytest.fixture(scope="module")
def web(market_dir, tmp_path_factory):
    with app_on_closes(market_dir, tmp_path_factory.mktemp("contagion") / "c.db", CUT, since="2017-01-01") as web_:
        yield web_[:2]


def test_snapshot_is_real(web):
    _app, service = web
    c = service.current().contagion
    assert c is not None and c.asof == dt.date(2026, 1, 20)
    assert c.attribution is not None and c.spillover_latest is not None and len(c.spillover) > 400


def test_panels_render_from_snapshot_and_skip_unchanged(web):
    from callbacks.contagion import contagion_view

    _app, service = web
    c = service.current().contagion
    out = contagion_view(service.current, 1, None, None)
    asof, heat, total, net, pairwise, table, attribution, signals, spreads, hedged, _notes, tag = out
    assert "2026-01-20" in asof
    # Heatmap: the 60-day correlation matrix of the five series under both clock alignments,
    # side by side and labelled (which close pairs with which, and the 60 days it covers).
    assert [t.name for t in heat.data] == ["Japan→US", "US→Japan"]
    z = heat.data[0].z
    assert list(heat.data[0].x) == ["JGB 10Y", "JGB 30Y", "UST 10Y", "UST 30Y", "USD/JPY"]
    assert z[0][2] == pytest.approx(c.corr60.loc["jgb_10y", "ust_10y"]) and z[1][1] == pytest.approx(1.0)
    m_us, first, last = c.corr60_by["us_to_jp"]
    assert heat.data[1].z[0][2] == pytest.approx(m_us.loc["jgb_10y", "ust_10y"])
    titles = [a.text for a in heat.layout.annotations]
    assert "Japan→US: JGB_t with UST_t" in titles[0] and "US→Japan: UST_{t−1} with JGB_t" in titles[1]
    assert f"{first:%Y-%m-%d} … {last:%Y-%m-%d}" in titles[1]
    # Spillover: two years of the total index; TO / FROM / NET bars for the five series.
    assert len(total.data[0].y) == len(c.spillover["total"].dropna()) > 400
    assert [t.name for t in net.data] == ["TO others", "FROM others", "NET (TO − FROM)"]
    assert list(net.data[2].x) == ["JGB 10Y", "JGB 30Y", "UST 10Y", "UST 30Y", "USD/JPY"]
    assert list(net.data[2].y) == pytest.approx(list(c.spillover_latest.net))
    assert "predictive" in net.layout.title.text
    assert pairwise.data[0].z.shape == (5, 5)
    assert "TO" in str(table) and "NET" in str(table) and f"total {c.spillover_latest.total:.1f}%" in str(table)
    # Attribution: the sentence and its numbers.
    text = str(attribution)
    assert "UST 10Y moved +6.0 bp on 2026-01-20" in text and "explained by the overnight JGB 10Y move" in text
    assert c.attribution.text() in text and "not proof of causation" in text
    # Signals, spreads, hedged yield.
    assert "Correlation break" in str(signals) and "Spillover jump" in str(signals) and \
        "Hedged pickup flip" in str(signals)
    for name in ("JGB 2s10s", "UST 10s30s", "JGB 30s40s", "UST − JGB 10Y", "UST − JGB 30Y"):
        assert name in str(spreads)
    assert "143.5" in str(spreads) and "+13.9" in str(spreads)     # JGB 10s30s on 2026-01-20: 143.5 bp, +13.9
    assert {t.name for t in hedged.data} >= {"UST 10Y FX-hedged (yen investor)", "JGB 10Y"}
    # Unchanged snapshot: nothing is re-sent.
    assert contagion_view(service.current, 2, None, tag) == (no_update,) * 12


@pytest.mark.parametrize("pair", ["10Y", "30Y", "USDJPY"])
def test_rolling_figure_has_both_alignments_bands_and_ewma(web, pair):
    from callbacks.contagion import rolling_view

    _app, service = web
    c = service.current().contagion
    for window in ("60", "250"):
        fig, beta = rolling_view(service.current, pair, window, "tag")
        names = [t.name for t in fig.data]
        for lab in ("Japan→US", "US→Japan"):
            assert f"{lab} ρ{window}" in names
            assert f"{lab} {window}d 95% band (Fisher z)" in names
            assert f"{lab} EWMA (λ 0.94)" in names
        band = next(t for t in fig.data if t.name == f"Japan→US {window}d 95% band (Fisher z)")
        assert band.fill == "tonexty"
        rho = next(t for t in fig.data if t.name == f"US→Japan ρ{window}")
        last = c.rolling[(pair, "us_to_jp")][f"rho{window}"].dropna()
        assert rho.y[-1] == pytest.approx(last.iloc[-1])
        assert "not causal" in fig.layout.title.text
        assert {t.name for t in beta.data} == {"Japan→US β (250d)", "US→Japan β (250d)"}
    # A bad pair (e.g. from a hand-edited request) falls back to the default pair.
    fig, _ = rolling_view(service.current, "5Y", "999", None)
    assert "JGB 10Y · UST 10Y" in fig.layout.title.text


def test_riskparity_citi_preset_gives_130bn_and_inputs_change_it(web):
    from callbacks.contagion import preset_outputs, riskparity_view
    from components.contagion import CG_PRESET, CG_RESET_FUND

    _app, service = web

    aum, tvol, bonds, lev, shock, scope, corr = preset_outputs({"type": CG_PRESET, "name": "citi_130bn"})
    assert (aum, tvol, bonds, lev, shock, scope, corr) == (200.0, 10.0, 65.0, 4.0, 1.5, "all", None)
    result, live, scenarios = riskparity_view(service.current, aum, tvol, bonds, lev, shock, scope, corr, None)
    assert "$129.7bn" in str(result) and "33.3%" in str(result)
    assert "citi_130bn" in str(scenarios) and "$129.7bn" in str(scenarios)
    # The live estimate comes from realized UST vol in the snapshot (10d vs 60d, 2026-01-20).
    assert "UST 10d/60d vol" in str(live) and "as of 2026-01-20" in str(live) and "On your fund" in str(live)
    # …its window choice, and what the other reasonable windows would have said.
    assert "Window: 10 days against 60" in str(live)
    w = web[1].current().contagion.riskparity_windows          # default fund = the snapshot's
    lo, hi = w["cut"].min(), w["cut"].max()
    assert (f"Across 5–20-day × 60–250-day windows: from {abs(lo):.1%} {'cut' if lo >= 0 else 're-levering'} "
            f"to {abs(hi):.1%} {'cut' if hi >= 0 else 're-levering'}") in str(live)
    assert "cg-rp-range-grid" in str(live)
    # Editing inputs changes the answer: twice the AUM sells twice the bonds; bonds-only shock less.
    doubled, _l, _s = riskparity_view(service.current, 400, tvol, bonds, lev, shock, scope, corr, None)
    assert "$259.4bn" in str(doubled)
    bonds_only, _l, _s = riskparity_view(service.current, aum, tvol, bonds, lev, shock, "bonds", corr, None)
    assert "$63.3bn" in str(bonds_only)
    corr_up, _l, _s = riskparity_view(service.current, aum, tvol, bonds, lev, 1.0, "all", 0.5, None)
    assert "$68.6bn" in str(corr_up)                     # the correlation_to_0.5 preset
    capped, _l, _s = riskparity_view(service.current, aum, tvol, bonds, 2.0, shock, scope, corr, None)
    assert "(cap)" in str(capped) and "cg-rp-capped" not in str(capped)   # the cap binds only after
    never, _l, _s = riskparity_view(service.current, aum, 12, 60, 3, 1.25, "bonds", corr, None)
    assert "$0.0bn" in str(never) and "cap binds before and after" in str(never)
    bad, _live, _s = riskparity_view(service.current, None, tvol, bonds, lev, shock, scope, corr, None)
    assert "Cannot compute" in str(bad) and "aum" in str(bad)
    assert preset_outputs(CG_RESET_FUND)[:4] == (200.0, 10.0, 65.0, 4.0)
    assert preset_outputs({"type": CG_PRESET, "name": "bond_vol_x1.25"})[4:] == (1.25, "bonds", None)


def test_url_state_round_trip_and_bad_params_fall_back(web):
    from callbacks.contagion import url_search
    from components import contagion as cg

    page = cg.layout(pair="30Y", window="250", aum="300", tvol="12", bonds="60", lev="3", shock="1.25",
                     scope="bonds", corr="0.4")
    assert find(page, cg.CG_PAIR).value == "30Y" and find(page, cg.CG_WINDOW).value == "250"
    assert find(page, cg.CG_AUM).value == 300 and find(page, cg.CG_SHOCK).value == 1.25
    assert find(page, cg.CG_SCOPE).value == "bonds" and find(page, cg.CG_CORR).value == 0.4
    assert find(page, cg.CG_NOTICE).children is None
    search = url_search("30Y", "250", 300, 12, 60, 3, 1.25, "bonds", 0.4)
    assert search == "?aum=300&bonds=60&corr=0.4&lev=3&pair=30Y&scope=bonds&shock=1.25&tvol=12&window=250"
    assert url_search("10Y", "60", 200, 10, 65, 4, 1.5, "all", None) == ""     # defaults: a clean link
    assert url_search("10Y", "60", None, 10, 65, 4, 1.5, "all", None) == ""    # an emptied box: default
    bad = cg.layout(pair="5Y", window="90", aum="lots", shock="-2", colour="red")
    notice = str(find(bad, cg.CG_NOTICE).children)
    for needle in ("pair='5Y'", "window='90'", "aum='lots'", "shock='-2'", "'colour'"):
        assert needle in notice
    assert find(bad, cg.CG_PAIR).value == "10Y" and find(bad, cg.CG_AUM).value == 200.0
    assert find(bad, cg.CG_SHOCK).value == 1.5


def test_page_serves_and_graphs_download_png(web):
    from components import contagion as cg

    dash_app, _service = web
    client = dash_app.server.test_client()
    for path in ("/contagion", "/contagion?pair=USDJPY&aum=1e9&x=%ZZ"):
        assert client.get(path).status_code == 200
    page = cg.layout()
    for gid in (cg.CG_HEATMAP, cg.CG_ROLLING, cg.CG_BETA, cg.CG_SPILL_TOTAL, cg.CG_SPILL_NET, cg.CG_HEDGED):
        cfg = find(page, gid).config
        assert cfg["displaylogo"] is False and cfg["toImageButtonOptions"]["format"] == "png"


def test_ui_code_does_no_statistics():
    root = Path(__file__).resolve().parents[2]
    for rel in ("components/contagion.py", "callbacks/contagion.py", "components/alerts.py", "callbacks/alerts.py"):
        src = (root / rel).read_text()
        for banned in ("yfinance", "apscheduler", "statsmodels", ".rolling(", ".ewm(", "compute_contagion",
                       "rolling_correlation", "spillover_table"):
            assert banned not in src, f"{rel} uses {banned}"


def _event_lines(fig) -> dict[str, pd.Timestamp]:
    """{"kind:date": x} of the calendar lines on a figure."""
    return {s.name[len("event:"):]: pd.Timestamp(s.x0) for s in fig.layout.shapes if (s.name or "").startswith("event:")}


def _expected(events, index, kinds=None) -> dict[str, pd.Timestamp]:
    lo, hi = index.min(), index.max()
    return {f"{e.kind}:{e.date.isoformat()}": pd.Timestamp(e.date) for e in events
            if (kinds is None or e.kind in kinds) and lo <= pd.Timestamp(e.date) <= hi}


def test_time_series_charts_mark_the_calendar_on_local_dates(web):
    """Every chart with a date axis (rolling ρ, β, total spillover, hedged yield) draws each event
    in its range on the event's own local date — the JGB 20Y auction of 2026-01-20 (a Tokyo day
    that starts 2026-01-19 15:00 UTC) on the 2026-01-20 point; the heat maps and bars draw none."""
    from callbacks.contagion import contagion_view, rolling_view

    _app, service = web
    snap = service.current()
    c = snap.contagion
    out = contagion_view(service.current, 1, None, None)
    heat, total, net, pairwise, hedged = out[1], out[2], out[3], out[4], out[9]
    fig, beta = rolling_view(service.current, "10Y", "60", out[-1])
    frames = [c.rolling[("10Y", d)] for d in ("jp_to_us", "us_to_jp")]
    for f, index in ((total, c.spillover["total"].dropna().index),
                     (hedged, c.hedged.index[c.hedged.index >= c.hedged.index.max() - pd.Timedelta(days=730)]),
                     (fig, frames[0].index.append(frames[1].index)),
                     (beta, frames[0]["beta250"].dropna().index.append(frames[1]["beta250"].dropna().index))):
        want = _expected(snap.events, index)
        assert want and _event_lines(f) == want
        assert f.layout.shapes[-1].yref == "paper"
    assert _event_lines(hedged)["jgb_auction:2026-01-20"] == pd.Timestamp("2026-01-20")
    labels = [a for a in hedged.layout.annotations if (a.name or "").startswith("event:")]
    assert sum(a.hovertext.count("source: ") for a in labels) == len(_expected(snap.events, c.hedged.index))
    assert any("JGB 20Y auction (No. 195)" in a.hovertext for a in labels)
    for f in (heat, net, pairwise):
        assert _event_lines(f) == {}


def test_event_filter_redraws_only_the_marked_charts(web):
    from callbacks.contagion import contagion_view, rolling_view, split_tag

    _app, service = web
    snap = service.current()
    c = snap.contagion
    first = contagion_view(service.current, 1, None, None)
    tag_all = first[-1]
    # The filter changes: only the spillover-total and hedged charts are sent, with CPI lines only.
    out = contagion_view(service.current, 2, ["cpi"], tag_all)
    sent = [i for i, v in enumerate(out) if v is not no_update]
    assert sent == [2, 9, 11]
    assert set(_event_lines(out[9])) == set(_expected(snap.events, c.hedged.index, {"cpi"})) != set()
    assert split_tag(out[-1])[0] == split_tag(tag_all)[0] and out[-1] != tag_all
    assert contagion_view(service.current, 3, ["cpi"], out[-1]) == (no_update,) * 12                 # unchanged: nothing
    none = contagion_view(service.current, 4, [], out[-1])
    assert _event_lines(none[2]) == {} and _event_lines(none[9]) == {}
    # The rolling charts read the filter when the tag changes.
    fig, beta = rolling_view(service.current, "30Y", "250", none[-1], [])
    assert _event_lines(fig) == {} and _event_lines(beta) == {}
    fig, _beta = rolling_view(service.current, "30Y", "250", out[-1], ["cpi", "payrolls"])
    assert {k.split(":")[0] for k in _event_lines(fig)} == {"cpi", "payrolls"}
    # A damaged tag or a hand-made filter value: the full view, or nothing — never an error.
    assert contagion_view(service.current, 5, None, "garbage")[1] is not no_update
    assert contagion_view(service.current, 6, ["coup"], tag_all) == (no_update,) * 12
    assert contagion_view(service.current, 6, {"x": 1}, tag_all) == (no_update,) * 12
    fig, _beta = rolling_view(service.current, "10Y", "60", None, ["coup"])                          # → every kind
    assert _event_lines(fig) == _event_lines(rolling_view(service.current, "10Y", "60", None, None)[0]) != {}


def test_event_filter_lives_in_the_url(web):
    from callbacks.contagion import url_search
    from components import contagion as cg
    from components.figures import EVENT_KINDS

    assert url_search("10Y", "60", 200, 10, 65, 4, 1.5, "all", None, list(EVENT_KINDS)) == ""
    assert url_search("10Y", "60", 200, 10, 65, 4, 1.5, "all", None, ["fomc", "boj"]) == "?events=boj,fomc"
    assert url_search("30Y", "60", 200, 10, 65, 4, 1.5, "all", None, []) == "?events=none&pair=30Y"
    assert url_search("10Y", "60", 200, 10, 65, 4, 1.5, "all", None, ["coup"]) is no_update
    page = cg.layout(events="boj,fomc")
    assert find(page, cg.CG_EVENTS).value == ["boj", "fomc"] and find(page, cg.CG_NOTICE).children is None
    assert find(cg.layout(events="none"), cg.CG_EVENTS).value == []
    bad = cg.layout(events="boj,coup", pair="30Y")
    assert "events='boj,coup'" in str(find(bad, cg.CG_NOTICE).children)
    assert find(bad, cg.CG_EVENTS).value == list(EVENT_KINDS) and find(bad, cg.CG_PAIR).value == "30Y"
    client = web[0].server.test_client()
    assert client.get("/contagion?events=%00,zz").status_code == 200
