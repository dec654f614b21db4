"""Markets page: its registration and thin callbacks. The series table is sent again only when
its digest changed (data version, stale set, source states), the recent-closes chart only when
its closes, the calendar or the event-kind filter changed; the filter lives in the URL
(`?events=`) through a clientside `history.replaceState`.

`register(app, snapshot)` adds the page (/markets) and its callbacks to `app`; `snapshot` is the
web process's provider (SnapshotService.current), injected — no module global.
"""
from __future__ import annotations

from typing import Callable

import dash
from dash import Input, Output, State, no_update

from callbacks import diff, inputs
from components import ids
from components import markets as mk
from components.figures import EVENT_KINDS
from components.markets import chart_tag, recent_figure, series_table
from components.urlstate import event_kinds_from_checklist, parse, url_sync_js
from views.markets import markets_view
from views.snapshot import Snapshot

__all__ = ["chart", "register", "table", "tick_chart", "tick_table", "url_search"]


def _kinds(x):
    """An event-kind checklist's value: None (no value: every kind), a list of known kinds, or BAD."""
    return None if x is None else inputs.text_list(x, choices=EVENT_KINDS)


def table(snap: Snapshot, tag: str | None) -> tuple:
    """(table, new tag): nothing sent while the digest on screen is the view's."""
    view = markets_view(snap)
    if tag == view.table_digest:
        return diff.unchanged(2)
    return snap.remember(("markets-table", view.table_digest), lambda: series_table(view.rows), keep=1), \
        view.table_digest


def chart(snap: Snapshot, kinds, tag: str | None) -> tuple:
    """(figure, new tag) for the event kinds picked (`kinds`: the checklist's checked value)."""
    view = markets_view(snap)
    picked = event_kinds_from_checklist(kinds)
    new = chart_tag(view, picked)
    if new == tag:
        return diff.unchanged(2)
    return recent_figure(view.recent, view.events, picked), new


def tick_table(snapshot: Callable[[], Snapshot], n, tag) -> tuple:
    if inputs.bad(inputs.count(n)):
        return diff.unchanged(2)
    return table(snapshot(), inputs.tag_text(tag))


def tick_chart(snapshot: Callable[[], Snapshot], n, kinds, tag) -> tuple:
    tag, kinds = inputs.tag_text(tag), _kinds(kinds)
    if inputs.bad(inputs.count(n), kinds):
        return diff.unchanged(2)
    return chart(snapshot(), kinds, tag)


def url_search(kinds):
    kinds = _kinds(kinds)
    if inputs.bad(kinds):
        return no_update                 # the address bar keeps the last good view
    return mk.search_for(event_kinds_from_checklist(kinds))


def register(app: dash.Dash, snapshot: Callable[[], Snapshot]) -> None:
    """The page (/markets) and its callbacks on `app`, reading `snapshot()`."""
    def layout(**query):
        values, notices = parse(mk.PARAMS, query)
        return mk.page(markets_view(snapshot()), values, notices)

    dash.register_page("markets", path="/markets", name="Markets", layout=layout, order=1, first_view=True)
    app.callback(Output(ids.MARKETS_TABLE, "children"), Output(ids.MARKETS_TAG, "data"),
                 Input(ids.REFRESH, "n_intervals"), State(ids.MARKETS_TAG, "data"))(
        lambda n, tag: tick_table(snapshot, n, tag))
    app.callback(Output(mk.MK_CHART, "figure"), Output(mk.MK_CHART_TAG, "data"),
                 Input(ids.REFRESH, "n_intervals"), Input(mk.MK_EVENTS, "value"), State(mk.MK_CHART_TAG, "data"))(
        lambda n, kinds, tag: tick_chart(snapshot, n, kinds, tag))
    app.callback(Output(mk.MK_SEARCH, "data"), Input(mk.MK_EVENTS, "value"))(url_search)
    app.clientside_callback(url_sync_js('/markets'), Output(mk.MK_URL_SINK, "data"), Input(mk.MK_SEARCH, "data"))
