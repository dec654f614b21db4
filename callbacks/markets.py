"""Markets page: re-render the series table only when the snapshot changed, the recent-closes
chart only when its closes, the calendar or the event-kind filter changed; the filter lives in
the URL (`?events=`) through a clientside `history.replaceState`."""
from __future__ import annotations

from dash import Input, Output, State, callback, clientside_callback, no_update

from callbacks import inputs
from components import ids
from components import markets as mk
from components.figures import EVENT_KINDS, event_tag
from components.markets import series_table
from components.urlstate import event_kinds_from_checklist, url_sync_js
from web import state


def _kinds(x):
    """An event-kind checklist's value: None (no value: every kind), a list of known kinds, or BAD."""
    return None if x is None else inputs.text_list(x, choices=EVENT_KINDS)


def markets_view(_n, tag):
    tag = inputs.tag_text(tag)
    if inputs.bad(inputs.count(_n)):
        return no_update, no_update
    snap = state.snapshot()
    states = snap.source_states()
    # Content only (store data version, stale set, source states): the same in every web process.
    new_tag = f"{snap.version}|{','.join(snap.stale_series())}|{sorted(states.items())}"
    if new_tag == tag:
        return no_update, no_update
    return series_table(snap.rows, now=snap.now(), source_states=states), new_tag


callback(Output(ids.MARKETS_TABLE, "children"), Output(ids.MARKETS_TAG, "data"),
         Input(ids.REFRESH, "n_intervals"), State(ids.MARKETS_TAG, "data"))(markets_view)


def markets_chart(_n, kinds, tag):
    """The chart, only when its closes (not an intraday tick), the calendar or the kinds changed."""
    tag, kinds = inputs.tag_text(tag), _kinds(kinds)
    if inputs.bad(inputs.count(_n), kinds):
        return no_update, no_update
    snap = state.snapshot()
    data, data_tag = snap.remember(("markets-recent",), lambda: mk.recent_closes(snap), keep=1)
    picked = event_kinds_from_checklist(kinds)
    new_tag = f"{data_tag}#{event_tag(snap.events, picked)}"
    if new_tag == tag:
        return no_update, no_update
    return mk.recent_figure(data, snap.events, picked), new_tag


callback(Output(mk.MK_CHART, "figure"), Output(mk.MK_CHART_TAG, "data"),
         Input(ids.REFRESH, "n_intervals"), Input(mk.MK_EVENTS, "value"), State(mk.MK_CHART_TAG, "data"))(markets_chart)


def url_search(kinds):
    kinds = _kinds(kinds)
    if inputs.bad(kinds):
        return no_update                 # the address bar keeps the last good view
    return mk.search_for(event_kinds_from_checklist(kinds))


callback(Output(mk.MK_SEARCH, "data"), Input(mk.MK_EVENTS, "value"))(url_search)

clientside_callback(
    url_sync_js('/markets'),
    Output(mk.MK_URL_SINK, "data"),
    Input(mk.MK_SEARCH, "data"),
)
