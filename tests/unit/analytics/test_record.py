"""Exchange quotes against the MOF close of record (analytics/record.py, the Sources page): the
quotes' close is the last print before 15:00 JST of each Tokyo date, set against the real MOF close
of that date; medians and maxima checked against numpy on the chosen offsets."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.record import quotes_vs_record
from data.sources.cnbc import parse_bars
from tests.unit.realjgb import mof_frame
from universe import load_universe

UNIVERSE = load_universe()
DAYS = ["2026-01-13", "2026-01-14", "2026-01-15", "2026-01-16", "2026-01-19"]
OFFSETS_BP = [0.4, -0.3, 1.2, 0.0, -2.5]          # quote − MOF at each day's close


@pytest.fixture(scope="module")
def mof(market_dir):
    f = mof_frame(str(market_dir / "jgb" / "jgbcme_all.csv"))
    return f[f["series_id"].isin(["jgb_30y", "jgb_10y"]) & (f["ts"] >= pd.Timestamp("2026-01-05", tz="UTC"))
             & (f["ts"] < pd.Timestamp("2026-01-20", tz="UTC"))].reset_index(drop=True)


def _bar(sid: str, local: str, value: float) -> dict:
    return {"series_id": sid, "freq": "I", "ts": pd.Timestamp(local, tz="Asia/Tokyo").tz_convert("UTC"),
            "value": value, "source": "push", "quality": None}


def _close(mof, sid: str, day: str) -> float:
    local = mof["ts"].dt.tz_convert("Asia/Tokyo").dt.date.astype(str)
    return float(mof.loc[(mof["series_id"] == sid) & (local == day), "value"].iloc[0])


def test_the_last_print_before_the_close_is_set_against_the_mof_close_of_the_day(mof):
    bars = []
    for day, off in zip(DAYS, OFFSETS_BP):
        c = _close(mof, "jgb_30y", day)
        bars += [_bar("jgb_30y_x", f"{day} 09:00", c - 0.05),           # the session's open: not the close
                 _bar("jgb_30y_x", f"{day} 14:59", c + off / 100),       # the close
                 _bar("jgb_30y_x", f"{day} 15:00", c + 0.30),            # at/after the close: the next session
                 _bar("jgb_30y_x", f"{day} 16:30", c + 0.40)]
    bars.append(_bar("jgb_30y_x", "2026-01-20 10:00", 3.70))             # no MOF close of 01-20 yet
    obs = pd.concat([mof, pd.DataFrame(bars)], ignore_index=True)
    t = quotes_vs_record(obs, UNIVERSE)
    [r] = t.to_dict("records")
    assert (r["series_id"], r["record_id"], r["unit"], r["days"]) == ("jgb_30y_x", "jgb_30y", "bp", 5)
    assert r["median"] == pytest.approx(float(np.median(OFFSETS_BP)), abs=1e-9)
    assert r["max_abs"] == pytest.approx(float(np.max(np.abs(OFFSETS_BP))), abs=1e-9)
    assert str(r["last_day"]) == "2026-01-19" and r["last_diff"] == pytest.approx(-2.5, abs=1e-9)
    assert r["last_record"] == _close(mof, "jgb_30y", "2026-01-19")


def test_a_rejected_mof_print_is_no_close_and_a_series_without_quotes_has_no_row(mof):
    day = "2026-01-16"
    bars = [_bar("jgb_30y_x", f"{d} 14:50", _close(mof, "jgb_30y", d) + 0.01) for d in ("2026-01-15", day)]
    m = mof.copy()
    local = m["ts"].dt.tz_convert("Asia/Tokyo").dt.date.astype(str)
    m.loc[(m["series_id"] == "jgb_30y") & (local == day), "quality"] = "rejected"
    t = quotes_vs_record(pd.concat([m, pd.DataFrame(bars)], ignore_index=True), UNIVERSE)
    [r] = t.to_dict("records")                                 # jgb_10y_x has no quotes: no row
    assert r["days"] == 1 and str(r["last_day"]) == "2026-01-15" and r["median"] == pytest.approx(1.0)
    assert quotes_vs_record(m, UNIVERSE).empty and quotes_vs_record(m.iloc[:0], UNIVERSE).empty


def test_cnbc_five_day_bars_end_at_the_mof_fixing(market_dir, fixtures_dir):
    """The public-shape fixture's sessions of 01-16 and 01-19 close at the MOF value (checked
    against jgbcme_all.csv when it was built): zero difference on both days, nothing else."""
    f = mof_frame(str(market_dir / "jgb" / "jgbcme_all.csv"))
    bars = parse_bars((fixtures_dir / "cnbc" / "bars_5d_JP30Y-JP.json").read_bytes(), UNIVERSE.get("jgb_30y_x"))
    before = f[(f["series_id"] == "jgb_30y") & (f["ts"] < pd.Timestamp("2026-01-20", tz="UTC"))]
    [r] = quotes_vs_record(pd.concat([before, bars], ignore_index=True), UNIVERSE).to_dict("records")
    assert r["days"] >= 2 and r["max_abs"] == pytest.approx(0.0, abs=1e-6)
