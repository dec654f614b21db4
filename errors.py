"""Typed errors so a caller can tell "no data" from "failed" from "bad payload"."""
from __future__ import annotations

import re


class ContagionError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(ContagionError):
    """Bad configuration: the message names the file/key and the offending value."""


class SourceError(ContagionError):
    """A source could not deliver usable data this cycle."""


class FetchError(SourceError):
    """The network step failed: DNS, connection, timeout, HTTP status."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RateLimited(FetchError):
    """HTTP 429 / YFRateLimitError: back off with jitter."""


class EmptyPayload(SourceError):
    """The source answered but had no rows (weekend, holiday, blocked, delisted)."""


class MalformedPayload(SourceError):
    """The payload does not have the expected shape; nothing from it may be stored."""


class CollectorAlreadyRunning(ContagionError):
    """A second collector tried to start against a store that already has one."""


class WritesClosed(SourceError):
    """This process no longer writes the store: its collector is stopping or lost the lease. A
    cycle that meets it is abandoned (each write is one transaction: nothing is half-written)."""


# ---------------------------------------------------------------- what failed, in words for everyone
# Source health and store errors carry hosts, ports, URLs (some with credentials), file paths and
# database names. Screens, the JSON API and alert texts say the category; the raw text stays in
# the server log and, on the Sources page, for the operator (web/redact.py).
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


def error_category(message: str | None) -> str | None:
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


# How a screen says it (banner, wall, alert text): "MOF: no network (retrying within 40 s)".
_PLAIN = {"network error": "no network", "timeout": "timed out", "store unreachable": "store unreachable",
          "empty answer": "answered with no data", "malformed payload": "answered with a malformed file"}


def plain_reason(message: str | None) -> str:
    """The category of a raw error as a screen says it ('no network', 'HTTP 503', …)."""
    category = error_category(message)
    return "failing" if category is None else _PLAIN.get(category, category)
