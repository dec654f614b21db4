"""Say what failed, not where: raw error text → a short category for everyone who may read.

Source health and store errors carry hosts, ports, URLs (some with credentials), file paths and
database names (`HTTPSConnectionPool(host='www.mof.go.jp', port=443) …`, `connection to server at
"10.0.0.5", port 5432 failed`, `No such file or directory: '/srv/…'`). `/healthz` (open without
auth), `/api/sources`, the banner, the wall and the Sources page show `public_error()` of it; the
raw text stays in the server log and, on the Sources page, for the operator.
"""
from __future__ import annotations

import re

__all__ = ["CATEGORIES", "public_error"]

_HTTP = re.compile(r"\bHTTP (\d{3})\b")

# (category, any of these substrings, case-insensitive), first match wins.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("store unreachable", ("store unavailable", "operationalerror", "psycopg", "sqlite3.", "databaseerror",
                           "interfaceerror", "database is locked")),
    ("rate limited (HTTP 429)", ("ratelimited", "http 429", "yfratelimiterror", "too many requests")),
    ("timeout", ("timeout", "timed out")),
    ("malformed payload", ("malformedpayload",)),
    ("empty answer", ("emptypayload", "empty body", "empty file")),
    ("network error", ("network error", "connectionerror", "connection refused", "max retries exceeded",
                       "nameresolution", "name or service not known", "sslerror", "proxyerror",
                       "remotedisconnected", "connection reset")),
    ("missed scheduled run", ("missed scheduled run",)),
    ("file not found", ("filenotfounderror", "no such file")),
    ("permission denied", ("permissionerror", "permission denied")),
)


def public_error(message: str | None) -> str | None:
    """'FetchError: network error: ConnectionError: HTTPSConnectionPool(host=…)' → 'network error'.
    None stays None; anything unrecognised is 'unexpected error' (never the text itself)."""
    if message is None:
        return None
    text = str(message)
    low = text.lower()
    for category, needles in CATEGORIES[:2]:      # store and rate limits before any status code
        if any(n in low for n in needles):
            return category
    m = _HTTP.search(text)
    if m and "timeout" not in low:
        return f"HTTP {m.group(1)}"
    for category, needles in CATEGORIES[2:]:
        if any(n in low for n in needles):
            return category
    return "unexpected error"
