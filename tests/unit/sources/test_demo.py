"""The simulated market: complete, plausible, deterministic, extendable, and shaped like the
markets of BRIEF §2–§3 (fat tails, US leads Japan, a scripted JGB-led six-sigma episode)."""
from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pandas as pd
import pytest

from data.frame import validate_frame
from data.sources import demo
from data.sources.base import Request
from data.sources.demo import SIMULATED, DemoMarket, DemoPayload, DemoSource, Episode, demo_market
from errors import EmptyPayload, MalformedPayload
from universe import load_universe

UNIVERSE = load_universe()
UTC = dt.timezone.utc
# A pinned market: the path does not depend on the day the tests run.
TODAY = dt.date(2026, 3, 2)
DAY1 = dt.date(2026, 1, 20)          # a Tuesday, Tokyo and New York both open
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PARAMS = dict(seed=7, start="2023-01-02", episode=DAY1, today=TODAY)


@pytest.fixture(scope="module")
def market() -> DemoMarket:
    return DemoMarket(UNIVERSE, **PARAMS)


@pytest.fixture(scope="module")
def daily(market) -> pd.DataFrame:
    return market.daily(None, NOW)


def levels(frame: pd.DataFrame, sid: str, tz: str | None = None) -> pd.Series:
    """One series' daily closes indexed by its local date."""
    s = UNIVERSE.get(sid)
    f = frame[(frame["series_id"] == sid) & (frame["freq"] == "D")]
    from analytics.quality import market_days
    ns = pd.DatetimeIndex(f["ts"]).as_unit("ns").asi8
    idx = [pd.Timestamp(d).date() for d in market_days(ns, tz or s.timezone, s.close if tz is None else "00:00")]
    return pd.Series(f["value"].to_numpy(), index=pd.Index(idx, name="date")).sort_index()


def changes(frame: pd.DataFrame, sid: str) -> pd.Series:
    """Yields in bp, everything else 100·Δln (BRIEF §2), on the series' own valid days."""
    lv = levels(frame, sid)
    return (lv.diff() * 100 if UNIVERSE.get(sid).kind == "yield" else np.log(lv).diff() * 100).dropna()


# ---------------------------------------------------------------- completeness and levels
def test_every_universe_series_has_history_with_plausible_levels(daily):
    # Every series but the exchange quotes, which have no daily close of their own (as live:
    # the close of record is the MOF fixing they take σ from).
    intraday_only = {s.id for s in UNIVERSE if s.sigma_from}
    assert intraday_only >= {"jgb_10y_x", "jgb_30y_x"}
    assert set(daily["series_id"]) == UNIVERSE.ids - intraday_only
    counts = daily.groupby("series_id").size()
    assert counts.drop("ust_1_5m").min() > 700           # ~3 years of business days
    for s in UNIVERSE:
        v = daily.loc[daily["series_id"] == s.id, "value"]
        if s.kind == "yield":
            assert v.between(-1.0, 10.0).all(), s.id
        else:
            assert (v > 0).all(), s.id


def test_the_simulated_fx_bar_holds_its_open_and_close_between_its_high_and_low(daily):
    """usdjpy_high / usdjpy_low bracket the day's open (the previous close of record) and close,
    so the intervention detector reads a usable bar on every simulated day."""
    c, h, lo = (levels(daily, s) for s in ("usdjpy", "usdjpy_high", "usdjpy_low"))
    both = c.index.intersection(h.index).intersection(lo.index)
    assert len(both) > 700
    c, h, lo, o = c[both], h[both], lo[both], c.shift(1)[both]
    assert (h > c).all() and (lo < c).all() and (h > lo).all()
    assert ((h >= o) & (lo <= o))[1:].all()
    rng = 100 * np.log(h / lo)
    assert 0.2 < rng.median() < 2.0                     # a plausible USD/JPY day


def test_levels_near_the_episode_look_like_the_market(daily):
    before = DAY1 - dt.timedelta(days=1)                 # the reference day of the scripted curve

    def at(sid, day=before):
        lv = levels(daily, sid)
        return float(lv[lv.index <= day].iloc[-1])

    assert 1.5 <= at("jgb_10y") <= 2.7
    assert 3.0 <= at("jgb_30y") <= 3.6
    assert at("jgb_1y") < at("jgb_10y") < at("jgb_30y") < at("jgb_40y")   # upward-sloping JGB curve
    assert 3.9 <= at("ust_10y") <= 4.5
    assert 150 <= at("usdjpy") <= 158
    assert 85 <= at("tlt") <= 90
    assert 110 <= at("zn_f") <= 112
    assert 50 <= at("move") <= 150 and 10 <= at("vix") <= 40
    assert 30_000 <= at("n225") <= 70_000
    # Six weeks after the episode the values stay in the same neighbourhood (the JGB long
    # end keeps most of its +30 bp: mean reversion has a 120-day half-life).
    for sid, lo, hi in (("jgb_10y", 1.5, 2.7), ("jgb_30y", 3.0, 4.2), ("ust_10y", 3.5, 5.0),
                        ("usdjpy", 140, 170), ("tlt", 75, 100), ("zn_f", 104, 118)):
        assert lo <= levels(daily, sid).iloc[-1] <= hi, sid


def test_yahoo_yields_and_prices_are_consistent_with_the_curve(daily):
    ust10, tnx = levels(daily, "ust_10y"), levels(daily, "ust_10y_yh", "America/New_York")
    both = pd.concat([ust10, tnx], axis=1, join="inner").dropna()
    assert len(both) > 700
    assert (both.iloc[:, 0] - both.iloc[:, 1]).abs().max() < 0.03       # within 3 bp, in percent
    irx, b3m = levels(daily, "ust_13w_yh", "America/New_York"), levels(daily, "ust_3m")
    j = pd.concat([irx, b3m], axis=1, join="inner").dropna()
    assert (j.iloc[:, 0] < j.iloc[:, 1]).mean() > 0.95                  # a discount rate is lower
    # Prices move against the matching yields (duration).
    for price, yld in (("tlt", "ust_30y"), ("zn_f", "ust_10y"), ("shy", "ust_2y"), ("jgb_etf_2510", "jgb_10y")):
        dp = changes(daily, price)
        dy = changes(daily, yld)
        c = pd.concat([dp, dy], axis=1, join="inner").dropna()
        assert c.iloc[:, 0].corr(c.iloc[:, 1]) < -0.8, price


def test_frame_passes_validate_frame(market):
    frame = market.frame(None, NOW)
    clean = validate_frame(frame, known_series=UNIVERSE.ids, bounds=UNIVERSE.bounds())
    assert len(clean) == len(frame)
    assert set(frame["freq"]) == {"D", "I"}
    assert str(frame["ts"].dtype) == "datetime64[ns, UTC]"


# ---------------------------------------------------------------- calendars and timestamps
def test_jgb_has_tokyo_business_days_at_0600_utc(daily):
    f = daily[daily["series_id"] == "jgb_30y"]
    tokyo = f["ts"].dt.tz_convert("Asia/Tokyo")
    assert (tokyo.dt.day_of_week < 5).all()
    assert set(zip(f["ts"].dt.hour, f["ts"].dt.minute)) == {(6, 0)}      # 15:00 JST
    days = set(tokyo.dt.date)
    for holiday in (dt.date(2025, 1, 1), dt.date(2025, 1, 13), dt.date(2025, 5, 5), dt.date(2025, 11, 3),
                    dt.date(2026, 1, 12)):
        assert holiday not in days


def test_ust_has_new_york_weekdays_at_the_1530_close(daily):
    f = daily[daily["series_id"] == "ust_10y"]
    ny = f["ts"].dt.tz_convert("America/New_York")
    assert (ny.dt.day_of_week < 5).all()
    assert set(zip(ny.dt.hour, ny.dt.minute)) == {(15, 30)}
    days = set(ny.dt.date)
    assert dt.date(2025, 7, 4) not in days and dt.date(2025, 12, 25) not in days
    assert dt.date(2025, 10, 13) not in days            # bond market closed on Columbus Day
    # Treasury's 1.5-month column starts on 2025-02-18 (BRIEF §1).
    first = levels(daily, "ust_1_5m").index.min()
    assert first == dt.date(2025, 2, 18)


def test_fx_bar_is_stamped_midnight_london_and_served_only_once_complete(market):
    f = market.daily(None, NOW)
    fx = f[f["series_id"] == "usdjpy"]
    london = fx["ts"].dt.tz_convert("Europe/London")
    assert set(zip(london.dt.hour, london.dt.minute)) == {(0, 0)}
    # The 24-hour bar of the current day is not final: it is not served before it ends.
    assert fx["ts"].max() < pd.Timestamp(NOW) - pd.Timedelta(hours=24) + pd.Timedelta(hours=1)


# ---------------------------------------------------------------- determinism
def test_same_seed_same_data_other_seed_other_data(market):
    again = DemoMarket(UNIVERSE, **PARAMS).frame(None, NOW)
    pd.testing.assert_frame_equal(market.frame(None, NOW), again)
    other = DemoMarket(UNIVERSE, **{**PARAMS, "seed": PARAMS["seed"] + 1}).daily(None, NOW)
    a = levels(market.daily(None, NOW), "ust_10y")
    b = levels(other, "ust_10y")
    assert not np.allclose(a.to_numpy(), b.reindex(a.index).to_numpy())


def test_a_later_now_extends_without_changing_earlier_values():
    m = DemoMarket(UNIVERSE, **PARAMS)
    early = m.daily(None, NOW)
    later_now = dt.datetime(2026, 10, 1, 12, 0, tzinfo=UTC)     # beyond the first horizon: regenerates
    later = m.daily(None, later_now)
    assert len(later) > len(early)
    key = ["series_id", "freq", "ts"]
    merged = early.merge(later, on=key, suffixes=("_early", "_later"), how="left")
    assert merged["value_later"].notna().all()
    np.testing.assert_array_equal(merged["value_early"], merged["value_later"])
    # A fresh market asked for the later date directly gives the same path.
    fresh = DemoMarket(UNIVERSE, **PARAMS).daily(None, later_now)
    pd.testing.assert_frame_equal(later, fresh)


def test_incremental_calls_return_only_new_rows():
    m = DemoMarket(UNIVERSE, **PARAMS)
    t0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    t1 = t0 + dt.timedelta(minutes=1)
    inc = m.frame(t0, t1)
    assert len(inc) > 0 and set(inc["freq"]) == {"I"}
    assert (inc["ts"] == pd.Timestamp(t0)).all()        # the one bar that completed in (t0, t1]
    assert inc["series_id"].is_unique
    # Over a daily close: the row appears exactly once, when it becomes available.
    tokyo_close = dt.datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    around = m.daily(tokyo_close - dt.timedelta(minutes=1), tokyo_close)
    assert set(around["series_id"]) == {s.id for s in UNIVERSE if s.group == "jgb_curve"}
    assert m.daily(tokyo_close, tokyo_close + dt.timedelta(minutes=1)).empty


# ---------------------------------------------------------------- intraday
def test_intraday_bars_are_utc_minutes_ending_at_the_daily_close(market):
    intra = market.intraday(None, NOW)
    assert set(intra["series_id"]) == {s.id for s in UNIVERSE if s.intraday}
    assert str(intra["ts"].dtype) == "datetime64[ns, UTC]"
    assert (intra["ts"] + pd.Timedelta(minutes=1) <= pd.Timestamp(NOW)).all()   # complete bars only
    assert (intra["ts"].dt.second == 0).all()
    daily = market.daily(None, NOW)
    for sid in ("ust_10y_yh", "tlt", "zn_f", "jgb_etf_2510", "n225"):
        bars = intra[intra["series_id"] == sid].sort_values("ts")
        assert bars["ts"].diff().dropna().min() == pd.Timedelta(minutes=1)
        # A completed session's last bar (stamped close − 1 min) equals that day's close.
        closes = daily[daily["series_id"] == sid].set_index("ts")["value"]
        by_ts = bars.set_index("ts")["value"]
        complete = [t for t in closes.index if (t - pd.Timedelta(minutes=1)) in by_ts.index]
        assert complete, sid
        for t in complete:
            assert by_ts[t - pd.Timedelta(minutes=1)] == closes[t]
    # Tokyo sessions have a lunch break.
    n225 = intra[intra["series_id"] == "n225"]["ts"].dt.tz_convert("Asia/Tokyo")
    hm = n225.dt.hour * 60 + n225.dt.minute
    assert not ((hm >= 11 * 60 + 30) & (hm < 12 * 60 + 30)).any()


def test_intraday_path_never_changes_once_seen(market):
    t = dt.datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    first = market.intraday(None, t)
    later = market.intraday(None, t + dt.timedelta(minutes=7))
    merged = first.merge(later, on=["series_id", "freq", "ts"], how="left", suffixes=("_a", "_b"))
    assert merged["value_b"].notna().all()
    np.testing.assert_array_equal(merged["value_a"], merged["value_b"])
    assert len(later) > len(first)
    # A fresh market produces the same bars.
    fresh = DemoMarket(UNIVERSE, **PARAMS).intraday(None, t)
    pd.testing.assert_frame_equal(first, fresh)


def test_exchange_jgb_quotes_trade_in_tokyo_hours_and_close_at_the_mof_value(market):
    """The simulated CNBC JGB yields: Tokyo session bars (lunch break) of the same curve point as
    the MOF tenor they take σ from, the session's last bar at that day's MOF close."""
    intra = market.intraday(None, NOW, series=["jgb_30y_x", "jgb_10y_x"], sessions=3)
    daily = market.daily(None, NOW, series=["jgb_30y", "jgb_10y"])
    for sid, base in (("jgb_30y_x", "jgb_30y"), ("jgb_10y_x", "jgb_10y")):
        bars = intra[intra["series_id"] == sid].set_index("ts")["value"].sort_index()
        local = bars.index.tz_convert("Asia/Tokyo")
        hm = local.hour * 60 + local.minute
        assert ((hm >= 9 * 60) & (hm < 15 * 60)).all() and not ((hm >= 690) & (hm < 750)).any()
        closes = daily[daily["series_id"] == base].set_index("ts")["value"]
        ends = [t for t in closes.index if (t - pd.Timedelta(minutes=1)) in bars.index]
        assert len(ends) >= 2, sid
        for t in ends:
            assert bars[t - pd.Timedelta(minutes=1)] == closes[t], (sid, t)


# ---------------------------------------------------------------- the stress episode
def test_episode_day1_is_a_six_sigma_jgb_move(daily):
    d30 = changes(daily, "jgb_30y")
    assert d30[DAY1] == pytest.approx(20.0, abs=0.5)
    prev = d30[d30.index < DAY1].iloc[-60:]              # the 60 changes ending the day before
    assert len(prev) == 60
    z = (d30[DAY1] - prev.mean()) / prev.std()
    assert z >= 6.0
    assert d30[DAY1] / prev.std() >= 6.0
    assert changes(daily, "jgb_40y")[DAY1] == pytest.approx(25.0, abs=1.0)
    day2 = d30.index[d30.index > DAY1][0]
    assert d30[day2] == pytest.approx(10.0, abs=0.5)
    # The scripted move stands out: among the three largest 30Y moves of the whole history.
    assert DAY1 in set(d30.abs().nlargest(3).index)


def test_episode_spills_into_usts_tlt_yen_and_move(daily):
    for sid, lo in (("ust_30y", 8.0), ("ust_10y", 7.0), ("ust_30y_yh", 8.0)):
        assert changes(daily, sid)[DAY1] >= lo, sid
    assert changes(daily, "tlt")[DAY1] < -1.0
    assert changes(daily, "move")[DAY1] > 3.0
    fx = changes(daily, "usdjpy")                        # Yahoo's 24 h bar of that date
    assert abs(fx[DAY1]) > 0.1
    assert abs(fx[fx.index > DAY1].iloc[0]) > 0.5         # day 2: the yen jumps
    assert changes(daily, "n225")[DAY1] < 0


def test_episode_intraday_move_lands_after_the_auction(market):
    end_tokyo = dt.datetime.combine(DAY1, dt.time(7, 0), tzinfo=UTC)
    bars = market.intraday(None, end_tokyo, series=["jgb_etf_2510"], sessions=1)
    s = bars.set_index("ts")["value"]
    total = s.iloc[-1] - s.iloc[0]
    auction = pd.Timestamp(dt.datetime.combine(DAY1, dt.time(3, 35), tzinfo=UTC))   # 12:35 JST
    window = s[(s.index >= auction - pd.Timedelta(minutes=5)) & (s.index <= auction + pd.Timedelta(minutes=50))]
    assert total < 0
    assert (window.iloc[-1] - window.iloc[0]) / total > 0.5


def test_no_episode_when_disabled():
    m = DemoMarket(UNIVERSE, **{**PARAMS, "episode": None})
    d30 = changes(m.daily(None, NOW), "jgb_30y")
    assert abs(d30[DAY1]) < 15
    assert m.info()["episode_day1"] is None


def test_default_episode_is_the_last_tokyo_business_day_before_today():
    m = DemoMarket(UNIVERSE, seed=7, today=dt.date(2026, 11, 24))   # Tuesday after a Tokyo holiday
    assert m.episode.day1 == dt.date(2026, 11, 20)
    assert m.day2 == dt.date(2026, 11, 24)               # Monday 23rd is Labour Thanksgiving Day
    assert isinstance(m.episode, Episode)


# ---------------------------------------------------------------- statistics of the history
def test_fat_tails():
    m = DemoMarket(UNIVERSE, **{**PARAMS, "episode": None})   # the tails are not just the episode
    f = m.daily(None, NOW)
    for sid in ("jgb_10y", "jgb_30y", "ust_10y", "usdjpy", "n225"):
        d = changes(f, sid)
        assert d.kurt() + 3 > 3.5, sid                   # Pearson kurtosis; normal = 3


def test_us_leads_japan(daily):
    j = changes(daily, "jgb_10y")
    u = changes(daily, "ust_10y")
    J = pd.DataFrame({"date": pd.to_datetime(j.index), "j": j.to_numpy()})
    U = pd.DataFrame({"date": pd.to_datetime(u.index), "u": u.to_numpy()})
    lag0 = J.merge(U, on="date")
    lead = pd.merge_asof(J, U, on="date", allow_exact_matches=False)   # UST of the previous NY day
    c0, c1 = lag0["j"].corr(lag0["u"]), lead["j"].corr(lead["u"])
    assert 0 < c0 < c1
    assert c1 > 0.25


def test_volatility_clusters(daily):
    for sid in ("jgb_10y", "ust_10y"):
        a = changes(daily, sid).abs()
        assert np.mean([a.autocorr(lag=k) for k in range(1, 6)]) > 0.03, sid   # |Δ| is persistent


# ---------------------------------------------------------------- the Source
def test_source_protocol_round_trip():
    src = DemoSource(UNIVERSE, **PARAMS)
    assert src.name == "demo" and src.simulated is True and SIMULATED is True
    reqs = src.build_requests(list(UNIVERSE), since=None, now=NOW)
    assert len(reqs) == 1 and isinstance(reqs[0], Request) and reqs[0].source == "demo"
    raw = src.fetch(reqs[0], session=None, timeout=5.0)
    assert isinstance(raw, DemoPayload) and raw.simulated
    frame = src.parse(raw, reqs[0])
    assert frame.attrs.get("simulated") is True
    clean = validate_frame(frame, known_series=UNIVERSE.ids, bounds=UNIVERSE.bounds())
    assert set(clean["series_id"]) == UNIVERSE.ids


def test_source_respects_the_requested_series_and_window():
    src = DemoSource(UNIVERSE, **PARAMS)
    subset = [UNIVERSE.get("jgb_30y"), UNIVERSE.get("usdjpy")]
    since = dt.datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
    req = src.build_requests(subset, since=since, now=NOW)[0]
    frame = src.parse(src.fetch(req), req)
    assert set(frame["series_id"]) <= {"jgb_30y", "usdjpy"}
    jgb = frame[frame["series_id"] == "jgb_30y"]
    assert list(jgb["ts"]) == [pd.Timestamp("2026-03-02 06:00", tz="UTC")]
    assert (frame.loc[frame["freq"] == "I", "ts"] >= pd.Timestamp(since)).all()


def test_source_weekend_window_is_empty_and_bad_payload_is_malformed():
    src = DemoSource(UNIVERSE, **PARAMS)
    sat = dt.datetime(2026, 2, 28, 10, 0, tzinfo=UTC)
    req = src.build_requests(list(UNIVERSE), since=sat, now=sat + dt.timedelta(minutes=1))[0]
    with pytest.raises(EmptyPayload):
        src.fetch(req)
    with pytest.raises(MalformedPayload):
        src.parse({"not": "a payload"}, req)


def test_sources_share_one_cached_market_per_process():
    a = DemoSource(UNIVERSE, **PARAMS).market
    b = DemoSource(UNIVERSE, **PARAMS).market
    assert a is b and a is demo_market(UNIVERSE, **PARAMS)


def test_default_construction_works_today():
    """The real clock: the default episode sits just before today and the frame validates."""
    m = DemoMarket(UNIVERSE)
    now = dt.datetime.now(UTC)
    f = m.frame(None, now)
    validate_frame(f, known_series=UNIVERSE.ids, bounds=UNIVERSE.bounds())
    assert m.episode.day1 < now.date()
    assert (now.date() - m.episode.day1).days <= 7


# ---------------------------------------------------------------- performance
def test_generation_and_polling_are_cheap():
    t0 = time.perf_counter()
    m = DemoMarket(UNIVERSE, **{**PARAMS, "seed": 11})
    full = m.frame(None, NOW)
    cold = time.perf_counter() - t0
    assert len(full) > 30_000
    assert cold < 1.0, f"cold generation took {cold:.3f}s"
    t1 = time.perf_counter()
    for k in range(10):
        now = NOW + dt.timedelta(minutes=k + 1)
        m.frame(now - dt.timedelta(minutes=1), now)
    per_poll = (time.perf_counter() - t1) / 10
    assert per_poll < 0.05, f"an incremental poll took {per_poll * 1000:.1f} ms"
    assert demo.SIMULATED


def test_the_demo_jgb_intraday_alert_fires_in_tokyo_hours_before_any_ust_alert(market, tmp_path):
    """Issue 10 §4: the demo's stress starts in Tokyo (the 12:35 JST auction), so the exchange
    quotes' rule (jgb_intraday_z) fires while Tokyo trades, before any US Treasury alert — through
    the real alert pipeline on a SQLite store, the simulated feed arriving every 5–60 minutes."""
    from alerts.pipeline import AlertPipeline
    from alerts.rules import load_rules
    from data.store import Store
    from tests.unit.realjgb import FixedClock

    t = dt.datetime.combine(DAY1, dt.time(3, 0), tzinfo=UTC)                 # 12:00 JST
    store = Store(f"sqlite:///{tmp_path / 'demo.db'}")
    store.create_schema()
    store.upsert(market.frame(None, t), source="demo", known_at=t)
    clock = FixedClock(t)
    pipeline = AlertPipeline(store, UNIVERSE, load_rules(universe=UNIVERSE), clock=clock)
    try:
        pipeline.run()
        steps = [t + dt.timedelta(minutes=5 * k) for k in range(1, 13)] + \
            [dt.datetime.combine(DAY1, dt.time(h, 30), tzinfo=UTC) for h in range(5, 22)]
        fired: dict[str, dt.datetime] = {}
        for nxt in steps:
            store.upsert(market.frame(t, nxt), source="demo", known_at=nxt)
            t = clock._now = nxt
            for e in pipeline.run():
                if e.kind in ("firing", "escalated"):
                    fired.setdefault(UNIVERSE.get(e.subject).market if e.subject in UNIVERSE else e.subject, nxt)
                    fired.setdefault(e.rule_id, nxt)
    finally:
        pipeline.close()
        store.dispose()
    jgb = fired["jgb_intraday_z"]
    jst = jgb.astimezone(dt.timezone(dt.timedelta(hours=9)))
    assert jst.date() == DAY1 and dt.time(12, 35) <= jst.time() < dt.time(15, 0), jst
    assert fired["JP"] == jgb                  # the first JGB alert of the day is the exchange quotes'
    assert "US" in fired and fired["US"] > jgb, fired
