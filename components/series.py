"""The Series page (/series/<series_id>): one series' moves against its σ bands, the distribution
of its past moves with today's marked, rarity, its alert history, source and as-of time.

View state lives in the URL (a shared link reproduces the view):

    window     60 | 250 | ewma | mad250   σ estimator for the bands and the z shown   (60)
    horizon    1 | 2 | 5                  move horizon in days                        (1)
    threshold  0.5 … 20                   band half-width in σ                        (3)
    asof       YYYY-MM-DD                 look at the past: the last observation on or
                                          before that date, history up to it          (latest)
    range      1y | 3y | 10y | all        history shown, ending at the viewed day      (1y)

Every number comes from the snapshot's statistics kernel: `snapshot.moves.history(id)` (each
daily close with its move, μ, σ and z per estimator from windows ending at t−1, and the gate's
verdict) and `snapshot.moves.stat_at(id, row, h)` (the viewed day's full MoveStat: rarity on the
declared base, tail model, "largest since") — the page computes no statistic of its own, so an
as-of view shows exactly what the live tile and the backtest said that day. History lookups and
figures are cached per (daily data, series, parameters) in a bounded LRU, so the 1-second refresh
never redoes them; an intraday tick does not touch the daily history.
"""
from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import dcc, html, no_update

from alerts.text import largest_text, quality_text, rarity_text, sigma_text
from components.figures import (
    add_event_markers,
    empty_figure,
    graph_config,
    histogram_figure,
    history_figure,
    minmax_indices,
)
from components.format import epoch_ms, fmt_age, fmt_change, fmt_value, when
from components.urlstate import ISO_DATE_INPUT, Param, notice_banner, parse, to_search

__all__ = [
    "DEFAULTS",
    "ESTIMATORS",
    "LRU",
    "OUTPUTS",
    "PARAMS",
    "SeriesHistory",
    "alert_permalink",
    "alerts_panel",
    "clean_values",
    "fmt_rarity",
    "layout",
    "rarity_panel",
    "render",
    "search_for",
    "series_events",
    "series_history",
    "series_timezone",
    "source_panel",
    "stats_panel",
    "view_data",
]

# ------------------------------------------------------------------------------------ ids
SE_NOTICE = "se-notice"            # URL notices (bad parameters, unknown series) from the layout
SE_VIEW_NOTE = "se-view-note"      # notices found while building the view (asof before the data …)
SE_TITLE = "se-title"
SE_SERIES = "se-series"            # dcc.Store: the series id from the path
SE_TAG = "se-tag"                  # dcc.Store: what is on screen (unchanged → no_update)
SE_SEARCH = "se-search"            # dcc.Store: the URL query of the current controls
SE_URL_SINK = "se-url-sink"        # dcc.Store: output of the clientside history.replaceState
SE_WINDOW = "se-window"
SE_HORIZON = "se-horizon"
SE_THRESHOLD = "se-threshold"
SE_ASOF = "se-asof"
SE_RANGE = "se-range"
SE_STATS = "se-stats"
SE_RARITY = "se-rarity"
SE_SOURCE = "se-source"
SE_HISTORY = "se-history"          # dcc.Graph: moves (and closes) with σ bands
SE_HIST = "se-hist"                # dcc.Graph: distribution of past moves, today's marked
SE_ALERTS = "se-alerts"

PARAMS = (
    Param("window", "choice", "60", choices=("60", "250", "ewma", "mad250")),
    Param("horizon", "choice", "1", choices=("1", "2", "5")),
    Param("threshold", "float", 3.0, lo=0.5, hi=20),
    Param("asof", "date", None),
    Param("range", "choice", "1y", choices=("1y", "3y", "10y", "all")),
)
DEFAULTS: dict[str, Any] = {p.name: p.default for p in PARAMS}
ESTIMATORS = {"60": "w60", "250": "w250", "ewma": "ewma", "mad250": "mad250"}
WINDOW_LABELS = {"60": "60-day", "250": "250-day", "ewma": "EWMA λ 0.94", "mad250": "MAD 250-day"}
RANGE_YEARS = {"1y": 1, "3y": 3, "10y": 10, "all": None}
MAX_POINTS = 3000                 # history points sent to the browser (min/max per bucket beyond)
TIER_BADGE = {"critical": "danger", "warning": "warning", "watch": "info"}


# ------------------------------------------------------------------------------------ cache
class LRU:
    """A small thread-safe LRU (waitress serves callbacks from several threads)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._d: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.misses = 0

    def get(self, key, make: Callable[[], Any]):
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
        value = make()
        with self._lock:
            self.misses += 1
            self._d[key] = value
            while len(self._d) > self.size:
                self._d.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._d.clear()


_HISTORY = LRU(24)     # per (series, daily-data signature): ≤ ~3 MB each
_KEEP = ["row", "ts", "value", "move", "quality", "quality_note"] + [
    f"{c}_{e}" for e in ("w60", "w250", "ewma", "mad250") for c in ("mu", "sigma", "z")]
_VIEWS = LRU(32)       # per (series, daily-data signature, view parameters): figures ≤ ~1 MB each
FLAGGED = ("unconfirmed", "rejected", "splice")     # verdicts drawn as markers on the history


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def daily_signature(snap, series_id: str) -> tuple | None:
    """Changes when the series' daily history changes (a new close, a restatement of the last
    one), not on intraday ticks: the key of every cached history and view."""
    return _signature(snap.move_frame(), series_id)


def _signature(frame: pd.DataFrame, series_id: str) -> tuple | None:
    if frame is None or frame.empty:
        return None
    r = frame[(frame["series_id"] == series_id) & (frame["kind"] == "daily") & (frame["horizon"] == 1)]
    if r.empty:
        return None
    r = r.iloc[0]
    return (series_id, str(r["ts"]), int(r["n_history"]), _num(r["move"]), _num(r["z_w60"]))


@dataclass(frozen=True)
class SeriesHistory:
    """Daily closes of one series by horizon, with their moves, μ/σ/z per estimator and the gate's
    verdict (one row per stored close; a gap or a rejected print has no move in the statistics)."""

    series_id: str
    unit: str
    by_h: dict[int, pd.DataFrame]     # horizon → rows (row, ts, value, move, quality, mu_*, sigma_*, z_*)


def series_history(snap, series_id: str) -> SeriesHistory | None:
    """The series' history from the snapshot's kernel, once per daily-data change (LRU)."""
    sig = daily_signature(snap, series_id)
    if sig is None:
        return None
    # A pinned view reads the history of the WHOLE table (its readers cut it at the pin): key the
    # cache on that table, or a live view with the same last close would get closes after it.
    full = getattr(snap.moves, "full", None)
    if full is not None:
        sig = (sig, "full", _signature(full.frame, series_id))

    def make() -> SeriesHistory | None:
        h = snap.moves.history(series_id)
        if h.empty:
            return None
        # Only what the page draws: the cache stays small.
        by_h = {int(k): g[_KEEP].reset_index(drop=True) for k, g in h.groupby("horizon")}
        if by_h.get(1) is None or by_h[1].empty:
            return None
        return SeriesHistory(series_id, str(h["unit"].iloc[0]), by_h)

    return _HISTORY.get(sig, make)


# ------------------------------------------------------------------------------------ URL state
def clean_values(window, horizon, threshold, asof, range_) -> dict[str, Any]:
    """Control values → typed view values (anything unusable — any JSON a request may carry —
    → its default)."""
    out = dict(DEFAULTS)
    if isinstance(window, str) and window in ESTIMATORS:
        out["window"] = window
    if isinstance(horizon, (str, int)) and not isinstance(horizon, bool) and str(horizon) in ("1", "2", "5"):
        out["horizon"] = str(horizon)
    if isinstance(threshold, (int, float, str)) and not isinstance(threshold, bool) and len(str(threshold)) < 32:
        t = _num(threshold)
        if t is not None and 0.5 <= t <= 20:
            out["threshold"] = t
    if isinstance(asof, str) and asof:
        try:
            out["asof"] = dt.date.fromisoformat(asof[:10])
        except ValueError:
            pass
    if isinstance(range_, str) and range_ in RANGE_YEARS:
        out["range"] = range_
    return out


def search_for(values: Mapping[str, Any]) -> str:
    return to_search(PARAMS, {**DEFAULTS, **values})


# ------------------------------------------------------------------------------------ view data
def _local_dates(ts: pd.DatetimeIndex, tz: str) -> np.ndarray:
    return np.asarray(ts.tz_convert(tz).date)


@dataclass(frozen=True)
class ViewData:
    history_fig: Any
    hist_fig: Any
    stats: dict            # the viewed observation: ts, move, μ/σ/z per estimator
    rarity: dict           # share, period, neq, n, words (rarity, largest since, verdict)
    notes: tuple[str, ...]
    end_ts: pd.Timestamp | None


def view_data(snap, series_id: str, values: Mapping[str, Any], *, timezone: str = "UTC",
              label: str | None = None) -> ViewData | None:
    """Figures and figures' numbers for one view, cached per (daily data, series, parameters)."""
    hist = series_history(snap, series_id)
    if hist is None:
        return None
    key = (daily_signature(snap, series_id), series_id, values["window"], values["horizon"],
           float(values["threshold"]), values["asof"], values["range"], timezone)
    return _VIEWS.get(key, lambda: _build_view(snap, hist, values, timezone, label or series_id))


def _prev_levels(closes: np.ndarray, moves: np.ndarray, unit: str) -> np.ndarray:
    """The close h days before each row, from the close and its h-day move (inverse transform)."""
    if unit == "logpct":
        return closes * np.exp(-moves / 100.0)
    return closes - moves / 100.0


def _build_view(snap, hist: SeriesHistory, values: Mapping[str, Any], tz: str, label: str) -> ViewData:
    est = ESTIMATORS[values["window"]]
    h = int(values["horizon"])
    k_sigma = float(values["threshold"])
    notes: list[str] = []
    full = hist.by_h.get(h)
    fr = full[full["move"].notna() & (full["quality"] != "rejected")].reset_index(drop=True) if full is not None else None
    if fr is None or fr.empty:
        msg = f"No {h}-day moves yet"
        return ViewData(empty_figure(msg, 520), empty_figure(msg, 380), {}, {}, (msg,), None)
    ts = pd.DatetimeIndex(fr["ts"])
    k = len(fr) - 1
    asof = values["asof"]
    if asof is not None:
        dates = _local_dates(ts, tz)
        sel = np.flatnonzero(dates <= asof)
        if len(sel) == 0:
            notes.append(f"asof={asof.isoformat()} is before the first {h}-day move "
                         f"({dates[0].isoformat()}): showing the latest instead")
        else:
            k = int(sel[-1])
    end = ts[k]
    years = RANGE_YEARS[values["range"]]
    start = ts[0] if years is None else max(ts[0], end - pd.DateOffset(years=years))
    lo = int(np.searchsorted(ts.asi8, start.value, side="left"))
    part = fr.iloc[lo:k + 1]
    moves = part["move"].to_numpy(dtype="float64")
    mu = part[f"mu_{est}"].to_numpy(dtype="float64")
    sigma = part[f"sigma_{est}"].to_numpy(dtype="float64")
    z = part[f"z_{est}"].to_numpy(dtype="float64")
    idx = minmax_indices(moves, MAX_POINTS, keep=(np.abs(z) >= k_sigma) | part["quality"].isin(FLAGGED).to_numpy())
    if len(idx) < len(moves):
        notes.append(f"history thinned to {len(idx):,} of {len(moves):,} points for the browser "
                     "(each bucket keeps its largest and smallest move, every band breach and every flagged close)")
    closes = part["value"].to_numpy(dtype="float64")[idx]
    prev = _prev_levels(closes, moves[idx], hist.unit)
    # What the gate said, drawn on the history: rejected prints (not in any statistic) from the
    # full frame, held and spliced closes from the shown one.
    rows_in_view = full[(full["ts"] >= start) & (full["ts"] <= end)]
    flags = rows_in_view[rows_in_view["quality"].isin(FLAGGED)]
    pad = pd.Timedelta(days=max(2, int((end - start).days * 0.01)))
    # Fixed x range (local dates): a shared link opens on exactly the same window.
    xrange = ((start.tz_convert(tz) - pad).strftime("%Y-%m-%d"), (end.tz_convert(tz) + pad).strftime("%Y-%m-%d"))
    uirev = f"{hist.series_id}|{values['window']}|{h}|{k_sigma:g}|{asof}|{values['range']}"
    history_fig = history_figure(ts=pd.DatetimeIndex(part["ts"]).tz_convert(tz).tz_localize(None)[idx],
                                 moves=moves[idx], mu=mu[idx], sigma=sigma[idx], z=z[idx], closes=closes, prev=prev,
                                 threshold=k_sigma, window_label=WINDOW_LABELS[values["window"]], horizon=h,
                                 unit=hist.unit, label=label, xrange=xrange, uirevision=uirev,
                                 flags=[(pd.Timestamp(r.ts).tz_convert(tz).tz_localize(None), r.move, r.quality,
                                         r.quality_note or "") for r in flags.itertuples(index=False)])
    add_event_markers(history_fig, snap.events, start - pad, end + pad, tz)
    row = fr.iloc[k]
    stats = {"ts": ts[k], "move": _num(row["move"]), "horizon": h, "unit": hist.unit,
             **{f"{c}_{e}": _num(row[f"{c}_{e}"]) for e in ESTIMATORS.values() for c in ("mu", "sigma", "z")}}
    unit_label = "bp" if hist.unit == "bp" else "%"
    # Labelled by date, not "today": the same day reads the same in a link opened later.
    today_label = (f"{ts[k].tz_convert(tz).strftime('%Y-%m-%d')} {stats['move']:+.1f} {unit_label}"
                   if stats["move"] is not None else "")
    past = fr["move"].to_numpy(dtype="float64")[:k]
    hist_fig = histogram_figure(past=past[~np.isnan(past)], today=stats["move"], today_label=today_label,
                                mu=stats[f"mu_{est}"], sigma=stats[f"sigma_{est}"], threshold=k_sigma, horizon=h,
                                unit=hist.unit, uirevision=uirev)
    # The day's MoveStat from the kernel: the same rarity, floor and verdict the live tile and
    # the backtest showed that day.
    ms = snap.moves.stat_at(hist.series_id, int(row["row"]), h)
    rarity = {}
    if ms is not None:
        rarity = {"share": ms.rarity_share, "period": ms.return_period_years, "neq": ms.normal_equiv_sigma,
                  "n": ms.n_history, "tail": ms.tail, "low": ms.return_period_low, "high": ms.return_period_high,
                  "words": rarity_text(ms), "largest": largest_text(ms), "quality": quality_text(ms),
                  "sigma_text": sigma_text(ms, est)}
    return ViewData(history_fig, hist_fig, stats, rarity, tuple(notes), end)


# ------------------------------------------------------------------------------------ panels
def fmt_rarity(period: float | None, *, tail: bool | None = False) -> str:
    """Return period in words: "1 in 13.0 years", "about 4× a year", "never seen before"."""
    if period is None:
        return "—"
    if math.isinf(period):
        return "never seen before"
    if period >= 1:
        return f"1 in {period:,.1f} years" + (" (tail model)" if tail else "")
    return f"about {1 / period:,.0f}× a year"


def _fmt_move(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    return f"{v:+.1f} bp" if unit == "bp" else f"{v:+.2f}%"


def _fmt_sigma(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    return f"{v:.2f} bp" if unit == "bp" else f"{v:.3f}%"


def _fmt_z(v: float | None) -> str:
    return "—" if v is None else f"{v:+.1f}σ"


def stats_panel(view: ViewData | None, window: str, tz: str) -> html.Div:
    if view is None or not view.stats:
        return html.Div("No move statistics for this series yet.", className="text-muted")
    s = view.stats
    est = ESTIMATORS[window]
    when = pd.Timestamp(s["ts"]).tz_convert(tz).strftime("%Y-%m-%d")
    zs = [html.Span([html.Span(f"z {WINDOW_LABELS[w]} ", className="text-muted"),
                     html.Span(_fmt_z(s.get(f"z_{e}")), className="font-monospace fw-bold" if e == est else
                               "font-monospace")], className="me-3", id=f"se-z-{e}")
          for w, e in ESTIMATORS.items()]
    return html.Div([
        html.Div([html.Span(f"{s['horizon']}-day move to {when}: ", className="text-muted"),
                  html.Span(_fmt_move(s["move"], s["unit"]), className="fs-4 fw-bold font-monospace me-3",
                            id="se-move"),
                  html.Span(f"σ ({WINDOW_LABELS[window]}, to t−1) ", className="text-muted"),
                  html.Span(_fmt_sigma(s.get(f"sigma_{est}"), s["unit"]), className="font-monospace me-3",
                            title=(view.rarity or {}).get("sigma_text", "")),
                  html.Span("z ", className="text-muted"),
                  html.Span(_fmt_z(s.get(f"z_{est}")), className="fs-5 fw-bold font-monospace", id="se-z")]),
        html.Div(zs, className="small mt-1"),
    ])


def rarity_panel(view: ViewData | None, horizon: str) -> html.Div:
    if view is None or not view.rarity:
        return html.Div("Rarity: —", className="text-muted")
    r = view.rarity
    share = r.get("share")
    share_txt = "—" if share is None else f"{100 * share:.3f}%"
    neq = r.get("neq")
    return html.Div([
        html.Div([html.Span("Rarity: ", className="text-muted"),
                  html.Span(fmt_rarity(r.get("period"), tail=r.get("tail")), className="fw-bold", id="se-period")]),
        html.Div(r.get("words") or "", className="small", id="se-rarity-words"),
        html.Div([html.Span(f"none of {r.get('n', 0):,} past {horizon}-day moves on the base was as large" if share == 0
                            else f"{share_txt} of {r.get('n', 0):,} past {horizon}-day moves on the base were at least this large",
                            id="se-share")], className="small"),
        html.Div([html.Span("normal-equivalent: ", className="text-muted"),
                  html.Span("—" if neq is None else ("beyond any past move" if math.isinf(neq) else f"{neq:.1f}σ"),
                            id="se-neq")], className="small"),
        html.Div("; ".join(r.get("largest") or []), className="small fw-bold", id="se-largest"),
        html.Div(r.get("quality") or "", className="small text-warning", id="se-quality") if r.get("quality") else None,
    ])


def source_panel(row, now: dt.datetime, quote=None) -> html.Div:
    """The value shown, its source and its own age; `quote`: the exchange quotes of this close of
    record while they are newer than it (Snapshot.quotes_row), with their own age."""
    if row is None:
        return html.Div()
    age = row.age(now)
    src = row.source + (" (fallback)" if row.fallback_source and row.source == row.fallback_source else "")
    kind = "intraday bar" if row.freq == "I" else "daily close" if row.freq == "D" else "no data"
    stale = row.is_stale(now)
    return html.Div([
        html.Div([html.Span("Last ", className="text-muted"),
                  html.Span(fmt_value(row.value, row.kind), className="fs-4 fw-bold font-monospace me-2"),
                  html.Span(fmt_change(row.change, row.unit), className="font-monospace me-2"),
                  html.Span(f"({kind})", className="text-muted small")]),
        html.Div([html.Span("Source ", className="text-muted"), html.Span(src, id="se-src"),
                  html.Span(f" · primary {row.primary_source}", className="text-muted"),
                  html.Span(f" · fallback {row.fallback_source}" if row.fallback_source else " · no fallback",
                            className="text-muted")], className="small"),
        html.Div([html.Span("As of ", className="text-muted"), when(row.as_of, id="se-asof-time"),
                  html.Span(" · age ", className="text-muted"),
                  html.Span(fmt_age(age.total_seconds() if age else None), className="cm-age font-monospace",
                            **({"data-asof": epoch_ms(row.as_of), "data-staleafter": row.stale_after.total_seconds()}
                               if row.as_of else {})),
                  dbc.Badge("STALE", color="danger", className="ms-2") if stale else None], className="small"),
        html.Div([html.Span("Exchange quote ", className="text-muted"),
                  dcc.Link(fmt_value(quote.value, quote.kind), href=f"/series/{quote.id}",
                           className="fw-bold font-monospace me-1"),
                  html.Span(f"({quote.source}, not the MOF fixing) · age ", className="text-muted"),
                  html.Span(fmt_age((now - quote.as_of).total_seconds()), className="cm-age font-monospace",
                            **{"data-asof": epoch_ms(quote.as_of), "data-staleafter": quote.stale_after.total_seconds()})],
                 className="small", id="se-quote") if quote is not None else None,
        html.Div(["Exchange quotes: no daily history of their own — σ, window and rarity come from the close "
                  "of record, ", dcc.Link(row.record_of, href=f"/series/{row.record_of}"), "."],
                 className="small text-muted", id="se-record-of") if getattr(row, "record_of", None) else None,
    ])


def alert_permalink(alert_id: str) -> str:
    from urllib.parse import quote

    return f"/alerts?alert={quote(alert_id, safe='')}"


def alerts_panel(events: list[dict], limit: int = 30) -> html.Div:
    if not events:
        return html.Div("No alerts for this series in the recent alert log.", className="text-muted small")
    items = []
    for e in events[:limit]:
        at = pd.Timestamp(e.get("at")) if e.get("at") else None
        items.append(html.Li([
            dbc.Badge((e.get("tier") or e.get("state") or "").upper(),
                      color=TIER_BADGE.get(e.get("tier") or "", "secondary"), className="me-2"),
            when(at.to_pydatetime() if at is not None else None, className="text-muted small me-2"),
            html.Span(f"{e.get('kind', '')}: ", className="small text-muted"),
            dcc.Link(e.get("text") or e.get("alert_id", ""), href=alert_permalink(e.get("alert_id", "")),
                     className="small"),
        ], className="mb-1"))
    more = len(events) - limit
    return html.Div([html.Ul(items, className="list-unstyled mb-0"),
                     html.Div(f"and {more} earlier", className="text-muted small") if more > 0 else None])


# ------------------------------------------------------------------------------------ refresh
OUTPUTS = ("history", "hist", "stats", "rarity", "source", "alerts", "note")


def series_timezone(snap, series_id: str | None) -> str:
    """The series' own calendar (`asof` dates are local market dates); UTC for an unknown one."""
    row = snap.row(series_id) if snap is not None and series_id else None
    return row.timezone if row is not None else "UTC"


def series_events(snap, series_id: str, end: pd.Timestamp | None, asof) -> list[dict]:
    """This series' alert events (newest first); a view of the past stops at the viewed day."""
    events = [e for e in snap.alerts.get("events", []) if e.get("series_id") == series_id]
    if asof is not None and end is not None:
        limit = end.normalize() + pd.Timedelta(days=1)
        events = [e for e in events if e.get("at") and pd.Timestamp(e["at"]) < limit]
    return events


def render(snap, series_id: str | None, values: Mapping[str, Any], tag: dict | None, tz: str) -> tuple:
    """Every output of the page for one view, or `no_update` for the parts already on screen:
    the figures change with the daily data and the view, the panels also with the live value,
    the as-of time and the alert log."""
    tag = tag or {}
    row = snap.row(series_id) if series_id else None
    if row is None:
        new = {"fig": "unknown", "info": "unknown"}
        if tag == new:
            return (no_update,) * (len(OUTPUTS) + 1)
        msg = "Unknown series — nothing to show"
        return (empty_figure(msg, 520), empty_figure(msg, 380), msg, None, None, None, None, new)
    view = view_data(snap, series_id, values, timezone=tz, label=row.label)
    fig_key = repr((daily_signature(snap, series_id), sorted(values.items(), key=str), tz))
    events = series_events(snap, series_id, view.end_ts if view else None, values["asof"])
    quote = snap.quotes_row(series_id)
    info_key = repr((fig_key, row.value, str(row.as_of), row.source, row.freq, snap.mode,
                     (quote.id, quote.value, str(quote.as_of)) if quote is not None else None,
                     [(e.get("alert_id"), e.get("seq")) for e in events[:30]]))
    new = {"fig": fig_key, "info": info_key}
    if tag == new:
        return (no_update,) * (len(OUTPUTS) + 1)
    if tag.get("fig") == fig_key:
        history = hist = no_update
    elif view is None:
        history = empty_figure("No daily history for this series yet", 520)
        hist = empty_figure("No daily history for this series yet", 380)
    else:
        history, hist = view.history_fig, view.hist_fig
    notes = list(view.notes) if view else []
    note = html.Div("; ".join(notes), className="text-muted small mb-1", id="se-view-notes") if notes else None
    return (history, hist, stats_panel(view, values["window"], tz), rarity_panel(view, values["horizon"]),
            source_panel(row, snap.now(), quote), alerts_panel(events), note, new)


# ------------------------------------------------------------------------------------ layout
def _control(label: str, control) -> html.Div:
    return html.Div([html.Label(label, className="small text-muted mb-0 d-block"), control],
                    className="me-3 mb-2 se-control")


def layout(snap, series_id: str | None = None, **query) -> html.Div:
    """The page for `series_id` and the URL's query, drawn from `snap` (None: still loading)."""
    values, notices = parse(PARAMS, query)
    row = snap.row(series_id or "") if snap is not None else None
    known = [r.id for r in snap.rows] if snap is not None else []
    # Rendered complete (the opened link shows its view at once; the first callback finds it on
    # screen and sends nothing).
    if snap is not None and row is not None:
        out = dict(zip(OUTPUTS + ("tag",), render(snap, series_id, values, None, series_timezone(snap, series_id))))
    else:
        out = {"history": empty_figure("Unknown series" if snap is not None else "Loading…", 520),
               "hist": empty_figure("Unknown series" if snap is not None else "Loading…", 380),
               "stats": "Unknown series — nothing to show" if snap is not None else "Loading…",
               "rarity": None, "source": None, "alerts": None, "note": None, "tag": None}
    if row is None:
        notices.insert(0, f"unknown series {series_id!r}: nothing to show — pick a series from the "
                          "Overview or the Markets page")
    title = row.label if row is not None else f"Unknown series {series_id!r}"
    graph_name = f"series-{series_id or 'unknown'}"
    return html.Div([
        html.Div([html.H4(title, className="mt-2 mb-0 me-3", id=SE_TITLE),
                  html.Span(series_id or "", className="text-muted small me-3"),
                  dcc.Link("← Overview", href="/", className="small")], className="d-flex align-items-baseline"),
        html.Div(notice_banner(notices), id=SE_NOTICE),
        html.Div(id=SE_VIEW_NOTE, children=out["note"]),
        dcc.Store(id=SE_SERIES, data=series_id if row is not None else None),
        dcc.Store(id=SE_TAG, data=out["tag"]),
        dcc.Store(id=SE_SEARCH),
        dcc.Store(id=SE_URL_SINK),
        html.Div([
            _control("σ window", dbc.Select(id=SE_WINDOW, value=values["window"], size="sm",
                                            options=[{"label": WINDOW_LABELS[w], "value": w} for w in ESTIMATORS])),
            _control("horizon", dbc.Select(id=SE_HORIZON, value=values["horizon"], size="sm",
                                           options=[{"label": f"{h} day{'s' if h != '1' else ''}", "value": h}
                                                    for h in ("1", "2", "5")])),
            _control("band ±σ", dbc.Input(id=SE_THRESHOLD, type="number", value=values["threshold"], min=0.5, max=20,
                                          step=0.5, debounce=True, size="sm", style={"width": "6rem"})),
            _control("as of (empty: latest)", dbc.Input(id=SE_ASOF, debounce=True, size="sm", **ISO_DATE_INPUT,
                                                        value=values["asof"].isoformat() if values["asof"] else None)),
            _control("range", dbc.Select(id=SE_RANGE, value=values["range"], size="sm",
                                         options=[{"label": r, "value": r} for r in RANGE_YEARS])),
        ], className="d-flex flex-wrap align-items-end mt-2"),
        dbc.Row([
            dbc.Col(dbc.Card(dbc.CardBody(html.Div(id=SE_STATS, children=out["stats"]))), lg=5, className="mb-2"),
            dbc.Col(dbc.Card(dbc.CardBody(html.Div(id=SE_RARITY, children=out["rarity"]))), lg=3, className="mb-2"),
            dbc.Col(dbc.Card(dbc.CardBody(html.Div(id=SE_SOURCE, children=out["source"]))), lg=4, className="mb-2"),
        ], className="g-2"),
        dcc.Graph(id=SE_HISTORY, figure=out["history"], config=graph_config(graph_name + "-history"),
                  style={"height": "520px"}),
        dbc.Row([
            dbc.Col(dcc.Graph(id=SE_HIST, figure=out["hist"],
                              config=graph_config(graph_name + "-distribution"), style={"height": "380px"}), lg=7),
            dbc.Col([html.H6("Alert history", className="mt-2"), html.Div(id=SE_ALERTS, children=out["alerts"])], lg=5),
        ]),
        html.Div(f"Known series: {', '.join(known)}" if row is None and known else None,
                 className="text-muted small mt-2"),
    ], className="cm-series-page")
