"""FRED `fredgraph.csv`: UST constant maturity (fallback of the Treasury par curve), DEXJPUS.

Header styles (RAW_SOURCES.md): `observation_date,DGS10` (current; holiday = empty cell),
`DATE,DGS10` (older; holiday = `.`), several ids → several columns, and the `date,value` style
of local copies (`ust/fred/DGS10.csv`), where the caller names the id (`value_symbol`).
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Sequence

import numpy as np
import pandas as pd

from data.frame import add_rejects, daily_close_ts, empty_frame, make_frame
from data.sources.base import DEFAULT_TIMEOUT, Request, http_get
from data.sources.csvtext import csv_rows, data_rows
from errors import EmptyPayload, MalformedPayload
from universe import Series

__all__ = ["FredSource", "parse_fred_csv", "fred_symbol", "fred_url", "FRED_URL"]

FRED_URL = "https://fred.stlouisfed.org/graph/fredgraph.csv"
_DATE_HEADERS = {"observation_date", "date"}
_MISSING = {"", "."}
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_FRED_ID = re.compile(r"^[A-Z0-9_]{1,40}$")


def fred_symbol(series: Series) -> str | None:
    """The FRED id a series reads: its own symbol, or its FRED fallback's."""
    return series.symbol_for("fred")


def fred_url(ids: Sequence[str], start: dt.date | None = None) -> str:
    """fredgraph URL for several ids (comma-separated, one CSV) from `start` (cosd)."""
    url = f"{FRED_URL}?id={','.join(ids)}"
    return url + (f"&cosd={start.isoformat()}" if start is not None else "")


def _as_date(since: dt.date | dt.datetime | None) -> dt.date | None:
    return since.date() if isinstance(since, dt.datetime) else since


def parse_fred_csv(raw: bytes, series: Sequence[Series] | Series, *, value_symbol: str | None = None,
                   since: dt.date | None = None, require: Sequence[str] | None = None) -> pd.DataFrame:
    """FRED CSV bytes → standard frame for the series whose FRED id is a column of the file.

    `value_symbol` names the id held by a `date,value` file; it is required for that style.
    Series whose id is not in the file are left out; when none is, MalformedPayload. `require`
    lists ids that must be columns (what a fredgraph request asked for).
    """
    items = [series] if isinstance(series, Series) else list(series)
    wanted = [(s, sym) for s in items if (sym := fred_symbol(s)) is not None]
    rows = csv_rows(raw, "FRED")
    header = [c.strip() for c in rows[0]]
    if header[0].lower() not in _DATE_HEADERS:
        raise MalformedPayload(f"FRED: first column is {header[0]!r}, expected observation_date/DATE (header {header!r})")
    columns = header[1:]
    if not columns:
        raise MalformedPayload(f"FRED: no value column in header {header!r}")
    if columns == ["value"]:
        # Local `date,value` copies do not say which id they hold: the caller must.
        if not value_symbol:
            raise MalformedPayload("FRED: `date,value` file but no value_symbol given to name its series")
        columns = [value_symbol]
    bad = [c for c in columns if not _FRED_ID.match(c)]
    if bad:
        raise MalformedPayload(f"FRED: column(s) {bad} are not FRED series ids (header {header!r})")
    if len(set(columns)) != len(columns):
        raise MalformedPayload(f"FRED: duplicate columns in header {header!r}")
    absent = [i for i in (require or ()) if i not in columns]
    if absent:
        raise MalformedPayload(f"FRED: requested ids {absent} missing from the answer (header {header!r})")
    present = [(s, sym) for s, sym in wanted if sym in columns]
    if wanted and not present:
        raise MalformedPayload(
            f"FRED: file has columns {columns}, none of the requested {sorted({sym for _, sym in wanted})}")

    ncols = len(header)

    def date_of(first: str) -> dt.date:
        m = _ISO_DATE.match(first)
        if not m:
            raise MalformedPayload(f"{first!r} is not a YYYY-MM-DD date (truncated file?)")
        try:
            return dt.date(*(int(g) for g in m.groups()))
        except ValueError:
            raise MalformedPayload(f"impossible date {first!r}") from None

    # The newest FRED files end a holiday row with `2026-07-03,` → two fields, as expected.
    dates, values, rejected = data_rows(rows[1:], start_line=2, ncols=ncols, columns=columns, missing=_MISSING,
                                        who="FRED", parse_date=date_of)
    if not dates:
        if rejected:
            raise MalformedPayload(f"FRED: no readable data row ({len(rejected)} rejected, e.g. {rejected[0]})")
        raise EmptyPayload(f"FRED: header {header!r} but no data rows")
    idx = pd.DatetimeIndex(pd.to_datetime(dates))
    mat = np.asarray(values, dtype="float64")
    since = _as_date(since)
    keep = np.ones(len(dates), dtype=bool) if since is None else idx >= pd.Timestamp(since)
    parts = [make_frame(s.id, "D", daily_close_ts(idx[keep], s.timezone, s.close), mat[keep, columns.index(sym)])
             for s, sym in present]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if out.empty and not rejected:
        raise EmptyPayload(f"FRED: no values for {[s.id for s, _ in present]}"
                           + (f" on or after {since}" if since else ""))
    if out.empty:
        out = empty_frame()
    return add_rejects(out.sort_values(["series_id", "ts"]).reset_index(drop=True), rejected)


class FredSource:
    """All FRED ids of the universe in as few fredgraph requests as possible."""

    name = "fred"

    def __init__(self, backfill_years: int = 10, *, max_ids_per_request: int = 12) -> None:
        if backfill_years < 0:
            raise ValueError(f"backfill_years must be ≥ 0, got {backfill_years!r}")
        if max_ids_per_request < 1:
            raise ValueError(f"max_ids_per_request must be ≥ 1, got {max_ids_per_request!r}")
        self.backfill_years = backfill_years
        # Keeps URLs short; FRED returns one multi-column CSV per request.
        self.max_ids_per_request = max_ids_per_request

    def build_requests(self, series: Sequence[Series], *, since: dt.date | None,
                       now: dt.datetime) -> list[Request]:
        mine = [s for s in series if fred_symbol(s) is not None]
        if not mine:
            return []
        start = _as_date(since)
        if start is None:
            today = now.date()
            try:
                start = today.replace(year=today.year - self.backfill_years)
            except ValueError:  # 29 February
                start = today.replace(year=today.year - self.backfill_years, day=28)
        ids = list(dict.fromkeys(fred_symbol(s) for s in mine))  # unique, in universe order
        reqs = []
        for i in range(0, len(ids), self.max_ids_per_request):
            chunk = ids[i:i + self.max_ids_per_request]
            chunk_series = tuple(s for s in mine if fred_symbol(s) in chunk)
            reqs.append(Request(source=self.name, series=chunk_series, url=fred_url(chunk, start),
                                meta={"ids": tuple(chunk), "since": start}))
        return reqs

    def fetch(self, request: Request, *, session: Any, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        return http_get(session, request.url, params=request.params or None, timeout=timeout)

    def parse(self, raw: bytes, request: Request) -> pd.DataFrame:
        # Every id we asked for must come back as a column: a missing one is a changed payload.
        return parse_fred_csv(raw, request.series, since=request.meta.get("since"),
                              require=request.meta.get("ids"))
