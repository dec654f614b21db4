"""Sources page: health table, re-rendered only when health changed; the replay clock's line
and — for the local user or the operator, when this process runs the replay's collector — its
Pause / Resume / Step buttons, every press checked again here (web.auth.write_refusal)."""
from __future__ import annotations

import datetime as dt
import logging

from dash import Input, Output, State, callback, ctx, no_update
from flask import current_app, has_request_context

from callbacks import inputs
from components import ids
from views.digest import digest
from components import sources as src
from components.sources import sources_table
from web import auth, state

log = logging.getLogger("contagion.web")

# create_app(…, replay_control=…) puts the in-process collector's control here (app.py, replay).
CONTROL_KEY = "cm_replay_control"
ACTIONS = {src.REPLAY_PAUSE: "pause", src.REPLAY_RESUME: "resume", src.REPLAY_STEP_H: "step:1h",
           src.REPLAY_STEP_D: "step:1d"}


def sources_view(_n, tag):
    tag = inputs.tag_text(tag)
    if inputs.bad(inputs.count(_n)):
        return no_update, no_update
    snap = state.snapshot()
    states = snap.source_states()
    detail = auth.can_write()      # raw error text (hosts, paths) only for the operator
    # Content only (the health rows as stored, their states): the same in every web process.
    record = snap.record
    health = digest(repr((snap.sources, snap.gate, None if record is None else record.to_dict("records"))))
    new_tag = f"{health}|{sorted(states.items())}|{int(detail)}"
    if new_tag == tag:
        return no_update, no_update
    labels = {r.id: r.label for r in snap.rows}
    return sources_table(snap.sources, states=states, now_wall=dt.datetime.now(dt.timezone.utc),
                         gate=snap.gate, detail=detail, record=record, labels=labels, mode=snap.mode), new_tag


callback(Output(ids.SOURCES_TABLE, "children"), Output(ids.SOURCES_TAG, "data"),
         Input(ids.REFRESH, "n_intervals"), State(ids.SOURCES_TAG, "data"))(sources_view)


def _control():
    """The replay control of this process's collector (None: no replay here, e.g. a gunicorn
    web worker, or outside a request)."""
    return current_app.extensions.get(CONTROL_KEY) if has_request_context() else None


def replay_panel(action: str | None, csrf=None, tag=None):
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
        clock = state.snapshot().clock
        status = clock.status() if hasattr(clock, "status") else None
        if status is None and state.snapshot().mode != "replay":
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


def _replay_callback(_n, _p, _r, _h, _d, csrf, tag):
    if inputs.bad(inputs.count(_n), inputs.count(_p), inputs.count(_r), inputs.count(_h), inputs.count(_d)):
        return (no_update,) * 9
    action = ACTIONS.get(ctx.triggered_id) if ctx.triggered_id in ACTIONS else None
    return replay_panel(action, csrf if isinstance(csrf, str) and len(csrf) < 100 else None, tag)


callback(Output(src.REPLAY_BOX, "hidden"), Output(src.REPLAY_STATE, "children"),
         Output(src.REPLAY_BUTTONS, "style"), Output(src.REPLAY_PAUSE, "disabled"),
         Output(src.REPLAY_RESUME, "disabled"), Output(src.REPLAY_STEP_H, "disabled"),
         Output(src.REPLAY_STEP_D, "disabled"), Output(src.REPLAY_NOTE, "children"), Output(src.REPLAY_TAG, "data"),
         Input(ids.REFRESH, "n_intervals"), Input(src.REPLAY_PAUSE, "n_clicks"), Input(src.REPLAY_RESUME, "n_clicks"),
         Input(src.REPLAY_STEP_H, "n_clicks"), Input(src.REPLAY_STEP_D, "n_clicks"),
         State(ids.CSRF, "data"), State(src.REPLAY_TAG, "data"))(_replay_callback)
