"""Alert backtest: replay real daily closes through the live alert engine, with no look-ahead.

`run_backtest(history, universe, rules, start=, end=)` answers "which alerts would the wall screen
have raised, day by day, since 2000?" with the SAME pieces the live path uses:

- the data-quality gate (analytics/quality.py), as a timeline: each close is judged with what
  was published by the time it arrived (its own print, the curve's other tenors, a second source
  already out), and re-judged when the next print or a second source arrives — the moments the
  live collector would re-judge it;
- statistics: the kernel `analytics.movestats` (`MoveTable.history` / `stat_at`: the numbers the
  live table showed on each of those days — one implementation, not a copy);
- inputs: `alerts.service.rule_inputs` (what `AlertService` builds each run);
- transitions: the pure `alerts.engine.evaluate`, states in memory, every source "ok" and `now`
  = the moment the data became known (`available_at`).

Each rule × subject is an independent state machine replayed on its own calendar (a spread on the
UTC dates both legs share, as the engine requires). The engine is called on every day a subject
is in an episode and on every day its reading reaches the rule's lowest tier; other days are
skipped because from Normal/Resolved a reading below every tier returns Normal with no event.

One approximation, documented in docs/BACKTEST.md: earlier closes enter a day's σ windows with
their final verdict (a print a second source contradicted a week later is already out of the
windows of the days in between); the day's own print is judged as it was at the time.

Intraday rules are skipped: the replay folder has no multi-year intraday history.

`backtest_main(argv)` is the command line (`python app.py backtest --replay DIR --start …`).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alerts.engine import (
    WINDOW_LABEL,
    AlertEvent,
    AlertState,
    Level,
    RuleInput,
    State,
    evaluate,
)
from alerts.incidents import Incident, incident_json, market_resolver, track
from alerts.intervention import daily_detected, daily_reading
from alerts.rules import TIERS, Rule, RuleSet, load_rules, tier_rank
from alerts.service import rule_inputs
from analytics.intervention import daily_from_export, detect_daily
from analytics.movestats import MoveTable, _daily_matrices, compute_move_stats
from analytics.quality import (
    HAS_LEVEL, REJECTED, UNCONFIRMED, VERDICTS, build_gate_matrix, market_days, verdict_timeline,
)
from analytics.stats import MoveParams
from analytics.types import MoveStat
from data.sources.replay import load_history
from errors import ContagionError
from universe import load_universe

__all__ = [
    "ALERT_KINDS",
    "BacktestEvent",
    "BacktestResult",
    "STRESS_EPISODES",
    "backtest_main",
    "calibration",
    "calibration_markdown",
    "format_event_line",
    "run_backtest",
]

# Event kinds that mean "an alert went off" (a new episode, or the same one at a higher tier).
ALERT_KINDS = ("firing", "escalated")
_INACTIVE = (State.NORMAL, State.RESOLVED)


# ------------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class BacktestEvent:
    """One engine event, with the market date of the data point behind it."""

    date: dt.date        # series' own calendar date (spreads: the UTC date both legs share)
    rule_id: str
    subject: str         # series id, or "a-b" for a spread
    event: AlertEvent

    @property
    def kind(self) -> str:
        return self.event.kind

    @property
    def tier(self) -> str | None:
        return self.event.tier

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: series, tier, move, sigma, window, z, rarity (+ rule, kind, text, detail)."""
        e, d = self.event, dict(self.event.detail)
        est = d.get("estimator")
        out: dict[str, Any] = {
            "date": self.date.isoformat(), "rule": self.rule_id, "series": self.subject, "kind": e.kind,
            "tier": e.tier, "alert_id": e.alert_id, "value": _num(e.value),
            "move": None, "unit": None, "horizon": None, "sigma": None, "window": None, "z": None,
            "estimator": est, "rarity": None, "text": _body(e.text),
        }
        if "sigma" in d and est:          # z rule: the MoveStat as the engine saw it
            win = WINDOW_LABEL.get(est, est)
            if d.get("window_end"):
                win += f" to {d['window_end'][:10]}"
            out.update(move=d.get("move"), unit=d.get("unit"), horizon=d.get("horizon"),
                       sigma=d["sigma"].get(est), window=win, z=d["z"].get(est),
                       sigma_all=d["sigma"], z_all=d["z"], data_ts=d.get("ts"), source=d.get("source"),
                       rarity={"share": d.get("rarity_share"), "return_period_years": d.get("return_period_years"),
                               "normal_equiv_sigma": d.get("normal_equiv_sigma"), "n_history": d.get("n_history")})
        elif "legs" in d:                 # spread rule: change of a − b in bp
            out.update(move=d.get("move"), unit="bp", horizon=d["legs"][0].get("horizon"), data_ts=d.get("ts"),
                       legs=[{"series": leg["series_id"], "move": leg["move"]} for leg in d["legs"]])
        else:                             # level rule
            out.update(level=d.get("level"), unit=d.get("unit"), data_ts=d.get("ts"), source=d.get("source"))
        return out


@dataclass
class BacktestResult:
    start: dt.date
    end: dt.date
    events: list[BacktestEvent]
    rules_run: list[str]
    skipped_rules: dict[str, str]                         # rule id → why it was not run
    coverage: dict[str, tuple[dt.date, dt.date, int]]     # subject → first, last day judged, days
    evaluations: int = 0                                   # engine calls
    runtime_s: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)
    gate: dict[str, int] = field(default_factory=dict)     # what the data-quality gate held back
    incidents_list: list[Incident] = field(default_factory=list)   # the alerts grouped (alerts/incidents.py)

    def alerts(self) -> list[BacktestEvent]:
        """The events a trader would have seen go off: firing and escalated."""
        return [e for e in self.events if e.kind in ALERT_KINDS]

    def episodes(self) -> pd.DataFrame:
        """One row per alert episode that fired: its first day, tier at firing, highest tier, end."""
        rows: dict[str, dict[str, Any]] = {}
        for e in self.events:
            a = e.event.alert_id
            if e.kind == "firing":
                rows[a] = {"alert_id": a, "rule": e.rule_id, "series": e.subject, "fired": e.date,
                           "first_tier": e.tier, "max_tier": e.tier, "escalated": None, "resolved": None,
                           "text": _body(e.event.text)}
            elif a in rows and e.kind == "escalated":
                r = rows[a]
                if tier_rank(e.tier) > tier_rank(r["max_tier"]):
                    r["max_tier"], r["escalated"], r["text"] = e.tier, e.date, _body(e.event.text)
            elif a in rows and e.kind == "resolved":
                rows[a]["resolved"] = e.date
        cols = ["alert_id", "rule", "series", "fired", "first_tier", "max_tier", "escalated", "resolved", "text"]
        return pd.DataFrame(list(rows.values()), columns=cols)

    def counts_per_year(self, *, by_rule: bool = False) -> pd.DataFrame:
        """Episodes that fired, counted once at their highest tier: series × year → watch/warning/critical.

        Every subject judged gets a row for every year it had data in the period (zeros included),
        so averages over the rows are per-year rates. `by_rule` splits a series by rule (e.g. the
        1-day and 2-day JGB rules); by default a series sums over its rules.
        """
        keys = ["rule", "series", "year"] if by_rule else ["series", "year"]
        ep = self.episodes()
        ep = ep.assign(year=[d.year for d in ep["fired"]])
        counts = (ep.groupby(keys + ["max_tier"]).size().unstack("max_tier", fill_value=0)
                  if len(ep) else pd.DataFrame(columns=list(TIERS)))
        counts = counts.reindex(columns=list(TIERS), fill_value=0)
        grid = []
        for key, (first, last, _) in self.coverage.items():
            rule, subject = key.split("|", 1)
            for y in range(first.year, last.year + 1):
                grid.append((rule, subject, y) if by_rule else (subject, y))
        idx = pd.MultiIndex.from_tuples(sorted(set(grid)), names=keys) if grid else None
        if idx is not None:
            counts = counts.reindex(idx.union(counts.index) if len(counts) else idx, fill_value=0)
        counts = counts.astype(int)
        counts["total"] = counts[list(TIERS)].sum(axis=1)
        return counts.reset_index()

    def per_series(self) -> pd.DataFrame:
        """Per series: days judged, years covered, episodes by highest tier and per year."""
        ep = self.episodes()
        rows = []
        subjects: dict[str, list[tuple[dt.date, dt.date, int]]] = {}
        for key, cov in self.coverage.items():
            subjects.setdefault(key.split("|", 1)[1], []).append(cov)
        for sid, covs in sorted(subjects.items()):
            first, last = min(c[0] for c in covs), max(c[1] for c in covs)
            days = max(c[2] for c in covs)
            years = max((last - first).days + 1, 1) / 365.25
            mine = ep[ep["series"] == sid]
            row: dict[str, Any] = {"series": sid, "first": first, "last": last, "days": days, "years": years}
            for t in TIERS:
                n = int((mine["max_tier"] == t).sum())
                row[t] = n
                row[f"{t}_per_year"] = n / years
            rows.append(row)
        return pd.DataFrame(rows)

    def incidents(self) -> pd.DataFrame:
        """One row per incident: market, the day it opened and resolved, worst tier, members, headline."""
        rows = [{"id": i.id, "market": i.market, "opened": (i.first_ts or i.opened_at).date(),
                 "resolved": i.resolved_at.date() if i.resolved_at else None, "tier": i.tier,
                 "members": len(i.members), "headline": i.headline} for i in self.incidents_list]
        return pd.DataFrame(rows, columns=["id", "market", "opened", "resolved", "tier", "members", "headline"])

    def incidents_per_year(self) -> pd.DataFrame:
        """Year → incidents by worst tier, beside the alert episodes that fired by highest tier."""
        inc, ep = self.incidents(), self.episodes()
        years = range(self.start.year, self.end.year + 1)
        out = []
        for y in years:
            iy = inc[[d.year == y for d in inc["opened"]]] if len(inc) else inc
            ey = ep[[d.year == y for d in ep["fired"]]] if len(ep) else ep
            row: dict[str, Any] = {"year": y}
            for t in TIERS:
                row[f"alerts_{t}"] = int((ey["max_tier"] == t).sum()) if len(ey) else 0
            row["alerts"] = len(ey)
            for t in TIERS:
                row[f"incidents_{t}"] = int((iy["tier"] == t).sum()) if len(iy) else 0
            row["incidents"] = len(iy)
            out.append(row)
        return pd.DataFrame(out)

    def summary(self) -> dict[str, int]:
        """Episodes by highest tier."""
        ep = self.episodes()
        return {t: int((ep["max_tier"] == t).sum()) for t in TIERS}

    def to_dict(self) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        for e in self.events:
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "runtime_s": round(self.runtime_s, 3), "evaluations": self.evaluations,
            "rules_run": self.rules_run, "skipped_rules": self.skipped_rules,
            "summary": {"episodes_by_max_tier": self.summary(), "events_by_kind": kinds, "gate": self.gate,
                        "incidents_by_tier": {t: sum(1 for i in self.incidents_list if i.tier == t) for t in TIERS},
                        "per_year": self.incidents_per_year().to_dict("records")},
            "incidents": [incident_json(i) for i in self.incidents_list],
            "alerts": [e.to_dict() for e in self.alerts()],
            "events": [e.to_dict() for e in self.events if e.kind not in ALERT_KINDS],
            "params": self.params,
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False, default=str)


def _num(x: Any) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def _body(text: str) -> str:
    """The alert text without the engine's "TIER · kind — " headline."""
    return text.split(" — ", 1)[1] if " — " in text else text


def format_event_line(event: BacktestEvent | AlertEvent) -> str:
    """One line: date, rule, series, tier, kind, then the alert text (move, σ, window, z's, rarity)."""
    if isinstance(event, BacktestEvent):
        day, rule, subject, e = event.date, event.rule_id, event.subject, event.event
    else:
        e = event
        day = (e.data_ts or e.at).astimezone(dt.UTC).date()
        rule, subject = e.rule_id, e.subject
    tier = (e.tier or "-").upper()
    return f"{day.isoformat()}  {rule:<18} {subject:<16} {tier:<8} {e.kind:<9} {_body(e.text)}"


# ------------------------------------------------------------------------------------ statistics
def _dt(ns: int | np.integer) -> dt.datetime:
    return pd.Timestamp(int(ns), tz="UTC").to_pydatetime()


@dataclass
class _Series:
    """One series' daily history as the kernel holds it, with the gate's verdict timeline."""

    sid: str
    unit: str
    kind: str
    table: MoveTable
    ts: np.ndarray            # int64 ns UTC, per stored row
    value: np.ndarray
    day: np.ndarray           # datetime64[D]: the market's own date
    avail: np.ndarray         # int64 ns: when each close was published
    moments: np.ndarray       # (n, K) int64: when the verdict changed
    codes: np.ndarray         # (n, K) int8
    hist: dict[tuple[int, str], pd.DataFrame] = field(default_factory=dict)
    _stats: dict[tuple[int, int], MoveStat] = field(default_factory=dict)

    def history(self, h: int, estimator: str = "w60") -> pd.DataFrame:
        """z of every row (one estimator: the candidate scan), moves, verdicts."""
        key = (h, estimator)
        if key not in self.hist:
            self.hist[key] = self.table.history(self.sid, horizons=(h,), estimators=(estimator,))
        return self.hist[key]

    def arrival(self, k: int) -> int:
        return int(self.codes[k, 0])

    def decided(self, k: int) -> tuple[int, int] | None:
        """(time, code) of the first later moment the verdict of a held print changed, if any."""
        first = self.codes[k, 0]
        for j in range(1, self.codes.shape[1]):
            if self.codes[k, j] != first and self.moments[k, j] < np.iinfo(np.int64).max:
                return int(self.moments[k, j]), int(self.codes[k, j])
        return None

    def prefetch(self, rows: np.ndarray, h: int) -> None:
        """Statistics of many rows in one batched pass (the days the replay will visit)."""
        rows = np.asarray([r for r in np.unique(rows) if (r, h) not in self._stats and 0 <= r < len(self.ts)],
                          dtype=np.int64)
        for r, st in zip(rows, self.table.stats_at(self.sid, rows, h)):
            self._stats[(int(r), h)] = st

    def stat(self, k: int, h: int, quality: str) -> MoveStat | None:
        if (k, h) not in self._stats:
            self.prefetch(np.arange(k, min(k + 20, len(self.ts))), h)
        st = self._stats.get((k, h))
        return None if st is None else (st if st.quality == quality else replace(st, quality=quality))

    def level(self, k: int) -> Level:
        return Level(series_id=self.sid, ts=_dt(self.ts[k]), value=float(self.value[k]), source=self.table._daily.sources[
            self.table._daily.col[self.sid]], unit="%" if self.kind == "yield" else "")


def _daily_series(history: pd.DataFrame, universe, params: MoveParams, wanted: set[str]) -> tuple[dict[str, _Series], dict]:
    """Per series: the kernel's history (own calendar) and the verdict timeline of every close;
    plus the gate's counts (what it held back)."""
    role = history["role"] if "role" in history.columns else pd.Series("primary", index=history.index)
    d = history[(history["freq"] == "D") & (role != "reference") & history["value"].notna()]
    refs = history[(history["freq"] == "D") & (role == "reference")]
    # The curve peers and second sources of the wanted series are judged with them.
    scope = set(wanted)
    for sid in list(wanted):
        if sid not in universe:
            continue
        s = universe.get(sid)
        scope |= {x.id for x in universe if x.group == s.group}
        scope |= {r["series"] for r in s.quality.get("references", []) if r.get("series")}
    d = d[d["series_id"].isin(list(scope))]
    d = d.assign(_o=np.arange(len(d))).sort_values(["series_id", "ts", "_o"], kind="stable")
    d = d.drop_duplicates(["series_id", "ts"], keep="last").drop(columns="_o")
    codes_, uniq = pd.factorize(d["series_id"])
    ids, ts, vals, c, rows, counts, pos = _daily_matrices(d, np.ones(len(d), bool), codes_, uniq, params)
    sub = d.iloc[pos]
    S = len(ids)
    if S == 0:
        return {}, {}
    R = int(counts.max())
    L = np.full((R, S), np.nan)
    TS = np.zeros((R, S), np.int64)
    AV = np.zeros((R, S), np.int64)
    L[rows, c], TS[rows, c] = vals, ts
    avail_col = "available_at" if "available_at" in sub.columns else "ts"
    AV[rows, c] = pd.DatetimeIndex(sub[avail_col]).as_unit("ns").asi8
    m = build_gate_matrix(ids, universe, L, TS, counts, avail=AV, fallback_refs=refs)
    moments, codes, notes = verdict_timeline(m)
    final = codes[:, :, -1]
    fnotes = notes[-1]
    judged = sub.assign(quality=np.asarray(VERDICTS, dtype=object)[final[rows, c]],
                        quality_note=[fnotes.get((int(r), int(j)), "") for r, j in zip(rows, c)])
    table = compute_move_stats(judged, universe, params)
    out: dict[str, _Series] = {}
    for j, sid in enumerate(ids):
        if sid not in universe or sid not in wanted:
            continue
        s = universe.get(sid)
        n = int(counts[j])
        out[sid] = _Series(sid, s.unit, s.kind, table, TS[:n, j].copy(), L[:n, j].copy(),
                           market_days(TS[:n, j], s.timezone, s.close), AV[:n, j].copy(),
                           moments[:n, j, :].copy(), codes[:n, j, :].copy())
    held = {name: int(((final == code) & (np.arange(R)[:, None] < counts[None, :])).sum())
            for name, code in (("gap", 1), ("splice", 2), ("unconfirmed", 3), ("rejected", 4))}
    held["unconfirmed_at_arrival"] = int(((codes[:, :, 0] == UNCONFIRMED)
                                          & (np.arange(R)[:, None] < counts[None, :])).sum())
    return out, held


# ------------------------------------------------------------------------------------ replay
@dataclass
class _Track:
    """One rule × subject: its reading per day and the engine evaluations a day brings."""

    rule: Rule
    subject: str
    day: np.ndarray            # datetime64[D]
    norm: np.ndarray           # normalised reading (larger = worse), NaN = nothing to judge
    evals: Callable[[int], list[tuple[int, list[RuleInput]]]]   # row → [(now ns, inputs)]


def _z_subjects(rule: Rule, universe) -> list[str]:
    ids = [s.id for s in universe if s.group in rule.groups]
    return ids + [sid for sid in rule.series if sid not in ids]


def _norm(rule: Rule, raw: np.ndarray) -> np.ndarray:
    return np.abs(raw) if rule.direction == "both" else rule.sign * raw


def _moments(s: _Series, k: int) -> list[tuple[int, str]] | None:
    """(time, quality) moments at which the live engine judged close k: its arrival, and — if the
    gate held it then — the moment it was confirmed. None when it was rejected at arrival."""
    first = s.arrival(k)
    if first == REJECTED or not HAS_LEVEL[first]:
        return None
    out = [(int(s.avail[k]), VERDICTS[first])]
    if first == UNCONFIRMED:
        later = s.decided(k)
        if later is not None and later[1] != REJECTED:
            out.append((later[0], VERDICTS[later[1]]))
    return out


def _tracks(rule: Rule, universe, series: dict[str, _Series]) -> list[_Track]:
    ok: dict[str, str] = {}        # every source "ok": the backtest judges the data, not outages
    out: list[_Track] = []
    if rule.type == "z":
        for sid in _z_subjects(rule, universe):
            s = series.get(sid)
            if s is None:
                continue
            hist = s.history(rule.horizon, rule.estimator)
            norm = _norm(rule, hist[f"z_{rule.estimator}"].to_numpy(dtype=float))
            with np.errstate(invalid="ignore"):
                cand = np.flatnonzero(norm >= rule.lowest - rule.hysteresis)
            s.prefetch(np.unique(np.concatenate([cand + i for i in range(3)])) if len(cand) else cand, rule.horizon)

            def evals(k: int, s: _Series = s) -> list[tuple[int, list[RuleInput]]]:
                res = []
                for now, q in _moments(s, k) or ():
                    st = s.stat(k, rule.horizon, q)
                    if st is not None:
                        res.append((now, rule_inputs(rule, universe, [st], {}, ok)))
                return res

            out.append(_Track(rule, sid, s.day, norm, evals))
    elif rule.type == "level":
        sid = rule.series[0]
        s = series.get(sid)
        if s is not None:
            def evals(k: int, s: _Series = s) -> list[tuple[int, list[RuleInput]]]:
                m = _moments(s, k)
                return [] if m is None else [(m[0][0], rule_inputs(rule, universe, [], {s.sid: s.level(k)}, ok))]

            out.append(_Track(rule, sid, s.day, rule.sign * s.value, evals))
    elif rule.type == "intervention":
        track = _intervention_track(rule, universe, series)
        if track is not None:
            out.append(track)
    else:
        a_id, b_id = rule.legs  # type: ignore[misc]
        a, b = series.get(a_id), series.get(b_id)
        if a is not None and b is not None:
            # The engine pairs daily legs only on the same UTC date (JGB 06:00 UTC, UST ~20:00 UTC).
            ua = a.ts.astype("datetime64[ns]").astype("datetime64[D]")
            ub = b.ts.astype("datetime64[ns]").astype("datetime64[D]")
            ia = pd.Series(np.arange(len(ua)), index=ua).groupby(level=0).last()
            ib = pd.Series(np.arange(len(ub)), index=ub).groupby(level=0).last()
            both = ia.index.intersection(ib.index)
            ra, rb = ia[both].to_numpy(), ib[both].to_numpy()
            h = rule.horizon
            raw = a.history(h)["move"].to_numpy(dtype=float)[ra] - b.history(h)["move"].to_numpy(dtype=float)[rb]

            def evals(k: int, ra=ra, rb=rb) -> list[tuple[int, list[RuleInput]]]:
                ma, mb = _moments(a, int(ra[k])), _moments(b, int(rb[k]))
                if ma is None or mb is None:
                    return []
                now = max(ma[-1][0], mb[-1][0])
                sa, sb = a.stat(int(ra[k]), h, ma[-1][1]), b.stat(int(rb[k]), h, mb[-1][1])
                if sa is None or sb is None:
                    return []
                return [(now, rule_inputs(rule, universe, [sa, sb], {}, ok))]

            out.append(_Track(rule, f"{a_id}-{b_id}", both.to_numpy().astype("datetime64[D]"), _norm(rule, raw), evals))
    return out


def _intervention_track(rule: Rule, universe, series: dict[str, _Series]) -> _Track | None:
    """A daily intervention rule over the day's close of record, High and Low as the gate judged
    them (final verdicts), through the live code (alerts/intervention.py); each day is judged
    when its close of record is published."""
    legs = (rule.series[0], *(rule.range_legs or ()))
    if any(x not in series for x in legs):
        return None
    obs = pd.concat([pd.DataFrame({"series_id": x, "freq": "D", "ts": pd.to_datetime(series[x].ts, utc=True),
                                   "value": series[x].value,
                                   "quality": np.asarray(VERDICTS, dtype=object)[series[x].codes[:, -1]]})
                     for x in legs], ignore_index=True)
    det = daily_detected(obs, rule, universe)
    if det.empty:
        return None
    c = series[legs[0]]
    avail = pd.Series(c.avail, index=c.ts)
    label = universe.get(legs[0]).label if legs[0] in universe else legs[0]
    ts_ns = pd.DatetimeIndex(det["ts"]).as_unit("ns").asi8
    judgeable = det["close"].notna().to_numpy() & det["baseline"].notna().to_numpy()
    norm = np.where(judgeable, np.where(det["shape"].to_numpy(), det["ratio"].fillna(0.0).to_numpy(), 0.0), np.nan)
    ok: dict[str, str] = {}

    def evals(k: int) -> list[tuple[int, list[RuleInput]]]:
        iv = daily_reading(rule, det, k, label) if judgeable[k] else None
        if iv is None or ts_ns[k] not in avail.index:
            return []
        return [(int(avail[ts_ns[k]]), rule_inputs(rule, universe, [], {}, ok, interventions=[iv]))]

    return _Track(rule, legs[0], det.index.to_numpy().astype("datetime64[D]"), norm, evals)


def _replay(track: _Track, lo: int, hi: int) -> tuple[list[tuple[int, AlertEvent]], int]:
    """Run the engine over rows lo..hi−1, skipping only Normal/Resolved days below every tier."""
    rule = track.rule
    with np.errstate(invalid="ignore"):
        cand = np.flatnonzero(track.norm[lo:hi] >= rule.lowest) + lo
    state: AlertState | None = None
    events: list[tuple[int, AlertEvent]] = []     # (row, event)
    calls = 0
    k = lo
    while k < hi:
        if state is None or state.state in _INACTIVE:
            j = int(np.searchsorted(cand, k))
            if j == len(cand):
                break
            k = int(cand[j])           # jump to the next day that reaches a tier
        for now_ns, inputs in track.evals(k):
            now = _dt(now_ns)
            for inp in inputs:
                if inp.subject != track.subject:
                    continue
                state, evs = evaluate(rule, state, inp, now)
                calls += 1
                events.extend((k, e) for e in evs)
        k += 1
    return events, calls


def run_backtest(history: pd.DataFrame, universe, rules: RuleSet | Sequence[Rule], *, start: dt.date,
                 end: dt.date, params: MoveParams | None = None) -> BacktestResult:
    """Replay the daily closes of `history` (load_history's frame) from `start` to `end` inclusive.

    Statistics use all history since `params.history_start` before each day (also before
    `start`); alert states start Normal on `start`. Disabled and intraday rules are not run (see
    `skipped_rules`).
    """
    t0 = time.perf_counter()
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    p = params or MoveParams()
    all_rules = list(rules.rules if isinstance(rules, RuleSet) else rules)
    skipped: dict[str, str] = {}
    run: list[Rule] = []
    for r in all_rules:
        if not r.enabled:
            skipped[r.id] = "disabled in the rules file"
        elif r.type == "signal":
            skipped[r.id] = "contagion signal rule: judged live from the contagion snapshot, not replayed here"
        elif r.kind == "intraday" and r.type != "level":
            skipped[r.id] = "intraday rule: the backtest replays daily closes only (no multi-year intraday history)"
        else:
            run.append(r)
    wanted: set[str] = set()
    for r in run:
        ids = (_z_subjects(r, universe) if r.type == "z" else list(r.series) if r.type == "level"
               else [*r.series, *(r.range_legs or ())] if r.type == "intervention" else list(r.legs or ()))
        wanted.update(i for i in ids if i in universe)
    series, gate = _daily_series(history, universe, p, wanted)

    d0, d1 = np.datetime64(start, "D"), np.datetime64(end, "D")
    events: list[BacktestEvent] = []
    coverage: dict[str, tuple[dt.date, dt.date, int]] = {}
    calls = 0
    order = {r.id: i for i, r in enumerate(run)}
    for rule in run:
        for tr in _tracks(rule, universe, series):
            lo, hi = int(np.searchsorted(tr.day, d0, "left")), int(np.searchsorted(tr.day, d1, "right"))
            if hi <= lo:
                continue
            coverage[f"{rule.id}|{tr.subject}"] = (_date(tr.day[lo]), _date(tr.day[hi - 1]), hi - lo)
            evs, n = _replay(tr, lo, hi)
            calls += n
            events.extend(BacktestEvent(_date(tr.day[k]), rule.id, tr.subject, e) for k, e in evs)
    events.sort(key=lambda b: (b.date, b.event.data_ts or b.event.at, order[b.rule_id], b.subject, b.event.seq))
    incidents = group_incidents(events, market_resolver(universe, RuleSet(rules=tuple(all_rules))
                                                        if not isinstance(rules, RuleSet) else rules))
    return BacktestResult(start=start, end=end, events=events, rules_run=[r.id for r in run], skipped_rules=skipped,
                          coverage=coverage, evaluations=calls, runtime_s=time.perf_counter() - t0,
                          params={"horizons": list(p.horizons), "floor_frac": p.floor_frac,
                                  "floor_abs": dict(p.floor_abs),
                                  "rarity_since": None if p.base is None else str(p.base.date()),
                                  "history_start": None if p.history_start is None else str(p.history_start.date()),
                                  "obs_per_year": p.obs_per_year},
                          gate=gate, incidents_list=incidents)


def group_incidents(events: Sequence[BacktestEvent], market_of: Callable[[str, str], str]) -> list[Incident]:
    """The replayed alert events folded into incidents by the live code (`alerts.incidents.track`),
    one run per market day: the alerts of one print arrive together, as in the collector."""
    states: dict[str, AlertState] = {}
    open_: dict[str, Incident] = {}
    done: dict[str, Incident] = {}
    by_day: dict[dt.date, list[AlertEvent]] = {}
    for b in events:
        by_day.setdefault(b.date, []).append(b.event)
    for day in sorted(by_day):
        evs = by_day[day]
        for e in evs:
            states[e.alert_id] = AlertState(rule_id=e.rule_id, subject=e.subject, state=e.state, alert_id=e.alert_id,
                                            tier=e.tier, last_ts=e.data_ts, label=e.label, text=e.text,
                                            detail=e.detail)
        now = max(e.at for e in evs)
        changed, _ = track(list(open_.values()), evs, states, now, market_of)
        for inc in changed:
            done[inc.id] = inc
            if inc.is_open:
                open_[inc.market] = inc
            else:
                open_.pop(inc.market, None)
        for aid in [a for a, st in states.items() if st.state in _INACTIVE]:
            del states[aid]              # a cleared alert never rejoins; keeps the map small
    return sorted(done.values(), key=lambda i: (i.first_ts or i.opened_at, i.market))


# ------------------------------------------------------------------------------------ calibration
# Stress episodes since 2000 (public market history), for "what fired in calm times": an alert
# whose episode opened inside one of these windows counts as stress, any other as calm.
STRESS_EPISODES: tuple[tuple[str, str, str], ...] = (
    ("2001-09-11", "2001-10-31", "9/11"), ("2003-06-01", "2003-09-30", "JGB VaR shock"),
    ("2007-08-01", "2007-09-30", "BNP / quant crisis"), ("2008-03-01", "2008-03-31", "Bear Stearns"),
    ("2008-09-01", "2009-03-31", "Lehman / GFC"), ("2010-05-01", "2010-05-31", "euro crisis, flash crash"),
    ("2011-03-11", "2011-03-31", "Tohoku earthquake"), ("2011-08-01", "2011-09-30", "US downgrade"),
    ("2013-04-01", "2013-07-31", "BOJ QQE, taper tantrum"), ("2014-10-15", "2014-11-15", "UST flash rally, QQE2"),
    ("2016-01-29", "2016-03-31", "BOJ negative rates"), ("2016-06-23", "2016-07-31", "Brexit"),
    ("2016-11-08", "2016-12-31", "US election"), ("2018-07-20", "2018-08-10", "BOJ YCC tweak"),
    ("2020-02-24", "2020-04-30", "COVID"), ("2022-02-01", "2022-03-31", "Fed lift-off, Ukraine"),
    ("2022-06-10", "2022-06-30", "CPI shock, 75 bp"), ("2022-09-20", "2022-11-15", "gilt LDI, intervention"),
    ("2022-12-19", "2023-01-31", "BOJ widens the YCC band"), ("2023-03-08", "2023-03-31", "SVB"),
    ("2024-07-29", "2024-08-15", "carry unwind"), ("2025-04-02", "2025-04-30", "tariff shock"),
    ("2025-05-15", "2025-05-31", "super-long JGB sell-off"), ("2026-01-12", "2026-01-31", "JGB 30Y +20 bp"),
    # Japan's FX interventions (MOF): USD/JPY stress days of their own.
    *((d, d, "MOF intervention") for d in ("2010-09-15", "2011-03-18", "2011-08-04", "2011-10-31", "2022-09-22",
                                          "2022-10-21", "2022-10-24", "2024-04-29", "2024-05-01", "2024-07-11",
                                          "2024-07-12")),
)
_GROUP_NAMES = {"jgb_curve": "JGB curve", "ust_curve": "UST curve", "fx": "USD/JPY", "fx_daily": "USD/JPY"}


def _stress_label(day: dt.date) -> str | None:
    for a, b, label in STRESS_EPISODES:
        if dt.date.fromisoformat(a) <= day <= dt.date.fromisoformat(b):
            return label
    return None


def calibration(result: BacktestResult, universe) -> pd.DataFrame:
    """Per series group × tier: episodes (counted once, at their highest tier) per series-year,
    in and outside the stress episodes, and which stress episodes the tier caught."""
    ep = result.episodes()
    group = lambda s: "spreads" if "-" in s else _GROUP_NAMES.get(universe.get(s).group, universe.get(s).group)
    years: dict[str, float] = {}
    seen: dict[tuple[str, str], float] = {}
    for key, (a, b, _) in result.coverage.items():
        subject = key.split("|", 1)[1]
        seen[(group(subject), subject)] = max(seen.get((group(subject), subject), 0.0), (b - a).days / 365.25)
    for (g, _), y in seen.items():
        years[g] = years.get(g, 0.0) + y
    rows = []
    for g in sorted(years):
        mine = ep[[group(s) == g for s in ep["series"]]] if len(ep) else ep
        for t in TIERS:
            x = mine[mine["max_tier"] == t]
            labels = [_stress_label(d) for d in x["fired"]]
            calm = [lb is None for lb in labels]
            caught = sorted({lb for lb in labels if lb})
            calm_days = [str(d) for d, c in zip(x["fired"], calm) if c]
            rows.append({"group": g, "tier": t, "series_years": round(years[g], 1), "episodes": len(x),
                         "per_series_year": round(len(x) / years[g], 3),
                         "calm_per_series_year": round(sum(calm) / years[g], 3),
                         "stress_episodes_caught": len(caught),
                         "caught": ", ".join(caught), "calm": ", ".join(calm_days[:12]) +
                         (f" (+{len(calm_days) - 12})" if len(calm_days) > 12 else "")})
    return pd.DataFrame(rows)


def _date(d: np.datetime64) -> dt.date:
    return pd.Timestamp(d).date()


# ------------------------------------------------------------------------------------ command line
class _UsageError(Exception):
    """A bad command-line value: message names the option and the value (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage and sys.exit(2)
        raise _UsageError(message)


def _parser() -> _Parser:
    p = _Parser(prog="app.py backtest", description="Replay real daily closes through the alert rules.")
    p.add_argument("--replay", metavar="DIR", required=True, help="folder of real history files (as for --replay)")
    p.add_argument("--start", metavar="DATE", required=True, help="first day judged, YYYY-MM-DD")
    p.add_argument("--end", metavar="DATE", required=True, help="last day judged, YYYY-MM-DD (may lie past the data)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of one line per alert")
    p.add_argument("--calibration", action="store_true",
                   help="print the calibration table (episodes per series-year by group and tier) instead")
    p.add_argument("--rules", metavar="FILE", help="alert rules file (default alerts.toml)")
    p.add_argument("--universe", metavar="FILE", help="universe file (default universe.toml)")
    p.add_argument("--rarity-base", metavar="DATE", default="2000-01-01",
                   help="declared rarity base, YYYY-MM-DD (default 2000-01-01, as CM_RARITY_BASE live)")
    return p


def _date_arg(option: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _UsageError(f"{option} {value!r} is not a date (expected YYYY-MM-DD)") from None


def backtest_main(argv: list[str]) -> int:
    """`backtest --replay DIR --start DATE --end DATE [--json] [--rules FILE]` → exit code.

    stdout: every alert that would have fired (firing/escalated), one per line, or the JSON
    document; stderr: the summary by tier. Bad options, dates, folders or rules → 2.
    """
    try:
        try:
            args = _parser().parse_args(argv)
        except SystemExit as exc:      # --help printed its text
            return int(exc.code or 0)
        start, end = _date_arg("--start", args.start), _date_arg("--end", args.end)
        if end < start:
            raise _UsageError(f"--end {args.end!r} is before --start {args.start!r}")
        root = Path(args.replay)
        if not root.is_dir():
            raise _UsageError(f"--replay {args.replay!r} is not a folder")
        universe = load_universe(args.universe) if args.universe else load_universe()
        if args.rules and not Path(args.rules).is_file():
            raise _UsageError(f"--rules {args.rules!r}: no such file")
        rules = load_rules(args.rules, universe)
        t0 = time.perf_counter()
        history = load_history(root, universe, references=True)
        t_load = time.perf_counter() - t0
        base = _date_arg("--rarity-base", args.rarity_base)
        result = run_backtest(history, universe, rules, start=start, end=end, params=MoveParams.with_base(base))
    except _UsageError as exc:
        print(f"backtest: error: {exc}", file=sys.stderr)
        return 2
    except ContagionError as exc:    # ConfigError (rules/universe), EmptyPayload (no files in DIR), …
        print(f"backtest: error: {exc}", file=sys.stderr)
        return 2
    flags = intervention_flags(root, start, end)
    if args.calibration:
        print(calibration_markdown(calibration(result, universe)))
    elif args.json:
        doc = result.to_dict()
        doc["replay"] = str(root)
        doc["load_s"] = round(t_load, 3)
        doc["intervention_flags"] = flags
        print(json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False, default=str))
    else:
        for e in result.alerts():
            print(format_event_line(e))
    _print_summary(result, t_load, root)
    if flags is not None:
        print(f"possible-intervention days (USD/JPY daily range, {INTERVENTION_FILE}): {len(flags)} — "
              + (", ".join(f"{f['date']} {f['direction']}" for f in flags) or "none"), file=sys.stderr)
    return 0


INTERVENTION_FILE = "fx/USDJPY.csv"    # the replay folder's daily USD/JPY bars (data/sources/replay.py)


def intervention_flags(root: Path, start: dt.date, end: dt.date) -> list[dict[str, Any]] | None:
    """The possible-intervention detector (analytics/intervention.py) over the replay folder's
    daily USD/JPY High/Low bars, days `start`..`end`; None when the folder has no such file.
    It reads High, Low and the close of record (the next bar's Open), never the stale daily Close."""
    path = root / INTERVENTION_FILE
    if not path.is_file():
        return None
    det = detect_daily(daily_from_export(pd.read_csv(path)))
    days = det[det["flag"] & (det.index >= pd.Timestamp(start)) & (det.index <= pd.Timestamp(end))]
    return [{"date": ix.date().isoformat(), "direction": r.direction, "range_pct": round(float(r.range_pct), 3),
             "ratio": round(float(r.ratio), 2), "net_pct": round(float(r.net_pct), 3)}
            for ix, r in days.iterrows()]


def calibration_markdown(table: pd.DataFrame) -> str:
    """The calibration as it goes into docs/BACKTEST.md: one table, then what critical caught and
    what it raised in calm times."""
    n = len({label for _, _, label in STRESS_EPISODES})
    lines = ["| group | tier | series-years | episodes | per series-year | calm, per series-year | stress episodes caught |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in table.itertuples(index=False):
        lines.append(f"| {r.group} | {r.tier} | {r.series_years:,.1f} | {r.episodes:,} | {r.per_series_year:.3f} | "
                     f"{r.calm_per_series_year:.3f} | {r.stress_episodes_caught} of {n} |")
    lines.append("")
    for r in table[table["tier"] == "critical"].itertuples(index=False):
        lines.append(f"- **{r.group}**, critical caught: {r.caught or '—'}; in calm times: {r.calm or 'nothing'}")
    return "\n".join(lines)


def _print_summary(result: BacktestResult, t_load: float, root: Path) -> None:
    s = result.summary()
    kinds: dict[str, int] = {}
    for e in result.events:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    err = sys.stderr
    print(f"backtest {result.start}..{result.end} on {root}: {len(result.coverage)} rule × series, "
          f"{result.evaluations} engine evaluations, load {t_load:.1f} s + backtest {result.runtime_s:.1f} s", file=err)
    print("episodes by highest tier: " + ", ".join(f"{t} {s[t]}" for t in TIERS), file=err)
    print("events: " + (", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none"), file=err)
    inc = result.incidents()
    print(f"incidents (alerts of one market event grouped): {len(inc)} — "
          + ", ".join(f"{t} {int((inc['tier'] == t).sum()) if len(inc) else 0}" for t in TIERS), file=err)
    g = result.gate
    if g:
        print(f"data-quality gate held back: {g.get('rejected', 0)} rejected prints, "
              f"{g.get('unconfirmed', 0)} still unconfirmed, {g.get('unconfirmed_at_arrival', 0)} held on arrival "
              f"for confirmation, {g.get('gap', 0)} segment starts (no move across a gap), "
              f"{g.get('splice', 0)} spliced closes", file=err)
    for rid, why in result.skipped_rules.items():
        print(f"skipped {rid}: {why}", file=err)
