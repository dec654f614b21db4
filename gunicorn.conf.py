"""gunicorn settings for the web workers of a shared deployment (`gunicorn app:server` reads this
file from the working directory; the collector runs apart: `python app.py collect`).

Sized for this 2-core class of machine and long-polling wall screens (docs/BENCHMARKS.md, "Web"):
one worker per core, a few threads each (requests are short: callbacks only read the snapshot),
keep-alive long enough that a screen polling every 5 s keeps its connection, and room for one
connection per screen. Every value can be overridden on the command line.

A bind beyond loopback (`CM_GUNICORN_BIND=0.0.0.0:8050`, `-b`, a unix socket behind a proxy)
without credentials (CM_AUTH_TOKEN, CM_AUTH_USER/CM_AUTH_PASSWORD, CM_OPERATOR_USER/…) stops the
server at start (exit 2). The app enforces the same rule per request whatever serves it
(web/auth.py: without credentials, only this machine is answered).
"""
import ipaddress
import os
import sys
import uuid

bind = os.environ.get("CM_GUNICORN_BIND", "127.0.0.1:8050")     # behind a proxy / auth when exposed
workers = int(os.environ.get("CM_GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = 4
worker_connections = 2000     # idle keep-alive sockets per worker (one per wall screen)
keepalive = 30                # s: longer than a screen's refresh interval
timeout = 60
graceful_timeout = 20
limit_request_line = 8190     # gunicorn's defaults, stated: request line and header sizes
limit_request_field_size = 8190


def loopback_bind(address: str) -> bool:
    """'127.0.0.1:8050', '[::1]:8050', 'localhost:8050' → True; '0.0.0.0:8050', ':8050',
    'unix:/run/cm.sock' (a proxy's socket), 'fd://3' → False."""
    if address.startswith(("unix:", "fd://")):
        return False
    if address.startswith("["):
        host = address[1:].partition("]")[0]
    elif ":" in address:
        host = address.rpartition(":")[0]
    else:
        host = address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_binds(addresses) -> None:
    """Refuse to start on a non-loopback bind without credentials (exit 2, a clear message)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from config import load_settings
    from errors import ConfigError

    try:
        settings = load_settings()
    except ConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None
    exposed = [a for a in addresses if not loopback_bind(str(a))]
    if exposed and not settings.auth_enabled:
        sys.stderr.write(
            f"error: gunicorn bind {', '.join(map(str, exposed))!r} exposes the dashboard beyond this machine: "
            "set CM_AUTH_TOKEN or CM_AUTH_USER and CM_AUTH_PASSWORD (and CM_OPERATOR_USER and "
            "CM_OPERATOR_PASSWORD for operator actions), or bind 127.0.0.1 (docs/SECURITY.md)\n")
        raise SystemExit(2)


def on_starting(server):
    # The binds actually used (this file's `bind`, or -b on the command line).
    check_binds(server.cfg.bind if server is not None else [bind])
    # One boot id for the whole server (master and every worker it forks): a wall screen whose
    # polls alternate between workers must not take that for a restart (web/boot.py BOOT_ID).
    os.environ["CM_BOOT_ID"] = uuid.uuid4().hex[:12]
