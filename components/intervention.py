"""The Yen watch page (issue 12 §2): USD/JPY against the levels where Japan intervened, its pace
against the pace into those interventions, what the possible-intervention detector saw lately,
and what no data feed here can see (officials' verbal warnings).

Pure: a `views.yen.YenView` (the watch computed once per daily data update, the live print, the
near levels) → Dash components. No statistics and no decisions here: every number is read."""
from __future__ import annotations

import datetime as dt
import math

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from components.figures import add_event_markers, base_layout, empty_figure, graph_config
from components.format import epoch_ms, fmt_age, when
from views.yen import BUY, NEAR_PCT, SELL, YenView

__all__ = ["page", "yen_view", "yen_figure", "YEN_CONTENT", "YEN_TAG"]

YEN_CONTENT = "yen-content"
YEN_TAG = "yen-tag"
DIRECTION_TEXT = {BUY: "yen-buying", SELL: "yen-selling"}
BUY_COLOR, SELL_COLOR, LINE_COLOR = "#e74c3c", "#3498db", "#f39c12"


def page(view: YenView) -> html.Div:
    """The page with its content already drawn from `view` (the refresh then sends only changes)."""
    return html.Div([
        html.H4("Yen watch — USD/JPY and the Ministry of Finance", className="mt-2"),
        html.P("Where Japan intervened before (interventions.toml, each entry with its source), how fast USD/JPY "
               "moved into those days, and what the possible-intervention detector flags (alerts "
               "usdjpy_intervention / usdjpy_intervention_intraday). Levels are the day's High for yen-buying "
               "(the level MOF leaned against), the Low for yen-selling; paces are 100·Δln of the close of record "
               "(London midnight) over 5 and 21 market days.", className="text-muted small"),
        html.Div(id=YEN_CONTENT, children=yen_view(view)),
        dcc.Store(id=YEN_TAG, data=view.digest),
    ])


def _pct(x: float | None, nd: int = 2) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    return f"{x:+.{nd}f} %".replace("-", "−")


def _yen(amount: float | None) -> str:
    if amount is None:
        return "not published"
    return f"¥{amount / 1e9:,.1f}bn"


def _amount(p: dict, past: tuple[dict, ...]) -> str:
    """The day's own amount, or the period's total said as such ('for the two days')."""
    if p["amount_basis"] == "period":
        n = sum(1 for q in past if q["amount_basis"] == "period" and q["amount_jpy"] == p["amount_jpy"])
        return f"{_yen(p['amount_jpy'])} for the {n} days" if n > 1 else f"{_yen(p['amount_jpy'])} (period)"
    return _yen(p["amount_jpy"])


def yen_figure(w, events=(), height: int = 420) -> go.Figure:
    """The close of record over the chart's years, the yen-buying levels as dotted lines, each
    past intervention as a marker at its level, and the calendar's events."""
    if w is None or len(w.closes) == 0:
        return empty_figure("No USD/JPY closes yet", height)
    c = w.closes
    fig = go.Figure(go.Scatter(x=c.index, y=c.to_numpy(), mode="lines", name="USD/JPY close of record",
                               line={"color": LINE_COLOR, "width": 1.6},
                               hovertemplate="%{x|%Y-%m-%d}: %{y:.2f}<extra></extra>"))
    base_layout(fig, "USD/JPY close of record and the levels of past interventions", height, uirevision="yen")
    lo = c.index[0]
    shown = [p for p in w.past if p["date"] >= lo]
    for p in (q for q in w.past if q["direction"] == BUY):
        fig.add_hline(y=p["level"], line={"color": BUY_COLOR, "width": 1, "dash": "dot"}, opacity=0.6,
                      name=f"level:{p['date']:%Y-%m-%d}")
    for direction, color in ((BUY, BUY_COLOR), (SELL, SELL_COLOR)):
        pts = [p for p in shown if p["direction"] == direction]
        if pts:
            fig.add_trace(go.Scatter(
                x=[p["date"] for p in pts], y=[p["level"] for p in pts], mode="markers",
                name=f"MOF {DIRECTION_TEXT[direction]}", marker={"color": color, "size": 10, "symbol": "diamond"},
                hovertemplate="%{x|%Y-%m-%d}: " + DIRECTION_TEXT[direction] + " at %{y:.2f}<extra></extra>"))
    fig.update_yaxes(title="JPY per USD")
    fig.update_layout(legend={"orientation": "h", "y": -0.15})
    add_event_markers(fig, events, lo, c.index[-1] + dt.timedelta(days=1), axis="date", kinds={"boj", "fomc"})
    return fig


def _level_card(view: YenView) -> dbc.Card:
    w, live = view.watch, view.live is not None
    age = (view.now - view.live_at).total_seconds() if live and view.live_at else None
    return dbc.Card(dbc.CardBody([
        html.Div("USD/JPY", className="text-muted small"),
        html.Div(f"{view.live:.2f}" if live else f"{w.level:.2f}", className="display-5 fw-bold", id="yen-level"),
        html.Div(["latest print ", when(view.live_at) if live else "—", " · age ",
                  html.Span(fmt_age(age), className="cm-age",
                            **({"data-ts": epoch_ms(view.live_at)} if live and view.live_at else {}))]
                 if live else "no live print", className="small text-muted"),
        html.Div([f"close of record {w.level:.2f} on {w.asof:%Y-%m-%d} · 1 week ", html.B(_pct(w.pace_1w)),
                  " · 1 month ", html.B(_pct(w.pace_1m))], className="mt-1"),
    ]), className="mb-3")


def _pace_card(w) -> dbc.Card:
    rows = []
    for key, now_v, label in (("1w", w.pace_1w, "1 week"), ("1m", w.pace_1m, "1 month")):
        b = w.pace_before.get(key)
        rows.append(html.Tr([html.Td(label), html.Td(_pct(now_v)),
                             html.Td("—" if b is None else f"{_pct(b[0])} (from {_pct(b[1])} to {_pct(b[2])})")]))
    return dbc.Card(dbc.CardBody([
        html.Div("Pace now against the pace into past yen-buying interventions", className="fw-bold mb-1"),
        dbc.Table([html.Thead(html.Tr([html.Th(""), html.Th("now"), html.Th("before past yen-buying (median, range)")])),
                   html.Tbody(rows)], size="sm", bordered=False, className="mb-0", id="yen-pace"),
    ]), className="mb-3")


def _detector_card(w) -> dbc.Card:
    lt = w.latest
    if lt is None:
        latest = "not enough history yet for the detector's 120-day median"
    elif lt["ratio"] is None:
        latest = f"{lt['day']:%Y-%m-%d}: the day's bar is not usable (thin or gated print)"
    else:
        latest = (f"{lt['day']:%Y-%m-%d}: range {lt['range_pct']:.2f} % = {lt['ratio']:.1f}× its 120-day median"
                  + (f" — FLAGGED ({lt['direction']})" if lt["flag"] else " — not flagged (4× and one way needed)"))
    flags = [html.Li(f"{f['day']:%Y-%m-%d} {f['direction']}, {f['ratio']:.1f}× the median range") for f in w.flags]
    return dbc.Card(dbc.CardBody([
        html.Div("Possible-intervention detector (daily High–Low range)", className="fw-bold mb-1"),
        html.Div(["Newest day judged: ", latest], id="yen-latest"),
        html.Div("Flagged in the last year:" if flags else "No day flagged in the last year.", className="mt-2"),
        html.Ul(flags, className="mb-0", id="yen-flags") if flags else None,
        html.Div("The intraday rule (≥ 1.5 % within 4 h, two prints agree) is on the Alerts page.",
                 className="small text-muted mt-2"),
    ]), className="mb-3")


def _past_table(view: YenView) -> dbc.Table:
    w = view.watch
    head = html.Thead(html.Tr([html.Th(x) for x in ("day", "direction", "amount (MOF)", "level", "USD/JPY now vs level",
                                                    "1 week before", "1 month before")]))
    body = [html.Tr([html.Td(f"{p['date']:%Y-%m-%d}"), html.Td(DIRECTION_TEXT.get(p["direction"], p["direction"])),
                     html.Td(_amount(p, w.past)), html.Td(f"{p['level']:.2f}"), html.Td(_pct(p["distance_pct"])),
                     html.Td(_pct(p["pace_1w"])), html.Td(_pct(p["pace_1m"]))],
                    className="table-danger" if view.is_near(p) else None)
            for p in reversed(w.past)]
    return dbc.Table([head, html.Tbody(body)], size="sm", striped=True, hover=True, responsive=True, id="yen-past")


def yen_view(view: YenView) -> html.Div:
    """The page's content, drawn from its view-model."""
    w = view.watch
    if w is None:
        return html.Div([dbc.Alert("No USD/JPY daily bars (close, High and Low) in the store yet: the watch "
                                   "appears once the first daily download has landed.", color="secondary")])
    parts = []
    if view.simulated:
        parts.append(dbc.Alert("SIMULATED market: these prices are not USD/JPY.", color="warning", className="fw-bold"))
    if view.nearest is not None:
        p = view.nearest                                   # the nearest level, then the others
        others = ", ".join(f"{q['level']:.2f} ({q['date']:%Y-%m-%d})" for q in view.near if q is not p)
        parts.append(dbc.Alert(f"USD/JPY is within {NEAR_PCT:g} % of the {p['level']:.2f} where MOF bought yen on "
                               f"{p['date']:%Y-%m-%d} (close of record {_pct(p['distance_pct'])} from it)"
                               + (f"; also near {others}" if others else "") + ".", color="danger", id="yen-near"))
    parts += [
        dbc.Row([dbc.Col(_level_card(view), md=4), dbc.Col(_pace_card(w), md=4),
                 dbc.Col(_detector_card(w), md=4)]),
        dcc.Graph(figure=yen_figure(w, view.events), config=graph_config("usdjpy-intervention-levels"), id="yen-chart"),
        html.H5("Past interventions", className="mt-3"),
        _past_table(view),
        dbc.Alert(w.note, color="secondary", className="small", id="yen-verbal"),
    ]
    return html.Div(parts)
