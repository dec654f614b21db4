"""The Markets page: every watched series with value, change, source, as-of, age and health."""
from __future__ import annotations

import datetime as dt

import dash_bootstrap_components as dbc
from dash import dcc, html

from components import ids
from components.format import epoch_ms, fmt_age, fmt_change, fmt_value, when

__all__ = ["layout", "series_table"]

MARKET_ORDER = {"JP": 0, "US": 1, "FX": 2, "GLOBAL": 3}
HEALTH_BADGE = {"ok": "success", "backfilling": "info", "never": "secondary", "stale": "warning", "failing": "danger"}


def layout(**_query) -> html.Div:
    return html.Div(
        [
            html.H4("Markets", className="mt-2"),
            html.P("Every watched series: the last value, its move since the previous close "
                   "(bp for yields, log % for prices and FX), where it came from and how old it is.",
                   className="text-muted small"),
            html.Div(id=ids.MARKETS_TABLE, children=html.Div("Loading…", className="text-muted")),
            dcc.Store(id=ids.MARKETS_TAG),
        ]
    )


def series_table(rows, *, now: dt.datetime, source_states: dict[str, str]) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th(h) for h in
                               ("Series", "Market", "Last", "Change", "Source", "As of", "Age", "Health")]))
    body = []
    # Universe order (curves by tenor, then intraday, futures, ETFs, FX, context), grouped by market.
    order = {r.id: i for i, r in enumerate(rows)}
    for r in sorted(rows, key=lambda r: (MARKET_ORDER.get(r.market, 9), order[r.id])):
        age = r.age(now)
        state = source_states.get(r.source, source_states.get(r.primary_source, "never"))
        stale = r.is_stale(now)
        src = f"{r.source} (fallback)" if r.source == r.fallback_source else r.source
        if r.freq == "I":
            src += " · intraday"
        body.append(html.Tr(
            [
                html.Td(r.label, title=r.id),
                html.Td(r.market),
                html.Td(fmt_value(r.value, r.kind), className="text-end font-monospace"),
                html.Td(fmt_change(r.change, r.unit),
                        className="text-end font-monospace " + ("text-success" if (r.change or 0) < 0 else
                                                                 "text-danger" if (r.change or 0) > 0 else "")),
                html.Td(src),
                html.Td(when(r.as_of), className="small"),
                html.Td(fmt_age(age.total_seconds() if age else None), className="cm-age font-monospace",
                        **({"data-asof": epoch_ms(r.as_of), "data-staleafter": r.stale_after.total_seconds()} if r.as_of else {})),
                html.Td(dbc.Badge("NO DATA" if r.as_of is None else "STALE" if stale else state.upper(),
                                  color="danger" if stale else HEALTH_BADGE.get(state, "secondary"))),
            ],
            id=f"row-{r.id}", className="cm-stale-row" if stale else "",
        ))
    return dbc.Table([head, html.Tbody(body)], striped=True, hover=True, size="sm", responsive=True,
                     className="cm-series-table")
