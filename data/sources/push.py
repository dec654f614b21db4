"""The push feed's parse step: a desk's own observations (a Bloomberg or LSEG terminal, an internal
tick feed) posted to the collector's `POST /ingest` (data/ingest.py) → the standard frame.

Pure: bytes and a content type in, (frame, reasons for the rows it could not take) out. Two
bodies are understood:

    application/json  {"observations": [{"series": "jgb_30y_x", "ts": "2026-01-20T04:31:00Z",
                                         "value": 3.712}, ...]}
    text/csv          series,ts,value
                      jgb_30y_x,2026-01-20T04:31:00Z,3.712

A body that is not one of these (not JSON, no `observations` list, no header, an object where a
row should be, more than MAX_ROWS rows) raises MalformedPayload: nothing of it is stored. A row
that is wrong (unknown series, a timestamp without a time zone or unreadable, ahead of the
collector's clock, a value that is not a finite number) is dropped with its reason and the others
go on; the collector's validation and data-quality gate then judge the rest as for any source.

A series with intraday prints (`intraday = true` in universe.toml) takes the posted instant as an
intraday print ("I"); a daily series takes the posted day as its close (optional `"freq": "D"`
or `"I"` says which). An instant is read in UTC unless it carries an offset; it must carry one
(`Z` or `+09:00`): a terminal's local wall time without a zone is a guess, not data.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from typing import Any

import pandas as pd

from data.frame import COLUMNS, add_rejects, daily_close_ts, empty_frame
from errors import MalformedPayload
from universe import Universe

__all__ = ["parse_push", "MAX_ROWS", "AHEAD_SLACK", "CSV_HEADER"]

MAX_ROWS = 10_000                        # observations per body (a day of 1-minute bars for 6 series is 5,000)
AHEAD_SLACK = dt.timedelta(minutes=5)    # a print later than now + this is a clock error, not data
CSV_HEADER = ("series", "ts", "value")
_FIELDS = {"series", "ts", "value", "freq"}


class _BadLine(str):
    """A CSV line that could not be read as a row: one bad row, not a malformed body."""


def _rows_json(text: str) -> list[Any]:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise MalformedPayload(f"body is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("observations"), list):
        raise MalformedPayload('body must be {"observations": [{"series", "ts", "value"}, ...]}')
    return doc["observations"]


def _rows_csv(text: str) -> list[Any]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise MalformedPayload("empty CSV body: expected a header series,ts,value") from None
    if not set(CSV_HEADER) <= set(header) or not set(header) <= _FIELDS:
        raise MalformedPayload(f"CSV header {','.join(header)!r}: expected series,ts,value (and optionally freq)")
    rows: list[Any] = []
    for line in reader:
        if not line or all(not c.strip() for c in line):
            continue
        rows.append(dict(zip(header, (c.strip() for c in line))) if len(line) == len(header)
                    else _BadLine(f"{len(line)} fields, the header has {len(header)}"))
    return rows


def _instant(raw: Any) -> pd.Timestamp | str:
    """A tz-aware UTC timestamp, or the reason it is not one."""
    if not isinstance(raw, str) or not raw.strip():
        return f"ts {raw!r} is not an ISO 8601 string"
    try:
        t = pd.Timestamp(raw.strip())
    except (ValueError, OverflowError):
        return f"ts {raw!r} is not an ISO 8601 time"
    if t is pd.NaT or pd.isna(t):
        return f"ts {raw!r} is not an ISO 8601 time"
    if t.tzinfo is None:
        if len(raw.strip()) == 10:          # a bare date: a daily close, no zone needed
            return t.tz_localize("UTC")
        return f"ts {raw!r} has no time zone (add Z or an offset such as +09:00)"
    return t.tz_convert("UTC")


def _value(raw: Any) -> float | str:
    if isinstance(raw, bool):
        return f"value {raw!r} is not a number"
    if isinstance(raw, str):
        try:
            raw = float(raw.strip())
        except ValueError:
            return f"value {raw!r} is not a number"
    if not isinstance(raw, (int, float)):
        return f"value {raw!r} is not a number"
    if not math.isfinite(raw):
        return f"value {raw!r} is not finite"
    return float(raw)


def parse_push(body: bytes, content_type: str | None, universe: Universe, now: dt.datetime) -> pd.DataFrame:
    """A posted body → the standard frame; the rows it could not take are in its rejects (see
    data.frame.rejects_of), each reason naming the row (1-based) and its series."""
    if not body or not body.strip():
        raise MalformedPayload("empty body")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MalformedPayload("body is not UTF-8 text") from None
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        rows = _rows_csv(text)
    elif kind in ("application/json", ""):
        rows = _rows_json(text)
    else:
        raise MalformedPayload(f"Content-Type {kind!r}: send application/json or text/csv")
    if len(rows) > MAX_ROWS:
        raise MalformedPayload(f"{len(rows)} observations in one body: at most {MAX_ROWS}")
    if not rows:
        raise MalformedPayload("no observations in the body")
    now_ts = pd.Timestamp(now).tz_convert("UTC")
    out: list[tuple[str, str, pd.Timestamp, float]] = []
    rejects: list[str] = []
    for i, row in enumerate(rows, 1):
        if isinstance(row, _BadLine):
            rejects.append(f"row {i}: {row}")
            continue
        if not isinstance(row, dict):
            raise MalformedPayload(f"observation {i} is {type(row).__name__}, not an object with series, ts, value")
        extra = set(row) - _FIELDS
        missing = {"series", "ts", "value"} - set(row)
        if extra or missing:
            what = f"unknown field {sorted(extra)[0]!r}" if extra else f"missing {sorted(missing)[0]!r}"
            rejects.append(f"row {i}: {what} (fields: series, ts, value, freq)")
            continue
        sid = row["series"]
        if not isinstance(sid, str) or sid not in universe:
            rejects.append(f"row {i}: unknown series {sid!r}")
            continue
        s = universe.get(sid)
        freq = row.get("freq") or ("I" if s.intraday else "D")
        if freq not in ("I", "D") or (freq == "I" and not s.intraday):
            rejects.append(f"row {i} {sid}: freq {freq!r} "
                           + ("(a daily series: D)" if freq == "I" else "must be I (intraday) or D (daily close)"))
            continue
        t = _instant(row["ts"])
        if isinstance(t, str):
            rejects.append(f"row {i} {sid}: {t}")
            continue
        v = _value(row["value"])
        if isinstance(v, str):
            rejects.append(f"row {i} {sid}: {v}")
            continue
        if freq == "D":
            # The posted day (in the series' own time zone) → its close instant, as every source stamps it.
            day = t.tz_convert(s.timezone).date() if len(str(row["ts"]).strip()) > 10 else t.date()
            t = daily_close_ts([day], s.timezone, s.close)[0]
            if pd.isna(t) or t > now_ts + AHEAD_SLACK:
                rejects.append(f"row {i} {sid}: the close of {day} is not yet (the day closes {s.close} {s.timezone})")
                continue
        elif t > now_ts + AHEAD_SLACK:
            rejects.append(f"row {i} {sid}: ts {row['ts']} is ahead of the collector's clock ({now_ts:%Y-%m-%d %H:%M} UTC)")
            continue
        out.append((sid, freq, t, v))
    if not out:
        return add_rejects(empty_frame(), rejects)
    frame = pd.DataFrame(out, columns=COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.as_unit("ns")
    frame["value"] = frame["value"].astype("float64")
    return add_rejects(frame, rejects)
