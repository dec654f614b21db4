"""Sources page: health table, re-rendered only when its view's digest changed; the replay
clock's line and — for the local user or the operator, when this process runs the replay's
collector — its Pause / Resume / Step buttons, every press checked again here
(web.auth.write_refusal).

`register(app, snapshot)` adds the page (/sources) and its callbacks to `app`; `snapshot` is the
web process's provider (SnapshotService.current), injected — no module global.
"""
from __future__ import annotations

import logging
from typing import Callable

import dash
from dash import Input, Output, State, ctx, no_update
from flask import current_app, has_request_context

from callbacks import diff, inputs
from components import ids
from components import sources as src
from components.sources import sources_table
from views.snapshot import Snapshot
from views.sources import sources_view
from web import auth

log = logging.getLogger("contagion.web")

# create_app(…, replay_control=…) puts the in-process collector's control here (app.py, replay).
CONTROL_KEY = "cm_replay_control"
ACTIONS = {src.REPLAY_PAUSE: "pause", src.REPLAY_RESUME: "resume", src.REPLAY_STEP_H: "step:1h",
           src.REPLAY_STEP_D: "step:1d"}


def table(snap: Snapshot, tag: str | None) -> tuple:
    """(table, new tag) for this reader (raw error text — hosts, paths — for the operator only)."""
    view = sources_view(snap, detail=auth.can_write())
    if tag == view.digest:
        return diff.unchanged(2)
    return sources_table(view), view.digest


def tick(snapshot: Callable[[], Snapshot], n, tag) -> tuple:
    if inputs.bad(inputs.count(n)):
        return diff.unchanged(2)
    return table(snapshot(), inputs.tag_text(tag))


def _control():
    """The replay control of this process's collector (None: no replay here, e.g. a gunicorn
    web worker, or outside a request)."""
    return current_app.extensions.get(CONTROL_KEY) if has_request_context() else None


def replay_panel(snap: Snapshot, action: str | None, csrf=None, tag=None):
    """(box hidden, state line, buttons style, pause/resume/step±1h/step+1d disabled, note, tag).

    `action`: the button pressed (None: a refresh). Refused unless this process holds the
    replay's control and the request may write (local user or operator; Origin; CSRF token)."""
    tag = inputs.tag_text(tag)
    control = _control()
    note = no_update
    if action is not None:
        why = "no replay collector runs in this process: nothing changed" if control is None else \
            auth.write_refusal(csrf)
        if why is None:
            try:
                control.act(action)
                p = auth.current()
                log.info("replay clock %s by %s", action, p.label if p else "unknown")
                note = ""
            except Exception as exc:  # held while loading, writes closed at shutdown: say so
                note = f"{exc}"[:200]
        else:
            p = auth.current()
            log.warning("refused replay %s from %s (%s): %s", action, auth.request_peer(),
                        p.label if p else "anonymous", why)
            note = f"{why}: nothing changed."
    if control is not None:
        status = control.status()
    else:
        clock = snap.clock
        status = clock.status() if hasattr(clock, "status") else None
        if status is None and snap.mode != "replay":
            return (no_update,) * 9 if tag == "none" else (True, [], {"display": "none"}, True, True, True, True, "",
                                                           "none")
    buttons = control is not None and auth.can_write()
    st = (status or {}).get("state")
    disabled = (st != "running", st != "paused", st not in ("running", "paused"), st not in ("running", "paused"))
    now = status["now"].replace(second=0, microsecond=0).isoformat() if status else ""
    new_tag = f"{st}|{now}|{int(buttons)}|{(status or {}).get('speed')}"
    if new_tag == tag and note is no_update:
        return (no_update,) * 9
    return (False, src.replay_line(status, controls=buttons), {} if buttons else {"display": "none"},
            *disabled, note, new_tag)


def replay_tick(snapshot: Callable[[], Snapshot], _n, _p, _r, _h, _d, csrf, tag):
    if inputs.bad(inputs.count(_n), inputs.count(_p), inputs.count(_r), inputs.count(_h), inputs.count(_d)):
        return (no_update,) * 9
    action = ACTIONS.get(ctx.triggered_id) if ctx.triggered_id in ACTIONS else None
    return replay_panel(snapshot(), action, csrf if isinstance(csrf, str) and len(csrf) < 100 else None, tag)


def register(app: dash.Dash, snapshot: Callable[[], Snapshot]) -> None:
    """The page (/sources) and its callbacks on `app`, reading `snapshot()`."""
    def layout(**_query):
        return src.page(sources_view(snapshot(), detail=auth.can_write()))

    dash.register_page("sources", path="/sources", name="Sources", layout=layout, order=5, first_view=True)
    app.callback(Output(ids.SOURCES_TABLE, "children"), Output(ids.SOURCES_TAG, "data"),
                 Input(ids.REFRESH, "n_intervals"), State(ids.SOURCES_TAG, "data"))(
        lambda n, tag: tick(snapshot, n, tag))
    app.callback(Output(src.REPLAY_BOX, "hidden"), Output(src.REPLAY_STATE, "children"),
                 Output(src.REPLAY_BUTTONS, "style"), Output(src.REPLAY_PAUSE, "disabled"),
                 Output(src.REPLAY_RESUME, "disabled"), Output(src.REPLAY_STEP_H, "disabled"),
                 Output(src.REPLAY_STEP_D, "disabled"), Output(src.REPLAY_NOTE, "children"),
                 Output(src.REPLAY_TAG, "data"),
                 Input(ids.REFRESH, "n_intervals"), Input(src.REPLAY_PAUSE, "n_clicks"),
                 Input(src.REPLAY_RESUME, "n_clicks"), Input(src.REPLAY_STEP_H, "n_clicks"),
                 Input(src.REPLAY_STEP_D, "n_clicks"), State(ids.CSRF, "data"), State(src.REPLAY_TAG, "data"))(
        lambda n, p, r, h, d, csrf, tag: replay_tick(snapshot, n, p, r, h, d, csrf, tag))
