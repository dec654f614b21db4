"""The Markets page: every watched series with value, change, source, as-of, age and health,
and the headline series' last three months of daily closes with the calendar's events marked
(which kinds: `?events=`, so a shared link reproduces the chart).

Pure: a `views.markets.MarketsView` → Dash components and figures; nothing here decides what a
row says (views/markets.py does)."""
from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html
from plotly.subplots import make_subplots

from components import ids
from components.figures import EVENT_KINDS, EVENT_SHORT, add_event_markers, empty_figure, event_tag, graph_config
from components.format import epoch_ms, fmt_age, fmt_change, fmt_value, when
from components.urlstate import EVENTS, event_kinds_from_checklist, event_kinds_to_checklist, notice_banner, \
    to_search
from views.markets import CHART_SERIES, MarketRow, MarketsView, RecentSeries

__all__ = ["CHART_SERIES", "PARAMS", "chart_tag", "event_filter", "page", "recent_figure", "search_for",
           "series_table"]

# Component ids (this page only).
MK_NOTICE = "mk-notice"
MK_EVENTS = "mk-events"              # the event-kind checklist
MK_CHART = "mk-chart"
MK_CHART_TAG = "mk-chart-tag"        # dcc.Store: tag of the chart last rendered
MK_SEARCH = "mk-search"              # dcc.Store: the URL query for the current view
MK_URL_SINK = "mk-url-sink"          # dcc.Store: output of the clientside history.replaceState

PARAMS = (EVENTS,)
CHART_HEIGHT = 520
CHART_COLORS = {"JP": "#e74c3c", "US": "#3498db", "FX": "#f39c12"}
HEALTH_BADGE = {"ok": "success", "backfilling": "info", "never": "secondary", "stale": "warning", "failing": "danger"}


def search_for(kinds) -> str:
    return to_search(PARAMS, {"events": kinds})


def event_filter(gid: str, kinds) -> html.Div:
    """The event-kind checklist of a page's charts (ticked: shown); its state is `?events=`."""
    return html.Div([html.Span("Calendar events on the charts: ", className="small text-muted me-1"),
                     dbc.Checklist(id=gid, value=event_kinds_to_checklist(kinds), inline=True,
                                   options=[{"label": EVENT_SHORT[k], "value": k} for k in EVENT_KINDS],
                                   className="d-inline-block small")],
                    className="cm-event-filter mb-1")


def chart_tag(view: MarketsView, kinds) -> str:
    """What the chart on screen shows: its closes, the calendar and the event kinds picked."""
    return f"{view.recent_digest}#{event_tag(view.events, kinds)}"


def page(view: MarketsView, values: dict, notices: list) -> html.Div:
    """The page with its table and chart already drawn from `view` (refreshes send changes only)."""
    kinds = event_kinds_from_checklist(event_kinds_to_checklist(values["events"]))
    return html.Div(
        [
            html.H4("Markets", className="mt-2"),
            html.Div(notice_banner(notices), id=MK_NOTICE),
            html.P("Every watched series: the last value, its move since the previous close "
                   "(bp for yields, log % for prices and FX), where it came from and how old it is.",
                   className="text-muted small"),
            html.Div(id=ids.MARKETS_TABLE, children=series_table(view.rows)),
            dcc.Store(id=ids.MARKETS_TAG, data=view.table_digest),
            dbc.Card([dbc.CardHeader("Last three months and the calendar", className="py-1 fw-bold"),
                      dbc.CardBody([event_filter(MK_EVENTS, values["events"]),
                                    dcc.Graph(id=MK_CHART, figure=recent_figure(view.recent, view.events, kinds),
                                              config=graph_config("markets-recent"),
                                              style={"height": f"{CHART_HEIGHT}px"})], className="p-2")],
                     className="mb-3", id="mk-chart-card"),
            dcc.Store(id=MK_CHART_TAG, data=chart_tag(view, kinds)),
            dcc.Store(id=MK_SEARCH),
            dcc.Store(id=MK_URL_SINK),
        ]
    )


def recent_figure(data: tuple[RecentSeries, ...], events=(), kinds=None, height: int = CHART_HEIGHT) -> go.Figure:
    """One panel per series on one UTC time axis (each close at its market's own close), the
    calendar's events as dotted lines at their UTC instant across every panel."""
    if not data:
        return empty_figure("No daily closes yet", height)
    fig = make_subplots(rows=len(data), cols=1, shared_xaxes=True, vertical_spacing=0.04)
    for i, d in enumerate(data, start=1):
        unit = "%" if d.unit == "bp" else ""
        fig.add_trace(go.Scatter(x=d.x, y=d.y, mode="lines+markers", name=d.label,
                                 line={"color": CHART_COLORS.get(d.market, "#adb5bd"), "width": 1.5},
                                 marker={"size": 3},
                                 hovertemplate=f"{d.label} %{{x|%Y-%m-%d %H:%M}} UTC: %{{y:.3f}}{unit}"
                                               "<extra></extra>"), row=i, col=1)
        fig.update_yaxes(title_text=d.label, title_font={"size": 10}, row=i, col=1)
    start = min(d.x[0] for d in data)
    end = max(d.x[-1] for d in data)
    pad = pd.Timedelta(days=2)
    fig.update_layout(template="plotly_dark", paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      height=height, margin={"l": 60, "r": 20, "t": 40, "b": 30}, showlegend=False,
                      hovermode="x unified", uirevision="markets-recent",
                      title={"text": "Daily closes, times in UTC (each at its market's close)",
                             "font": {"size": 12}, "x": 0, "y": 0.995})
    fig.update_xaxes(range=[start - pad, end + pad])
    add_event_markers(fig, events, start - pad, end + pad, "UTC", kinds, axis="instant")
    return fig


def series_table(rows: tuple[MarketRow, ...]) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th(h) for h in
                               ("Series", "Market", "Last", "Change", "Source", "As of", "Age", "Health")]))
    body = [html.Tr(
        [
            html.Td(r.label, title=r.id),
            html.Td(r.market),
            html.Td(fmt_value(r.value, r.kind), className="text-end font-monospace"),
            html.Td(fmt_change(r.change, r.unit),
                    className="text-end font-monospace " + ("text-success" if (r.change or 0) < 0 else
                                                             "text-danger" if (r.change or 0) > 0 else "")),
            html.Td(r.source),
            html.Td(when(r.as_of), className="small"),
            html.Td(fmt_age(r.age_s), className="cm-age font-monospace",
                    **({"data-asof": epoch_ms(r.as_of), "data-staleafter": r.stale_after_s} if r.as_of else {})),
            html.Td(dbc.Badge(r.health, color="danger" if r.stale else HEALTH_BADGE.get(r.state, "secondary"))),
        ],
        id=f"row-{r.id}", className="cm-stale-row" if r.stale else "",
    ) for r in rows]
    return dbc.Table([head, html.Tbody(body)], striped=True, hover=True, size="sm", responsive=True,
                     className="cm-series-table")
