"""The frame around every page: navigation, the mode/staleness banner, the refresh timer."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components import ids
from components.format import TIMEZONES, when
from views.shell import BannerView

__all__ = ["shell", "banner", "not_found", "answer_404_for_unknown_pages"]

NAV = [("Overview", "/"), ("Markets", "/markets"), ("Contagion", "/contagion"), ("Alerts", "/alerts"),
       ("Yen watch", "/yen"), ("Sources", "/sources"), ("Wall", "/wall")]


def shell(page_container, *, refresh_ms: int, clock: dict, csrf: str | None = None) -> html.Div:
    return html.Div(
        [
            dbc.Navbar(
                dbc.Container(
                    [
                        dbc.NavbarBrand("Contagion Monitor", href="/", className="fw-bold"),
                        # On a phone the menu folds behind this button (callbacks/shell.py).
                        dbc.NavbarToggler(id=ids.NAV_TOGGLE, n_clicks=0, className="cm-nav-toggle"),
                        dbc.Collapse([
                            dbc.Nav([dbc.NavItem(dbc.NavLink(label, href=href)) for label, href in NAV], navbar=True),
                            html.Div([html.Label("times in", htmlFor=ids.TZ, className="text-muted small me-1 mb-0 text-nowrap"),
                                      dbc.Select(id=ids.TZ, size="sm", value="utc", className="cm-tz",
                                                 options=[{"label": label, "value": key}
                                                          for key, (_zone, label) in TIMEZONES.items()])],
                                     className="d-flex align-items-center ms-lg-auto mt-2 mt-lg-0"),
                        ], id=ids.NAV_COLLAPSE, is_open=False, navbar=True),
                    ],
                    fluid=True,
                ),
                color="dark",
                dark=True,
                className="mb-2",
            ),
            html.Div(id=ids.BANNER, className="cm-banner-area"),
            dcc.Store(id=ids.BANNER_TAG),
            dcc.Store(id=ids.BANNER_TICK),
            dcc.Store(id=ids.CLOCK, data=clock),
            dcc.Store(id=ids.CLOCK_SINK),
            dcc.Store(id=ids.CLOCK_TICK),
            dcc.Store(id=ids.CSRF, data=csrf),
            dcc.Interval(id=ids.REFRESH, interval=refresh_ms, n_intervals=0),
            dbc.Container(page_container, fluid=True),
        ]
    )


def banner(view: BannerView) -> list:
    """SIMULATED / REPLAY / STALE / source errors: each a full-width strip, loudest first.
    `view.stale` are series labels, `view.failing` one short line per source ("MOF: no network
    (retrying within 40 s)"); the raw errors are on the Sources page."""
    mode, stale, failing, store_error, stopped = view.mode, view.stale, view.failing, view.store_error, view.stopped
    clock_label = when(view.now)
    strips = []
    if store_error:
        strips.append(dbc.Alert(f"STORE UNAVAILABLE — showing the last data read. {store_error}",
                                color="danger", className="cm-strip mb-1", id="cm-store-error"))
    if mode == "demo":
        strips.append(dbc.Alert("SIMULATED MARKET — demo data, not real prices.", color="warning",
                                className="cm-strip cm-simulated mb-1"))
    elif mode == "replay":
        strips.append(dbc.Alert(["REPLAY of real history — data clock ", clock_label,
                                 " — stopped at --until (the app keeps serving)." if stopped else "."], color="info",
                                className="cm-strip cm-replay mb-1"))
    if stale:
        shown = ", ".join(stale[:8]) + (f" and {len(stale) - 8} more" if len(stale) > 8 else "")
        strips.append(dbc.Alert(f"STALE — no fresh data for {len(stale)} series: {shown}", color="danger",
                                className="cm-strip cm-stale mb-1"))
    if failing:
        strips.append(dbc.Alert([f"SOURCE ERRORS — {'; '.join(failing)} · ",
                                 dcc.Link("details on Sources", href="/sources")],
                                color="secondary", className="cm-strip mb-1", id="cm-source-errors"))
    return strips


def not_found(**_query) -> html.Div:
    """Any path that is not a page: say so, and where to go (never a blank app page)."""
    return html.Div([
        html.H4("Page not found", className="mt-3"),
        html.P(["There is no page at this address. The pages are: ",
                *[x for label, href in NAV for x in (dcc.Link(label, href=href), " · ")][:-1], "."]),
        html.P(["The JSON API is under /api (its description: ", html.A("/api/openapi.json", href="/api/openapi.json"),
                ")."], className="text-muted small"),
    ], id="cm-not-found")


def answer_404_for_unknown_pages(server) -> None:
    """The app's page for an unknown path comes with HTTP 404 (a script or a link checker sees
    that the address is wrong; the browser still shows the not-found page)."""
    import re

    known = [re.compile("^" + re.sub(r"<[^>]+>", "[^/]+", p.rstrip("/")) + "/?$")
             for p in [href for _label, href in NAV] + ["/series/<series_id>"]]
    reserved = ("/_dash", "/assets/", "/api", "/healthz", "/_reload-hash", "/_favicon", "/favicon")

    @server.after_request
    def _status(response):
        from flask import request

        path = request.path
        if (request.method == "GET" and response.status_code == 200 and response.mimetype == "text/html"
                and not path.startswith(reserved) and not any(k.match(path) for k in known)):
            response.status_code = 404
        return response
