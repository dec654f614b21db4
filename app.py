"""Contagion Monitor — the frame: build the Dash app, expose `server`, and the CLI.

    python app.py                      web + collector in one process (SQLite default); when
                                       another collector holds the store it serves and stands
                                       by, taking over once that one stops (SIGTERM releases)
    python app.py --demo               the same on a simulated market (says SIMULATED)
    python app.py --replay DIR --start 2026-01-05 --speed 3600 [--until 2026-01-23]
                                       (the replay clock stops at the end of --until, UTC; the
                                       Sources page pauses, resumes and steps it)
    python app.py collect              the collector alone (for `gunicorn app:server` web workers)
    python app.py backtest --replay DIR --start DATE --end DATE [--json]
    gunicorn app:server                web only; reads the store the collector writes
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import signal
import sys
import threading
from pathlib import Path

import dash
from dash import Dash, dcc, html

from config import Settings, load_settings
from data.store import Store
from errors import CollectorAlreadyRunning, ConfigError
from universe import load_universe
from views.snapshot import SnapshotService
from web import api, auth, guard, logs

log = logging.getLogger("contagion")


def create_app(settings: Settings, service: SnapshotService | None = None, *, replay_control=None) -> Dash:
    """Build the Dash app around a snapshot service (one per web process).

    Whatever serves it (waitress here, gunicorn, any WSGI server importing `app:server`), the
    request rules are installed here (docs/SECURITY.md): Host allow-list, body cap, this machine
    only without credentials, authentication and roles with them (web/auth.py), callback
    envelopes checked and errors answered in one log line (web/guard.py)."""
    from components import shell
    import callbacks.alerts
    import callbacks.contagion
    import callbacks.intervention
    import callbacks.markets
    import callbacks.sources
    import callbacks.overview
    import callbacks.series
    import callbacks.shell
    import callbacks.wall
    from web.redact import public_error

    if service is None:
        universe = load_universe(settings.universe)
        from analytics.stats import MoveParams

        service = SnapshotService(Store(settings.resolved_db_url()), universe, cadences=settings.cadences(),
                                  background=True, params=MoveParams.with_base(settings.rarity_base))
    service.start()     # the first full computation begins now, not in the first page view

    def store_error() -> str | None:
        """The store's state for screens: a category ("store unreachable"), never the raw error
        (which names the database host, port or file; it is in the server log)."""
        return public_error(getattr(service, "error", None))

    app = Dash(__name__, use_pages=True, pages_folder="", title="Contagion Monitor",
               update_title=None, serve_locally=True, compress=False)
    # One module per page: callbacks/<page>.py registers the page and its callbacks on this app
    # with the snapshot provider injected (no module global); components/<page>.py draws it, and a
    # page in the read-model shape builds its view-model in views/<page>.py (issue 11).
    callbacks.overview.register(app, service.current)
    callbacks.markets.register(app, service.current)
    callbacks.series.register(app, service.current)
    callbacks.contagion.register(app, service.current)
    callbacks.alerts.register(app, service)
    callbacks.sources.register(app, service.current)
    callbacks.intervention.register(app, service.current)
    callbacks.wall.register(app, service.current, store_error)
    dash.register_page("not_found_404", layout=shell.not_found, name="Not found")   # any other path

    callbacks.shell.register(app, service.current, store_error)

    def layout():
        return shell.shell(first_view(app), refresh_ms=settings.refresh_ms,
                           clock=callbacks.shell.clock_meta(service.current()), csrf=auth.csrf_token())

    app.layout = layout
    # The in-process replay collector's pause/resume/step (data.clock.ReplayControl; None elsewhere).
    app.server.extensions["cm_replay_control"] = replay_control
    auth.install(app.server, settings)          # first: Host, size, who — before anything else runs
    guard.install(app.server, app, max_body=settings.max_body)
    api.register(app.server, service.current, store_error)
    shell.answer_404_for_unknown_pages(app.server)
    return app


def first_view(app: Dash):
    """dash.page_container, with the page the browser is opening already inside it when that page
    asks for it (`register_page(..., first_view=True)`): its content arrives with the shell in the
    one /_dash-layout response instead of one callback round-trip later. The page is the one the
    layout request comes from (its Referer: same origin, the Referrer-Policy web/auth.py sets).
    The container's dcc.Location starts at that same path and query, so Dash's router does not
    render the page a second time on load (it would replace the page under a reader who had
    already clicked in it); a later navigation goes through the router as usual. Anything
    unexpected → the empty container (the router fills it)."""
    import flask
    from urllib.parse import parse_qs, urlsplit

    if not flask.has_request_context() or not flask.request.referrer:
        return dash.page_container
    try:
        ref = urlsplit(flask.request.referrer)
        if ref.netloc != flask.request.host:
            return dash.page_container
        path = app.strip_relative_path(ref.path) or ""
        page = next((p for p in dash.page_registry.values()
                     if p.get("first_view") and not p.get("path_template") and p["path"].strip("/") == path.strip("/")),
                    None)
        if page is None:
            return dash.page_container
        query = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(ref.query, keep_blank_values=True).items()}
        content = page["layout"](**query)
    except Exception:       # a page that cannot render here renders through the router as before
        log.exception("first view of %s failed; the page router renders it", flask.request.referrer)
        return dash.page_container
    search = f"?{ref.query}" if ref.query else ""
    title = page.get("title") or app.title              # what the router's store would hold
    title = title() if callable(title) else title
    return html.Div([_with_children(c, content, ref.path, search, title) for c in dash.page_container.children])


def _with_children(component, content, pathname: str, search: str, title: str):
    """A copy of the page container's part: the content div holding `content`, the location
    already at `pathname` + `search` (what the browser shows: nothing for the router to do on
    load), the router's store holding the page title it would have set; other parts unchanged."""
    cid = getattr(component, "id", None)
    if cid == "_pages_content":
        return html.Div(id="_pages_content", disable_n_clicks=True, children=content)
    if cid == "_pages_location":
        return dcc.Location(id="_pages_location", refresh="callback-nav", pathname=pathname, search=search)
    if cid == "_pages_store":
        return dcc.Store(id="_pages_store", data={"title": title})
    return component


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="app.py", description="Contagion Monitor: JGB/UST/USDJPY stress and contagion.")
    p.add_argument("command", nargs="?", default="serve", choices=["serve", "collect", "backtest"],
                   help="serve (web + collector, default), collect (collector only), "
                        "backtest (see `python app.py backtest -h`)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--demo", action="store_true", help="simulated market (offline); every screen says SIMULATED")
    mode.add_argument("--replay", metavar="DIR", type=Path, help="replay real history files from DIR")
    p.add_argument("--start", metavar="DATE", help="replay start date YYYY-MM-DD")
    p.add_argument("--speed", metavar="N", type=float, help="replay clock speed (3600 = an hour per second)")
    p.add_argument("--until", metavar="DATE", help="replay: stop the clock at the end of DATE (23:59:59.999999 UTC) "
                                                   "and keep serving (or CM_REPLAY_UNTIL)")
    p.add_argument("--db", metavar="URL", help="database URL (default: SQLite file under CM_DATA_DIR)")
    p.add_argument("--host", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port 1..65535 (default 8050, or CM_PORT)")
    p.add_argument("--debug", action="store_true", help="Dash debug mode (exposes a remote console: local only)")
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper,
                   help="log level (default INFO, or CM_LOG_LEVEL)")
    return p


def _cli_date(flag: str, raw: str | None) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{flag}={raw!r}: must be a date YYYY-MM-DD") from None


def settings_from_args(argv: list[str] | None = None) -> tuple[str, Settings]:
    """The environment's settings with the command line on top, validated once (an option can
    correct a variable); an error names what the user set: CM_PORT=… or --port=…"""
    args = _parser().parse_args(argv)
    start, until = _cli_date("--start", args.start), _cli_date("--until", args.until)
    mode = "demo" if args.demo else "replay" if args.replay else None
    base = load_settings(validate=False)
    settings = base.with_overrides(mode=mode, replay_dir=args.replay, replay_start=start, replay_until=until,
                                   replay_speed=args.speed, db_url=args.db, host=args.host, port=args.port,
                                   debug=args.debug or None, log_level=args.log_level,
                                   names={"mode": "--demo" if args.demo else "--replay"})
    return args.command, settings


def _start_collector(settings: Settings, *, required: bool):
    from main import build_collector  # lazy: web-only workers never import yfinance/apscheduler

    universe = load_universe(settings.universe)
    store = Store(settings.resolved_db_url())
    collector = build_collector(settings, universe, store)
    if settings.mode == "replay":
        # Standing by on a replay store would serve the other replay's clock and jump when it
        # stops: a second replay of the same store refuses instead (another --start, --until,
        # --speed, folder or --db gets a store of its own).
        try:
            collector.start()
        except CollectorAlreadyRunning as exc:
            raise CollectorAlreadyRunning(f"{_running_replay(store)} is already running on this store "
                                          f"({exc}). Stop it first, or replay into another store (--db).") from None
        return collector
    if required:
        collector.start()
    else:  # serve meanwhile; take over when the other collector's lease is released or expires
        collector.start_or_stand_by()
    return collector


def _running_replay(store: Store) -> str:
    """'a replay from 2026-01-21 at ×3600 (until 2026-01-23)' as the store's meta names it."""
    import json

    try:
        d = json.loads(store.get_meta("clock") or "{}")
        until = f" until {d['until'][:10]}" if d.get("until") else ""
        return f"a replay from {d['start'][:10]} at ×{float(d['speed']):g}{until}"
    except Exception:  # no readable clock: the lease message beside it still names the holder
        return "another replay"


def _room_for_sockets(wanted: int) -> None:
    """Raise the soft open-files limit toward the hard one so `wanted` sockets fit (many
    distributions start processes at 1,024, below CM_CONNECTIONS); warn when it cannot."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + 256  # database, log and module files beside the sockets
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
        if soft < need:
            log.warning("open-files limit %d is below CM_CONNECTIONS=%d + 256; raise `ulimit -n`", soft, wanted)


def _port_in_use(host: str, port: int) -> str:
    return f"port {port} on {host} is in use (another Contagion Monitor?): choose --port or CM_PORT"


def _port_free(host: str, port: int) -> None:
    """ConfigError naming the address when it cannot be bound (another process holds it)."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"--host/CM_HOST={host!r}: cannot be resolved ({exc.strerror})") from None
    family, _t, _p, _c, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as waitress binds
        try:
            s.bind(addr)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(_port_in_use(host, port)) from None
            raise ConfigError(f"port {port} on {host} cannot be bound ({exc.strerror}): choose --port or "
                              "CM_PORT") from None


def _leave(*_) -> None:
    raise SystemExit(0)


def _leave_now(*_) -> None:
    """End the process without waiting for threads. Safe for the store: every write is one
    transaction, which the database rolls back when this process's connections close, and the
    lease frees itself (PostgreSQL ends the session's lock; on SQLite the pid is gone)."""
    logging.shutdown()
    os._exit(1)


def _stop_collector(collector, grace: float) -> None:
    """Stop the collector before the process ends (Collector.shutdown: no new runs, no write after
    the lease is released). A second SIGTERM/SIGINT meanwhile, or a write or cycle still in
    flight after `grace` s, ends the process at once rather than hold the store's locks."""
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _leave_now)
    log.info("stopping the collector (grace %g s)", grace)
    if collector.shutdown(grace=grace):
        log.info("collector stopped")
        return
    log.error("collector did not stop within %g s (CM_SHUTDOWN_GRACE): leaving without it", grace)
    _leave_now()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["backtest"]:
        # `python app.py backtest --replay DIR --start DATE --end DATE [--json]`: the live alert
        # engine over replayed history (alerts/backtest.py); prints one alert per line.
        from alerts.backtest import backtest_main

        return backtest_main(argv[1:])
    if argv[:1] == ["notify-test"]:
        # `python app.py notify-test --route NAME`: one test message through a route's targets now.
        from alerts.deliveries import notify_test_main

        return notify_test_main(argv[1:])
    logs.setup("INFO", None)     # until the settings are read: console only
    try:
        command, settings = settings_from_args(argv)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        logs.setup(settings.log_level, settings.resolved_log_file())
        load_universe(settings.universe)  # a bad universe stops here, naming file and key
        if command == "collect":
            collector = _start_collector(settings, required=True)
            stop = threading.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            log.info("collector running against %s; Ctrl-C to stop", collector.store)
            stop.wait()
            _stop_collector(collector, settings.shutdown_grace)
            return 0
        if threading.current_thread() is threading.main_thread():
            # systemd/docker stop with SIGTERM: leave through the finally below, which stops the
            # collector (its cycle abandoned, then the lease released) so the next start collects
            # at once instead of standing by.
            signal.signal(signal.SIGTERM, _leave)
        collector = None
        _port_free(settings.host, settings.port)    # before anything is started or written
        try:
            collector = _start_collector(settings, required=False)
            from main import replay_control
            app = create_app(settings, replay_control=replay_control(collector))
            log.info("serving on http://%s:%d (%s mode)", settings.host, settings.port, settings.mode)
            if settings.debug:
                app.run(host=settings.host, port=settings.port, debug=settings.debug)
            else:
                from waitress import serve
                _room_for_sockets(settings.connections)
                # Keep X-Forwarded-For visible: a proxied request is never "local" (web.auth).
                try:
                    serve(app.server, host=settings.host, port=settings.port, threads=settings.threads,
                          connection_limit=settings.connections, asyncore_use_poll=True,  # select() stops at 1,024 sockets
                          backlog=2048, ident="contagion-monitor",
                          clear_untrusted_proxy_headers=False,
                          max_request_body_size=settings.max_body)   # waitress' default is 1 GiB
                except OSError as exc:   # taken between the check above and now
                    import errno

                    if exc.errno != errno.EADDRINUSE:
                        raise
                    raise ConfigError(_port_in_use(settings.host, settings.port)) from None
        finally:
            if collector is not None:
                _stop_collector(collector, settings.shutdown_grace)
        return 0
    except (ConfigError, CollectorAlreadyRunning) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
else:
    # `gunicorn app:server`: web only, settings from CM_* environment variables.
    try:
        _settings = load_settings()
        logs.setup_for_wsgi(_settings.log_level)
        app = create_app(_settings)
        server = app.server
    except ConfigError as exc:  # pragma: no cover - reported by gunicorn at boot
        raise SystemExit(f"error: {exc}") from None
