"""US Treasury "Daily Treasury Par Yield Curve Rates": per-year CSV (default) or XML/Atom feed.

CSV (RAW_SOURCES.md): header `Date,"1 Mo","1.5 Month",…,"30 Yr"` whose column set changes by
year (match by name), `MM/DD/YYYY`, newest first, blank = missing, LF, no final newline.
XML: Atom entries oldest first, `d:NEW_DATE` + `d:BC_1MONTH`…`d:BC_30YEAR`, a tenor that did
not exist yet is left out. Both map onto the CSV column names, which are the series symbols.
"""
from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from typing import Any, Sequence
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from data.sources.csvtext import csv_rows, numeric_cells
from data.errors import ConfigError, EmptyPayload, MalformedPayload
from data.frame import daily_close_ts, make_frame
from data.sources.base import DEFAULT_TIMEOUT, Request, http_get
from data.universe import Series

__all__ = ["TreasurySource", "parse_treasury_csv", "parse_treasury_xml", "parse_treasury",
           "treasury_symbol", "treasury_csv_url", "treasury_xml_url", "TENORS", "XML_TENORS"]

# CSV column names, in the publisher's order; these are the universe symbols.
TENORS: tuple[str, ...] = ("1 Mo", "1.5 Month", "2 Mo", "3 Mo", "4 Mo", "6 Mo", "1 Yr", "2 Yr",
                           "3 Yr", "5 Yr", "7 Yr", "10 Yr", "20 Yr", "30 Yr")
XML_TENORS: dict[str, str] = {
    "BC_1MONTH": "1 Mo", "BC_1_5MONTH": "1.5 Month", "BC_2MONTH": "2 Mo", "BC_3MONTH": "3 Mo",
    "BC_4MONTH": "4 Mo", "BC_6MONTH": "6 Mo", "BC_1YEAR": "1 Yr", "BC_2YEAR": "2 Yr",
    "BC_3YEAR": "3 Yr", "BC_5YEAR": "5 Yr", "BC_7YEAR": "7 Yr", "BC_10YEAR": "10 Yr",
    "BC_20YEAR": "20 Yr", "BC_30YEAR": "30 Yr",
}
# Copies of another tenor, not data of their own.
_XML_IGNORED = {"BC_30YEARDISPLAY"}

_CSV_URL = ("https://home.treasury.gov/resource-center/data-chart-center/interest-rates/"
            "daily-treasury-rates.csv/{year}/all?type=daily_treasury_yield_curve"
            "&field_tdr_date_value={year}&page&_format=csv")
_XML_URL = ("https://home.treasury.gov/resource-center/data-chart-center/interest-rates/pages/xml"
            "?data=daily_treasury_yield_curve&field_tdr_date_value={year}")
_NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "d": "http://schemas.microsoft.com/ado/2007/08/dataservices",
    "m": "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata",
}
_D = "{" + _NS["d"] + "}"
_M_NULL = "{" + _NS["m"] + "}null"
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_XML_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(T00:00:00(\.0+)?Z?)?$")
_NEW_YORK = ZoneInfo("America/New_York")


def treasury_csv_url(year: int) -> str:
    return _CSV_URL.format(year=int(year))


def treasury_xml_url(year: int) -> str:
    return _XML_URL.format(year=int(year))


def treasury_symbol(series: Series) -> str | None:
    """The Treasury column a series reads: its own symbol, or its Treasury fallback's."""
    sym = series.symbol_for("treasury")
    if sym is None:
        return None
    if sym not in TENORS:
        raise ConfigError(f"series {series.id!r}: {sym!r} is not a Treasury par-curve column {list(TENORS)}")
    return sym


def _as_date(since: dt.date | dt.datetime | None) -> dt.date | None:
    return since.date() if isinstance(since, dt.datetime) else since


def _wanted(series: Sequence[Series] | Series) -> list[tuple[Series, str]]:
    items = [series] if isinstance(series, Series) else list(series)
    return [(s, sym) for s in items if (sym := treasury_symbol(s)) is not None]


# Blank and N/A cells are missing (older downloads wrote N/A).
_MISSING = {"", "N/A", "n/a"}


def _check_not_html(raw: bytes, what: str) -> None:
    head = raw[:1024].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<head", b"<body")) or b"<html" in head:
        raise MalformedPayload(f"Treasury {what}: got an HTML page instead: {raw[:80]!r}")


def _to_frame(dates: list[dt.date], columns: list[str], values: list[list[float]],
              wanted: list[tuple[Series, str]], since: dt.date | None, what: str) -> pd.DataFrame:
    """Shared tail of both parsers: duplicate check, `since` filter, one frame per series."""
    if not dates:
        raise EmptyPayload(f"Treasury {what}: no data rows")
    idx = pd.DatetimeIndex(pd.to_datetime(dates))
    if idx.has_duplicates:
        raise MalformedPayload(f"Treasury {what}: date {idx[idx.duplicated()][0].date()} appears twice")
    mat = np.asarray(values, dtype="float64").reshape(len(dates), len(columns))
    keep = np.ones(len(dates), dtype=bool) if since is None else idx >= pd.Timestamp(since)
    parts = []
    for s, sym in wanted:
        if sym not in columns:
            continue  # tenor not published that year (1.5 Month before 2025, 4 Mo before 2022…)
        ts = daily_close_ts(idx[keep], s.timezone, s.close)
        parts.append(make_frame(s.id, "D", ts, mat[keep, columns.index(sym)]))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if out.empty:
        raise EmptyPayload(f"Treasury {what}: no values for {[s.id for s, _ in wanted]}"
                           + (f" on or after {since}" if since else ""))
    return out.sort_values(["series_id", "ts"]).reset_index(drop=True)


def parse_treasury_csv(raw: bytes, series: Sequence[Series] | Series, *,
                       since: dt.date | None = None) -> pd.DataFrame:
    """Treasury par-curve CSV (one year, or the all-years download) → standard frame.

    Columns are matched by name; a series whose tenor is absent that year simply has no rows.
    An unknown column, a non-date row, a short row or a non-number is MalformedPayload.
    """
    wanted = _wanted(series)
    rows = csv_rows(raw, "Treasury CSV")
    header = [c.strip() for c in rows[0]]
    if header[0] != "Date":
        raise MalformedPayload(f"Treasury CSV: first column is {header[0]!r}, expected 'Date' (header {header!r})")
    columns = header[1:]
    unknown = [c for c in columns if c not in TENORS]
    if unknown:
        raise MalformedPayload(f"Treasury CSV: unknown columns {unknown} (known: {list(TENORS)})")
    if not columns or len(set(columns)) != len(columns):
        raise MalformedPayload(f"Treasury CSV: no or duplicate tenor columns in header {header!r}")
    ncols = len(header)
    dates: list[dt.date] = []
    values: list[list[float]] = []
    for lineno, row in enumerate(rows[1:], start=2):
        m = _US_DATE.match(row[0].strip())
        if not m:
            raise MalformedPayload(f"Treasury CSV: row {lineno}: {row[0]!r} is not an MM/DD/YYYY date")
        mo, d, y = (int(g) for g in m.groups())
        try:
            day = dt.date(y, mo, d)
        except ValueError:
            raise MalformedPayload(f"Treasury CSV: row {lineno}: impossible date {row[0]!r}") from None
        if len(row) != ncols:
            raise MalformedPayload(
                f"Treasury CSV: row {lineno} ({row[0]}): {len(row)} fields, header has {ncols} (truncated file?)")
        vals = numeric_cells(columns, row[1:], _MISSING, f"Treasury CSV: row {lineno} ({row[0]})")
        dates.append(day)
        values.append(vals)
    return _to_frame(dates, columns, values, wanted, _as_date(since), "CSV")


def parse_treasury_xml(raw: bytes, series: Sequence[Series] | Series, *,
                       since: dt.date | None = None) -> pd.DataFrame:
    """Treasury par-curve XML/Atom feed → standard frame (same symbols as the CSV)."""
    wanted = _wanted(series)
    if not raw or not raw.strip():
        raise EmptyPayload("Treasury XML: empty document")
    _check_not_html(raw, "XML")
    if b"<!DOCTYPE" in raw[:2048].upper():
        # The feed never has a DTD; refusing one also keeps entity tricks out of the parser.
        raise MalformedPayload("Treasury XML: unexpected DOCTYPE")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise MalformedPayload(f"Treasury XML: not well-formed ({exc}; truncated?)") from None
    if root.tag != "{%s}feed" % _NS["atom"]:
        raise MalformedPayload(f"Treasury XML: root element is {root.tag!r}, expected an Atom <feed>")
    columns = list(TENORS)
    dates: list[dt.date] = []
    values: list[list[float]] = []
    for n, entry in enumerate(root.findall("atom:entry", _NS), start=1):
        props = entry.find("atom:content/m:properties", _NS)
        if props is None:
            raise MalformedPayload(f"Treasury XML: entry {n} has no <content><m:properties>")
        date_el = props.find("d:NEW_DATE", _NS)
        text = (date_el.text or "").strip() if date_el is not None else ""
        m = _XML_DATE.match(text)
        if not m:
            raise MalformedPayload(f"Treasury XML: entry {n}: d:NEW_DATE {text!r} is not a date")
        try:
            day = dt.date(*(int(g) for g in m.groups()[:3]))
        except ValueError:
            raise MalformedPayload(f"Treasury XML: entry {n}: impossible date {text!r}") from None
        row = [np.nan] * len(columns)
        for el in props:
            if not el.tag.startswith(_D):
                continue
            name = el.tag[len(_D):]
            if not name.startswith("BC_") or name in _XML_IGNORED:
                continue  # d:Id, d:NEW_DATE, copies
            if name not in XML_TENORS:
                raise MalformedPayload(f"Treasury XML: entry {n} ({day}): unknown tenor element d:{name}")
            cell = (el.text or "").strip()
            if el.get(_M_NULL) == "true" or cell == "":
                continue
            try:
                row[columns.index(XML_TENORS[name])] = float(cell)
            except ValueError:
                raise MalformedPayload(f"Treasury XML: entry {n} ({day}), d:{name}: {cell!r} is not a number") from None
        dates.append(day)
        values.append(row)
    return _to_frame(dates, columns, values, wanted, _as_date(since), "XML")


def parse_treasury(raw: bytes, series: Sequence[Series] | Series, *,
                   since: dt.date | None = None) -> pd.DataFrame:
    """Either format, told apart by the first bytes (the XML feed starts with `<?xml`/`<feed`)."""
    head = raw[:256].lstrip()
    if head.startswith((b"<?xml", b"<feed")):
        return parse_treasury_xml(raw, series, since=since)
    return parse_treasury_csv(raw, series, since=since)


class TreasurySource:
    """One request per calendar year: backfill from now.year − backfill_years, else since's year."""

    name = "treasury"

    def __init__(self, backfill_years: int = 10, *, fmt: str = "csv") -> None:
        if backfill_years < 0:
            raise ValueError(f"backfill_years must be ≥ 0, got {backfill_years!r}")
        if fmt not in ("csv", "xml"):
            raise ValueError(f"fmt must be 'csv' or 'xml', got {fmt!r}")
        self.backfill_years = backfill_years
        self.fmt = fmt

    def build_requests(self, series: Sequence[Series], *, since: dt.date | None,
                       now: dt.datetime) -> list[Request]:
        mine = tuple(s for s in series if treasury_symbol(s) is not None)
        if not mine:
            return []
        # The year as Treasury sees it (New York), so a UTC date past midnight does not jump ahead.
        this_year = (now.astimezone(_NEW_YORK) if now.tzinfo else now).year
        since = _as_date(since)
        first = this_year - self.backfill_years if since is None else min(since.year, this_year)
        url = treasury_csv_url if self.fmt == "csv" else treasury_xml_url
        return [Request(source=self.name, series=mine, url=url(y),
                        meta={"year": y, "format": self.fmt, "since": since})
                for y in range(first, this_year + 1)]

    def fetch(self, request: Request, *, session: Any, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        return http_get(session, request.url, params=request.params or None, timeout=timeout)

    def parse(self, raw: bytes, request: Request) -> pd.DataFrame:
        since = request.meta.get("since")
        if request.meta.get("format") == "xml":
            return parse_treasury_xml(raw, request.series, since=since)
        return parse_treasury_csv(raw, request.series, since=since)
