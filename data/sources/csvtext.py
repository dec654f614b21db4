"""What the publishers' CSV parsers share: rejecting non-CSV answers and reading data rows.

A payload that is not the publisher's CSV at all raises EmptyPayload or MalformedPayload with the
publisher's name (`who`), so a source's health says which file was bad and why. Inside a good
file, `data_rows` drops a bad row (impossible date, truncated row, repeated date) or a bad cell
with its reason and keeps the rest: one bad row never stops a source.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Callable, Sequence

import numpy as np

from errors import EmptyPayload, MalformedPayload

__all__ = ["check_payload", "csv_rows", "numeric_cells", "data_rows", "FIRST_DAY", "LAST_DAY"]

# Dates any of these files can hold; a year-9999 row is a bad row (pandas cannot hold it).
FIRST_DAY, LAST_DAY = dt.date(1950, 1, 1), dt.date(2200, 12, 31)


def check_payload(raw: bytes, who: str) -> None:
    """Empty, HTML/XML error page or binary content → the matching error, before any parsing."""
    if not raw or not raw.strip():
        raise EmptyPayload(f"{who}: empty file")
    head = raw[:1024].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")) or b"<html" in head:
        raise MalformedPayload(f"{who}: got an HTML/XML page instead of CSV: {raw[:80]!r}")
    if b"\x00" in raw:
        raise MalformedPayload(f"{who}: binary content (NUL bytes), not a CSV")


def csv_rows(raw: bytes, who: str, *, decode: Callable[[bytes], str] | None = None,
             drop_blank: bool = True) -> list[list[str]]:
    """Checked, decoded (UTF-8 with BOM unless `decode` is given) CSV rows."""
    check_payload(raw, who)
    if decode is None:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MalformedPayload(f"{who}: not text ({exc})") from None
    else:
        text = decode(raw)
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise MalformedPayload(f"{who}: unreadable CSV: {exc}") from None
    if drop_blank:
        rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        raise EmptyPayload(f"{who}: empty file")
    return rows


def numeric_cells(columns: Sequence[str], cells: Sequence[str], missing: set[str], where: str) -> list[float]:
    """Floats for one row's value cells; `missing` markers become NaN, anything else is an error."""
    vals: list[float] = []
    for col, cell in zip(columns, cells):
        cell = cell.strip()
        if cell in missing:
            vals.append(np.nan)
            continue
        try:
            vals.append(float(cell))
        except ValueError:
            raise MalformedPayload(f"{where}, column {col}: {cell!r} is not a number") from None
    return vals


def data_rows(rows: Sequence[Sequence[str]], *, start_line: int, ncols: int, columns: Sequence[str],
              missing: set[str], who: str, parse_date: Callable[[str], dt.date | None],
              exact_width: bool = True) -> tuple[list[dt.date], list[list[float]], list[str]]:
    """(dates, values, rejected) of a file's data rows.

    `parse_date(first cell)` returns the date, None for a row that is not data (a footer), or
    raises MalformedPayload for a date-shaped cell that is wrong. A row is dropped (reason kept)
    when its date is wrong or out of range, its width differs from the header's (`exact_width`;
    otherwise extra cells must be blank) or its date repeats; a cell that is neither a number
    nor a missing marker becomes NaN (reason kept).
    """
    dates: list[dt.date] = []
    values: list[list[float]] = []
    rejected: list[str] = []
    seen: dict[dt.date, int] = {}
    for lineno, row in enumerate(rows, start=start_line):
        if not row or all(not c.strip() for c in row):
            continue
        first = row[0].strip()
        try:
            day = parse_date(first)
        except MalformedPayload as exc:
            rejected.append(f"{who} line {lineno}: {exc}")
            continue
        if day is None:
            continue
        if not (FIRST_DAY <= day <= LAST_DAY):
            rejected.append(f"{who} line {lineno}: date {first!r} is out of range")
            continue
        if (len(row) != ncols) if exact_width else (len(row) < ncols or any(c.strip() for c in row[ncols:])):
            rejected.append(f"{who} line {lineno} ({first}): {len(row)} fields, header has {ncols} (truncated file?)")
            continue
        if day in seen:
            rejected.append(f"{who} line {lineno}: date {day} appears twice (first at line {seen[day]})")
            continue
        seen[day] = lineno
        vals: list[float] = []
        for col, cell in zip(columns, row[1:ncols]):
            try:
                vals.extend(numeric_cells([col], [cell], missing, f"{who} line {lineno} ({first})"))
            except MalformedPayload as exc:
                rejected.append(str(exc))
                vals.append(np.nan)
        dates.append(day)
        values.append(vals)
    return dates, values, rejected
