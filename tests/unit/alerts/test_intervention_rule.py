"""The `intervention` rule type (issue 12 §2): the possible-intervention detector as an alert of its
own, on the real USD/JPY bars, through the backtest and through the live path (replay source →
gate → store → alert pipeline), as `python app.py --replay` runs it."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from alerts.backtest import run_backtest
from alerts.engine import Intervention, RuleInput, State, evaluate
from alerts.intervention import daily_detected, daily_reading, intraday_reading, latest_daily_reading
from alerts.rules import load_rules
from alerts.store import AlertStore
from analytics.intervention import daily_from_export, days_from_series, detect_daily
from data.store import Store
from universe import load_universe

UNIVERSE = load_universe()
RULES = load_rules(universe=UNIVERSE)
DAILY = RULES.get("usdjpy_intervention")
INTRA = RULES.get("usdjpy_intervention_intraday")
UTC = dt.timezone.utc
NAMED = ("2022-09-22", "2022-10-21", "2024-04-29", "2024-07-11")


@pytest.fixture(scope="module")
def history(market_dir):
    from data.sources.replay import load_history

    return load_history(market_dir, UNIVERSE, references=True)


@pytest.fixture(scope="module")
def export(market_dir) -> pd.DataFrame:
    return pd.read_csv(market_dir / "fx/USDJPY.csv")


def test_stored_close_high_and_low_rebuild_the_files_bars(history, export):
    """The three stored series (close of record = next bar's Open, High, Low) give the same days
    as the raw export read directly with pandas."""
    d = history[history["freq"] == "D"]
    days = days_from_series(*(d[d.series_id == s] for s in ("usdjpy", "usdjpy_high", "usdjpy_low")))
    raw = export.assign(Date=pd.to_datetime(export["Date"])).set_index("Date")
    common = days.index.intersection(raw.index)
    assert len(common) == len(raw) > 7000
    assert np.allclose(days.loc[common, "high"], raw.loc[common, "High"])
    assert np.allclose(days.loc[common, "low"], raw.loc[common, "Low"])
    nxt_open = raw["Open"].shift(-1)
    ok = days.loc[common, "close"].notna()
    assert np.allclose(days.loc[common, "close"][ok], nxt_open.loc[common][ok])
    assert np.allclose(days.loc[common, "open"].iloc[1:], raw.loc[common, "Open"].iloc[1:])


def test_backtest_fires_on_the_named_days_and_only_where_the_detector_flags(history, export):
    res = run_backtest(history, UNIVERSE, [DAILY], start=dt.date(2000, 1, 1), end=dt.date(2026, 8, 21))
    fired = {e.date.isoformat(): e for e in res.alerts() if e.event.kind == "firing"}
    for day in NAMED:
        e = fired[day]
        assert e.subject == "usdjpy" and "yen-buying" in e.event.text and e.event.tier in ("warning", "critical")
    # The same days the detector flags on the raw file (read independently of the store).
    det = detect_daily(daily_from_export(export))
    flags = {ix.date().isoformat() for ix in det.index[det["flag"]] if dt.date(2000, 1, 1) <= ix.date()}
    assert set(fired) == flags and len(flags) == 22
    # The ratio the alert quotes, recomputed with pandas: 100·ln(H/L) over the median of the 120
    # usable days before (t−1), on 2024-04-29.
    raw = export.assign(Date=pd.to_datetime(export["Date"])).set_index("Date")
    rng = 100 * np.log(raw["High"] / raw["Low"])
    o, c, h, lo = raw["Open"], raw["Open"].shift(-1), raw["High"], raw["Low"]
    # a usable bar: a real range holding its open and its close of record, not a holiday print
    usable = (h > lo) & o.between(lo, h) & c.between(lo, h) & ~((h == lo) & (lo == o))
    before = rng[usable][rng[usable].index < "2024-04-29"].iloc[-120:]
    ratio = rng["2024-04-29"] / before.median()
    e = fired["2024-04-29"].event
    assert e.detail["ratio"] == pytest.approx(ratio, rel=1e-6) and e.tier == ("critical" if ratio >= 6 else "warning")
    assert e.detail["window"] == 120 and e.detail["day"] == "2024-04-29"
    assert "× its 120-day median" in e.text and "against +" in e.text
    # Each one resolves on a calm day: an episode per event, not a standing alert.
    assert all(r.resolved is not None for r in res.episodes().itertuples(index=False) if r.fired.year < 2026)


def _reading(value: float, shaped: bool = True, held: bool = False, day: int = 29) -> Intervention:
    return Intervention(series_id="usdjpy", kind="daily", ts=dt.datetime(2024, 4, day, 23, tzinfo=UTC), value=value,
                        shaped=shaped, direction="yen-buying", text=f"range {value}×", held=held,
                        detail={"quality": "unconfirmed" if held else "ok"})


def test_engine_tiers_the_shape_and_holds_unconfirmed_prints():
    now = dt.datetime(2024, 4, 30, 0, 30, tzinfo=UTC)
    inp = lambda r: RuleInput(subject="usdjpy", label="USD/JPY", intervention=r)
    s, ev = evaluate(DAILY, None, inp(_reading(8.0, shaped=False)), now)
    assert s.state == State.NORMAL and ev == []                # a two-way day is no intervention
    s, ev = evaluate(DAILY, None, inp(_reading(6.8)), now)
    assert s.state == State.FIRING and s.tier == "critical" and [e.kind for e in ev] == ["firing"]
    s, ev = evaluate(DAILY, s, inp(_reading(1.2, day=30)), now + dt.timedelta(days=1))
    assert s.state == State.RESOLVED
    s, ev = evaluate(DAILY, None, inp(_reading(5.0, held=True)), now)
    assert s.state == State.PENDING                            # the gate holds a print: Pending at most
    s, ev = evaluate(DAILY, s, inp(_reading(5.0, held=False)), now + dt.timedelta(hours=1))
    assert s.state == State.FIRING                             # …and it fires once confirmed


def test_a_day_without_its_close_or_baseline_is_not_judged(history):
    d = history[(history["freq"] == "D") & (history.ts <= "2024-04-29 23:00Z")]
    det = daily_detected(d, DAILY, UNIVERSE)
    assert daily_reading(DAILY, det, 0, "USD/JPY") is None          # no 120-day median yet
    iv = latest_daily_reading(DAILY, det, "USD/JPY")
    assert iv.detail["day"] == "2024-04-29" and iv.shaped and iv.value > 6
    # Until its close of record (the next bar's Open) is stored, the day waits. Friday 04-26 is not
    # judged either: its close of record (Monday's open, 158.22) lies outside its own range
    # (155.48–157.67), so the newest day judged is Thursday.
    no_close = d[~((d.series_id == "usdjpy") & (d.ts == "2024-04-29 23:00Z"))]
    det = daily_detected(no_close, DAILY, UNIVERSE)
    assert det["close"].isna().iloc[-1] and det.index[-1] == pd.Timestamp("2024-04-29")
    assert not det.loc["2024-04-26", "usable"] and det.loc["2024-04-26", "close"] > det.loc["2024-04-26", "high"]
    assert latest_daily_reading(DAILY, det, "USD/JPY").detail["day"] == "2024-04-25"


def _hourly(market_dir) -> pd.DataFrame:
    from data.sources.yahoo import parse_yahoo_csv_export

    return parse_yahoo_csv_export((market_dir / "fx/usdjpy_hourly.csv").read_bytes(), UNIVERSE.get("usdjpy"),
                                  freq="I", tz="Europe/London")


def test_intraday_reading_on_the_real_hourly_bars(market_dir):
    bars = _hourly(market_dir)
    calm = intraday_reading(INTRA, bars, "USD/JPY", dt.datetime(2026, 4, 30, 9, 0, tzinfo=UTC))
    assert calm is not None and calm.value < 1.0 and INTRA.tier_for(calm.value) is None
    hit = intraday_reading(INTRA, bars, "USD/JPY", dt.datetime(2026, 4, 30, 12, 0, tzinfo=UTC))
    assert hit.direction == "yen-buying" and INTRA.tier_for(hit.value) in ("warning", "critical")
    # Independently: the fall from the highest level two consecutive closes held within 4 h.
    p = bars.set_index("ts")["value"]
    w = p[(p.index > hit.ts - pd.Timedelta(hours=4)) & (p.index <= hit.ts)]
    two = p[p.index <= hit.ts].iloc[-2:]
    hi2 = p[p.index <= hit.ts].rolling(2).min()
    hi2 = hi2[hi2.index > hit.ts - pd.Timedelta(hours=4)].max()
    assert hit.value == pytest.approx(-100 * np.log(two.max() / hi2), rel=1e-9) and len(w) >= 3
    assert "within 4 h" in hit.text and "two prints agree" in hit.text


def test_one_stray_intraday_print_is_not_a_sharp_move(market_dir):
    bars = _hourly(market_dir)
    p = bars[bars.ts < "2026-04-16 12:00Z"].copy()
    p.loc[p.index[-1], "value"] *= 0.97                      # one print 3 % off, mid-week
    iv = intraday_reading(INTRA, p, "USD/JPY")
    assert iv is not None and iv.value < INTRA.tiers[0][1]
    assert intraday_reading(INTRA, bars[bars.ts < "2026-04-16 12:00Z"], "USD/JPY").value < INTRA.tiers[0][1]
    # The first print after a weekend has no partner inside the window: nothing to judge.
    monday = bars[bars.ts < "2026-04-20"]
    assert (monday.ts.iloc[-1] - monday.ts.iloc[-2]) > pd.Timedelta(hours=24)
    assert intraday_reading(INTRA, monday, "USD/JPY") is None


# ------------------------------------------------------------------------------ the live path
@pytest.fixture(scope="module")
def replayed(market_dir, tmp_path_factory):
    """The replay stepped every 3 hours of data time over 2026-04-29 18:00 → 2026-05-01 06:00 UTC:
    the hourly bars hold the 2026-04-30 fall, the daily bars the day's range."""
    from tests.unit.alerts.helpers import run_replay

    store_ = Store(f"sqlite:///{tmp_path_factory.mktemp('intervention') / 'r.db'}")
    run_replay(market_dir, store_, dt.datetime(2026, 4, 29, 18, 0, tzinfo=UTC), dt.datetime(2026, 5, 1, 6, 0, tzinfo=UTC),
               dt.timedelta(hours=3))
    yield AlertStore(store_)
    store_.dispose()


def test_replay_fires_the_intraday_rule_in_the_session_and_the_daily_rule_at_the_close(replayed):
    fired = [e for e in reversed(replayed.list_events(kind=["firing"], limit=500)) if e.subject == "usdjpy"]
    by_rule = {e.rule_id: e for e in fired}
    intra, daily = by_rule["usdjpy_intervention_intraday"], by_rule["usdjpy_intervention"]
    # Within the London session of the fall (the hourly bar of 12:00 BST, 15 min delayed)…
    assert dt.datetime(2026, 4, 30, 11, tzinfo=UTC) <= intra.data_ts <= dt.datetime(2026, 4, 30, 14, tzinfo=UTC)
    assert "yen-buying" in intra.text
    # …and the day's range once its close of record exists (24:00 London), as the backtest says.
    assert daily.detail["day"] == "2026-04-30" and daily.data_ts == dt.datetime(2026, 4, 30, 23, tzinfo=UTC)
    assert "yen-buying" in daily.text and daily.detail["ratio"] >= DAILY.tiers[0][1]
    assert intra.at < daily.at
    # One FX incident holds both: one market event, one notification thread.
    fx = replayed.list_incidents(market="FX")
    assert len(fx) == 1 and {m["rule_id"] for m in fx[0]["members"]} >= {"usdjpy_intervention",
                                                                          "usdjpy_intervention_intraday"}
