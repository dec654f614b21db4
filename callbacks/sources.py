"""Sources page: health table, re-rendered only when health changed."""
from __future__ import annotations

import datetime as dt
import hashlib

from dash import Input, Output, State, callback, no_update

from callbacks import inputs
from components import ids
from components.sources import sources_table
from web import auth, state


def sources_view(_n, tag):
    tag = inputs.tag_text(tag)
    if inputs.bad(inputs.count(_n)):
        return no_update, no_update
    snap = state.snapshot()
    states = snap.source_states()
    detail = auth.can_write()      # raw error text (hosts, paths) only for the operator
    # Content only (the health rows as stored, their states): the same in every web process.
    health = hashlib.blake2b(repr((snap.sources, snap.gate)).encode(), digest_size=8).hexdigest()
    new_tag = f"{health}|{sorted(states.items())}|{int(detail)}"
    if new_tag == tag:
        return no_update, no_update
    return sources_table(snap.sources, states=states, now_wall=dt.datetime.now(dt.timezone.utc),
                         gate=snap.gate, detail=detail), new_tag


callback(Output(ids.SOURCES_TABLE, "children"), Output(ids.SOURCES_TAG, "data"),
         Input(ids.REFRESH, "n_intervals"), State(ids.SOURCES_TAG, "data"))(sources_view)
