"""The shape every source follows (OpenBB's fetcher, reduced to what we need)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import pandas as pd
import requests

from errors import EmptyPayload, FetchError, RateLimited
from universe import Series

__all__ = ["Request", "Source", "http_get", "USER_AGENT", "DEFAULT_TIMEOUT"]

# Some publishers (MOF) reject Python's default User-Agent (BRIEF §1).
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) ContagionMonitor/1.0 (+https://example.invalid/contagion-monitor)"
DEFAULT_TIMEOUT = 20.0


@dataclass(frozen=True)
class Request:
    """Everything the fetch step needs, and the parse step needs to interpret the answer."""

    source: str
    series: tuple[Series, ...]
    url: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    # Source-specific knobs: year for Treasury, symbols/interval/period for Yahoo, ...
    meta: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return self.url or f"{self.source}:{self.meta}"


class Source(Protocol):
    """build_requests → fetch (network) → parse (pure)."""

    name: str

    def build_requests(self, series: Sequence[Series], *, since: dt.date | None,
                       now: dt.datetime) -> list[Request]:
        """The requests that cover `series` from `since` (None = full backfill) to `now`."""

    def fetch(self, request: Request, *, session: Any, timeout: float) -> Any:
        """The only step that touches the network. Raises FetchError/RateLimited/EmptyPayload."""

    def parse(self, raw: Any, request: Request) -> pd.DataFrame:
        """Pure: raw payload → standard frame (data.frame). Raises MalformedPayload."""


def http_get(session: requests.Session, url: str, *, params: dict | None = None,
             timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """GET with a timeout and a browser-like User-Agent; HTTP errors become FetchError."""
    try:
        resp = session.get(url, params=params, timeout=timeout, headers={"User-Agent": USER_AGENT})
    except requests.Timeout as exc:
        raise FetchError(f"timeout after {timeout:.0f}s: {url}") from exc
    except requests.RequestException as exc:
        raise FetchError(f"network error: {type(exc).__name__}: {exc}") from exc
    if resp.status_code == 429:
        raise RateLimited(f"HTTP 429 rate limited: {url}", status=429)
    if resp.status_code >= 400:
        raise FetchError(f"HTTP {resp.status_code}: {url}", status=resp.status_code)
    body = resp.content
    if not body or not body.strip():
        raise EmptyPayload(f"empty body: {url}")
    return body
