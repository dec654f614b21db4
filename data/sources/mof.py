"""Japan Ministry of Finance: JGB constant-maturity yields, 1Y…40Y (BRIEF §1, SOURCES.md jgb/).

Two files per language, always merged: the history (`jgbcme_all.csv` / `jgbcm_all.csv`, up to
the end of a past month, lagging up to a month) and the current month (`jgbcme.csv` /
`jgbcm.csv`, emptied on the 1st). The current-month request comes last so its fresher values
are applied last.

Format (both languages): a title row, a header `Date,1Y,…,40Y` / `基準日,1年,…,40年`, `-` for a
missing value, CRLF, and note/footer rows at the end. English dates are `2026/6/30`; Japanese
files are Shift_JIS/cp932 with era dates `S49.9.24`, `H31.4.30`, `R8.6.30` (`元` = year 1).
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Sequence
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from data.frame import add_rejects, daily_close_ts, empty_frame, make_frame
from data.sources.base import DEFAULT_TIMEOUT, Request, http_get
from data.sources.csvtext import csv_rows, data_rows
from errors import EmptyPayload, MalformedPayload
from universe import Series

__all__ = ["MofSource", "parse_mof_csv", "parse_mof_date", "mof_symbol", "MOF_URLS", "TENORS"]

MOF_URLS: dict[str, dict[str, str]] = {
    "en": {
        "history": "https://www.mof.go.jp/english/policy/jgbs/reference/interest_rate/historical/jgbcme_all.csv",
        "current": "https://www.mof.go.jp/english/policy/jgbs/reference/interest_rate/jgbcme.csv",
    },
    "ja": {
        "history": "https://www.mof.go.jp/jgbs/reference/interest_rate/data/jgbcm_all.csv",
        "current": "https://www.mof.go.jp/jgbs/reference/interest_rate/jgbcm.csv",
    },
}

TENORS: tuple[str, ...] = ("1Y", "2Y", "3Y", "4Y", "5Y", "6Y", "7Y", "8Y", "9Y", "10Y",
                           "15Y", "20Y", "25Y", "30Y", "40Y")
# Header cell → symbol, for both languages.
_HEADER_MAP: dict[str, str] = {**{t: t for t in TENORS}, **{t[:-1] + "年": t for t in TENORS}}
_DATE_HEADERS = {"date", "基準日"}
_MISSING = {"", "-"}
_TOKYO = ZoneInfo("Asia/Tokyo")

# Japanese eras: gregorian year = base + era year (S→1925+y, H→1988+y, R→2018+y).
_ERA_BASE = {"S": 1925, "H": 1988, "R": 2018}
_EN_DATE = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")
_JA_DATE = re.compile(r"^([SHR])(\d{1,2}|元)\.(\d{1,2})\.(\d{1,2})$")
# A first cell that starts like a date but does not parse is a truncated/corrupt row, not a
# footer note: footers start with text (`※…`, `  ¦If you cannot…`).
_DATE_ATTEMPT = re.compile(r"^(\d|[SHR](\d|元))")



def mof_symbol(series: Series) -> str | None:
    """The MOF column a series reads: its own symbol, or its MOF fallback's."""
    return series.symbol_for("mof")


def parse_mof_date(cell: str) -> dt.date | None:
    """`2026/6/30` or `R8.6.30` → date; None when the cell is not a date at all.

    Raises MalformedPayload for a date-shaped cell that is impossible (month 13, H0…).
    """
    text = cell.strip()
    m = _EN_DATE.match(text)
    if m:
        y, mo, d = (int(g) for g in m.groups())
    else:
        m = _JA_DATE.match(text)
        if not m:
            return None
        era, ey, mo_s, d_s = m.groups()
        ey_n = 1 if ey == "元" else int(ey)
        if ey_n < 1:
            raise MalformedPayload(f"impossible era year in date {cell!r}")
        y, mo, d = _ERA_BASE[era] + ey_n, int(mo_s), int(d_s)
    try:
        return dt.date(y, mo, d)
    except ValueError as exc:
        raise MalformedPayload(f"impossible date {cell!r}: {exc}") from None


def _decode(raw: bytes) -> str:
    """English files are ASCII, Japanese ones cp932; UTF-8 copies are accepted too."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for enc in ("utf-8", "cp932"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    # Undecodable bytes: keep going so the header check reports what was actually found.
    return raw.decode("cp932", errors="replace")


def _as_date(since: dt.date | dt.datetime | None) -> dt.date | None:
    if isinstance(since, dt.datetime):
        return since.date()
    return since


def parse_mof_csv(raw: bytes, series: Sequence[Series] | Series, *,
                  since: dt.date | None = None) -> pd.DataFrame:
    """MOF JGB CSV bytes (either language, history or current month) → standard frame.

    Rows for the series' MOF symbols; `since` keeps dates on or after it. A bad row (unparsable,
    impossible or out-of-range date, truncated, duplicate date) or a cell that is not a number is
    dropped and recorded (`data.frame.rejects_of`); the rest of the file is kept. Raises
    MalformedPayload for a file that is not MOF data (HTML page, unknown/missing column, no
    readable row) and EmptyPayload for a valid file without data rows (e.g. on the 1st).
    """
    series_list = [series] if isinstance(series, Series) else list(series)
    wanted = [(s, mof_symbol(s)) for s in series_list]
    wanted = [(s, sym) for s, sym in wanted if sym is not None]
    rows = csv_rows(raw, "MOF", decode=_decode, drop_blank=False)

    # The header is the first row whose first cell is Date/基準日, after an optional title row.
    header_at = next((i for i, r in enumerate(rows[:3])
                      if r and r[0].strip().lower() in _DATE_HEADERS), None)
    if header_at is None:
        first = rows[0][:3] if rows else []
        raise MalformedPayload(f"MOF: no `Date`/`基準日` header in the first 3 rows (first row starts {first!r})")
    header = [c.strip() for c in rows[header_at]]
    while header and header[-1] == "":  # tolerate trailing empty header cells
        header.pop()
    columns: list[str] = []
    for c in header[1:]:
        if c not in _HEADER_MAP:
            raise MalformedPayload(f"MOF: unknown column {c!r} in header {header!r}")
        columns.append(_HEADER_MAP[c])
    if len(set(columns)) != len(columns):
        raise MalformedPayload(f"MOF: duplicate columns in header {header!r}")
    missing = sorted({sym for _, sym in wanted} - set(columns), key=TENORS.index)
    if missing:
        raise MalformedPayload(f"MOF: header lacks columns {missing} (header {header!r})")

    ncols = len(header)

    def date_of(first: str) -> dt.date | None:
        day = parse_mof_date(first)
        if day is None and _DATE_ATTEMPT.match(first):
            raise MalformedPayload(f"unparsable date {first!r} (truncated file?)")
        return day   # None: footer / note rows

    dates, values, rejected = data_rows(rows[header_at + 1:], start_line=header_at + 2, ncols=ncols,
                                        columns=columns, missing=_MISSING, who="MOF", parse_date=date_of,
                                        exact_width=False)

    if not dates:
        if rejected:
            raise MalformedPayload(f"MOF: no readable data row ({len(rejected)} rejected, e.g. {rejected[0]})")
        raise EmptyPayload("MOF: title and header but no data rows (current-month file on the 1st?)")
    if not wanted:
        return empty_frame()
    mat = np.asarray(values, dtype="float64")
    date_idx = pd.DatetimeIndex(pd.to_datetime(dates))
    keep = np.ones(len(dates), dtype=bool)
    since = _as_date(since)
    if since is not None:
        keep = date_idx >= pd.Timestamp(since)
    parts = []
    for s, sym in wanted:
        ts = daily_close_ts(date_idx[keep], s.timezone, s.close)
        parts.append(make_frame(s.id, "D", ts, mat[keep, columns.index(sym)]))
    out = pd.concat(parts, ignore_index=True)
    if out.empty and not rejected:
        raise EmptyPayload(f"MOF: no values on or after {since} for {[s.id for s, _ in wanted]}")
    return add_rejects(out.sort_values(["series_id", "ts"]).reset_index(drop=True), rejected)


class MofSource:
    """JGB curve from MOF: history file + current-month file each cycle (history when needed)."""

    name = "mof"

    def __init__(self, lang: str = "en", *, history_grace_days: int = 10) -> None:
        if lang not in MOF_URLS:
            raise ValueError(f"lang must be one of {sorted(MOF_URLS)}, got {lang!r}")
        if history_grace_days < 0:
            raise ValueError(f"history_grace_days must be ≥ 0, got {history_grace_days!r}")
        self.lang = lang
        # The last business day of a month is only ever published in the history file, which
        # lags: keep re-reading the history (from the previous month on) for the first days
        # of each month so that day is not lost.
        self.history_grace_days = history_grace_days

    def build_requests(self, series: Sequence[Series], *, since: dt.date | None,
                       now: dt.datetime) -> list[Request]:
        """History first (backfill, or when `since` predates this month), current month last."""
        mine = tuple(s for s in series if mof_symbol(s) is not None)
        if not mine:
            return []
        since = _as_date(since)
        today = (now.astimezone(_TOKYO) if now.tzinfo else now).date()
        month_start = today.replace(day=1)
        prev_month_start = (month_start - dt.timedelta(days=1)).replace(day=1)
        urls = MOF_URLS[self.lang]
        reqs: list[Request] = []
        if since is None or since < month_start:
            reqs.append(Request(source=self.name, series=mine, url=urls["history"],
                                meta={"file": "history", "lang": self.lang, "since": since}))
        elif today.day <= self.history_grace_days:
            reqs.append(Request(source=self.name, series=mine, url=urls["history"],
                                meta={"file": "history", "lang": self.lang, "since": prev_month_start}))
        reqs.append(Request(source=self.name, series=mine, url=urls["current"],
                            meta={"file": "current", "lang": self.lang, "since": since}))
        return reqs

    def fetch(self, request: Request, *, session: Any, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """The only network step (browser-like User-Agent: MOF rejects Python's default)."""
        return http_get(session, request.url, params=request.params or None, timeout=timeout)

    def parse(self, raw: bytes, request: Request) -> pd.DataFrame:
        return parse_mof_csv(raw, request.series, since=request.meta.get("since"))
