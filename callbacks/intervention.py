"""Yen watch page: re-render only when the watch (daily data) or USD/JPY's latest print changed."""
from __future__ import annotations

from dash import Input, Output, State, callback, no_update

from callbacks import inputs
from components import ids
from components import intervention as yen
from web import state

__all__ = ["yen_view"]


def yen_view(_n, tag):
    tag = inputs.tag_text(tag)
    if inputs.bad(inputs.count(_n)):
        return no_update, no_update
    snap = state.snapshot()
    w, row = snap.intervention, snap.row(yen.SERIES)
    # Content only (the watch's day, the latest print): the same in every web process.
    new_tag = "|".join(str(x) for x in (
        None if w is None else (w.asof, round(w.level, 6), len(w.past), len(w.flags)),
        None if row is None else (row.value, row.as_of), snap.simulated, len(snap.events)))
    if new_tag == tag:
        return no_update, no_update
    return yen.yen_view(w, row, snap.now(), snap.events, simulated=snap.simulated), new_tag


callback(Output(yen.YEN_CONTENT, "children"), Output(yen.YEN_TAG, "data"),
         Input(ids.REFRESH, "n_intervals"), State(yen.YEN_TAG, "data"))(yen_view)
