"""The Overview page (/): a tile per key series, the JGB and UST curves now vs 1D/1W/1M, and the
live alert feed — drawn from views.overview.OverviewView, nothing decided here.

Tile: value, move since the previous close (bp or %), z against the 60-day σ, rarity ("1 in N
years"), a sparkline of the last closes, and a colour for the worst firing alert of that series;
each tile links to its Series page.
"""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Patch, dcc, html

from components.events import events_strip, incident_banner
from components.figures import (
    CURVE_COLORS,
    CURVE_DASH,
    TIER_COLORS,
    dark_layout,
    empty_figure_dict,
    graph_config,
    sparkline_figure,
)
from components.format import fmt_age, fmt_change, fmt_value, fmt_z, when
from components.series import alert_permalink, fmt_rarity
from components.urlstate import Param, notice_banner
from views.digest import digest
from views.overview import CurveView, FeedItem, OverviewView, QuoteView, TileView

__all__ = [
    "OUTPUTS",
    "PARAMS",
    "curve_figure",
    "curve_patch",
    "extras",
    "feed",
    "page",
    "pinned_banner",
    "tile",
    "tiles",
]

# ------------------------------------------------------------------------------------ ids
OV_TILES = "ov-tiles"              # the tile grid (children patched per tile)
OV_CURVE_JGB = "ov-curve-jgb"      # dcc.Graph
OV_CURVE_UST = "ov-curve-ust"      # dcc.Graph
OV_CURVE_NOTE = "ov-curve-note"
OV_FEED = "ov-feed"                # live alert feed
OV_TAG = "ov-tag"                  # dcc.Store: digests of what is on screen (OverviewView.tag)
OV_EVENTS = "ov-events"            # the next-events strip (components/events.py)
OV_INCIDENT = "ov-incident"        # the banner for an open critical incident
OV_EXTRA_TAG = "ov-extra-tag"      # dcc.Store: digest of the strip and the banner last sent
OV_ASOF = "ov-asof"                # dcc.Store: the pinned date (?asof=), None for the live view

# ?asof=YYYY-MM-DD pins the page to the end of that day (a risk team's link to "the overview on
# 2026-01-20"); absent, the page is live.
PARAMS = (Param("asof", "date", None),)
OUTPUTS = ("tiles", "jgb", "ust", "note", "feed")
TIER_BADGE = {"critical": "danger", "warning": "warning", "watch": "info"}


def _quote_line(q: QuoteView | None):
    if q is None:
        return None
    move = q.move
    return html.Div([
        html.Span("exchange ", className="text-muted"),
        html.Span(fmt_value(q.value, q.kind), className="fw-bold"),
        html.Span(" " + fmt_change(move, q.unit),
                  className="text-danger" if (move or 0) > 0 else "text-success" if (move or 0) < 0 else ""),
        html.Span(" · z60 ", className="text-muted"), html.Span(fmt_z(q.z60), className="fw-bold"),
        html.Span(f" · {q.source or ''} · ", className="text-muted"),
        html.Span(fmt_age(None), className="cm-age",
                  **({"data-asof": q.as_of_ms, "data-staleafter": q.stale_after_s} if q.as_of_ms else {})),
    ], className="cm-ov-quote small", title="exchange quote, not the MOF fixing: the move since the MOF close",
        id=f"ov-quote-{q.id}")


def tile(t: TileView) -> dcc.Link:
    """One tile; coloured by the worst firing alert tier, dimmed when stale."""
    sid = t.id
    if t.missing:
        body = [html.Div(sid, className="cm-tile-label"), html.Div("not in the universe", className="text-muted")]
        return dcc.Link(html.Div(body, className="cm-ov-tile"), href=f"/series/{sid}", id=f"ov-tile-{sid}")
    tier = t.tier
    classes = ["cm-ov-tile"]
    if tier:
        classes.append(f"cm-tier-{tier}")
    if t.stale:
        classes.append("cm-ov-stale")
    chg = t.change
    color = TIER_COLORS.get(tier or "", "#adb5bd")
    spark = (dcc.Graph(figure=sparkline_figure(t.spark_x, t.spark_y, color=color, live=t.live),
                       config=graph_config("", static=True), className="cm-ov-spark", style={"height": "46px"})
             if t.spark_y else html.Div("no history yet", className="cm-ov-spark text-muted small"))
    z_label = "z60 (intraday)" if t.stat_kind == "intraday" else "z60"
    head = [html.Span(t.label, className="cm-ov-label"),
            dbc.Badge(tier.upper(), color=TIER_BADGE[tier], className="ms-auto") if tier else None]
    if t.stale:
        head.append(dbc.Badge("STALE", color="danger", className="ms-1"))
    if t.value is None:
        head.append(dbc.Badge("NO DATA", color="secondary", className="ms-auto"))
    return dcc.Link(html.Div([
        html.Div(head, className="d-flex align-items-center"),
        html.Div([html.Span(fmt_value(t.value, t.kind), className="cm-ov-value"),
                  html.Span(fmt_change(chg, t.unit),
                            className="cm-ov-change " + ("text-danger" if (chg or 0) > 0 else
                                                         "text-success" if (chg or 0) < 0 else ""))],
                 className="d-flex align-items-baseline"),
        _quote_line(t.quote),
        html.Div([html.Span(f"{z_label} ", className="text-muted"),
                  html.Span(fmt_z(t.z60), className="cm-ov-z fw-bold"),
                  html.Span(" · ", className="text-muted"),
                  html.Span(fmt_rarity(t.period_years, tail=t.tail) if t.stat_kind == "daily" else "—",
                            className="cm-ov-rarity")], className="small"),
        html.Div(t.largest, className="cm-ov-largest small"),
        html.Div(t.quality, className="cm-ov-quality small text-warning") if t.quality else None,
        spark,
        html.Div([html.Span(t.source or "", className="me-1"),
                  html.Span("(fallback) " if t.on_fallback else ""),
                  html.Span("· age ", className="text-muted"),
                  html.Span(fmt_age(t.pinned_age_s), className="cm-pinned-age") if t.pinned_age_s is not None else
                  html.Span(fmt_age(None), className="cm-age",
                            **({"data-asof": t.as_of_ms, "data-staleafter": t.stale_after_s} if t.as_of_ms else {}))],
                 className="cm-ov-foot small text-muted"),
    ], className=" ".join(classes)), href=f"/series/{sid}", id=f"ov-tile-{sid}", className="cm-ov-link")


def tiles(views: tuple[TileView, ...]) -> list:
    return [tile(t) for t in views]


def _hover(key: str) -> str:
    return ("%{x}: %{y:.3f}% on %{customdata[0]}<extra>now</extra>" if key == "now" else
            "%{x}: %{y:.3f}% on %{customdata[0]} (now − then %{customdata[1]:+.1f} bp)<extra>" + key + "</extra>")


def curve_figure(c: CurveView, height: int = 300) -> dict:
    """One curve now vs 1 day / 1 week / 1 month ago (levels %, hover shows the bp change); a
    plain figure dict (the dark theme of every chart, without go.Figure's validation)."""
    if not c.present:
        return empty_figure_dict(f"No {c.market} curve yet", height)
    data = [{"type": "scatter", "x": list(c.tenors), "y": list(tr.y), "customdata": [list(x) for x in tr.custom],
             "name": tr.name, "mode": "lines+markers", "hovertemplate": _hover(tr.key),
             "line": {"color": CURVE_COLORS[tr.key], "dash": CURVE_DASH[tr.key],
                      "width": 2.5 if tr.key == "now" else 1.5},
             "marker": {"size": 5 if tr.key == "now" else 3}} for tr in c.traces]
    return {"data": data, "layout": dark_layout(f"{c.market} curve: now vs 1D / 1W / 1M", height,
                                                uirevision=f"curve-{c.market}", xaxis={"type": "category"},
                                                yaxis={"title": {"text": "yield %"}, "ticksuffix": "%"})}


def curve_patch(c: CurveView) -> Patch:
    """New data for the four curve traces in place (same tenors): no figure rebuild."""
    p = Patch()
    for i, tr in enumerate(c.traces):
        p["data"][i]["y"] = list(tr.y)
        p["data"][i]["customdata"] = [list(x) for x in tr.custom]
        p["data"][i]["name"] = tr.name
    return p


def feed(items: tuple[FeedItem, ...]) -> html.Div:
    """The latest alert events, newest first, each linking to its permalink on the Alerts page."""
    if not items:
        return html.Div("No alerts yet.", className="text-muted small", id="ov-feed-empty")
    out = []
    for e in items:
        tier = e.tier or ""
        out.append(html.Li([
            html.Div([dbc.Badge(tier.upper() or e.state.upper(), color=TIER_BADGE.get(tier, "secondary"),
                                className="me-2"),
                      html.Span(e.kind, className="text-muted small me-2"),
                      when(e.at, className="text-muted small")]),
            dcc.Link(e.text, href=alert_permalink(e.alert_id), className="small cm-ov-feed-link"),
        ], className="cm-ov-feed-item", **{"data-alert": e.alert_id}))
    return html.Div(html.Ul(out, className="list-unstyled mb-0"))


def extras(snap, tag: str | None) -> tuple:
    """(critical-incident banner, next-events strip, new tag); the tag unchanged → (None, None,
    tag): the caller sends nothing (the countdowns move with the snapshot's clock)."""
    incidents = (snap.alerts or {}).get("incidents") or []
    banner = incident_banner(incidents, id_="ov-incident-banner")
    strip = events_strip(snap.events, snap.now(), id_="ov-events-strip")
    return banner, strip, digest([str(banner), str(strip)])


# ------------------------------------------------------------------------------------ layout
def pinned_banner(view: OverviewView) -> dbc.Alert | None:
    """A pinned view says so, loudly: which day, which cut, and what it cannot show."""
    if view.pinned is None:
        return None
    return dbc.Alert([html.B(f"PINNED to {view.pinned.isoformat()}"),
                      f" — the data as it stood at the end of that day (24:00 New York, "
                      f"{view.pinned_at:%Y-%m-%d %H:%M} UTC), not live. ",
                      html.Span(" · ".join(view.pin_notes), className="small"), " ",
                      dcc.Link("back to live", href="?", className="small")],
                     color="info", className="cm-strip cm-pinned py-1 mb-2", id="cm-pinned")


def page(view: OverviewView, parts: dict, extra: tuple, *, notices: list, asof: str | None) -> html.Div:
    """The whole page, rendered complete (no "Loading…" and no first-tick race: the refresh
    callback then sends only changes). `parts`: the rendered tiles, curves and feed of `view`
    (callbacks/overview.py keeps them once per snapshot); `extra`: (banner, strip, tag)."""
    banner, strip, extra_tag = extra
    return html.Div([
        notice_banner(notices),
        pinned_banner(view),
        html.Div(id=OV_INCIDENT, children=banner),
        html.Div(id=OV_EVENTS, children=strip, className="mt-1"),
        dcc.Store(id=OV_EXTRA_TAG, data=extra_tag),
        html.Div([html.H4("Overview", className="mt-2 mb-0 me-3"),
                  html.Span("Click a tile for its history, σ bands and rarity.", className="text-muted small")],
                 className="d-flex align-items-baseline"),
        html.Div(id=OV_TILES, className="cm-ov-tiles", children=parts["tiles"]),
        dbc.Row([
            dbc.Col(dcc.Graph(id=OV_CURVE_JGB, figure=parts["JGB"], config=graph_config("jgb-curve"),
                              style={"height": "300px"}), lg=4),
            dbc.Col(dcc.Graph(id=OV_CURVE_UST, figure=parts["UST"], config=graph_config("ust-curve"),
                              style={"height": "300px"}), lg=4),
            dbc.Col([html.H6([html.Span("Alert feed "), dcc.Link("all alerts →", href="/alerts", className="small")],
                             className="mt-2"),
                     html.Div(id=OV_FEED, className="cm-ov-feed", children=parts["feed"])], lg=4),
        ], className="mt-2"),
        html.Div(id=OV_CURVE_NOTE, className="text-muted small", children=view.note),
        dcc.Store(id=OV_TAG, data=view.tag()),
        dcc.Store(id=OV_ASOF, data=asof),
    ])
