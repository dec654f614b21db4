"""Yen watch page: its registration and its one refresh, re-rendering only when the view's
digest (the watch's daily data, USD/JPY's latest print, the calendar) changed.

`register(app, snapshot)` adds the page (/yen) and its callback to `app`; `snapshot` is the web
process's provider (SnapshotService.current), injected — no module global.
"""
from __future__ import annotations

from typing import Callable

import dash
from dash import Input, Output, State, no_update

from callbacks import diff, inputs
from components import ids
from components import intervention as yen
from views.snapshot import Snapshot
from views.yen import yen_view

__all__ = ["refresh", "register", "tick"]


def refresh(snap: Snapshot, tag: str | None) -> tuple:
    """(content, new tag): nothing sent while the digest on screen is the view's."""
    view = yen_view(snap)
    if tag == view.digest:
        return diff.unchanged(2)
    return snap.remember(("yen-content", view.digest), lambda: yen.yen_view(view), keep=1), view.digest


def tick(snapshot: Callable[[], Snapshot], n, tag) -> tuple:
    """The refresh callback: checked inputs (callbacks/inputs.py), then `refresh`."""
    if inputs.bad(inputs.count(n)):
        return no_update, no_update
    return refresh(snapshot(), inputs.tag_text(tag))


def register(app: dash.Dash, snapshot: Callable[[], Snapshot]) -> None:
    """The page (/yen) and its refresh on `app`, reading `snapshot()`."""
    def layout(**_query):
        return yen.page(yen_view(snapshot()))

    dash.register_page("yen", path="/yen", name="Yen watch", layout=layout, order=5, first_view=True)
    app.callback(Output(yen.YEN_CONTENT, "children"), Output(yen.YEN_TAG, "data"),
                 Input(ids.REFRESH, "n_intervals"), State(yen.YEN_TAG, "data"))(
        lambda n, tag: tick(snapshot, n, tag))
