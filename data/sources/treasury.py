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

from data.frame import add_rejects, daily_close_ts, empty_frame, make_frame
from data.sources.base import DEFAULT_TIMEOUT, Request, http_get
from data.sources.csvtext import FIRST_DAY, LAST_DAY, csv_rows, data_rows
from errors import ConfigError, EmptyPayload, MalformedPayload
from universe import Series

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
              wanted: list[tuple[Series, str]], since: dt.date | None, what: str,
              rejected: list[str]) -> pd.DataFrame:
    """Shared tail of both parsers: `since` filter, one frame per series, rejected rows attached."""
    if not dates:
        if rejected:
            raise MalformedPayload(f"Treasury {what}: no readable data row ({len(rejected)} rejected, "
                                   f"e.g. {rejected[0]})")
        raise EmptyPayload(f"Treasury {what}: no data rows")
    idx = pd.DatetimeIndex(pd.to_datetime(dates))
    mat = np.asarray(values, dtype="float64").reshape(len(dates), len(columns))
    keep = np.ones(len(dates), dtype=bool) if since is None else idx >= pd.Timestamp(since)
    parts = []
    for s, sym in wanted:
        if sym not in columns:
            continue  # tenor not published that year (1.5 Month before 2025, 4 Mo before 2022…)
        ts = daily_close_ts(idx[keep], s.timezone, s.close)
        parts.append(make_frame(s.id, "D", ts, mat[keep, columns.index(sym)]))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if out.empty and not rejected:
        raise EmptyPayload(f"Treasury {what}: no values for {[s.id for s, _ in wanted]}"
                           + (f" on or after {since}" if since else ""))
    if out.empty:
        out = empty_frame()
    return add_rejects(out.sort_values(["series_id", "ts"]).reset_index(drop=True), rejected)


def parse_treasury_csv(raw: bytes, series: Sequence[Series] | Series, *,
                       since: dt.date | None = None) -> pd.DataFrame:
    """Treasury par-curve CSV (one year, or the all-years download) → standard frame.

    Columns are matched by name; a series whose tenor is absent that year simply has no rows.
    An unknown column is MalformedPayload; a non-date, short or repeated row, or a cell that is
    not a number, is dropped and recorded (`data.frame.rejects_of`), the rest kept.
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

    def date_of(first: str) -> dt.date:
        m = _US_DATE.match(first)
        if not m:
            raise MalformedPayload(f"{first!r} is not an MM/DD/YYYY date")
        mo, d, y = (int(g) for g in m.groups())
        try:
            return dt.date(y, mo, d)
        except ValueError:
            raise MalformedPayload(f"impossible date {first!r}") from None

    dates, values, rejected = data_rows(rows[1:], start_line=2, ncols=ncols, columns=columns, missing=_MISSING,
                                        who="Treasury CSV", parse_date=date_of)
    return _to_frame(dates, columns, values, wanted, _as_date(since), "CSV", rejected)


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
    rejected: list[str] = []
    seen: set[dt.date] = set()
    for n, entry in enumerate(root.findall("atom:entry", _NS), start=1):
        props = entry.find("atom:content/m:properties", _NS)
        if props is None:
            rejected.append(f"Treasury XML entry {n}: no <content><m:properties>")
            continue
        date_el = props.find("d:NEW_DATE", _NS)
        text = (date_el.text or "").strip() if date_el is not None else ""
        m = _XML_DATE.match(text)
        day = None
        if m:
            try:
                day = dt.date(*(int(g) for g in m.groups()[:3]))
            except ValueError:
                pass
        if day is None or not (FIRST_DAY <= day <= LAST_DAY):
            rejected.append(f"Treasury XML entry {n}: d:NEW_DATE {text!r} is not a usable date")
            continue
        if day in seen:
            rejected.append(f"Treasury XML entry {n}: date {day} appears twice")
            continue
        seen.add(day)
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
                rejected.append(f"Treasury XML entry {n} ({day}), d:{name}: {cell!r} is not a number")
        dates.append(day)
        values.append(row)
    return _to_frame(dates, columns, values, wanted, _as_date(since), "XML", rejected)


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
