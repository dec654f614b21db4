"""What failed, not where (web/redact.py): real-looking error texts → categories."""
from __future__ import annotations

import pytest

from web.redact import public_error

CASES = [
    # psycopg 3 through SQLAlchemy, as the snapshot service records it
    ('store unavailable: OperationalError: (psycopg.OperationalError) connection failed: connection to server at '
     '"10.0.0.5", port 5432 failed: Connection refused\n\tIs the server running on that host and accepting TCP/IP '
     'connections?\n(Background on this error at: https://sqlalche.me/e/20/e3q8)', "store unreachable"),
    ('store unavailable: OperationalError: (psycopg.OperationalError) connection failed: FATAL:  password '
     'authentication failed for user "monitor"', "store unreachable"),
    ("store unavailable: OperationalError: (sqlite3.OperationalError) unable to open database file "
     "(Background on this error at: https://sqlalche.me/e/20/e3q8)", "store unreachable"),
    ("store unavailable: OperationalError: SELECT 1 [] database is locked", "store unreachable"),
    # requests, as data/sources/base.py wraps it
    ("FetchError: network error: ConnectionError: HTTPSConnectionPool(host='www.mof.go.jp', port=443): Max retries "
     "exceeded with url: /english/policy/jgbs/reference/interest_rate/jgbcme.csv (Caused by NameResolutionError("
     "\"<urllib3.connection.HTTPSConnection object at 0x7f3c>: Failed to resolve 'www.mof.go.jp' ([Errno -3] "
     "Temporary failure in name resolution)\"))", "network error"),
    ("FetchError: network error: ProxyError: HTTPSConnectionPool(host='fred.stlouisfed.org', port=443): Max retries "
     "exceeded with url: /graph/fredgraph.csv?id=DGS10 (Caused by ProxyError('Unable to connect to proxy', "
     "NewConnectionError('Failed to establish a new connection: [Errno 111] Connection refused')))", "network error"),
    ("FetchError: timeout after 20s: https://user:pa55@data.example.com/feed.csv", "timeout"),
    ("FetchError: network error: ConnectionError: HTTPSConnectionPool(host='home.treasury.gov', port=443): Read "
     "timed out. (read timeout=20)", "timeout"),
    ("FetchError: HTTP 503: https://home.treasury.gov/resource-center/data-chart-center/interest-rates/"
     "daily-treasury-rates.csv/2026/all?type=daily_treasury_yield_curve", "HTTP 503"),
    ("RateLimited: HTTP 429 rate limited: https://query2.finance.yahoo.com/v8/finance/chart/%5ETNX",
     "rate limited (HTTP 429)"),
    ("unexpected YFRateLimitError: Too Many Requests. Rate limited. Try after a while.", "rate limited (HTTP 429)"),
    ("MalformedPayload: MOF: line 12: unparsable date '2026/13/01' (truncated file?)", "malformed payload"),
    ("EmptyPayload: empty body: https://www.mof.go.jp/english/policy/jgbs/reference/interest_rate/jgbcme.csv",
     "empty answer"),
    ("missed scheduled run at 2026-01-20 06:00:00+00:00", "missed scheduled run"),
    ("unexpected FileNotFoundError: [Errno 2] No such file or directory: '/home/monitor/contagion/var/cache/x.csv'",
     "file not found"),
    ("EmptyPayload: no replayable files under /srv/shared/data/market (expected e.g. jgb/jgbcme_all.csv)",
     "empty answer"),
    ("unexpected PermissionError: [Errno 13] Permission denied: '/var/lib/contagion/yf-cache/tkr-tz.db'",
     "permission denied"),
    ("job crashed: KeyError: 'jgb_30y' at /home/monitor/contagion/data/collector.py:214", "unexpected error"),
]


@pytest.mark.parametrize("raw,category", CASES)
def test_categories(raw, category):
    assert public_error(raw) == category


@pytest.mark.parametrize("raw,_category", CASES)
def test_no_host_port_path_or_url_survives(raw, _category):
    out = public_error(raw)
    for leak in ("/", "host", "port", "10.0.0.5", "5432", "mof.go.jp", "monitor", "pa55", "http", ".csv", "'"):
        assert leak not in out.replace("HTTP 503", "").replace("(HTTP 429)", ""), (leak, out)


def test_none_and_empty():
    assert public_error(None) is None
    assert public_error("") == "unexpected error"
