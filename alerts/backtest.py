"""Alert backtest: replay real daily closes through the live alert engine, with no look-ahead.

`run_backtest(history, universe, rules, start=, end=)` answers "which alerts would the wall screen
have raised, day by day, since 2000?" with the SAME pieces the live path uses:

- statistics: the definitions of `analytics.movestats.compute_move_stats` (σ windows ending at
  t−1, σ floor from the long-run σ of earlier moves only, rarity from earlier moves only), but
  computed once per series for the whole history (vectorised, causal by construction) instead of
  once per day;
- inputs: `alerts.service.rule_inputs` (what `AlertService` builds each run);
- transitions: the pure `alerts.engine.evaluate`, with states held in memory (no store), every
  source "ok" and `now` = the point's publication time (`available_at`).

Each rule × subject is an independent state machine, so it is replayed on its own calendar (each
market's own trading days; a spread on the UTC dates both legs share, as the engine requires).
The engine is called on every day a subject is in an episode, and on every day its reading
reaches the rule's lowest tier; the other days are skipped because from Normal/Resolved a reading
below every tier returns Normal with no event — the same result, for a fraction of the calls.

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
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
from alerts.rules import TIERS, Rule, RuleSet, load_rules, tier_rank
from alerts.service import rule_inputs
from analytics.stats import (
    MAD_SCALE,
    MAD_WINDOW,
    MoveParams,
    rarity_figures,
    sigma_history,
    zscores,
)
from analytics.types import ESTIMATORS, MoveStat
from data.errors import ContagionError

__all__ = [
    "ALERT_KINDS",
    "BacktestEvent",
    "BacktestResult",
    "backtest_main",
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
            "summary": {"episodes_by_max_tier": self.summary(), "events_by_kind": kinds},
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
def _transform(values: np.ndarray, unit: str) -> np.ndarray:
    """Level → the space where a move is a difference (bp: 100·y; log %: 100·ln p), as movestats."""
    if unit == "logpct":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(values > 0, 100.0 * np.log(values), np.nan)
    return 100.0 * values


def _diff(T: np.ndarray, h: int) -> np.ndarray:
    out = np.full(T.shape, np.nan)
    out[h:] = T[h:] - T[:-h]
    return out


@dataclass
class _Series:
    """One series' whole daily history with causal σ/z per row (row k: the move ending at k)."""

    sid: str
    unit: str
    source: str
    ts: np.ndarray            # int64 ns UTC
    avail: np.ndarray         # int64 ns UTC: when the close was published (the evaluation `now`)
    day: np.ndarray           # datetime64[D]: the market's own date
    value: np.ndarray
    M1: np.ndarray
    x: dict[int, np.ndarray]
    fc: dict[str, np.ndarray]           # forecasts for row k (from moves up to k−1)
    z: dict[int, dict[str, np.ndarray]]
    params: MoveParams
    since_ns: int | None
    _abs: dict[int, np.ndarray] = field(default_factory=dict)
    _stats: dict[tuple[int, int], MoveStat] = field(default_factory=dict)   # spread legs are asked twice

    def mad_forecast(self, k: int) -> tuple[float, float]:
        """(μ̂, σ̂) of the MAD estimator for row k: the 250 moves ending at k−1 (NaN if not full)."""
        lo = k - MAD_WINDOW
        if lo < 1:                 # row 0 has no move: the window is not full
            return math.nan, math.nan
        w = self.M1[lo:k]
        med = float(np.median(w))
        return med, float(MAD_SCALE * np.median(np.abs(w - med)))

    def stat(self, k: int, h: int) -> MoveStat:
        """The MoveStat the live path would have shown for the h-day move ending at row k."""
        hit = self._stats.get((k, h))
        if hit is not None:
            return hit
        fc = {key: np.array([a[k]]) for key, a in self.fc.items()}
        if np.isnan(fc["sigma_mad250"][0]):
            mu, sd = self.mad_forecast(k)
            fc["mu_mad250"], fc["sigma_mad250"] = np.array([mu]), np.array([sd])
        x = float(self.x[h][k])
        z = zscores(np.array([x]), fc, h, self.unit, self.params)
        share, period, neq, nh = self.rarity(k, h, x)
        sig = {e: float(z[f"sigma_{e}"][0]) for e in ESTIMATORS if not np.isnan(z[f"sigma_{e}"][0])}
        zz = {e: float(z[f"z_{e}"][0]) for e in ESTIMATORS if not np.isnan(z[f"z_{e}"][0])}
        st = MoveStat(
            series_id=self.sid, ts=_dt(self.ts[k]), kind="daily", horizon=h, move=x, unit=self.unit,
            sigma=sig, z=zz, window_end=_dt(self.ts[k - 1]) if k >= 1 else None,
            rarity_share=_f(share), return_period_years=_f(period), normal_equiv_sigma=_f(neq),
            n_history=nh, source=self.source,
        )
        self._stats[(k, h)] = st
        return st

    def rarity(self, k: int, h: int, x: float) -> tuple[float, float, float, int]:
        """Share of the same-horizon moves ending before row k at least as big as |x| (movestats rules)."""
        A = self._abs.get(h)
        if A is None:
            A = np.abs(self.x[h])
            if self.since_ns is not None:
                A = np.where(self.ts < self.since_ns, np.nan, A)
            self._abs[h] = A
        past = A[:k]
        valid = ~np.isnan(past)
        nh = int(np.count_nonzero(valid))
        thr = abs(x) - self.params.tie_tol * max(1.0, abs(x))
        with np.errstate(invalid="ignore"):
            cnt = int(np.count_nonzero(past >= thr))
        first = self.ts[int(np.argmax(valid))] if nh else self.ts[k]
        share, period, neq = rarity_figures(np.array([cnt]), np.array([nh]), np.array([first]),
                                            np.array([self.ts[k - 1] if k >= 1 else 0]), self.params.obs_per_year)
        return float(share[0]), float(period[0]), float(neq[0]), nh

    def level(self, k: int, kind: str) -> Level:
        return Level(series_id=self.sid, ts=_dt(self.ts[k]), value=float(self.value[k]), source=self.source,
                     unit="%" if kind == "yield" else "")


def _dt(ns: int | np.integer) -> dt.datetime:
    return pd.Timestamp(int(ns), tz="UTC").to_pydatetime()


def _f(v: float) -> float | None:
    return None if v is None or math.isnan(v) else float(v)


def _build_series(sid: str, g: pd.DataFrame, universe, params: MoveParams, horizons: Iterable[int],
                  mad: bool) -> _Series:
    s = universe.get(sid)
    ts = pd.DatetimeIndex(g["ts"])
    ts = ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")
    ts_ns = ts.as_unit("ns").asi8
    if "available_at" in g.columns:
        av = pd.DatetimeIndex(g["available_at"])
        av = av.tz_localize("UTC") if av.tz is None else av.tz_convert("UTC")
        avail = av.as_unit("ns").asi8
    else:
        avail = ts_ns
    day = ts.tz_convert(s.timezone).tz_localize(None).to_numpy().astype("datetime64[D]")
    value = g["value"].to_numpy(dtype="float64")
    T = _transform(value, s.unit)
    M1 = _diff(T, 1)
    # sigma_history row k = σ̂ after move k; the move at row k is judged against row k−1.
    hist = sigma_history(M1[:, None], params, mad=mad)
    fc = {key: np.r_[np.nan, arr[:-1, 0]] for key, arr in hist.items()}
    x = {h: _diff(T, h) for h in horizons}
    z = {h: zscores(x[h], fc, h, s.unit, params) for h in horizons}
    since = None
    if params.rarity_since is not None:
        t = pd.Timestamp(params.rarity_since)
        since = (t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")).value
    return _Series(sid, s.unit, s.source, ts_ns, avail, day, value, M1, x, fc, z, params, since)


def _daily_series(history: pd.DataFrame, universe, params: MoveParams, horizons: set[int], mad_ids: set[str],
                  wanted: set[str]) -> dict[str, _Series]:
    """Per series, its own calendar: freq "D" rows, NaN dropped, a restated (series, ts) keeps the last."""
    d = history[(history["freq"] == "D") & history["series_id"].isin(list(wanted)) & history["value"].notna()]
    d = d.assign(_o=np.arange(len(d))).sort_values(["series_id", "ts", "_o"], kind="stable")
    d = d.drop_duplicates(["series_id", "ts"], keep="last")
    out = {}
    for sid, g in d.groupby("series_id", sort=True):
        if sid in universe and len(g) >= 2:
            out[str(sid)] = _build_series(str(sid), g, universe, params, sorted(horizons), str(sid) in mad_ids)
    return out


# ------------------------------------------------------------------------------------ replay
@dataclass
class _Track:
    """One rule × subject: its reading per day and how to build the engine's inputs for a row."""

    rule: Rule
    subject: str
    day: np.ndarray            # datetime64[D]
    norm: np.ndarray           # normalised reading (larger = worse), NaN = nothing to judge
    now: np.ndarray            # int64 ns: evaluation time (publication of the newest input)
    inputs: Callable[[int], list[RuleInput]]


def _z_subjects(rule: Rule, universe) -> list[str]:
    ids = [s.id for s in universe if s.group in rule.groups]
    return ids + [sid for sid in rule.series if sid not in ids]


def _norm(rule: Rule, raw: np.ndarray) -> np.ndarray:
    return np.abs(raw) if rule.direction == "both" else rule.sign * raw


def _tracks(rule: Rule, universe, series: dict[str, _Series]) -> list[_Track]:
    ok: dict[str, str] = {}        # every source "ok": the backtest judges the data, not outages
    out: list[_Track] = []
    if rule.type == "z":
        for sid in _z_subjects(rule, universe):
            s = series.get(sid)
            if s is None:
                continue

            def inp(k: int, s: _Series = s) -> list[RuleInput]:
                return rule_inputs(rule, universe, [s.stat(k, rule.horizon)], {}, ok)

            out.append(_Track(rule, sid, s.day, _norm(rule, s.z[rule.horizon][f"z_{rule.estimator}"]), s.avail, inp))
    elif rule.type == "level":
        sid = rule.series[0]
        s = series.get(sid)
        if s is not None:
            kind = universe.get(sid).kind

            def inp(k: int, s: _Series = s, kind: str = kind) -> list[RuleInput]:
                return rule_inputs(rule, universe, [], {s.sid: s.level(k, kind)}, ok)

            out.append(_Track(rule, sid, s.day, rule.sign * s.value, s.avail, inp))
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
            raw = a.x[h][ra] - b.x[h][rb]

            def inp(k: int, ra=ra, rb=rb) -> list[RuleInput]:
                return rule_inputs(rule, universe, [a.stat(int(ra[k]), h), b.stat(int(rb[k]), h)], {}, ok)

            out.append(_Track(rule, f"{a_id}-{b_id}", both.to_numpy().astype("datetime64[D]"), _norm(rule, raw),
                              np.maximum(a.avail[ra], b.avail[rb]), inp))
    return out


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
        now = _dt(track.now[k])
        for inp in track.inputs(k):
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

    Statistics use all history before each day (also before `start`); alert states start Normal
    on `start`. Disabled and intraday rules are not run (see `skipped_rules`).
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
    horizons: set[int] = set()
    mad_ids: set[str] = set()
    for r in run:
        ids = (_z_subjects(r, universe) if r.type == "z" else list(r.series) if r.type == "level" else list(r.legs or ()))
        wanted.update(i for i in ids if i in universe)
        if r.type in ("z", "spread"):
            horizons.add(r.horizon)
        if r.type == "z" and r.estimator == "mad250":
            mad_ids.update(ids)        # the tier filter needs the MAD z on every day
    horizons = horizons or {1}
    series = _daily_series(history, universe, p, horizons, mad_ids, wanted)

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
    return BacktestResult(start=start, end=end, events=events, rules_run=[r.id for r in run], skipped_rules=skipped,
                          coverage=coverage, evaluations=calls, runtime_s=time.perf_counter() - t0,
                          params={"horizons": sorted(horizons), "floor_frac": p.floor_frac,
                                  "rarity_since": None if p.rarity_since is None else str(p.rarity_since),
                                  "obs_per_year": p.obs_per_year})


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
    p.add_argument("--rules", metavar="FILE", help="alert rules file (default alerts.toml)")
    p.add_argument("--universe", metavar="FILE", help="universe file (default universe.toml)")
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
    from data.sources.replay import load_history
    from data.universe import load_universe

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
        history = load_history(root, universe)
        t_load = time.perf_counter() - t0
        result = run_backtest(history, universe, rules, start=start, end=end)
    except _UsageError as exc:
        print(f"backtest: error: {exc}", file=sys.stderr)
        return 2
    except ContagionError as exc:    # ConfigError (rules/universe), EmptyPayload (no files in DIR), …
        print(f"backtest: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        doc = result.to_dict()
        doc["replay"] = str(root)
        doc["load_s"] = round(t_load, 3)
        print(json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False, default=str))
    else:
        for e in result.alerts():
            print(format_event_line(e))
    _print_summary(result, t_load, root)
    return 0


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
    for rid, why in result.skipped_rules.items():
        print(f"skipped {rid}: {why}", file=err)
