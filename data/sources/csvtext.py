"""What the publishers' CSV parsers share: rejecting non-CSV answers and reading numeric cells.

Every check raises EmptyPayload or MalformedPayload with the publisher's name (`who`), so a
source's health says which file was bad and why.
"""
from __future__ import annotations

import csv
import io
from typing import Callable, Sequence

import numpy as np

from data.errors import EmptyPayload, MalformedPayload

__all__ = ["check_payload", "csv_rows", "numeric_cells"]


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
