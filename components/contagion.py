"""The Contagion page: clock-aligned JGB↔UST correlations, Diebold–Yilmaz spillover, today's
attribution, the risk-parity deleveraging calculator, spreads, the FX-hedged UST yield and the
contagion signals.

Every number comes precomputed from `snapshot.contagion` (analytics.contagion.ContagionSnapshot);
the only arithmetic here is the closed-form risk-parity calculator run on the user's inputs.
View state lives in the URL (`pair`, `window`, `aum`, `tvol`, `bonds`, `lev`, `shock`, `scope`,
`corr`, `events`), so a shared link reproduces the panel. The time-series charts mark the event
calendar on their date axes (the daily frames are indexed by local trading date, so an event
sits on its own local date: the point of the day it moved).
"""
from __future__ import annotations

import math
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html
from plotly.subplots import make_subplots

from analytics.riskparity import (
    LIVE_WINDOW,
    SCENARIOS,
    Deleveraging,
    FundInputs,
    deleveraging,
    run_scenario,
)
from components.figures import add_event_markers, graph_config
from components.markets import event_filter
from components.urlstate import EVENTS, Param, notice_banner, parse, to_search

__all__ = [
    "DIRECTION_LABELS",
    "PAIR_LABELS",
    "PARAMS",
    "SERIES_LABELS",
    "attribution_card",
    "beta_figure",
    "correlation_heatmap",
    "data_tag",
    "empty_figure",
    "fund_inputs",
    "hedged_figure",
    "layout",
    "pairwise_table",
    "preset_values",
    "riskparity_panel",
    "riskparity_result",
    "rolling_figure",
    "search_for",
    "signals_list",
    "spillover_net_figure",
    "spillover_pairwise_heatmap",
    "spillover_total_figure",
    "spreads_table",
]

# Component ids (this page only; module constants so a typo fails at import).
CG_NOTICE = "cg-notice"
CG_ASOF = "cg-asof"
CG_TAG = "cg-tag"                    # dcc.Store: tag of the contagion data last rendered
CG_SEARCH = "cg-search"              # dcc.Store: the URL query for the current view
CG_URL_SINK = "cg-url-sink"          # dcc.Store: output of the clientside history.replaceState
CG_PAIR = "cg-pair"
CG_WINDOW = "cg-window"
CG_EVENTS = "cg-events"              # the event-kind checklist of the page's time-series charts
CG_HEATMAP = "cg-heatmap"
CG_ROLLING = "cg-rolling"
CG_BETA = "cg-beta"
CG_SPILL_TOTAL = "cg-spill-total"
CG_SPILL_NET = "cg-spill-net"
CG_SPILL_PAIRWISE = "cg-spill-pairwise"
CG_PAIRWISE_TABLE = "cg-pairwise-table"
CG_ATTRIBUTION = "cg-attribution"
CG_SIGNALS = "cg-signals"
CG_SPREADS = "cg-spreads"
CG_HEDGED = "cg-hedged"
CG_NOTES = "cg-notes"
CG_AUM = "cg-aum"
CG_TVOL = "cg-tvol"
CG_BONDS = "cg-bonds"
CG_LEV = "cg-lev"
CG_SHOCK = "cg-shock"
CG_SCOPE = "cg-scope"
CG_CORR = "cg-corr"
CG_PRESET = "cg-preset"              # pattern-matching type: {"type": CG_PRESET, "name": <scenario>}
CG_RESET_FUND = "cg-reset-fund"
CG_RP_RESULT = "cg-rp-result"
CG_RP_LIVE = "cg-rp-live"
CG_RP_SCENARIOS = "cg-rp-scenarios"

_FUND = FundInputs()
PARAMS = (
    Param("pair", "choice", "10Y", choices=("10Y", "30Y", "USDJPY")),
    Param("window", "choice", "60", choices=("60", "250")),
    Param("aum", "float", _FUND.aum_bn, lo=0, hi=100000),                 # $bn
    Param("tvol", "float", 100 * _FUND.target_vol, lo=0.1, hi=100),        # %
    Param("bonds", "float", 100 * _FUND.bond_share, lo=0, hi=100),          # % of gross notional
    Param("lev", "float", _FUND.leverage_cap, lo=0.1, hi=50),
    Param("shock", "float", 1.5, lo=0.1, hi=20),                           # vol multiplier
    Param("scope", "choice", "all", choices=("all", "bonds")),             # which sleeves the shock hits
    Param("corr", "float", None, lo=-1, hi=1),                             # bond/other correlation after
    EVENTS,                                                                # event kinds marked on the charts
)
DEFAULTS = {p.name: p.default for p in PARAMS}

PAIR_LABELS = {"10Y": "JGB 10Y · UST 10Y", "30Y": "JGB 30Y · UST 30Y", "USDJPY": "JGB 10Y · USD/JPY"}
DIRECTION_LABELS = {"jp_to_us": "Japan→US", "us_to_jp": "US→Japan"}
DIRECTION_HELP = {"jp_to_us": "JGB_t with UST_t (Tokyo closes first)",
                  "us_to_jp": "UST_{t−1} with JGB_t (New York closes before Tokyo opens)"}
SERIES_LABELS = {"jgb_10y": "JGB 10Y", "jgb_30y": "JGB 30Y", "ust_10y": "UST 10Y", "ust_30y": "UST 30Y",
                 "usdjpy_noon": "USD/JPY"}
SPREAD_LABELS = {"jgb_2s10s": "JGB 2s10s", "jgb_10s30s": "JGB 10s30s", "jgb_30s40s": "JGB 30s40s",
                 "ust_2s10s": "UST 2s10s", "ust_10s30s": "UST 10s30s", "ust_jgb_10y": "UST − JGB 10Y",
                 "ust_jgb_30y": "UST − JGB 30Y"}
SIGNAL_LABELS = {"correlation_break": "Correlation break", "spillover_jump": "Spillover jump",
                 "hedged_pickup_flip": "Hedged pickup flip"}
COLORS = {"jp_to_us": "#e74c3c", "us_to_jp": "#3498db", "other": "#adb5bd", "ewma": "#f39c12"}
BAND_FILL = {"jp_to_us": "rgba(231,76,60,0.18)", "us_to_jp": "rgba(52,152,219,0.18)"}


def _graph(gid: str, name: str, height: int) -> dcc.Graph:
    return dcc.Graph(id=gid, figure=empty_figure("Loading…", height), config=graph_config(f"contagion-{name}"),
                     style={"height": f"{height}px"})


def _base_layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(template="plotly_dark", paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      title={"text": title, "font": {"size": 14}}, height=height,
                      margin={"l": 50, "r": 20, "t": 50, "b": 40}, legend={"orientation": "h", "y": -0.15},
                      hovermode="x unified", uirevision="keep")
    return fig


def empty_figure(message: str, height: int = 320) -> go.Figure:
    fig = _base_layout(go.Figure(), "", height)
    fig.update_layout(uirevision="empty")     # so the first real figure applies its own axes in full
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 14, "color": "#adb5bd"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _f(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _mark_events(fig: go.Figure, events, kinds, index) -> go.Figure:
    """The calendar's events over a daily chart whose x values are local trading dates (naive
    midnights): each event on its own local date, between the chart's first and last date."""
    if events and len(index):
        add_event_markers(fig, events, pd.Timestamp(index.min()), pd.Timestamp(index.max()), kinds=kinds,
                          axis="date")
    return fig


# ------------------------------------------------------------------------------------- URL state
def search_for(values: dict[str, Any]) -> str:
    """The URL query for a view (defaults left out); None inputs count as defaults."""
    clean = {k: (DEFAULTS[k] if v is None and k not in ("corr", "events") else v)
             for k, v in values.items() if k in DEFAULTS}
    return to_search(PARAMS, {**DEFAULTS, **clean})


def data_tag(c) -> str:
    """Changes when the contagion analytics changed (they are recomputed on new daily closes)."""
    if c is None:
        return "none"
    summary = "" if c.summary is None or c.summary.empty else \
        c.summary[["pair", "direction", "rho60", "rho250"]].round(6).to_json()
    spill = "" if c.spillover is None or c.spillover.empty else \
        f"{len(c.spillover)}:{c.spillover.index[-1]}:{c.spillover['total'].iloc[-1]:.6f}"
    hedged = "" if c.hedged is None or c.hedged.empty else f"{len(c.hedged)}:{c.hedged.index[-1]}"
    return f"{c.asof}|{summary}|{spill}|{hedged}|{len(c.signals)}"


# ------------------------------------------------------------------------------------- correlations
def correlation_heatmap(c) -> go.Figure:
    """Latest 60-day correlations of the five series under both clock alignments, side by side
    (`corr60_by`: Japan→US, US→Japan — the cross-market cells differ, within a market they
    agree); else the one Japan→US matrix (`corr60`), else the per-pair × per-clock summary."""
    both = getattr(c, "corr60_by", None) if c is not None else None
    if both and all(d in both for d in DIRECTION_LABELS):
        titles = [f"{DIRECTION_LABELS[d]}: {DIRECTION_HELP[d]}<br>60 days {both[d][1]:%Y-%m-%d} … {both[d][2]:%Y-%m-%d}"
                  for d in DIRECTION_LABELS]
        fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.14)
        for i, d in enumerate(DIRECTION_LABELS):
            m = both[d][0]
            names = [SERIES_LABELS.get(str(n), str(n)) for n in m.columns]
            z = m.to_numpy()
            fig.add_trace(go.Heatmap(z=z, x=names, y=names, zmin=-1, zmax=1, colorscale="RdBu_r",
                                     text=[[f"{v:.2f}" for v in row] for row in z], texttemplate="%{text}",
                                     name=DIRECTION_LABELS[d], showscale=i == 1, colorbar={"title": "ρ"}),
                          row=1, col=i + 1)
        fig = _base_layout(fig, "Latest 60-day correlation of daily moves, by clock alignment", 380)
        fig.update_annotations(font={"size": 11})
        fig.update_layout(hovermode="closest", margin={"l": 60, "r": 20, "t": 90, "b": 40})
        fig.update_yaxes(autorange="reversed")
        return fig
    matrix = getattr(c, "corr60", None) if c is not None else None
    if isinstance(matrix, pd.DataFrame) and not matrix.empty:
        names = [SERIES_LABELS.get(str(n), str(n)) for n in matrix.columns]
        z = matrix.to_numpy()
        fig = go.Figure(go.Heatmap(z=z, x=names, y=names, zmin=-1, zmax=1, colorscale="RdBu_r",
                                   text=[[f"{v:.2f}" for v in row] for row in z], texttemplate="%{text}",
                                   colorbar={"title": "ρ"}))
        return _base_layout(fig, "Latest 60-day correlation of daily moves", 340)
    if c is None or c.summary is None or c.summary.empty:
        return empty_figure("Correlations need ≥ 60 aligned daily moves", 340)
    s = c.summary.set_index(["pair", "direction"])
    pairs = [p for p in PAIR_LABELS if any(p == k[0] for k in s.index)]
    dirs = list(DIRECTION_LABELS)
    z = [[_f(s.at[(p, d), "rho60"]) if (p, d) in s.index else None for d in dirs] for p in pairs]
    text = [[("—" if v is None else f"{v:.2f}") for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=[f"{DIRECTION_LABELS[d]}" for d in dirs], y=[PAIR_LABELS[p] for p in pairs],
                               zmin=-1, zmax=1, colorscale="RdBu_r", text=text, texttemplate="%{text}",
                               textfont={"size": 16}, colorbar={"title": "ρ60"}))
    fig = _base_layout(fig, "Latest 60-day correlation of daily moves, by clock alignment", 340)
    fig.update_layout(hovermode="closest")
    fig.update_yaxes(autorange="reversed")    # 10Y on top, as listed everywhere else
    return fig


def rolling_figure(c, pair: str, window: str, events=(), kinds=None) -> go.Figure:
    """ρ for both clock alignments (one panel each): the chosen window with its Fisher-z 95 %
    band, the other window's ρ and the EWMA (λ 0.94); the calendar's events (`kinds`) marked."""
    if c is None or not any((pair, d) in c.rolling for d in DIRECTION_LABELS):
        return empty_figure(f"No rolling correlation for {PAIR_LABELS.get(pair, pair)} yet", 520)
    other = "250" if window == "60" else "60"
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[f"{DIRECTION_LABELS[d]} — {DIRECTION_HELP[d]}" for d in DIRECTION_LABELS])
    for row, d in enumerate(DIRECTION_LABELS, start=1):
        frame = c.rolling.get((pair, d))
        if frame is None or frame.empty:
            continue
        f = frame.dropna(subset=[f"rho{window}"])
        x = f.index
        lab = DIRECTION_LABELS[d]
        fig.add_trace(go.Scatter(x=x, y=f[f"lo{window}"], mode="lines", line={"width": 0}, hoverinfo="skip",
                                 showlegend=False, name=f"{lab} {window}d band lower"), row=row, col=1)
        fig.add_trace(go.Scatter(x=x, y=f[f"hi{window}"], mode="lines", line={"width": 0}, fill="tonexty",
                                 fillcolor=BAND_FILL[d], name=f"{lab} {window}d 95% band (Fisher z)",
                                 hoverinfo="skip"), row=row, col=1)
        fig.add_trace(go.Scatter(x=x, y=f[f"rho{window}"], mode="lines", line={"color": COLORS[d], "width": 2},
                                 name=f"{lab} ρ{window}"), row=row, col=1)
        fig.add_trace(go.Scatter(x=frame.index, y=frame[f"rho{other}"], mode="lines",
                                 line={"color": COLORS["other"], "width": 1, "dash": "dash"},
                                 name=f"{lab} ρ{other}"), row=row, col=1)
        fig.add_trace(go.Scatter(x=frame.index, y=frame["ewma"], mode="lines",
                                 line={"color": COLORS["ewma"], "width": 1, "dash": "dot"},
                                 name=f"{lab} EWMA (λ 0.94)", visible="legendonly"), row=row, col=1)
    fig.update_yaxes(range=[-1, 1], zeroline=True, zerolinecolor="#666", title_text="ρ")
    fig = _base_layout(fig, f"Rolling correlation of daily moves — {PAIR_LABELS[pair]} "
                            f"(predictive association on aligned clocks, not causal)", 560)
    fig.update_layout(margin={"t": 80})       # room for the title above the first panel's title
    frames = [c.rolling[(pair, d)] for d in DIRECTION_LABELS if (pair, d) in c.rolling]
    return _mark_events(fig, events, kinds, pd.DatetimeIndex([]).append([f.index for f in frames]))


def beta_figure(c, pair: str, events=(), kinds=None) -> go.Figure:
    if c is None or not any((pair, d) in c.rolling for d in DIRECTION_LABELS):
        return empty_figure("No rolling beta yet", 280)
    fig = go.Figure()
    shown = []
    for d, lab in DIRECTION_LABELS.items():
        frame = c.rolling.get((pair, d))
        if frame is None or frame.empty:
            continue
        b = frame["beta250"].dropna()
        shown.append(b.index)
        fig.add_trace(go.Scatter(x=b.index, y=b, mode="lines", line={"color": COLORS[d], "width": 1.5},
                                 name=f"{lab} β (250d)"))
    unit = "% USD/JPY per bp JGB" if pair == "USDJPY" else "bp UST per bp JGB"
    fig.update_yaxes(title_text=unit)
    fig = _base_layout(fig, f"Rolling 250-day beta — {PAIR_LABELS[pair]} ({unit})", 300)
    return _mark_events(fig, events, kinds, pd.DatetimeIndex([]).append(shown))


# ------------------------------------------------------------------------------------- spillover
def spillover_total_figure(c, events=(), kinds=None) -> go.Figure:
    if c is None or c.spillover is None or c.spillover.empty:
        return empty_figure("Spillover needs ≥ 210 joint daily moves of the five series", 320)
    tot = c.spillover["total"].dropna()
    fig = go.Figure(go.Scatter(x=tot.index, y=tot, mode="lines", line={"color": "#00bc8c", "width": 2},
                               name="total spillover %"))
    fig.update_yaxes(title_text="% of forecast-error variance")
    fig = _base_layout(fig, "Diebold–Yilmaz total spillover, 200-day rolling window (two years)", 320)
    return _mark_events(fig, events, kinds, tot.index)


def spillover_net_figure(c) -> go.Figure:
    t = c.spillover_latest if c is not None else None
    if t is None:
        return empty_figure("No spillover table yet", 320)
    names = [SERIES_LABELS.get(n, n) for n in t.names]
    fig = go.Figure([
        go.Bar(x=names, y=t.to_others.to_numpy(), name="TO others", marker_color="#e74c3c"),
        go.Bar(x=names, y=t.from_others.to_numpy(), name="FROM others", marker_color="#3498db"),
        go.Bar(x=names, y=t.net.to_numpy(), name="NET (TO − FROM)", marker_color="#f39c12"),
    ])
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="%")
    fig = _base_layout(fig, f"Net transmitters, latest window ({t.method} FEVD, VAR({t.lags}), H={t.horizon}, "
                            f"n={t.nobs}) — predictive, not causal", 320)
    fig.update_layout(hovermode="closest")
    return fig


def spillover_pairwise_heatmap(c) -> go.Figure:
    t = c.spillover_latest if c is not None else None
    if t is None:
        return empty_figure("No spillover table yet", 340)
    names = [SERIES_LABELS.get(n, n) for n in t.names]
    z = t.table.to_numpy()
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, colorscale="Viridis",
                               text=[[f"{v:.1f}" for v in row] for row in z], texttemplate="%{text}",
                               colorbar={"title": "%"},
                               hovertemplate="%{y} receives %{z:.1f}% from %{x}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title_text="receiver")
    fig.update_xaxes(title_text="source of shocks")
    fig = _base_layout(fig, "Pairwise spillover: % of the row's forecast-error variance from the column", 340)
    fig.update_layout(hovermode="closest")
    return fig


def pairwise_table(c) -> html.Div:
    t = c.spillover_latest if c is not None else None
    if t is None:
        return html.Div("No spillover table yet.", className="text-muted small")
    names = t.names
    head = html.Thead(html.Tr([html.Th("receiver \\ source")] + [html.Th(SERIES_LABELS.get(n, n)) for n in names]
                              + [html.Th("FROM")]))
    rows = []
    for i in names:
        rows.append(html.Tr([html.Th(SERIES_LABELS.get(i, i))]
                            + [html.Td(f"{t.table.at[i, j]:.1f}", className="text-end font-monospace"
                                       + (" text-muted" if i == j else "")) for j in names]
                            + [html.Td(f"{t.from_others[i]:.1f}", className="text-end font-monospace")]))
    rows.append(html.Tr([html.Th("TO")] + [html.Td(f"{t.to_others[j]:.1f}", className="text-end font-monospace")
                                           for j in names] + [html.Td(f"total {t.total:.1f}%",
                                                                      className="text-end fw-bold")]))
    rows.append(html.Tr([html.Th("NET")] + [html.Td(f"{t.net[j]:+.1f}", className="text-end font-monospace "
                                                    + ("text-danger" if t.net[j] > 0 else "text-info"))
                                            for j in names] + [html.Td("")]))
    return html.Div([dbc.Table([head, html.Tbody(rows)], size="sm", bordered=True, responsive=True,
                               className="cg-pairwise mb-1"),
                     html.Div("Rows sum to 100. NET > 0: a net transmitter of shocks (a forecasting "
                              "statement: predictive, not causal).", className="text-muted small")])


# ------------------------------------------------------------------------------------- attribution
def attribution_card(c) -> html.Div:
    a = c.attribution if c is not None else None
    if a is None:
        return html.Div("Attribution needs ≥ 260 aligned JGB 10Y / UST 10Y daily moves.", className="text-muted")
    rows = [("UST 10Y move", f"{a.ust_move_bp:+.1f} bp"), ("overnight JGB 10Y move", f"{a.jgb_move_bp:+.1f} bp"),
            ("β (window ending the day before)", f"{a.beta:.2f} ± {a.beta_se:.2f}"),
            ("explained by Japan", (f"{a.explained_bp:+.1f} bp (95 % {a.explained_low_bp:+.1f} to "
                                    f"{a.explained_high_bp:+.1f})")),
            ("not explained by Japan", f"{a.unexplained_bp:+.1f} bp"),
            ("typical daily noise around the fit", f"{a.resid_sd_bp:.1f} bp"),
            ("R² · pairs", f"{a.r2:.2f} · {a.n} ({a.window}-day window)")]
    share = a.share_explained
    return html.Div([
        html.P(a.text(), className="mb-2 cg-attribution-text"),
        dbc.Table(html.Tbody([html.Tr([html.Td(k, className="text-muted"), html.Td(v, className="font-monospace")])
                              for k, v in rows]), size="sm", className="mb-1"),
        html.Div(("share explained " + ("—" if math.isnan(share) else f"{share:.0%}") + ". "
                  "“Explained” = β·JGB move on the Japan→US clock: a predictive association, not proof "
                  "of causation."), className="text-muted small"),
    ])


def signals_list(c) -> html.Div:
    if c is None or not c.signals:
        return html.Div("No contagion signals evaluated yet.", className="text-muted")
    items = []
    for s in c.signals:
        items.append(dbc.ListGroupItem([
            dbc.Badge("ACTIVE" if s.active else "quiet", color="danger" if s.active else "secondary",
                      className="me-2"),
            html.Strong(SIGNAL_LABELS.get(s.kind, s.kind) + " "),
            html.Span(f"({s.subject}, {s.asof:%Y-%m-%d}) ", className="text-muted small"),
            html.Div(s.text, className="small"),
        ], className="py-1 " + ("cg-signal-active" if s.active else "cg-signal-quiet"),
            id=f"cg-signal-{s.kind}-{s.subject.replace(' ', '_')}"))
    return dbc.ListGroup(items, flush=True)


# ------------------------------------------------------------------------------------- spreads, hedged
def spreads_table(c) -> html.Div:
    if c is None or c.spreads is None or c.spreads.empty:
        return html.Div("Spreads need both curves.", className="text-muted")
    head = html.Thead(html.Tr([html.Th(h) for h in ("Spread", "Now (bp)", "Δ 1D", "Δ 1W", "Δ 1M", "as of")]))
    body = []
    for name, r in c.spreads.iterrows():
        def chg(v):
            v = _f(v)
            return html.Td("—" if v is None else f"{v:+.1f}", className="text-end font-monospace")
        now = _f(r["now"])
        body.append(html.Tr([html.Td(SPREAD_LABELS.get(name, name)),
                             html.Td("—" if now is None else f"{now:.1f}", className="text-end font-monospace"),
                             chg(r["chg_1D"]), chg(r["chg_1W"]), chg(r["chg_1M"]),
                             html.Td(pd.Timestamp(r["date"]).strftime("%Y-%m-%d"), className="small")],
                            id=f"cg-spread-{name}"))
    return dbc.Table([head, html.Tbody(body)], size="sm", striped=True, responsive=True, className="cg-spreads")


def hedged_figure(c, events=(), kinds=None) -> go.Figure:
    if c is None or c.hedged is None or c.hedged.empty:
        return empty_figure("FX-hedged yield needs UST 3M/10Y and JGB 1Y/10Y", 320)
    h = c.hedged
    h = h[h.index >= h.index.max() - pd.Timedelta(days=730)]
    fig = go.Figure([
        go.Scatter(x=h.index, y=h["ust_yield"], name="UST 10Y", line={"color": "#3498db"}),
        go.Scatter(x=h.index, y=h["hedged_yield"], name="UST 10Y FX-hedged (yen investor)",
                   line={"color": "#00bc8c", "width": 2}),
        go.Scatter(x=h.index, y=h["jgb_yield"], name="JGB 10Y", line={"color": "#e74c3c"}),
    ])
    last = h.dropna(subset=["pickup_bp"]).tail(1)
    pick = f" — pickup {last['pickup_bp'].iloc[0]:+.0f} bp on {last.index[0]:%Y-%m-%d}" if len(last) else ""
    fig.update_yaxes(title_text="%")
    fig = _base_layout(fig, f"FX-hedged UST 10Y vs JGB 10Y{pick} (hedge = UST 3M − JGB 1Y, basis ignored: "
                            f"understates the cost)", 320)
    return _mark_events(fig, events, kinds, h.index)


# ------------------------------------------------------------------------------------- risk parity
def fund_inputs(aum, tvol, bonds, lev) -> FundInputs:
    """FundInputs from the page's units (target vol and bond share in percent). ValueError if bad."""
    vals = {"aum": aum, "tvol": tvol, "bonds": bonds, "lev": lev}
    missing = [k for k, v in vals.items() if _f(v) is None]
    if missing:
        raise ValueError(f"enter a number for {', '.join(missing)}")
    return FundInputs(aum_bn=float(aum), target_vol=float(tvol) / 100.0, bond_share=float(bonds) / 100.0,
                      leverage_cap=float(lev), bond_vol=_FUND.bond_vol, other_vol=_FUND.other_vol, corr=_FUND.corr)


def riskparity_result(aum, tvol, bonds, lev, shock, scope, corr) -> Deleveraging:
    """The closed-form deleveraging for the user's fund and shock (raises ValueError on bad input)."""
    inputs = fund_inputs(aum, tvol, bonds, lev)
    k = _f(shock)
    if k is None or k <= 0:
        raise ValueError("the vol shock multiplier must be a positive number")
    c = _f(corr)
    if c is not None and not -1 <= c <= 1:
        raise ValueError("the correlation must be between −1 and 1")
    return deleveraging(inputs, bond_vol_mult=k, other_vol_mult=k if scope == "all" else 1.0, corr_new=c,
                        label=f"vol × {k:g} on {'every sleeve' if scope == 'all' else 'bonds only'}"
                              + ("" if c is None else f", correlation → {c:g}"))


def preset_values(name: str) -> dict[str, Any]:
    """shock / scope / corr that reproduce a preset from analytics.riskparity.SCENARIOS."""
    _desc, bm, om, corr = SCENARIOS[name]
    return {"shock": bm, "scope": "all" if om == bm else "bonds", "corr": corr}


def _window_range(windows: pd.DataFrame | None, inputs: FundInputs) -> html.Div:
    """What other reasonable windows say (fast 5–20 days × slow 60–250), on the user's fund: the
    range of cuts and bonds sold, and the grid itself."""
    if windows is None or windows.empty:
        return html.Div()
    res = [(r.fast, r.slow, r.ratio, deleveraging(inputs, bond_vol_mult=r.ratio)) for r in windows.itertuples()]
    cuts = [d.cut for *_x, d in res]
    sold = [d.bonds_sold_bn for *_x, d in res]
    fasts = sorted({f for f, *_x in res})
    slows = sorted({s for _f, s, *_x in res})
    lo, hi = min(cuts), max(cuts)

    def signed(x: float) -> str:
        return f"{abs(x):.1%} {'cut' if x >= 0 else 're-levering'}"
    summary = (f"Across {fasts[0]}–{fasts[-1]}-day × {slows[0]}–{slows[-1]}-day windows: from {signed(lo)} to "
               f"{signed(hi)} (${min(sold):,.1f}bn to ${max(sold):,.1f}bn of bonds).")
    by = {(f, s): (k, d) for f, s, k, d in res}
    head = html.Thead(html.Tr([html.Th("fast \\ slow")] + [html.Th(f"{s}d", className="text-end") for s in slows]))
    body = [html.Tr([html.Th(f"{f}d")] + [
        html.Td(("—" if (f, s) not in by else f"{by[(f, s)][1].cut:+.1%}"),
                className="text-end font-monospace" + (" fw-bold text-info" if (f, s) == LIVE_WINDOW else ""),
                title="" if (f, s) not in by else f"vol ratio {by[(f, s)][0]:.3f}")
        for s in slows]) for f in fasts]
    return html.Div([html.Div(summary, className="small", id="cg-rp-range"),
                     dbc.Table([head, html.Tbody(body)], size="sm", className="w-auto mb-0 small",
                               id="cg-rp-range-grid")])


def _state_rows(d: Deleveraging) -> html.Tbody:
    b, a = d.before, d.after
    rows = [("portfolio vol σ̂p", f"{b.sigma_p:.2%}", f"{a.sigma_p:.2%}"),
            ("leverage L", f"{b.leverage:.2f}" + (" (cap)" if b.capped else ""),
             f"{a.leverage:.2f}" + (" (cap)" if a.capped else "")),
            ("gross exposure", f"${b.gross_bn:,.0f}bn", f"${a.gross_bn:,.0f}bn"),
            ("bond exposure", f"${b.bond_bn:,.1f}bn", f"${a.bond_bn:,.1f}bn"),
            ("other exposure", f"${b.other_bn:,.1f}bn", f"${a.other_bn:,.1f}bn")]
    return html.Tbody([html.Tr([html.Td(k, className="text-muted"), html.Td(x, className="font-monospace text-end"),
                                html.Td(y, className="font-monospace text-end")]) for k, x, y in rows])


def riskparity_panel(c, aum, tvol, bonds, lev, shock, scope, corr) -> tuple[Any, Any, Any]:
    """(result, live estimate, scenario table) for the user's inputs."""
    try:
        d = riskparity_result(aum, tvol, bonds, lev, shock, scope, corr)
        inputs = fund_inputs(aum, tvol, bonds, lev)
    except ValueError as exc:
        msg = dbc.Alert(f"Cannot compute: {exc}.", color="warning", className="py-1 small", id="cg-rp-error")
        return msg, html.Div(), html.Div()
    verb = "sold" if d.bonds_sold_bn >= 0 else "bought"
    result = html.Div([
        html.Div([html.Span(f"${abs(d.bonds_sold_bn):,.1f}bn", className="display-6 fw-bold me-2",
                            id="cg-rp-bonds-sold"),
                  html.Span(f"of bonds {verb} ({abs(d.cut):.1%} of every sleeve)", className="lead")]),
        html.P(d.text(), className="small mb-1", id="cg-rp-text"),
        html.Div("The leverage cap binds before and after the shock: the fund is already below its target "
                 "vol, so it is not forced to sell.", className="small text-info mb-1", id="cg-rp-capped")
        if d.before.capped and d.after.capped else None,
        dbc.Table([html.Thead(html.Tr([html.Th(""), html.Th("before", className="text-end"),
                                       html.Th("after", className="text-end")])), _state_rows(d)],
                  size="sm", className="mb-1"),
        html.Div(f"Sleeve vols before the shock: bonds {inputs.bond_vol:.2%}, other {inputs.other_vol:.2%}, "
                 f"correlation {inputs.corr:g} (model assumptions, analytics.riskparity.FundInputs).",
                 className="text-muted small"),
    ])
    live = c.riskparity_live if c is not None else None
    if live is None:
        live_div = html.Div("Live estimate needs > 70 daily UST 10Y moves.", className="text-muted small")
    else:
        fast, slow = LIVE_WINDOW
        parts = [html.Div([html.Strong("Live, from realized UST 10Y vol: "), live.text()], className="small"),
                 html.Div(f"Window: {fast} days against {slow} — a vol-targeting fund resizes within about two "
                          f"weeks, and a 20-day window dilutes a one-week episode.", className="small text-muted",
                          id="cg-rp-window")]
        k = (c.riskparity_vol_ratio or {}).get("ratio")
        if k is not None:
            mine = deleveraging(inputs, bond_vol_mult=k)
            parts.append(html.Div(f"On your fund (bond vol × {k:.3f}): {abs(mine.cut):.1%} "
                                  f"{'cut' if mine.cut >= 0 else 're-levering'}, "
                                  f"${abs(mine.bonds_sold_bn):,.1f}bn of bonds "
                                  f"{'sold' if mine.bonds_sold_bn >= 0 else 'bought'}.",
                                  className="small", id="cg-rp-live-mine"))
        parts.append(_window_range(c.riskparity_windows, inputs))
        live_div = html.Div(parts)
    head = html.Thead(html.Tr([html.Th(h) for h in ("Preset", "Assumptions", "Cut", "Bonds sold")]))
    body = []
    for name, (desc, *_rest) in SCENARIOS.items():
        s = run_scenario(name, inputs)
        body.append(html.Tr([html.Td(name, className="font-monospace"), html.Td(desc, className="small"),
                             html.Td(f"{s.cut:.1%}", className="text-end font-monospace"),
                             html.Td(f"${s.bonds_sold_bn:,.1f}bn", className="text-end font-monospace")],
                            id=f"cg-scenario-{name.replace('.', '_')}"))
    table = html.Div([dbc.Table([head, html.Tbody(body)], size="sm", striped=True, responsive=True, className="mb-1"),
                      html.Div("Presets applied to your fund. Citi's $130bn is reproduced by these assumptions "
                               "(a one-third cut of ≈ $390bn of bonds); they are not Citi's published model.",
                               className="text-muted small")])
    return result, live_div, table


def _number(gid: str, label: str, value, *, step: float, lo: float, hi: float, unit: str) -> dbc.Col:
    return dbc.Col([dbc.Label(label, html_for=gid, className="small mb-0"),
                    dbc.InputGroup([dbc.Input(id=gid, type="number", value=value, min=lo, max=hi, step=step,
                                              debounce=True, size="sm"),
                                    dbc.InputGroupText(unit)], size="sm")], md=2, sm=4)


def _riskparity_controls(v: dict[str, Any]) -> html.Div:
    return html.Div([
        dbc.Row([
            _number(CG_AUM, "AUM", v["aum"], step=10, lo=0, hi=100000, unit="$bn"),
            _number(CG_TVOL, "Target vol", v["tvol"], step=0.5, lo=0.1, hi=100, unit="%"),
            _number(CG_BONDS, "Bond share of notional", v["bonds"], step=1, lo=0, hi=100, unit="%"),
            _number(CG_LEV, "Leverage cap", v["lev"], step=0.5, lo=0.1, hi=50, unit="×"),
            _number(CG_SHOCK, "Vol shock", v["shock"], step=0.05, lo=0.1, hi=20, unit="×"),
            dbc.Col([dbc.Label("Correlation after", html_for=CG_CORR, className="small mb-0"),
                     dbc.Input(id=CG_CORR, type="number", value=v["corr"], min=-1, max=1, step=0.05,
                               debounce=True, size="sm", placeholder="unchanged")], md=2, sm=4),
        ], className="g-2 mb-2"),
        dbc.Row([
            dbc.Col(dbc.RadioItems(id=CG_SCOPE, value=v["scope"], inline=True,
                                   options=[{"label": "shock every sleeve", "value": "all"},
                                            {"label": "shock bonds only", "value": "bonds"}]), md="auto"),
            dbc.Col([html.Span("Presets: ", className="small text-muted me-1")]
                    + [dbc.Button(name, id={"type": CG_PRESET, "name": name}, size="sm", outline=True,
                                  color="info", className="me-1 mb-1") for name in SCENARIOS]
                    + [dbc.Button("default fund", id=CG_RESET_FUND, size="sm", outline=True, color="secondary",
                                  className="mb-1")], md=True),
        ], className="g-2 mb-2 align-items-center"),
    ])


def _card(title: str, body: list | Any, **kw) -> dbc.Card:
    return dbc.Card([dbc.CardHeader(title, className="py-1 fw-bold"), dbc.CardBody(body, className="p-2")],
                    className="mb-3", **kw)


def layout(**query) -> html.Div:
    values, notices = parse(PARAMS, query)
    return html.Div([
        html.Div([html.H4("Contagion", className="mt-2 me-3 d-inline-block"),
                  html.Span(id=CG_ASOF, className="text-muted small")]),
        html.Div(notice_banner(notices), id=CG_NOTICE),
        event_filter(CG_EVENTS, values["events"]),
        dcc.Store(id=CG_TAG),
        dcc.Store(id=CG_SEARCH),
        dcc.Store(id=CG_URL_SINK),
        dbc.Row([
            dbc.Col(_card("Correlation now, in both clock alignments", [_graph(CG_HEATMAP, "correlation-heatmap", 380)]),
                    lg=7),
            dbc.Col([_card("Attribution of today's UST move", html.Div(id=CG_ATTRIBUTION)),
                     _card("Contagion signals", html.Div(id=CG_SIGNALS))], lg=5),
        ]),
        _card("Rolling correlation in both clock alignments", [
            dbc.Row([
                dbc.Col([html.Span("Pair ", className="small text-muted me-1"),
                         dbc.RadioItems(id=CG_PAIR, value=values["pair"], inline=True,
                                        options=[{"label": v, "value": k} for k, v in PAIR_LABELS.items()])],
                        md="auto"),
                dbc.Col([html.Span("Band window ", className="small text-muted me-1"),
                         dbc.RadioItems(id=CG_WINDOW, value=values["window"], inline=True,
                                        options=[{"label": "60 days", "value": "60"},
                                                 {"label": "250 days", "value": "250"}])], md="auto"),
            ], className="g-3 mb-1"),
            html.Div("Japan→US pairs JGB_t with UST_t (Tokyo closes at 06:00 UTC, inside New York's session); "
                     "US→Japan pairs UST_{t−1} with JGB_t. A higher reading in one alignment says which market's "
                     "move helps predict the other's — predictive, not causal.", className="text-muted small"),
            _graph(CG_ROLLING, "rolling-correlation", 560),
            _graph(CG_BETA, "rolling-beta", 300),
        ]),
        dbc.Row([
            dbc.Col(_card("Spillover (Diebold–Yilmaz)", [_graph(CG_SPILL_TOTAL, "spillover-total", 320)]), lg=6),
            dbc.Col(_card("Transmitters and receivers", [_graph(CG_SPILL_NET, "spillover-net", 320)]), lg=6),
        ]),
        dbc.Row([
            dbc.Col(_card("Pairwise spillover", [_graph(CG_SPILL_PAIRWISE, "spillover-pairwise", 340)]), lg=6),
            dbc.Col(_card("Pairwise table (latest 200-day window)", html.Div(id=CG_PAIRWISE_TABLE)), lg=6),
        ]),
        _card("Risk parity: how many bonds does a vol shock force out?", [
            _riskparity_controls(values),
            dbc.Row([
                dbc.Col(html.Div(id=CG_RP_RESULT), lg=5),
                dbc.Col([html.Div(id=CG_RP_LIVE, className="mb-2"), html.Div(id=CG_RP_SCENARIOS)], lg=7),
            ]),
        ], id="cg-riskparity"),
        dbc.Row([
            dbc.Col(_card("Spreads", html.Div(id=CG_SPREADS)), lg=5),
            dbc.Col(_card("FX-hedged UST 10Y", [_graph(CG_HEDGED, "fx-hedged", 320)]), lg=7),
        ]),
        html.Div(id=CG_NOTES, className="text-muted small mb-3"),
    ], className="cg-page")
