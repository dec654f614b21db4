"""Everything the Contagion view shows, computed once per data update (never per page view).

`compute_contagion(observations, universe)` takes the cached long frame (series_id, freq, ts,
value) and returns a `ContagionSnapshot`: clock-aligned rolling correlations for JGB 10Y/UST 10Y,
JGB 30Y/UST 30Y and JGB 10Y/USD-JPY in both directions, rolling Diebold–Yilmaz spillover,
today's attribution, the risk-parity estimate (live and scenarios), curves vs 1D/1W/1M, spreads,
the FX-hedged UST yield, and the contagion signals the alert engine consumes.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.attribution import Attribution, attribute_ust_move
from analytics.correlation import (ForbesRigobon, align_frames, align_pairs, ewma_correlation, forbes_rigobon,
                                  granger_predictive, rolling_beta, rolling_correlation)
from analytics.curves import CurveComparison, curve_comparison, fx_hedged_ust_yield, spread_comparison
from analytics.moves import changes
from analytics.quality import HAS_LEVEL, HAS_MOVE, UNJUDGED, codes_from_text, judge_frame
from analytics.riskparity import (LIVE_WINDOW, SCENARIOS, Deleveraging, FundInputs, live_deleveraging,
                                  live_window_range, realized_vol_ratio,
                                  run_scenario)
from analytics.spillover import SpilloverTable, rolling_spillover, spillover_table
from universe import Universe

__all__ = ["PAIRS", "SPILLOVER_SERIES", "ContagionSignal", "ContagionSnapshot", "local_daily_levels",
           "local_daily_moves", "judged_daily",
           "compute_contagion", "contagion_signals"]

# (name, Japan-side series, US-clock series). USD/JPY uses the FRED noon-NY fixing: a US clock.
PAIRS = (("10Y", "jgb_10y", "ust_10y"), ("30Y", "jgb_30y", "ust_30y"), ("USDJPY", "jgb_10y", "usdjpy_noon"))
DIRECTIONS = ("jp_to_us", "us_to_jp")
SPILLOVER_SERIES = ("jgb_10y", "jgb_30y", "ust_10y", "ust_30y", "usdjpy_noon")
SPILLOVER_WINDOW, SPILLOVER_LAGS, SPILLOVER_H = 200, 2, 10
SPILLOVER_SPAN_DAYS = 2 * 365 + 10   # the dashboard's rolling spillover covers two years
SPILLOVER_JUMP_PTS = 5.0             # a 5-day rise of the total index this large is a signal
STRESS_PAIRS, CALM_PAIRS = 60, 250   # Forbes–Rigobon: the last 60 pairs vs the 250 before them
GRANGER_SPAN, GRANGER_LAGS = 500, 5  # lead-lag on the last ~2 years of joint days


@dataclass(frozen=True)
class ContagionSignal:
    """An input for the alert engine: a contagion condition and the number behind it."""

    kind: str          # correlation_break | spillover_jump | hedged_pickup_flip
    subject: str       # e.g. "10Y jp_to_us", "total", "UST10Y hedged vs JGB10Y"
    active: bool
    value: float
    threshold: float
    asof: dt.date
    text: str


@dataclass(frozen=True)
class ContagionSnapshot:
    asof: dt.date | None
    rolling: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)  # (pair, dir) → frame
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)                  # latest per pair × dir
    spillover: pd.DataFrame = field(default_factory=pd.DataFrame)                # rolling total, net_*
    spillover_latest: SpilloverTable | None = None
    attribution: Attribution | None = None
    riskparity_inputs: FundInputs = field(default_factory=FundInputs)
    riskparity_live: Deleveraging | None = None
    riskparity_vol_ratio: dict = field(default_factory=dict)   # fast/slow realized UST vol, asof
    corr60: pd.DataFrame = field(default_factory=pd.DataFrame)  # latest 60-day ρ, Japan→US joint days
    # The same matrix for both clock alignments: {"jp_to_us"|"us_to_jp": (ρ matrix, first, last date)}
    corr60_by: dict[str, tuple[pd.DataFrame, dt.date, dt.date]] = field(default_factory=dict)
    riskparity_windows: pd.DataFrame = field(default_factory=pd.DataFrame)   # live_window_range
    riskparity_scenarios: dict[str, Deleveraging] = field(default_factory=dict)
    curves: dict[str, CurveComparison] = field(default_factory=dict)
    # The curves' daily levels (local dates × tenor), kept for a view pinned to a past date.
    curve_levels: dict[str, pd.DataFrame] = field(default_factory=dict)
    spreads: pd.DataFrame = field(default_factory=pd.DataFrame)
    hedged: pd.DataFrame = field(default_factory=pd.DataFrame)
    signals: tuple[ContagionSignal, ...] = ()
    forbes_rigobon: dict[str, ForbesRigobon] = field(default_factory=dict)   # pair → stress vs calm
    granger: pd.DataFrame = field(default_factory=pd.DataFrame)              # lead-lag, "predictive"
    notes: tuple[str, ...] = ()

    def curves_at(self, day: dt.date) -> dict[str, CurveComparison]:
        """The curves vs 1D/1W/1M as they stood at the end of `day` (local dates; a pinned view)."""
        out = {}
        for k, frame in self.curve_levels.items():
            try:
                out[k] = curve_comparison(frame, asof=pd.Timestamp(day))
            except ValueError:         # no data on or before that day
                continue
        return out


def judged_daily(observations: pd.DataFrame, universe: Universe, ids=None) -> pd.DataFrame:
    """The daily rows with the gate's verdict in `quality`: the stored one where there is one (the
    collector judges every batch before it is written), else judged here with everything in the
    frame (a store written before the gate, a frame built by hand). `ids`: only these series
    need a verdict (default: all)."""
    daily = observations[observations["freq"] == "D"] if len(observations) else observations
    if daily.empty:
        return daily
    q = daily["quality"] if "quality" in daily.columns else pd.Series(None, index=daily.index, dtype=object)
    missing = (q.isna() | q.eq("unjudged")) & daily["series_id"].isin([i for i in (ids or universe.ids) if i in universe])
    if not missing.any():
        return daily
    need = set(daily.loc[missing, "series_id"])
    got = judge_frame(daily, universe, series=need).set_index(["series_id", "ts"])["quality"]
    keys = pd.MultiIndex.from_arrays([daily["series_id"], daily["ts"]])
    filled = pd.Series(got.reindex(keys).to_numpy(), index=daily.index)
    return daily.assign(quality=q.where(~missing, filled))


def local_daily_levels(observations: pd.DataFrame, universe: Universe, ids) -> dict[str, pd.Series]:
    """Daily closes per series, indexed by the series' own local date (no cross-market fill).
    A print the gate rejected is no level (as everywhere else)."""
    return {sid: lv for sid, (lv, _) in _local_daily(observations, universe, ids).items()}


def local_daily_moves(observations: pd.DataFrame, universe: Universe, ids) -> tuple[dict, dict]:
    """(levels, moves) per series on its own local dates, from judged rows (`judged_daily`):
    rejected prints are neither level nor move, and the first print after a gap (or one the gate
    could not judge as a move) starts a new segment: its move is NaN, so no correlation, beta,
    spillover fit or risk-parity vol reads a move across a hole. A held (unconfirmed) print
    counts as it stands, as on its tile, until the gate rejects it."""
    levels, moves = {}, {}
    for sid, (lv, code) in _local_daily(observations, universe, ids).items():
        levels[sid] = lv
        mv = changes(lv, universe.get(sid).unit)
        moves[sid] = mv.where(HAS_MOVE[code])
    return levels, moves


def _local_daily(observations: pd.DataFrame, universe: Universe, ids) -> dict[str, tuple[pd.Series, np.ndarray]]:
    out: dict[str, tuple[pd.Series, np.ndarray]] = {}
    if observations.empty:
        return out
    daily = observations[(observations["freq"] == "D") & observations["series_id"].isin(list(ids))]
    for sid, g in daily.groupby("series_id"):
        tz = universe.get(sid).timezone
        local = pd.DatetimeIndex(g["ts"]).tz_convert(tz).tz_localize(None).normalize()
        code = codes_from_text(g["quality"].to_numpy(dtype=object)) if "quality" in g.columns \
            else np.full(len(g), UNJUDGED, np.int8)
        keep = HAS_LEVEL[code] & ~np.isnan(g["value"].to_numpy(dtype="float64"))
        s = pd.Series(g["value"].to_numpy(dtype="float64")[keep], index=local[keep], name=sid)
        c = pd.Series(code[keep], index=local[keep])
        last = ~s.index.duplicated(keep="last")
        s, c = s[last], c[last]
        o = np.argsort(s.index.asi8, kind="stable")
        out[sid] = (s.iloc[o], c.to_numpy()[o])
    return out


def _curve_frame(levels: dict[str, pd.Series], universe: Universe, group: str) -> pd.DataFrame:
    cols = {s.symbol: levels[s.id] for s in universe if s.group == group and s.id in levels}
    return pd.DataFrame(cols).sort_index() if cols else pd.DataFrame()


def compute_contagion(observations: pd.DataFrame, universe: Universe, *,
                      inputs: FundInputs | None = None) -> ContagionSnapshot:
    """All contagion analytics from the cached observations (pure)."""
    inputs = inputs or FundInputs()
    ids = {s.id for s in universe if s.group in ("jgb_curve", "ust_curve")} | set(SPILLOVER_SERIES)
    levels, moves = local_daily_moves(judged_daily(observations, universe, ids), universe, ids)
    notes: list[str] = []

    rolling: dict[tuple[str, str], pd.DataFrame] = {}
    rows = []
    for name, jp, us in PAIRS:
        if jp not in moves or us not in moves:
            notes.append(f"{name}: needs {jp} and {us}")
            continue
        for direction in DIRECTIONS:
            pairs = align_pairs(moves[jp], moves[us], direction)
            if len(pairs) < 30:
                continue
            r60 = rolling_correlation(pairs, 60)
            r250 = rolling_correlation(pairs, 250)
            frame = pd.DataFrame({
                "rho60": r60["rho"], "lo60": r60["lower"], "hi60": r60["upper"],
                "rho250": r250["rho"], "lo250": r250["lower"], "hi250": r250["upper"],
                "ewma": ewma_correlation(pairs), "beta250": rolling_beta(pairs, 250)["beta"],
            })
            rolling[(name, direction)] = frame
            last = frame.dropna(subset=["rho60"]).tail(1)
            if len(last):
                rows.append({"pair": name, "direction": direction, "date": last.index[0],
                             **{k: float(v) for k, v in last.iloc[0].items()}})
    summary = pd.DataFrame(rows)

    # Stress vs calm (Japan→US): did the correlation rise beyond what higher JGB vol explains?
    fr: dict[str, ForbesRigobon] = {}
    for name, jp, us in PAIRS:
        if jp in moves and us in moves:
            pairs = align_pairs(moves[jp], moves[us], "jp_to_us").dropna(subset=["jgb", "ust"])
            if len(pairs) >= STRESS_PAIRS + CALM_PAIRS:
                fr[name] = forbes_rigobon(pairs.iloc[-STRESS_PAIRS:],
                                          pairs.iloc[-(STRESS_PAIRS + CALM_PAIRS):-STRESS_PAIRS])
    granger = pd.DataFrame()
    if "jgb_10y" in moves and "ust_10y" in moves:
        j, u = moves["jgb_10y"].dropna(), moves["ust_10y"].dropna()
        if min(len(j), len(u)) > GRANGER_SPAN // 2:
            granger = granger_predictive(j.iloc[-GRANGER_SPAN:], u.iloc[-GRANGER_SPAN:], maxlag=GRANGER_LAGS)

    spill = pd.DataFrame()
    spill_latest = None
    corr60 = pd.DataFrame()
    corr60_by: dict[str, tuple[pd.DataFrame, dt.date, dt.date]] = {}
    if all(s in moves for s in SPILLOVER_SERIES):
        # Japan→US alignment: one row per date on which every market moved (no filled zeros).
        joint = pd.concat({s: moves[s] for s in SPILLOVER_SERIES}, axis=1, sort=True).dropna()
        if len(joint) >= 60:
            corr60 = joint.tail(60).corr()
        jp = pd.concat({s: moves[s] for s in SPILLOVER_SERIES if universe.get(s).timezone == "Asia/Tokyo"}, axis=1, sort=True)
        us = pd.concat({s: moves[s] for s in SPILLOVER_SERIES if universe.get(s).timezone != "Asia/Tokyo"}, axis=1, sort=True)
        for direction in DIRECTIONS:
            rows = align_frames(jp, us, direction).tail(60)
            if len(rows) >= 60:
                corr60_by[direction] = (rows[list(SPILLOVER_SERIES)].corr(), rows.index[0].date(), rows.index[-1].date())
        joint = joint[joint.index >= joint.index.max() - pd.Timedelta(days=SPILLOVER_SPAN_DAYS + 300)]
        if len(joint) > SPILLOVER_WINDOW + 10:
            spill = rolling_spillover(joint, window=SPILLOVER_WINDOW, lags=SPILLOVER_LAGS,
                                      horizon=SPILLOVER_H, method="generalized")
            spill = spill[spill.index >= spill.index.max() - pd.Timedelta(days=SPILLOVER_SPAN_DAYS)]
            spill_latest = spillover_table(joint.tail(SPILLOVER_WINDOW), lags=SPILLOVER_LAGS,
                                           horizon=SPILLOVER_H, method="generalized")
    else:
        notes.append("spillover: needs " + ", ".join(SPILLOVER_SERIES))

    attribution = None
    if "jgb_10y" in moves and "ust_10y" in moves:
        pairs = align_pairs(moves["jgb_10y"], moves["ust_10y"], "jp_to_us")
        if len(pairs) > 260:
            attribution = attribute_ust_move(pairs)

    live, vol_ratio, windows = None, {}, pd.DataFrame()
    if "ust_10y" in moves and moves["ust_10y"].dropna().size > 70:
        live = live_deleveraging(inputs, moves["ust_10y"], *LIVE_WINDOW)
        vol_ratio = dict(realized_vol_ratio(moves["ust_10y"], *LIVE_WINDOW))
        windows = live_window_range(inputs, moves["ust_10y"])
    scenarios = {name: run_scenario(name, inputs) for name in SCENARIOS}

    jgb_curve = _curve_frame(levels, universe, "jgb_curve")
    ust_curve = _curve_frame(levels, universe, "ust_curve")
    curves = {k: curve_comparison(v) for k, v in (("JGB", jgb_curve), ("UST", ust_curve)) if not v.empty}
    spreads = spread_comparison(jgb_curve, ust_curve) if not (jgb_curve.empty or ust_curve.empty) else pd.DataFrame()
    hedged = pd.DataFrame()
    if not (jgb_curve.empty or ust_curve.empty):
        try:
            hedged = fx_hedged_ust_yield(ust_curve, jgb_curve)
        except KeyError as exc:  # a tenor missing from the stored curve
            notes.append(f"hedged yield: missing tenor {exc}")
    asof = max((s.index.max() for s in levels.values()), default=None)
    snap = ContagionSnapshot(
        asof=None if asof is None else asof.date(), rolling=rolling, summary=summary, spillover=spill,
        spillover_latest=spill_latest, attribution=attribution, riskparity_inputs=inputs,
        riskparity_live=live, riskparity_vol_ratio=vol_ratio, corr60=corr60, corr60_by=corr60_by,
        riskparity_windows=windows, riskparity_scenarios=scenarios,
        curves=curves, curve_levels={k: v for k, v in (("JGB", jgb_curve), ("UST", ust_curve)) if not v.empty},
        spreads=spreads, hedged=hedged, forbes_rigobon=fr, granger=granger, notes=tuple(notes))
    return ContagionSnapshot(**{**snap.__dict__, "signals": tuple(contagion_signals(snap))})


def contagion_signals(snap: ContagionSnapshot) -> list[ContagionSignal]:
    """Conditions for the alert engine (BRIEF §3, issue "Contagion alerts")."""
    out: list[ContagionSignal] = []
    for (name, direction), frame in snap.rolling.items():
        last = frame.dropna(subset=["rho60", "hi250"]).tail(1)
        if last.empty:
            continue
        r = last.iloc[0]
        out.append(ContagionSignal(
            "correlation_break", f"{name} {direction}", bool(r["rho60"] > r["hi250"]), float(r["rho60"]),
            float(r["hi250"]), last.index[0].date(),
            f"{name} {direction.replace('_', ' ')}: 60-day correlation {r['rho60']:.2f} "
            f"vs 250-day band upper {r['hi250']:.2f} (ρ250 {r['rho250']:.2f})"))
    if len(snap.spillover) > 5:
        tot = snap.spillover["total"].dropna()
        if len(tot) > 5:
            jump = float(tot.iloc[-1] - tot.iloc[-6])
            out.append(ContagionSignal(
                "spillover_jump", "total", jump >= SPILLOVER_JUMP_PTS, jump, SPILLOVER_JUMP_PTS,
                tot.index[-1].date(),
                f"total spillover {tot.iloc[-1]:.1f}% ({jump:+.1f} pts in 5 days, 200-day window)"))
    if len(snap.hedged) > 1:
        pk = snap.hedged["pickup_bp"].dropna()
        if len(pk) > 1:
            flipped = bool(np.sign(pk.iloc[-1]) != np.sign(pk.iloc[-2]) and pk.iloc[-1] != 0)
            out.append(ContagionSignal(
                "hedged_pickup_flip", "UST10Y hedged vs JGB10Y", flipped, float(pk.iloc[-1]), 0.0,
                pk.index[-1].date(),
                f"FX-hedged UST 10Y vs JGB 10Y pickup {pk.iloc[-1]:+.0f} bp (was {pk.iloc[-2]:+.0f} bp)"))
    return out
