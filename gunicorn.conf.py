"""gunicorn settings for the web workers of a shared deployment (`gunicorn app:server` reads this
file from the working directory; the collector runs apart: `python app.py collect`).

Sized for this 2-core class of machine and long-polling wall screens (docs/BENCHMARKS.md, "Web"):
one worker per core, a few threads each (requests are short: callbacks only read the snapshot),
keep-alive long enough that a screen polling every 5 s keeps its connection, and room for one
connection per screen. Every value can be overridden on the command line.
"""
import os
import uuid

bind = os.environ.get("CM_GUNICORN_BIND", "127.0.0.1:8050")     # behind a proxy / auth when exposed
workers = int(os.environ.get("CM_GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = 4
worker_connections = 2000     # idle keep-alive sockets per worker (one per wall screen)
keepalive = 30                # s: longer than a screen's refresh interval
timeout = 60
graceful_timeout = 20


def on_starting(server):
    # One boot id for the whole server (master and every worker it forks): a wall screen whose
    # polls alternate between workers must not take that for a restart (web/state.py BOOT_ID).
    os.environ["CM_BOOT_ID"] = uuid.uuid4().hex[:12]
