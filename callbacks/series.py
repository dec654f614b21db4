"""Series page (/series/<id>): its registration and thin callbacks, readers of the snapshot.

- `series_view`: panels and figures for the series in the path and the controls' view; figures
  are rebuilt only when the daily data or the view changed (cached in components.series), the
  live panels (value, as-of, alerts) only when they changed; otherwise `no_update`.
- `url_search` + a clientside `history.replaceState`: the controls live in the URL without a
  reload and without re-running the pages router (figures keep their zoom, inputs their focus).

`register(app, snapshot)` adds the page and its callbacks to `app`; `snapshot` is the web
process's provider (SnapshotService.current), injected — no module global.
"""
from __future__ import annotations

from typing import Callable

import dash
from dash import Input, Output, State, no_update

from callbacks import inputs
from components.urlstate import url_sync_js
from components import ids
from components import series as se
from views.snapshot import Snapshot

__all__ = ["OUTPUTS", "register", "series_view", "url_search"]

OUTPUTS = se.OUTPUTS


def series_view(snapshot: Callable[[], Snapshot], _n, window, horizon, threshold, asof, range_, series_id, tag):
    series_id, tag = inputs.text(series_id, 160), inputs.tag_dict(tag, ("fig", "info"))
    if inputs.bad(inputs.count(_n), series_id):
        return (no_update,) * (len(OUTPUTS) + 1)
    values = se.clean_values(window, horizon, threshold, asof, range_)
    snap = snapshot()
    return se.render(snap, series_id, values, tag, se.series_timezone(snap, series_id))


def url_search(window, horizon, threshold, asof, range_) -> str:
    return se.search_for(se.clean_values(window, horizon, threshold, asof, range_))


def register(app: dash.Dash, snapshot: Callable[[], Snapshot]) -> None:
    """The page (/series/<series_id>) and its callbacks on `app`, reading `snapshot()`."""
    dash.register_page("series", path_template="/series/<series_id>", name="Series", order=2,
                       layout=lambda series_id=None, **query: se.layout(snapshot(), series_id, **query))
    app.callback(Output(se.SE_HISTORY, "figure"), Output(se.SE_HIST, "figure"), Output(se.SE_STATS, "children"),
                 Output(se.SE_RARITY, "children"), Output(se.SE_SOURCE, "children"),
                 Output(se.SE_ALERTS, "children"), Output(se.SE_VIEW_NOTE, "children"), Output(se.SE_TAG, "data"),
                 Input(ids.REFRESH, "n_intervals"), Input(se.SE_WINDOW, "value"), Input(se.SE_HORIZON, "value"),
                 Input(se.SE_THRESHOLD, "value"), Input(se.SE_ASOF, "value"), Input(se.SE_RANGE, "value"),
                 State(se.SE_SERIES, "data"), State(se.SE_TAG, "data"))(
        lambda *args: series_view(snapshot, *args))
    app.callback(Output(se.SE_SEARCH, "data"),
                 Input(se.SE_WINDOW, "value"), Input(se.SE_HORIZON, "value"), Input(se.SE_THRESHOLD, "value"),
                 Input(se.SE_ASOF, "value"), Input(se.SE_RANGE, "value"))(url_search)
    # replaceState, not a dcc.Location write: no history entry per change, and the pages router
    # does not re-render the page. On opening, the search of the parsed view replaces the link's:
    # a bad parameter (reported by the notice) drops out of the URL, a good link stays as it was.
    app.clientside_callback(url_sync_js('/series/'), Output(se.SE_URL_SINK, "data"), Input(se.SE_SEARCH, "data"))
