"""Markets page: re-render the series table only when the snapshot changed."""
from __future__ import annotations

from dash import Input, Output, State, callback, no_update

from callbacks import inputs
from components import ids
from components.markets import series_table
from web import state


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
