"""CNBC's intraday JGB yields through the live path, offline: the registered source built as
`main.build_jobs` builds it, run by the collector on a real SQLite store with a requests.Session
that answers CNBC's URLs from fixtures in the public shapes, then the alert pipeline on the
store. The store also holds the real MOF curve up to 2026-01-19 (the close of record the quotes
take σ from); at 14:35 JST on 2026-01-20 the 30Y is 18.6 bp above the previous close, and the
JGB intraday rule fires critical while Tokyo still trades — nine hours before the MOF file
publishes the day."""
from __future__ import annotations

import copy
import datetime as dt
import json
import random

import pandas as pd
import pytest
import requests

import main
from alerts.pipeline import AlertPipeline
from alerts.rules import load_rules
from alerts.store import AlertStore
from config import Settings
from data.collector import Collector, SourceJob
from data.sources.cnbc import BARS_URL, QUOTE_URL
from data.store import Store
from tests.unit.realjgb import FixedClock, jgb_closes
from universe import load_universe

UNIVERSE = load_universe()
UTC = dt.UTC
T0 = dt.datetime(2026, 1, 20, 5, 35, tzinfo=UTC)           # 14:35 JST


class CnbcFixtures(requests.Session):
    """Answers CNBC's two URLs: the bars of a symbol from its fixture (none: an empty bar list, as
    CNBC answers a symbol without bars) cut at the clock's time — the fixture was saved after the
    close, and at 14:35 JST the later bars did not exist yet — and the batched quotes from the
    current quote document."""

    def __init__(self, fixtures_dir, quotes: dict, clock) -> None:
        super().__init__()
        self.dir = fixtures_dir / "cnbc"
        self.quotes = quotes
        self.clock = clock
        self.calls: list[tuple[str, dict]] = []

    def get(self, url, params=None, **kw):  # type: ignore[override]
        self.calls.append((url, dict(params or {})))
        resp = requests.Response()
        resp.status_code, resp.url = 200, url
        if url == QUOTE_URL:
            resp._content = json.dumps(self.quotes).encode()
        elif url.startswith(BARS_URL.split("{")[0]):
            span = url.rsplit("/", 1)[1].split(".")[0].lower()
            f = self.dir / f"bars_{span}_{params['symbol']}.json"
            doc = json.loads((f if f.exists() else self.dir / "bars_missing.json").read_bytes())
            bars = (doc.get("barData") or {}).get("priceBars")
            if bars:
                now_ms = self.clock.now().timestamp() * 1000
                doc["barData"]["priceBars"] = [b for b in bars if float(b["tradeTimeinMills"]) <= now_ms]
            resp._content = json.dumps(doc).encode()
        else:
            resp.status_code, resp._content = 404, b"<html><title>404</title></html>"
        return resp


def quotes_at(doc: dict, t: dt.datetime, bump: float = 0.0, only: str | None = None) -> dict:
    """The fixture's quote document re-stamped at `t` (CNBC's ISO time with a New York offset),
    the 30Y moved by `bump` percentage points (others unchanged)."""
    out = copy.deepcopy(doc)
    stamp = pd.Timestamp(t).tz_convert("America/New_York").strftime("%Y-%m-%dT%H:%M:%S.000%z")
    for q in out["FormattedQuoteResult"]["FormattedQuote"]:
        q["last_time"] = stamp
        if q["symbol"] == "JP30Y-JP":
            q["last"] = f"{float(q['last'].rstrip('%')) + bump:.3f}%"
    return out


@pytest.fixture
def live(tmp_path, market_dir, fixtures_dir):
    store = Store(f"sqlite:///{tmp_path / 'live.db'}")
    store.create_schema()
    store.upsert(jgb_closes(market_dir, None, "2026-01-19"), source="mof",
                 known_at=dt.datetime(2026, 1, 19, 15, 30, tzinfo=UTC))
    # 14:35 JST: the quotes of the fixture document, 30Y at 3.748 % (the 14:30 bar's level).
    base = json.loads((fixtures_dir / "cnbc" / "quotes_jgb_2026-01-20.json").read_bytes())
    clock = FixedClock(T0)
    session = CnbcFixtures(fixtures_dir, quotes_at(base, T0, bump=-0.017), clock)
    job = main.build_jobs(Settings(mode="live"), UNIVERSE)["cnbc"]
    assert job.session_factory is not None and job.cursor == "datetime" and job.every == 60.0
    c = Collector(store, UNIVERSE, {"cnbc": SourceJob(job.source, job.every, session_factory=lambda: session,
                                                      cursor=job.cursor)},
                  clock=clock, rng=random.Random(1))
    c.claim()
    pipeline = AlertPipeline(store, UNIVERSE, load_rules(universe=UNIVERSE), clock=clock)
    yield store, c, clock, session, base, pipeline, market_dir
    pipeline.close()
    store.dispose()


def test_the_quotes_fill_the_exchange_series_and_the_30y_fires_critical_while_tokyo_trades(live):
    store, c, clock, session, base, pipeline, market_dir = live
    r = c.run_once("cnbc")
    assert r.ok and not r.errors and not r.rejected, r
    # The backfill: 5-day bars per symbol, then one batched quote call for all six.
    bars = [p["symbol"] for u, p in session.calls if u != QUOTE_URL]
    quotes = [p for u, p in session.calls if u == QUOTE_URL]
    assert sorted(bars) == sorted(s.symbol for s in UNIVERSE.for_source("cnbc"))
    assert all("5D" in u for u, p in session.calls if u != QUOTE_URL)
    assert len(quotes) == 1 and quotes[0]["symbols"].split("|") == [s.symbol for s in UNIVERSE.for_source("cnbc")]
    obs = store.read(freq="I")
    got = obs.groupby("series_id").size().to_dict()
    assert set(got) == {s.id for s in UNIVERSE.for_source("cnbc")}
    assert got["jgb_30y_x"] > got["jgb_10y_x"] == 1                  # the 30Y also has its bars
    last = obs[obs["series_id"] == "jgb_30y_x"].sort_values("ts").iloc[-1]
    assert last["ts"] == pd.Timestamp(T0) and last["value"] == pytest.approx(3.748)
    h = next(h for h in store.health() if h.source == "cnbc")
    assert h.consecutive_failures == 0 and h.last_error is None and h.rows_last == len(obs)
    pipeline.run()
    # Two more prints (the rule waits for the third) move the 30Y on: 3.750, 3.752.
    for k in (1, 2):
        clock._now = T0 + dt.timedelta(minutes=k)
        session.quotes = quotes_at(base, clock._now, bump=-0.017 + 0.002 * k)
        assert c.run_once("cnbc").ok
        pipeline.run()
    # Later cycles ask the quotes only (the bars came with the backfill).
    assert [u for u, _ in session.calls[-2:]] == [QUOTE_URL, QUOTE_URL]
    events = AlertStore(store).list_events(series="jgb_30y_x", limit=50)
    fired = [e for e in events if e.kind in ("firing", "escalated")]
    assert fired, [(e.kind, e.tier, e.text) for e in events]
    top = fired[0]
    assert top.rule_id == "jgb_intraday_z" and top.tier == "critical"
    assert top.data_ts <= T0 + dt.timedelta(minutes=2) and top.data_ts.astimezone(UTC).hour == 5
    d = top.detail
    assert d["move"] == pytest.approx(100 * (3.752 - 3.562), abs=0.05) and d["z"][d["estimator"]] >= 6.0
    assert d["return_period_years"] >= 4.0                          # the critical tier's rarity need
    assert d["window_end"].startswith("2026-01-19")                  # σ from the MOF closes up to t−1
    assert "JGB 30Y (exchange)" in top.text and "σ" in top.text


def test_the_mof_close_of_the_same_move_joins_the_incident_of_the_exchange_alert(live):
    store, c, clock, session, base, pipeline, market_dir = live
    for k in range(3):
        clock._now = T0 + dt.timedelta(minutes=k)
        session.quotes = quotes_at(base, clock._now, bump=-0.017 + 0.002 * k)
        assert c.run_once("cnbc").ok
        pipeline.run()
    alerts = AlertStore(store)
    open_jp = [i for i in alerts.list_incidents(state="open") if i["market"] == "JP"]
    assert len(open_jp) == 1
    # 00:30 JST next day: the MOF file publishes 2026-01-20 (30Y +20.3 bp, critical on its own).
    clock._now = dt.datetime(2026, 1, 20, 15, 31, tzinfo=UTC)
    store.upsert(jgb_closes(market_dir, "2026-01-20", "2026-01-20"),
                 source="mof", known_at=clock._now)
    pipeline.run()
    daily = [e for e in alerts.list_events(series="jgb_30y", limit=50) if e.kind in ("firing", "escalated")]
    assert daily and daily[0].rule_id.startswith("jgb_curve_z")
    incidents = [i for i in alerts.list_incidents(limit=50) if i["market"] == "JP"]
    members = {m["rule_id"] for i in incidents for m in i["members"]}
    assert {"jgb_intraday_z", "jgb_curve_z"} <= members
    assert len(incidents) == 1, [(i["id"], i["state"], [m["rule_id"] for m in i["members"]]) for i in incidents]


def test_once_the_mof_close_is_in_the_sources_page_shows_how_far_the_quotes_were_from_it(live):
    """Issue 10 §2: per tenor, the exchange close (last print before 15:00 JST) − the MOF close of
    record, median and largest over the stored days — here 01-16 and 01-19 from CNBC's 5-day bars
    and 01-20's last quote (14:37 JST) against the real MOF file."""
    from components.sources import sources_table
    from views.snapshot import SnapshotService
    from views.sources import build_sources
    from tests.layout import text

    store, c, clock, session, base, pipeline, market_dir = live
    for k in range(3):
        clock._now = T0 + dt.timedelta(minutes=k)
        session.quotes = quotes_at(base, clock._now, bump=-0.017 + 0.002 * k)
        assert c.run_once("cnbc").ok
    mof = jgb_closes(market_dir, "2026-01-20", "2026-01-20")
    store.upsert(mof, source="mof", known_at=dt.datetime(2026, 1, 20, 15, 31, tzinfo=UTC))
    snap = SnapshotService(store, UNIVERSE).current()
    rec = snap.record.set_index("series_id")
    last_quote = store.read(series_ids=["jgb_30y_x"]).sort_values("ts")["value"].iloc[-1]
    record = float(mof.loc[mof["series_id"] == "jgb_30y", "value"].iloc[0])
    r = rec.loc["jgb_30y_x"]
    assert str(r["last_day"]) == "2026-01-20" and r["last_record"] == record and r["last_quote"] == last_quote
    assert r["last_diff"] == pytest.approx(100 * (last_quote - record), abs=1e-9)
    assert r["days"] == 3 and r["median"] == pytest.approx(0.0, abs=1e-6)
    assert r["max_abs"] == pytest.approx(abs(100 * (last_quote - record)), abs=1e-9)
    page = text(sources_table(build_sources(snap, detail=False)))
    assert "Exchange quotes vs the MOF close of record" in page
    assert f"{100 * (last_quote - record):+.1f} bp" in page and "JGB 30Y (exchange)" in page


def test_the_overview_tile_shows_the_exchange_quote_with_its_own_age_while_tokyo_trades(live):
    """Issue 10 §2: the JGB 30Y tile keeps the MOF close of record and adds the exchange quote —
    its value, its move since that close, z and its own age — while the quotes are newer; the
    tile takes the quote's critical tier. Pinned to a past day, the tile is the close alone."""
    from components.overview import tile
    from views.overview import overview_view
    from views.snapshot import SnapshotService
    from tests.layout import find, text

    store, c, clock, session, base, pipeline, market_dir = live
    for k in range(3):
        clock._now = T0 + dt.timedelta(minutes=k)
        session.quotes = quotes_at(base, clock._now, bump=-0.017 + 0.002 * k)
        assert c.run_once("cnbc").ok
        pipeline.run()
    snap = SnapshotService(store, UNIVERSE).current()
    d = next(t for t in overview_view(snap).tiles if t.id == "jgb_30y")
    q = d.quote
    last = store.read(series_ids=["jgb_30y_x"]).sort_values("ts").iloc[-1]
    close_0119 = float(jgb_closes(market_dir, "2026-01-19", "2026-01-19").set_index("series_id").loc["jgb_30y", "value"])
    assert d.as_of_ms < q.as_of_ms == int(last["ts"].value // 1_000_000)
    assert q.id == "jgb_30y_x" and q.value == last["value"]
    assert q.move == pytest.approx(100 * (last["value"] - close_0119), abs=1e-9)
    assert q.z60 > 6 and q.tier == "critical" and d.tier == "critical"
    assert d.value == close_0119                                      # the close of record stays
    line = find(tile(d), "ov-quote-jgb_30y_x")
    assert line is not None
    shown = text(line)
    assert "exchange " in shown and f'"{last["value"]:.3f}%"' in shown
    assert f"+{100 * (last['value'] - close_0119):.1f} bp" in shown and "data-asof" in shown
    assert next(t for t in overview_view(snap.view("2026-01-19")).tiles if t.id == "jgb_30y").quote is None
    # The wall: the JGB 30Y tile reads the quote — its value, the move since the MOF close, its own
    # age, critical — and says it is an exchange quote.
    from components.wall import render
    wall_tile = next(t for t in render(snap, None, {"panels": ["tiles"]})["cm-wall-tiles"] if t.id == "tile-jgb_30y")
    wall_text = text(wall_tile)
    assert f'"{last["value"]:.3f}%"' in wall_text and "exchange quote, not the MOF fixing" in wall_text
    assert f"+{100 * (last['value'] - close_0119):.1f} bp" in wall_text and "cm-tile-critical" in wall_text
    # The series pages: the close of record links its quote (own age); the quotes name their record.
    from components.series import source_panel
    on_mof = find(source_panel(snap.row("jgb_30y"), snap.now(), snap.quotes_row("jgb_30y")), "se-quote")
    assert on_mof is not None and f'"{last["value"]:.3f}%"' in text(on_mof) and "data-asof" in text(on_mof)
    on_x = source_panel(snap.row("jgb_30y_x"), snap.now(), snap.quotes_row("jgb_30y_x"))
    assert find(on_x, "se-quote") is None and "/series/jgb_30y" in text(find(on_x, "se-record-of"))
