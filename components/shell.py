"""The frame around every page: navigation, the mode/staleness banner, the refresh timer."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components import ids
from components.format import TIMEZONES

__all__ = ["shell", "banner"]

NAV = [("Overview", "/"), ("Markets", "/markets"), ("Contagion", "/contagion"), ("Alerts", "/alerts"),
       ("Sources", "/sources"), ("Wall", "/wall")]


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
                            html.Div([html.Label("times in", htmlFor="cm-tz", className="text-muted small me-1 mb-0"),
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
            dcc.Store(id=ids.CSRF, data=csrf),
            dcc.Interval(id=ids.REFRESH, interval=refresh_ms, n_intervals=0),
            dbc.Container(page_container, fluid=True),
        ]
    )


def banner(*, mode: str, clock_label, stale: list[str], failing: list[str],
           store_error: str | None) -> list:
    """SIMULATED / REPLAY / STALE / source errors: each a full-width strip, loudest first.
    `stale` are series labels, `failing` one short line per source ("MOF: no network (retrying
    within 40 s)"); the raw errors are on the Sources page."""
    strips = []
    if store_error:
        strips.append(dbc.Alert(f"STORE UNAVAILABLE — showing the last data read. {store_error}",
                                color="danger", className="cm-strip mb-1", id="cm-store-error"))
    if mode == "demo":
        strips.append(dbc.Alert("SIMULATED MARKET — demo data, not real prices.", color="warning",
                                className="cm-strip cm-simulated mb-1"))
    elif mode == "replay":
        strips.append(dbc.Alert(["REPLAY of real history — data clock ", clock_label, "."], color="info",
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
