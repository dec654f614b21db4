"""components/overview.py draws a view-model and decides nothing: hand-made TileView / FeedItem /
CurveView in, the words, classes, links and figures a trader sees out."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from components import overview as ov
from tests.layout import find, text
from views.overview import CurveTrace, CurveView, FeedItem, OverviewView, QuoteView, TileView

ROOT = Path(__file__).resolve().parents[3]
T = TileView(id="jgb_30y", label="JGB 30Y", kind="yield", unit="bp", value=3.765, change=20.3,
             as_of_ms=1_768_867_200_000, freq="D", source="mof", stale_after_s=172800.0, stat_kind="daily",
             z60=7.6, period_years=13.0, largest="largest one-day rise on record (series since 1999-09-02)",
             tier="critical", spark_x=("2026-01-19", "2026-01-20"), spark_y=(3.562, 3.765), digest="x")


def test_a_tile_says_value_move_z_rarity_tier_age_and_links_to_its_series():
    t = ov.tile(T)
    shown = text(t)
    assert t.href == "/series/jgb_30y" and t.id == "ov-tile-jgb_30y"
    assert '"3.765%"' in shown and "+20.3 bp" in shown and "+7.6σ" in shown and "1 in 13.0 years" in shown
    assert "cm-tier-critical" in shown and "CRITICAL" in shown and "largest one-day rise" in shown
    assert '"data-asof": 1768867200000' in shown and "cm-ov-stale" not in shown
    spark = next(c for c in t.children.children if getattr(c, "className", "") == "cm-ov-spark")
    assert spark.figure["data"][0]["y"] == [3.562, 3.765]


def test_stale_no_data_intraday_pinned_and_quote_tiles():
    from dataclasses import replace

    assert "STALE" in text(ov.tile(replace(T, stale=True))) and "cm-ov-stale" in text(ov.tile(replace(T, stale=True)))
    empty = text(ov.tile(TileView(id="ust_10y", label="UST 10Y", kind="yield", unit="bp")))
    assert "NO DATA" in empty and "no history yet" in empty and "cm-tier" not in empty
    assert "z60 (intraday)" in text(ov.tile(replace(T, stat_kind="intraday", period_years=None)))
    pinned = text(ov.tile(replace(T, pinned_age_s=3600.0)))
    assert "cm-pinned-age" in pinned and "data-asof" not in pinned
    q = QuoteView(id="jgb_30y_x", value=3.79, kind="yield", unit="bp", source="cnbc", move=2.5, z60=1.1,
                  as_of_ms=1_768_900_000_000, stale_after_s=600.0, tier=None)
    line = text(find(ov.tile(replace(T, quote=q)), "ov-quote-jgb_30y_x"))
    assert "exchange " in line and '"3.790%"' in line and "+2.5 bp" in line and "1768900000000" in line
    assert "not in the universe" in text(ov.tile(TileView(id="nope", label="nope", missing=True)))


def test_feed_links_each_alert_to_its_permalink_and_curves_draw_their_traces():
    at = dt.datetime(2026, 1, 21, 1, 0, tzinfo=dt.UTC)
    items = (FeedItem("jgb_curve_z:jgb_30y", 3, at, "critical", "firing", "fired", "JGB 30Y +20.3 bp = 7.6σ"),)
    f = ov.feed(items)
    link = f.children.children[0].children[1]
    assert link.href == "/alerts?alert=jgb_curve_z%3Ajgb_30y" and link.children == "JGB 30Y +20.3 bp = 7.6σ"
    assert "No alerts yet." in text(ov.feed(()))
    c = CurveView("JGB", tenors=("10Y", "30Y"), traces=tuple(
        CurveTrace(k, (1.0, 3.7), (("2026-01-20", None if k == "now" else 1.0),) * 2, f"{k} (2026-01-20)")
        for k in ("1M", "1W", "1D", "now")))
    fig = ov.curve_figure(c)
    assert [t["name"].split()[0] for t in fig["data"]] == ["1M", "1W", "1D", "now"] and fig["data"][3]["x"] == ["10Y", "30Y"]
    assert fig["layout"]["template"]["layout"]["paper_bgcolor"] == "rgb(17,17,17)"   # the dark theme, as go.Figure had it
    ops = ov.curve_patch(c).to_plotly_json()["operations"]
    assert {tuple(o["location"]) for o in ops} >= {("data", 3, "y"), ("data", 0, "customdata")}
    assert "No UST curve yet" in ov.curve_figure(CurveView("UST"))["layout"]["annotations"][0]["text"]


def test_the_pinned_banner_and_the_page_frame():
    view = OverviewView(tiles=(T,), curves=(CurveView("JGB"), CurveView("UST")), note="n", feed=(), feed_digest="f",
                        pinned=dt.date(2026, 1, 20), pinned_at=dt.datetime(2026, 1, 21, 4, 59, tzinfo=dt.UTC),
                        pin_notes=("intraday bars are not part of a pinned view",))
    banner = text(ov.pinned_banner(view))
    assert "PINNED to 2026-01-20" in banner and "2026-01-21 04:59 UTC" in banner
    page = ov.page(view, {"tiles": [], "JGB": {}, "UST": {}, "feed": None}, (None, None, None), notices=[], asof=None)
    for gid in (ov.OV_CURVE_JGB, ov.OV_CURVE_UST):
        cfg = find(page, gid).config
        assert cfg["displaylogo"] is False and cfg["toImageButtonOptions"]["format"] == "png"
    assert find(page, ov.OV_TAG).data == view.tag()


def test_ui_code_does_no_statistics_and_no_snapshot_reading():
    for rel in ("components/overview.py", "callbacks/overview.py", "components/series.py", "callbacks/series.py",
                "components/figures.py"):
        src = (ROOT / rel).read_text()
        for banned in ("yfinance", "apscheduler", "statsmodels", ".rolling(", ".ewm(", "compute_move_stats",
                       "compute_contagion", ".std(", ".var(", "sigma_history", "zscores("):
            assert banned not in src, f"{rel} uses {banned}"
    src = (ROOT / "components/overview.py").read_text()
    for banned in ("move_frame", "web.state", "from web", ".get(\"tier\")", "stat_from_row", "alerts.text"):
        assert banned not in src, f"components/overview.py reads the snapshot itself: {banned}"
