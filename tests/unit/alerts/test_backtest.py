"""Alert backtest on the real publisher files (../shared/data/market; skipped when absent).

BRIEF §2: JGB 30Y on 2026-01-20 moved +20.3 bp, z60 7.6 — the default rules must call it critical,
with exactly the statistics the live path shows; the backtest must not peek at later data.
"""
from __future__ import annotations

import datetime as dt
import json
import math

import pandas as pd
import pytest

from alerts.backtest import (
    BacktestEvent,
    backtest_main,
    format_event_line,
    run_backtest,
)
from alerts.rules import load_rules
from analytics.movestats import compute_move_stats
from data.sources.replay import load_history
from universe import load_universe

D20 = dt.date(2026, 1, 20)


@pytest.fixture(scope="module")
def universe():
    return load_universe()


@pytest.fixture(scope="module")
def rules(universe):
    return load_rules(None, universe)


@pytest.fixture(scope="module")
def history(market_dir, universe) -> pd.DataFrame:
    return load_history(market_dir, universe, references=True)


@pytest.fixture(scope="module")
def jan2026(history, universe, rules):
    return run_backtest(history, universe, rules, start=dt.date(2025, 10, 1), end=dt.date(2026, 3, 31))


def _jgb30_on_d20(result) -> BacktestEvent:
    hits = [e for e in result.alerts() if e.rule_id == "jgb_curve_z" and e.subject == "jgb_30y" and e.date == D20]
    assert len(hits) == 1, [format_event_line(e) for e in result.events if e.subject == "jgb_30y"]
    return hits[0]


def test_jgb_30y_on_2026_01_20_is_critical(jan2026):
    ev = _jgb30_on_d20(jan2026)
    assert ev.tier == "critical"
    # The 1-day episode opened the day before (+10.0 bp, 4.2σ: warning) and escalated: one episode.
    assert ev.kind == "escalated"
    d = ev.event.detail
    assert d["move"] == pytest.approx(20.3, abs=1e-9)
    assert d["z"]["w60"] == pytest.approx(7.63, abs=0.01)
    assert d["z"]["w250"] == pytest.approx(5.60, abs=0.01)
    assert d["z"]["ewma"] == pytest.approx(5.71, abs=0.01)
    assert d["window_end"].startswith("2026-01-19")
    # The "six sigma over two days" rule goes critical the same day.
    two = [e for e in jan2026.alerts() if e.rule_id == "jgb_curve_z_2d" and e.subject == "jgb_30y" and e.date == D20]
    assert [e.tier for e in two] == ["critical"]
    assert two[0].event.detail["move"] == pytest.approx(30.3, abs=1e-9)
    # Counted once, at its highest tier.
    c = jan2026.counts_per_year()
    row = c[(c["series"] == "jgb_30y") & (c["year"] == 2026)].iloc[0]
    assert row["critical"] >= 2 and row["watch"] + row["warning"] + row["critical"] == row["total"]
    ep = jan2026.episodes()
    one_day = ep[(ep["rule"] == "jgb_curve_z") & (ep["series"] == "jgb_30y") & (ep["fired"] == dt.date(2026, 1, 19))]
    # It opened at watch: +10.0 bp is 4.2σ but seen about twice a year since 2000, short of the
    # once-a-year rarity a warning also needs (alerts.toml rarity_years).
    assert list(one_day["max_tier"]) == ["critical"] and list(one_day["first_tier"]) == ["watch"]


def test_event_statistics_match_compute_move_stats_and_pandas(jan2026, history, universe):
    d = _jgb30_on_d20(jan2026).event.detail
    # The live path on the data available that day.
    curve = history[history["series_id"].str.startswith("jgb_") & (history["freq"] == "D")
                    & (history["role"] == "primary") & (history["ts"] <= pd.Timestamp("2026-01-20 06:00", tz="UTC"))]
    obs = curve[curve["series_id"] == "jgb_30y"]
    live = next(s for s in compute_move_stats(curve, universe).for_series("jgb_30y") if s.horizon == 1)
    assert live.ts.date() == D20
    for est in ("w60", "w250", "ewma", "mad250"):
        assert d["sigma"][est] == pytest.approx(live.sigma[est], rel=1e-9)
        assert d["z"][est] == pytest.approx(live.z[est], rel=1e-9)
    assert d["rarity_share"] == pytest.approx(live.rarity_share, rel=1e-12)
    assert d["return_period_years"] == pytest.approx(live.return_period_years, rel=1e-12)
    assert d["normal_equiv_sigma"] == pytest.approx(live.normal_equiv_sigma, rel=1e-12)
    assert d["n_history"] == live.n_history
    # Direct pandas: the 60 daily moves ending 2026-01-19, sample std, window mean.
    y = obs.sort_values("ts").set_index("ts")["value"] * 100.0
    moves = y.diff().dropna()
    window = moves[moves.index < pd.Timestamp("2026-01-20", tz="UTC")].iloc[-60:]
    assert window.index[-1].date() == dt.date(2026, 1, 19) and len(window) == 60
    sigma60 = window.std(ddof=1)
    assert d["sigma"]["w60"] == pytest.approx(sigma60, rel=1e-9)
    assert d["z"]["w60"] == pytest.approx((moves.iloc[-1] - window.mean()) / sigma60, rel=1e-9)
    assert d["z"]["w60"] == pytest.approx(7.6, abs=0.05)


def test_event_line_carries_move_sigma_window_z_rarity(jan2026):
    line = format_event_line(_jgb30_on_d20(jan2026))
    assert line.startswith("2026-01-20")
    for part in ("jgb_curve_z", "jgb_30y", "CRITICAL", "+20.3 bp", "7.6σ", "σ60 2.6 bp", "window to 2026-01-19",
                 "z250 5.6", "z_ewma 5.7", "once in 13.0 years since 2000", "≈3.6σ normal",
                 "largest one-day rise on record (series since 1999-09-02)",
                 "largest move of either sign since 2016-03-08"):
        assert part in line, (part, line)
    assert "\n" not in line


def test_calm_stretch_raises_no_critical(history, universe, rules):
    # Q2 2021: JGB curve under yield-curve control, largest |z60| 2.4 (30Y/40Y), UST quiet after
    # the Q1 sell-off. Checked on the data: no rule fires at any tier.
    res = run_backtest(history, universe, rules, start=dt.date(2021, 4, 1), end=dt.date(2021, 6, 30))
    assert [format_event_line(e) for e in res.alerts() if e.tier == "critical"] == []
    assert [format_event_line(e) for e in res.alerts() if e.subject.startswith("jgb_")] == []
    # The curve was judged on every Tokyo business day (it is not calm for lack of data).
    first, last, days = res.coverage["jgb_curve_z|jgb_30y"]
    assert first == dt.date(2021, 4, 1) and last == dt.date(2021, 6, 30) and days >= 58


def test_no_look_ahead_truncating_after_the_day_changes_nothing(history, universe, rules):
    start, d = dt.date(2025, 11, 1), D20
    full = run_backtest(history, universe, rules, start=start, end=dt.date(2026, 3, 31))
    cut = history[history["ts"] < pd.Timestamp(d + dt.timedelta(days=1), tz="UTC")]
    short = run_backtest(cut, universe, rules, start=start, end=dt.date(2026, 3, 31))
    a = [e for e in full.events if e.date <= d]
    b = [e for e in short.events if e.date <= d]
    assert len(a) > 10 and any(e.tier == "critical" for e in a)
    assert [(e.date, e.rule_id, e.subject) for e in a] == [(e.date, e.rule_id, e.subject) for e in b]
    assert a == b  # the whole events, statistics and texts included
    # A huge fake shock after d moves nothing before it either (σ, floor and rarity look back only).
    shocked = history.copy()
    later = (shocked["series_id"] == "jgb_30y") & (shocked["ts"] > pd.Timestamp(d + dt.timedelta(days=1), tz="UTC"))
    shocked.loc[later, "value"] += 5.0
    c = [e for e in run_backtest(shocked, universe, rules, start=start, end=dt.date(2026, 3, 31)).events if e.date <= d]
    assert c == a


def test_intraday_rules_are_skipped_and_said_so(jan2026, rules):
    for r in rules:
        if r.kind == "intraday" and r.enabled:
            assert "intraday" in jan2026.skipped_rules[r.id]
            assert r.id not in jan2026.rules_run
    assert "context_z" in jan2026.skipped_rules            # disabled in alerts.toml
    assert {"jgb_curve_z", "ust_curve_z", "fx_daily_z", "ust10_jgb10_spread"} <= set(jan2026.rules_run)


def test_json_output_parses_and_alerts_carry_the_statistics(market_dir, capsys):
    code = backtest_main(["--replay", str(market_dir), "--start", "2026-01-01", "--end", "2026-01-31", "--json"])
    out, err = capsys.readouterr()
    assert code == 0
    doc = json.loads(out)
    assert doc["start"] == "2026-01-01" and doc["end"] == "2026-01-31"
    assert doc["alerts"], "January 2026 has alerts"
    for a in doc["alerts"]:
        for key in ("series", "tier", "move", "sigma", "window", "z", "rarity", "date", "rule", "text"):
            assert key in a, (key, a)
        if a["rule"].endswith("_z") or a["rule"].endswith("_z_2d"):
            assert all(a[k] is not None for k in ("move", "sigma", "window", "z", "rarity")), a
    hit = [a for a in doc["alerts"] if a["series"] == "jgb_30y" and a["date"] == "2026-01-20" and a["rule"] == "jgb_curve_z"]
    assert len(hit) == 1 and hit[0]["tier"] == "critical"
    assert hit[0]["z"] == pytest.approx(7.63, abs=0.01) and hit[0]["window"] == "60d to 2026-01-19"
    assert math.isfinite(hit[0]["rarity"]["return_period_years"])
    assert "episodes by highest tier" in err and "critical" in err


def test_text_output_one_line_per_alert(market_dir, capsys):
    code = backtest_main(["--replay", str(market_dir), "--start", "2026-01-19", "--end", "2026-01-20"])
    out, err = capsys.readouterr()
    assert code == 0
    lines = out.splitlines()
    assert lines and all(line[:10] in ("2026-01-19", "2026-01-20") for line in lines)
    assert any("jgb_30y" in line and "CRITICAL" in line for line in lines)
    assert "skipped ust_intraday_z" in err


@pytest.mark.parametrize("argv, needle", [
    (["--start", "2026-13-01", "--end", "2026-01-31"], "--start '2026-13-01'"),
    (["--start", "2026-01-01", "--end", "yesterday"], "--end 'yesterday'"),
    (["--start", "2026-02-01", "--end", "2026-01-01"], "before --start"),
    (["--start", "2026-01-01"], "--end"),
    (["--start", "2026-01-01", "--end", "2026-01-31", "--bogus"], "--bogus"),
])
def test_bad_arguments_exit_2_with_a_message(market_dir, capsys, argv, needle):
    assert backtest_main(["--replay", str(market_dir), *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and needle in err and "Traceback" not in err


def test_bad_folder_and_rules_exit_2(tmp_path, market_dir, capsys):
    assert backtest_main(["--replay", str(tmp_path / "nope"), "--start", "2026-01-01", "--end", "2026-01-31"]) == 2
    assert "--replay" in capsys.readouterr().err
    assert backtest_main(["--replay", str(tmp_path), "--start", "2026-01-01", "--end", "2026-01-31"]) == 2
    assert "no replayable files" in capsys.readouterr().err
    bad = tmp_path / "rules.toml"
    bad.write_text("version = 1\n[[rule]]\nid = \"x\"\ntype = \"z\"\ngroups = [\"nope\"]\n", encoding="utf-8")
    assert backtest_main(["--replay", str(market_dir), "--start", "2026-01-01", "--end", "2026-01-31",
                          "--rules", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "rules.toml" in err and "nope" in err
    assert backtest_main(["--replay", str(market_dir), "--start", "2026-01-01", "--end", "2026-01-31",
                          "--rules", str(tmp_path / "missing.toml")]) == 2
    assert "--rules" in capsys.readouterr().err


def test_to_json_round_trips(jan2026):
    doc = json.loads(jan2026.to_json())
    assert doc["summary"]["episodes_by_max_tier"] == jan2026.summary()
    assert len(doc["alerts"]) == len(jan2026.alerts())
    assert doc["runtime_s"] >= 0 and doc["evaluations"] > 0


# ---------------------------------------------------------------- issue 9: the whole history
@pytest.fixture(scope="module")
def full(history, universe, rules):
    return run_backtest(history, universe, rules, start=dt.date(2000, 1, 1), end=dt.date(2026, 8, 21))


def test_no_alert_on_a_move_across_a_gap_or_from_a_contradicted_print(full, history):
    """The replay folder has no Treasury par curve for 2022-03-12 … 2023-12-31: 2024-01-02 is a
    new segment (not +526 bp); the bad JPY=X bars of 2008 that FRED's noon fixing contradicts
    never alert; the summary counts what the gate held back."""
    crit_2m = [e for e in full.alerts() if e.subject in ("ust_2m", "ust_3y") and e.date == dt.date(2024, 1, 2)]
    assert crit_2m == []
    for day in (dt.date(2008, 10, 7), dt.date(2008, 10, 8), dt.date(2008, 12, 5), dt.date(2008, 12, 8),
                dt.date(2008, 4, 7), dt.date(2008, 4, 8)):
        assert [e for e in full.alerts() if e.subject == "usdjpy" and e.date == day] == [], day
    g = full.gate
    assert g["rejected"] >= 4 and g["gap"] >= 2 and g["splice"] > 900
    # Every alert of a z rule rests on an accepted print with a move.
    for e in full.alerts():
        d = e.event.detail
        if "quality" in d:
            assert d["quality"] in ("ok", "splice"), format_event_line(e)


def test_named_events_keep_their_tier(full):
    def tiers(day, sid, rule):
        return {e.tier for e in full.alerts() if e.subject == sid and e.date == day and e.rule_id == rule}
    assert "critical" in tiers(dt.date(2026, 1, 20), "jgb_30y", "jgb_curve_z")
    assert "critical" in tiers(dt.date(2022, 12, 20), "jgb_10y", "jgb_curve_z")
    assert "critical" in tiers(dt.date(2023, 3, 13), "ust_2y", "ust_curve_z")


def test_jgb_30y_2026_01_20_reads_as_a_desk_would_quote_it(full):
    ev = next(e for e in full.alerts() if e.subject == "jgb_30y" and e.date == dt.date(2026, 1, 20)
              and e.rule_id == "jgb_curve_z")
    d = ev.event.detail
    assert 12.0 <= d["return_period_years"] <= 14.0
    text = ev.event.text
    assert "largest one-day rise on record (series since 1999-09-02)" in text
    assert "largest move of either sign since 2016-03-08" in text


def test_critical_is_rare_outside_stress_and_every_group_reaches_it(full, universe):
    """Calibration (docs/BACKTEST.md): critical ≤ ~0.1 per series-year in calm times; JGB, the UST
    curve and USD/JPY each reach critical at least once since 2000."""
    ep = full.episodes()
    crit = ep[ep["max_tier"] == "critical"]
    group = lambda s: "spread" if "-" in s else universe.get(s).group
    groups = {group(s) for s in crit["series"]}
    assert {"jgb_curve", "ust_curve"} <= groups and groups & {"fx", "fx_daily"}
    years = sum((b - a).days / 365.25 for a, b, _ in full.coverage.values())
    assert len(crit) / years < 0.2                        # all rules × series, stress included


def test_live_replay_tile_wall_and_backtest_say_the_same(full, market_dir, tmp_path, universe):
    """The replayed live path (collector → gate → store → web snapshot) and the backtest give
    JGB 30Y on 2026-01-20 the same return period and the same words, on the tile and the wall."""
    from components.overview import tile as draw_tile
    from views.overview import overview_view
    from components.wall import key_tiles
    from data.clock import ReplayClock
    from data.collector import Collector, SourceJob
    from main import build_alert_pipeline
    from views.snapshot import SnapshotService
    from data.sources.replay import ReplaySource
    from data.store import Store
    from config import Settings

    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    clock = ReplayClock.starting(dt.datetime(2026, 1, 21, 1, 0, tzinfo=dt.UTC), 1.0, held=True)
    settings = Settings(mode="replay", replay_dir=market_dir, replay_start=dt.date(2026, 1, 21))
    pipeline = build_alert_pipeline(settings, universe, store, clock)
    c = Collector(store, universe, {"replay": SourceJob(ReplaySource(market_dir, universe), 2, session_factory=None,
                                                       cursor="datetime")}, mode="replay", clock=clock,
                  after_cycle=pipeline.run, judge=pipeline.gate.judge)
    c.claim()
    assert c.run_once("replay").ok
    snap = SnapshotService(store, universe).current()
    live = next(s for s in snap.moves.for_series("jgb_30y") if s.horizon == 1)
    ev = next(e for e in full.alerts() if e.subject == "jgb_30y" and e.date == dt.date(2026, 1, 20)
              and e.rule_id == "jgb_curve_z")
    assert live.ts.date() == dt.date(2026, 1, 20)
    assert live.return_period_years == pytest.approx(ev.event.detail["return_period_years"], rel=1e-9)
    assert live.z["w60"] == pytest.approx(ev.event.detail["z"]["w60"], rel=1e-9)
    tile = next(t for t in overview_view(snap).tiles if t.id == "jgb_30y")
    assert tile.largest == "largest one-day rise on record (series since 1999-09-02)"
    assert "1 in 13.0 years" in str(draw_tile(tile))
    wall = str(key_tiles(snap, snap.now(), {}))
    assert "record rise (data from 1999)" in wall      # the same fact in the words a wall tile has room for
    store.dispose()


# ---------------------------------------------------------------- issue 12: incidents per year
def _merged_intervals(episodes: pd.DataFrame, market_of) -> dict[str, int]:
    """An independent grouping: per market, episodes [fired, resolved] merged while they overlap
    (one that fires on the day another clears joins it) — the incident rule without Pending."""
    out: dict[str, int] = {}
    rows = sorted(((market_of(r.rule, r.series), r.fired, r.resolved or dt.date.max)
                   for r in episodes.itertuples(index=False)), key=lambda x: (x[0], x[1]))
    end: dict[str, dt.date] = {}
    for m, fired, resolved in rows:
        if m not in end or fired > end[m]:
            out[m] = out.get(m, 0) + 1
            end[m] = resolved
        else:
            end[m] = max(end[m], resolved)
    return out


def test_the_2026_01_20_replay_is_one_jgb_incident_headed_by_the_30y_one_day_move(jan2026):
    inc = jan2026.incidents()
    jp = inc[[m == "JP" and o <= D20 <= (r or dt.date.max)
              for m, o, r in zip(inc["market"], inc["opened"], inc["resolved"])]]
    assert len(jp) == 1
    row = jp.iloc[0]
    assert row["headline"] == "JGB 30Y +20.3 bp, 7.6σ" and row["tier"] == "critical"
    # Its members: every JGB alert that went off from its opening to its resolution.
    ep = jan2026.episodes()
    on = ep[[s.startswith("jgb_") and row["opened"] <= f <= row["resolved"] for s, f in zip(ep["series"], ep["fired"])]]
    assert row["members"] >= len(on) >= 12


def test_incidents_per_year_group_alerts_as_overlapping_episodes_do(full, universe, rules):
    from alerts.incidents import market_resolver

    per_year = full.incidents_per_year()
    assert list(per_year["year"]) == list(range(2000, 2027))
    ep = full.episodes()
    assert per_year["alerts"].sum() == len(ep)
    assert (per_year["incidents"] <= per_year["alerts"]).all() and per_year["incidents"].sum() < len(ep) / 2
    # Pending alerts (which join an open incident, never open one) are rare: the merged intervals
    # of the episodes that fired give the same count per market, within the few they can bridge.
    mine = full.incidents()["market"].value_counts().to_dict()
    theirs = _merged_intervals(ep, market_resolver(universe, rules))
    assert set(mine) == set(theirs)
    pending = sum(1 for e in full.events if e.kind == "pending")
    for m, n in theirs.items():
        assert n - pending <= mine[m] <= n, m
    # The worst tier of an incident is the highest tier of its members.
    for i in full.incidents_list:
        assert i.tier == max((mem.tier for mem in i.members), key=lambda t: ("watch", "warning", "critical").index(t))
    doc = full.to_dict()
    assert doc["summary"]["incidents_by_tier"]["critical"] == int((full.incidents()["tier"] == "critical").sum())


def test_the_backtest_reports_the_possible_intervention_days(market_dir, capsys):
    """The detector over the replay folder's daily USD/JPY bars flags the four yen-buying
    intervention days the issue names, in the JSON and on stderr; no flag outside the period."""
    code = backtest_main(["--replay", str(market_dir), "--start", "2022-09-01", "--end", "2024-07-31", "--json"])
    out, err = capsys.readouterr()
    assert code == 0
    flags = {f["date"]: f for f in json.loads(out)["intervention_flags"]}
    for day in ("2022-09-22", "2022-10-21", "2024-04-29", "2024-07-11"):
        assert flags[day]["direction"] == "yen-buying" and flags[day]["ratio"] >= 4.0, day
        assert day in err
    assert all("2022-09-01" <= d <= "2024-07-31" for d in flags)
    assert "possible-intervention days" in err
