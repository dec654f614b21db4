"""Plotly figure builders shared by the Overview and Series pages.

Pure functions of snapshot data (arrays, frames, CurveComparison): no store, no statistics.
The only arithmetic is display arithmetic — rebuilding closes from the snapshot's exact 1-day
moves (the inverse of the move transform), band edges μ ± k·σ from precomputed μ and σ, and
min/max downsampling so long histories stay light in the browser.
"""
from __future__ import annotations

import functools

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Patch
from views.digest import digest

__all__ = [
    "CURVE_COLORS",
    "EVENT_KINDS",
    "EVENT_SHORT",
    "EventMark",
    "TIER_COLORS",
    "add_event_markers",
    "band_edges",
    "base_layout",
    "curve_figure",
    "curve_patch",
    "curve_signature",
    "empty_figure",
    "event_marks",
    "event_tag",
    "event_x",
    "graph_config",
    "histogram_figure",
    "history_figure",
    "minmax_indices",
    "sparkline_figure",
]

TIER_COLORS = {"critical": "#e74c3c", "warning": "#f39c12", "watch": "#3498db"}
CURVE_COLORS = {"now": "#f8f9fa", "1D": "#e74c3c", "1W": "#f39c12", "1M": "#3498db"}
CURVE_DASH = {"now": "solid", "1D": "dot", "1W": "dash", "1M": "longdash"}
MOVE_COLOR = "#adb5bd"
BAND_FILL = "rgba(52,152,219,0.16)"
BAND_LINE = "rgba(52,152,219,0.55)"
EXCEED_COLOR = "#e74c3c"


# Mode-bar buttons that send the figure's data off this machine (Plotly Cloud / Chart Studio):
# at a bank a data leak, so never offered, whatever plotly.js defaults to in a later version.
LEAKY_BUTTONS = ("sendDataToCloud", "editInChartStudio")


def graph_config(name: str, *, static: bool = False, size: tuple[int, int] | None = None) -> dict:
    """The one mode-bar configuration of every chart: PNG download kept (for reports), no Plotly
    logo, no button or link that uploads the data anywhere. `size` fixes the PNG's pixels."""
    if static:
        return {"staticPlot": True, "displayModeBar": False}
    image = {"format": "png", "filename": name or "chart"}
    image.update({"width": size[0], "height": size[1]} if size else {"scale": 2})
    return {"displaylogo": False, "showSendToCloud": False, "showEditInChartStudio": False, "showLink": False,
            "sendData": False, "plotlyServerURL": "", "modeBarButtonsToRemove": list(LEAKY_BUTTONS),
            "toImageButtonOptions": image}


def base_layout(fig: go.Figure, title: str, height: int, *, uirevision: Any = "keep") -> go.Figure:
    fig.update_layout(template="plotly_dark", paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      title={"text": title, "font": {"size": 14}}, height=height,
                      margin={"l": 55, "r": 20, "t": 45, "b": 40},
                      legend={"orientation": "h", "y": -0.18}, uirevision=uirevision)
    return fig


@functools.lru_cache(maxsize=1)
def _dark_template() -> dict:
    """plotly_dark as the JSON it is sent as (built once per process: validating it per figure
    was most of an overview render)."""
    import plotly.io as pio

    return pio.templates["plotly_dark"].to_plotly_json()


def dark_layout(title: str, height: int, *, uirevision: Any = "keep", **more) -> dict:
    """base_layout as a plain dict (same look), for figures built per snapshot without go.Figure."""
    return {"template": _dark_template(), "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
            "title": {"text": title, "font": {"size": 14}}, "height": height,
            "margin": {"l": 55, "r": 20, "t": 45, "b": 40}, "legend": {"orientation": "h", "y": -0.18},
            "uirevision": uirevision, **more}


def empty_figure_dict(message: str, height: int = 320) -> dict:
    """empty_figure as a plain dict."""
    return {"data": [], "layout": dark_layout("", height, xaxis={"visible": False}, yaxis={"visible": False},
                                              annotations=[{"text": message, "showarrow": False, "x": 0.5, "y": 0.5,
                                                            "xref": "paper", "yref": "paper",
                                                            "font": {"size": 14, "color": "#adb5bd"}}])}


def empty_figure(message: str, height: int = 320) -> go.Figure:
    fig = base_layout(go.Figure(), "", height)
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 14, "color": "#adb5bd"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


# ------------------------------------------------------------------------------ display arithmetic
def band_edges(prev: np.ndarray, mu: np.ndarray, sigma: np.ndarray, k: float,
               unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Level band around the close h days before: prev ⊕ (μ ± k·σ), in the series' unit."""
    lo, hi = mu - k * sigma, mu + k * sigma
    if unit == "logpct":
        return prev * np.exp(lo / 100.0), prev * np.exp(hi / 100.0)
    return prev + lo / 100.0, prev + hi / 100.0


def minmax_indices(values: np.ndarray, max_points: int, keep: np.ndarray | None = None) -> np.ndarray:
    """Indices to plot: per bucket the min and the max (spikes survive), plus `keep` and the last.

    Returns every index when the series is short enough.
    """
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, max_points // 2)
    edges = np.linspace(0, n, buckets + 1).astype(int)
    v = np.where(np.isnan(values), 0.0, values)
    out = [n - 1]
    for a, b in pairwise(edges):
        if b > a:
            seg = v[a:b]
            out.extend((a + int(np.argmin(seg)), a + int(np.argmax(seg))))
    if keep is not None:
        out.extend(np.flatnonzero(keep).tolist())
    return np.unique(np.asarray(out, dtype=int))


# ------------------------------------------------------------------------------------- overview
def sparkline_figure(x: Sequence, y: Sequence, *, color: str = "#adb5bd", live: tuple | None = None,
                     height: int = 46) -> dict:
    """A tiny line of the last closes; `live` = (ts, value) of an intraday print after them.

    A plain dict, no template: ten of these per refresh must stay cheap to build and to send.
    """
    data = [{"type": "scatter", "x": list(x), "y": list(y), "mode": "lines", "name": "closes",
             "line": {"color": color, "width": 1.5}, "hoverinfo": "skip"}]
    if live is not None:
        data.append({"type": "scatter", "x": [live[0]], "y": [live[1]], "mode": "markers", "name": "live",
                     "hoverinfo": "skip", "marker": {"color": color, "size": 5, "symbol": "circle-open"}})
    return {"data": data,
            "layout": {"height": height, "margin": {"l": 0, "r": 0, "t": 2, "b": 2}, "showlegend": False,
                       "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
                       "xaxis": {"visible": False, "fixedrange": True},
                       "yaxis": {"visible": False, "fixedrange": True}}}


CURVE_KEYS = ("1M", "1W", "1D", "now")      # drawn oldest first so "now" sits on top


def _fmt_date(d) -> str:
    return "—" if d is None or (isinstance(d, float) and math.isnan(d)) else pd.Timestamp(d).strftime("%Y-%m-%d")


def _curve_trace_data(cmp, key: str) -> dict:
    lv = cmp.levels
    tenors = [str(t) for t in lv.index]
    y = [None if pd.isna(v) else float(v) for v in lv[key]]
    if key == "now":
        custom = [[_fmt_date(cmp.dates.get("now")), None] for _ in tenors]
    else:
        ch = cmp.changes_bp[key]
        custom = [[_fmt_date(cmp.dates.get(key)), None if pd.isna(c) else round(float(c), 1)] for c in ch]
    return {"x": tenors, "y": y, "customdata": custom,
            "name": f"{key} ({_fmt_date(cmp.dates.get(key))})" if key != "now" else
            f"now ({_fmt_date(cmp.dates.get('now'))})"}


def curve_signature(cmp) -> list:
    """What the curve figure shows, to compare between refreshes (JSON-able)."""
    if cmp is None:
        return []
    return [[str(t) for t in cmp.levels.index], {k: _fmt_date(v) for k, v in cmp.dates.items()},
            np.round(cmp.levels.to_numpy(dtype="float64"), 6).tolist()]


def curve_figure(cmp, market: str, height: int = 300) -> go.Figure:
    """One curve now vs 1 day / 1 week / 1 month ago (levels %, hover shows the bp change)."""
    if cmp is None or cmp.levels.empty:
        return empty_figure(f"No {market} curve yet", height)
    fig = go.Figure()
    for key in CURVE_KEYS:
        d = _curve_trace_data(cmp, key)
        hover = ("%{x}: %{y:.3f}% on %{customdata[0]}<extra>now</extra>" if key == "now" else
                 "%{x}: %{y:.3f}% on %{customdata[0]} (now − then %{customdata[1]:+.1f} bp)<extra>" + key +
                 "</extra>")
        fig.add_trace(go.Scatter(x=d["x"], y=d["y"], customdata=d["customdata"], name=d["name"],
                                 mode="lines+markers", hovertemplate=hover,
                                 line={"color": CURVE_COLORS[key], "dash": CURVE_DASH[key],
                                       "width": 2.5 if key == "now" else 1.5},
                                 marker={"size": 5 if key == "now" else 3}))
    base_layout(fig, f"{market} curve: now vs 1D / 1W / 1M", height, uirevision=f"curve-{market}")
    fig.update_xaxes(type="category", title=None)
    fig.update_yaxes(title="yield %", ticksuffix="%")
    return fig


def curve_patch(cmp, market: str) -> Patch:
    """New data for the four curve traces in place (same tenors): no figure rebuild."""
    p = Patch()
    for i, key in enumerate(CURVE_KEYS):
        d = _curve_trace_data(cmp, key)
        p["data"][i]["y"] = d["y"]
        p["data"][i]["customdata"] = d["customdata"]
        p["data"][i]["name"] = d["name"]
    return p


# --------------------------------------------------------------------------------------- series
def history_figure(*, ts: pd.DatetimeIndex, moves: np.ndarray, mu: np.ndarray, sigma: np.ndarray,
                   z: np.ndarray, closes: np.ndarray | None, prev: np.ndarray | None, threshold: float,
                   window_label: str, horizon: int, unit: str, label: str, xrange: tuple[str, str],
                   uirevision: str, height: int = 520, flags=()) -> go.Figure:
    """Levels with the ±k·σ band around the close h days before (top), and the h-day moves with
    the μ ± k·σ band of the chosen window (bottom); moves beyond the band are marked red, and the
    closes the data-quality gate held, rejected or flagged as a splice (`flags`: (ts, move,
    verdict, note)) are marked with the gate's reason."""
    from plotly.subplots import make_subplots

    unit_label = "bp" if unit == "bp" else "log %"
    lo_m, hi_m = mu - threshold * sigma, mu + threshold * sigma
    exceed = np.abs(z) >= threshold
    has_levels = closes is not None and prev is not None
    rows = 2 if has_levels else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[0.45, 0.55] if has_levels else [1.0])
    mrow = 2 if has_levels else 1
    x = ts
    if has_levels:
        lo_l, hi_l = band_edges(prev, mu, sigma, threshold, unit)
        fig.add_trace(go.Scatter(x=x, y=hi_l, mode="lines", line={"width": 0}, hoverinfo="skip",
                                 showlegend=False, name="level band upper"), row=1, col=1)
        fig.add_trace(go.Scatter(x=x, y=lo_l, mode="lines", line={"width": 0}, fill="tonexty",
                                 fillcolor=BAND_FILL, hoverinfo="skip",
                                 name=f"close {horizon}d before ± {threshold:g}σ ({window_label})"), row=1, col=1)
        fig.add_trace(go.Scatter(x=x, y=closes, mode="lines", line={"color": "#f8f9fa", "width": 1.4},
                                 name="close", hovertemplate="%{x|%Y-%m-%d} close %{y:.3f}<extra></extra>"),
                      row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=hi_m, mode="lines", line={"color": BAND_LINE, "width": 1}, hoverinfo="skip",
                             showlegend=False, name="band upper"), row=mrow, col=1)
    fig.add_trace(go.Scatter(x=x, y=lo_m, mode="lines", line={"color": BAND_LINE, "width": 1}, fill="tonexty",
                             fillcolor=BAND_FILL, hoverinfo="skip",
                             name=f"μ ± {threshold:g}σ ({window_label}, σ to t−1)"), row=mrow, col=1)
    fig.add_trace(go.Scatter(x=x, y=moves, mode="lines", line={"color": MOVE_COLOR, "width": 1},
                             name=f"{horizon}-day move", customdata=np.c_[z, sigma],
                             hovertemplate=f"%{{x|%Y-%m-%d}} %{{y:+.2f}} {unit_label} · z %{{customdata[0]:+.2f}}"
                                           f" · σ %{{customdata[1]:.2f}}<extra></extra>"), row=mrow, col=1)
    fig.add_trace(go.Scatter(x=x[exceed], y=moves[exceed], mode="markers", name=f"|z| ≥ {threshold:g}",
                             marker={"color": EXCEED_COLOR, "size": 6}, customdata=z[exceed],
                             hovertemplate=f"%{{x|%Y-%m-%d}} %{{y:+.2f}} {unit_label} · z %{{customdata:+.2f}}"
                                           "<extra>beyond the band</extra>"), row=mrow, col=1)
    for verdict, symbol, color in (("rejected", "x", "#ff6b6b"), ("unconfirmed", "diamond-open", "#ffc107"),
                                   ("splice", "line-ns-open", "#adb5bd")):
        pts = [f for f in flags if f[2] == verdict]
        if not pts:
            continue
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[0.0 if p[1] is None or np.isnan(p[1]) else p[1] for p in pts],
                                 mode="markers", name=f"{verdict} by the data-quality gate",
                                 marker={"symbol": symbol, "size": 10, "color": color},
                                 customdata=[p[3] for p in pts],
                                 hovertemplate=f"%{{x|%Y-%m-%d}} {verdict}: %{{customdata}}<extra></extra>"),
                      row=mrow, col=1)
    base_layout(fig, f"{label}: {horizon}-day moves with ±{threshold:g}σ bands ({window_label})", height,
                uirevision=uirevision)
    fig.update_layout(hovermode="x unified")
    fig.update_xaxes(range=list(xrange))
    fig.update_yaxes(title=unit_label, row=mrow, col=1)
    if has_levels:
        fig.update_yaxes(title="%" if unit == "bp" else "level", row=1, col=1)
    return fig


EVENT_SHORT = {"boj": "BOJ", "fomc": "FOMC", "jgb_auction": "auction", "ust_refunding": "refunding",
               "election": "election", "cpi": "CPI", "payrolls": "payrolls", "other": "event"}
# The order the kind filters list them in (the same kinds as data/events.KINDS).
EVENT_KINDS = ("boj", "fomc", "jgb_auction", "ust_refunding", "cpi", "payrolls", "election", "other")
EVENT_COLOR = "rgba(173, 181, 189, 0.55)"
# Labels of events closer than this share of the chart's x range merge into one ("BOJ+2"): at
# ~1,000 px of plot width that is ~30 px, the width of a short label.
EVENT_MERGE = 0.03


@dataclass(frozen=True)
class EventMark:
    """One label on a chart and the events it stands for (one dotted line each)."""
    x: pd.Timestamp                       # where the label sits: its first event's line
    xs: tuple[pd.Timestamp, ...]          # every event's line, in time order
    events: tuple                         # data.events.Event, same order
    text: str                             # "BOJ", or "BOJ+2" for a cluster
    hover: str                            # every event: date, label, source


def _chart_time(ts, tz: str) -> pd.Timestamp:
    """A bound in the chart's coordinates: aware → wall time in `tz` (naive); naive → as given."""
    t = pd.Timestamp(ts)
    return t.tz_convert(tz).tz_localize(None) if t.tzinfo is not None else t


def event_x(e, tz: str = "UTC", axis: str = "instant") -> pd.Timestamp:
    """Where an event's line goes. `axis="instant"`: the chart's x values are instants shown as
    naive wall times in `tz` (the series page, the Markets chart) → the event's UTC instant in
    `tz`. `axis="date"`: the x values are local trading dates at midnight (the Contagion page's
    daily frames) → the event's own local date, so it sits on the point of the day it moved."""
    if axis == "date":
        return pd.Timestamp(e.date)
    if axis != "instant":
        raise ValueError(f"axis must be 'instant' or 'date', got {axis!r}")
    return pd.Timestamp(e.instant_utc).tz_convert(tz).tz_localize(None)


def _event_line(e) -> str:
    src = e.sources[0] if e.sources else ""
    when = e.date.isoformat() + (f" {e.time:%H:%M} {e.timezone.split('/')[-1].replace('_', ' ')}" if e.time else "")
    return f"{when} {e.label}<br>  source: {src[:120]}"


def event_marks(events, start, end, tz: str = "UTC", kinds=None, *, axis: str = "instant",
                merge: float = EVENT_MERGE) -> list[EventMark]:
    """The labels for `events` between `start` and `end` (chart coordinates; aware bounds are
    converted to `tz`), of `kinds` (None: every kind). A label starts a group; every later event
    closer to it than `merge` × the x range joins it, so two labels are never closer than that."""
    lo, hi = _chart_time(start, tz), _chart_time(end, tz)
    rank = {k: i for i, k in enumerate(EVENT_KINDS)}
    pts = sorted(((event_x(e, tz, axis), e) for e in events or () if kinds is None or e.kind in kinds),
                 key=lambda p: (p[0], rank.get(p[1].kind, 99), p[1].label))
    pts = [p for p in pts if lo <= p[0] <= hi]
    gap = (hi - lo) * merge
    groups: list[list] = []
    for x, e in pts:
        if groups and x - groups[-1][0][0] < gap:
            groups[-1].append((x, e))
        else:
            groups.append([(x, e)])
    out = []
    for g in groups:
        first = g[0][1]
        text = EVENT_SHORT.get(first.kind, first.kind) + (f"+{len(g) - 1}" if len(g) > 1 else "")
        out.append(EventMark(x=g[0][0], xs=tuple(x for x, _e in g), events=tuple(e for _x, e in g), text=text,
                             hover="<br>".join(_event_line(e) for _x, e in g)))
    return out


def event_tag(events, kinds=None) -> str:
    """A content digest of the calendar and the kind filter, for refresh tags: the same in every
    web process (views.digest, not the per-process salted hash())."""
    key = "all" if kinds is None else (",".join(k for k in EVENT_KINDS if k in kinds) or "none")
    text = "|".join(f"{e.kind}:{e.date}:{e.time}:{e.timezone}:{e.label}" for e in events or ())
    return f"{key}:{digest(text)}"


def add_event_markers(fig: go.Figure, events, start: pd.Timestamp, end: pd.Timestamp, tz: str = "UTC",
                      kinds=None, *, axis: str = "instant", merge: float = EVENT_MERGE,
                      xref: str = "x") -> go.Figure:
    """Calendar events (data/events.py) in [start, end] as dotted vertical lines across the chart
    (one per event), each label on top; events closer than `merge` × the x range share one label
    ("BOJ+2") whose hover lists them all (date, label, source). `axis` and `tz`: see `event_x`."""
    marks = event_marks(events, start, end, tz, kinds, axis=axis, merge=merge)
    shapes, notes = list(fig.layout.shapes or ()), list(fig.layout.annotations or ())
    for m in marks:
        for x, e in zip(m.xs, m.events):
            shapes.append(go.layout.Shape(type="line", xref=xref, yref="paper", x0=x, x1=x, y0=0, y1=1,
                                          line={"color": EVENT_COLOR, "width": 1, "dash": "dot"}, layer="below",
                                          name=f"event:{e.kind}:{e.date.isoformat()}"))
        notes.append(go.layout.Annotation(x=m.x, xref=xref, y=1.0, yref="paper", yanchor="bottom", showarrow=False,
                                          text=m.text, font={"size": 10, "color": "#ced4da"}, hovertext=m.hover,
                                          name=f"event:{m.events[0].kind}" + (f"+{len(m.events) - 1}"
                                                                               if len(m.events) > 1 else "")))
    # One layout update (add_shape per event re-validates the whole list each time).
    fig.update_layout(shapes=shapes, annotations=notes)
    return fig


def histogram_figure(*, past: np.ndarray, today: float | None, today_label: str, mu: float | None,
                     sigma: float | None, threshold: float, horizon: int, unit: str, uirevision: str,
                     height: int = 380) -> go.Figure:
    """Distribution of past h-day moves (log count axis: the tails are the point), today's move
    as a red line, and μ ± k·σ of the chosen window as dashed lines."""
    unit_label = "bp" if unit == "bp" else "log %"
    if len(past) == 0:
        return empty_figure("No past moves yet", height)
    fig = go.Figure(go.Histogram(x=np.asarray(past, dtype="float64"), nbinsx=160, name=f"past {horizon}-day moves",
                                 marker={"color": "#5b7aa6"},
                                 hovertemplate=f"%{{x}} {unit_label}: %{{y}} days<extra></extra>"))
    base_layout(fig, f"Distribution of {len(past):,} past {horizon}-day moves", height, uirevision=uirevision)
    fig.update_yaxes(type="log", title="days (log)", dtick=1)     # ticks at 1, 10, 100 …
    fig.update_xaxes(title=unit_label)
    if mu is not None and sigma is not None and math.isfinite(mu) and math.isfinite(sigma):
        for edge, name in ((mu - threshold * sigma, "band-lo"), (mu + threshold * sigma, "band-hi")):
            fig.add_shape(type="line", x0=edge, x1=edge, y0=0, y1=1, yref="paper", name=name,
                          line={"color": BAND_LINE, "dash": "dash", "width": 1.5})
    if today is not None and math.isfinite(today):
        fig.add_shape(type="line", x0=today, x1=today, y0=0, y1=1, yref="paper", name="today",
                      line={"color": EXCEED_COLOR, "width": 3})
        fig.add_annotation(x=today, y=1, yref="paper", text=today_label, showarrow=False, yanchor="bottom",
                           font={"color": EXCEED_COLOR, "size": 12})
        lo, hi = float(np.nanmin(past)), float(np.nanmax(past))
        pad = 0.05 * (max(hi, today) - min(lo, today) or 1.0)
        fig.update_xaxes(range=[min(lo, today) - pad, max(hi, today) + pad])
    return fig
