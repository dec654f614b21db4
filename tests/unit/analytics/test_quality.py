"""The data-quality gate (analytics/quality.py) on its own: verdicts and notes for the cases it
exists for, the fast 'surely ok' screen the incremental path uses, and the array helpers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.arrays import accumulate0, cumsum0, factorize_runs
from analytics.quality import (
    GAP, OK, REJECTED, SCALE_WINDOW, UNCONFIRMED, UNJUDGED, build_gate_matrix, gate_rules_for,
    judge_frame, judge_matrix, market_days, surely_ok,
)


def _walk(sid: str, n: int, *, start: str = "2023-01-02", level: float = 20.0, vol: float = 0.01,
          seed: int = 1, hour: int = 21) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.bdate_range(start, periods=n, tz="UTC") + pd.Timedelta(hours=hour)
    v = level * np.exp(np.cumsum(rng.normal(0, vol, n)))
    return pd.DataFrame({"series_id": sid, "freq": "D", "ts": ts, "value": v})


def _verdicts(frame: pd.DataFrame, universe, sid: str) -> pd.DataFrame:
    v = judge_frame(frame, universe)
    return v[v["series_id"] == sid].reset_index(drop=True)


# ------------------------------------------------------------------------------ verdicts
def test_a_plain_series_first_print_gap_reversed_spike_kept_move_and_held_last(universe):
    f = _walk("vix", 400)
    f = f.drop(index=range(200, 215)).reset_index(drop=True)          # 15 business days missing: a gap
    i_rev, i_keep = 300, 330
    f.loc[i_rev, "value"] *= 1.35                                   # +30 %, then straight back
    f.loc[i_keep:, "value"] *= 1.35                                 # +30 %, and it stays
    f.loc[len(f) - 1, "value"] *= 1.40                              # the newest print: nothing after it
    v = _verdicts(f, universe, "vix")
    assert v.loc[0, "quality"] == "gap" and "first print" in v.loc[0, "quality_note"]
    assert v.loc[200, "quality"] == "gap" and "a new segment starts" in v.loc[200, "quality_note"]
    assert v.loc[i_rev, "quality"] == "rejected" and "reversed by the next print" in v.loc[i_rev, "quality_note"]
    assert v.loc[i_rev + 1, "quality"] == "ok"                      # the move back is measured from before the spike
    assert v.loc[i_keep, "quality"] == "ok" and "confirmed by the next print" in v.loc[i_keep, "quality_note"]
    last = v.iloc[-1]
    assert last["quality"] == "unconfirmed" and last["quality_note"].startswith("held:")
    ordinary = v.drop(index=[0, 200, i_rev, i_keep, len(v) - 1])
    assert (ordinary["quality"] == "ok").all()


def test_a_decimal_shift_is_never_confirmed_by_the_next_print_alone(universe):
    f = _walk("vix", 320, vol=0.005)
    f.loc[300:, "value"] *= 10.0                      # 20.1 → 201: the same digits, a decimal shift
    v = _verdicts(f, universe, "vix")
    assert v.loc[300, "quality"] == "unconfirmed" and "decimal shift?" in v.loc[300, "quality_note"]


def test_a_second_source_contradicts_or_confirms(universe):
    a = _walk("usdjpy", 320, level=150.0, vol=0.004, hour=23)
    a["ts"] = a["ts"] + pd.Timedelta(hours=1)         # the London-midnight close of record
    b = a.copy()
    b["series_id"] = "usdjpy_noon"
    b["ts"] = b["ts"] - pd.Timedelta(hours=7)         # noon New York, same market date
    a.loc[250, "value"] *= 1.06                       # 6 % away from the noon fixing: tolerance 3 %
    a.loc[280:, "value"] *= 1.05                      # a real jump, and the noon rate has it too
    b.loc[280:, "value"] *= 1.05
    v = _verdicts(pd.concat([a, b], ignore_index=True), universe, "usdjpy")
    assert v.loc[250, "quality"] == "rejected" and "disagrees" in v.loc[250, "quality_note"]
    assert v.loc[280, "quality"] == "ok" and "agrees" in v.loc[280, "quality_note"]


def test_curve_peers_confirm_a_move_they_share_not_one_they_do_not(universe):
    tenors = ["jgb_5y", "jgb_10y", "jgb_20y", "jgb_30y"]
    parts = [_walk(t, 320, level=1.0 + 0.5 * i, vol=0.002, seed=i, hour=6) for i, t in enumerate(tenors)]
    for p in parts:
        p["value"] = 1.0 + np.cumsum(np.random.default_rng(len(p)).normal(0, 0.01, len(p)))  # yields: bp moves
    for p in parts:
        p.loc[290:, "value"] += 0.40                   # +40 bp on every tenor the same day
    parts[3].loc[305, "value"] += 0.40                 # +40 bp on the 30Y alone, back the next day
    v = judge_frame(pd.concat(parts, ignore_index=True), universe)
    v30 = v[v["series_id"] == "jgb_30y"].reset_index(drop=True)
    assert v30.loc[290, "quality"] == "ok" and "confirmed by JGB" in v30.loc[290, "quality_note"]
    assert v30.loc[305, "quality"] == "rejected"


# ------------------------------------------------------------------------------ the fast screen
def test_surely_ok_never_says_ok_where_the_gate_would_not(universe):
    """For many random series (fat tails, spikes, gaps): wherever the screen says certainly ok,
    judging the whole series says ok with no note and keeps every earlier verdict — and the
    screen says so for most ordinary prints (it is not vacuous)."""
    rng = np.random.default_rng(7)
    s = universe.get("vix")
    rules = gate_rules_for(s, universe)
    agree = 0
    trials = 0
    for seed in range(60):
        n = int(rng.integers(30, 400))
        f = _walk("vix", n, seed=seed, vol=float(rng.choice([0.003, 0.01, 0.03])))
        f["value"] *= np.exp(rng.standard_t(2.5, n) * 0.002)
        if seed % 3 == 0:
            f.loc[n - 1, "value"] *= float(rng.choice([1.2, 1.5, 0.7]))
        if seed % 5 == 0 and n > 50:
            f.loc[n - 1, "ts"] += pd.Timedelta(days=int(rng.integers(5, 30)))
        before = judge_frame(f.iloc[:-1], universe)
        after = judge_frame(f, universe)
        vals = f["value"].to_numpy()
        codes = np.array([{"ok": OK, "gap": GAP, "rejected": REJECTED, "unconfirmed": UNCONFIRMED}.get(q, UNJUDGED)
                          for q in before["quality"]], dtype=np.int8)
        W = SCALE_WINDOW + 1
        win_v = np.full((W, 1), np.nan)
        win_q = np.full((W, 1), UNJUDGED, np.int8)
        k = min(W, n - 1)
        win_v[W - k:, 0] = vals[n - 1 - k: n - 1]
        win_q[W - k:, 0] = codes[n - 1 - k:]
        days = market_days(pd.DatetimeIndex(f["ts"]).as_unit("ns").asi8[-2:], s.timezone, s.close).astype(np.int64)
        sure = bool(surely_ok(win_v, win_q, vals[-1:], np.array([days[1] - days[0]]), [rules])[0])
        trials += 1
        if sure:
            agree += 1
            assert after.iloc[-1]["quality"] == "ok" and not after.iloc[-1]["quality_note"], seed
            assert after.iloc[:-1]["quality"].tolist() == before["quality"].tolist(), seed
            assert after.iloc[:-1]["quality_note"].tolist() == before["quality_note"].tolist(), seed
    assert agree >= trials // 2


# ------------------------------------------------------------------------------ helpers
@pytest.mark.parametrize("tz,close", [("UTC", "00:00"), ("Asia/Tokyo", "15:00"), ("America/New_York", "16:00"),
                                      ("Europe/London", "24:00"), ("Europe/London", "00:00")])
def test_market_days_are_the_local_wall_clock_dates(tz, close):
    rng = np.random.default_rng(3)
    t = np.r_[rng.integers(-2 * 10**18 // 8, 2 * 10**18, 20_000),
              pd.DatetimeIndex(["2026-03-29 00:59:59", "2026-03-29 01:00:00", "2026-10-25 00:00:00",
                                "2026-01-20 23:00:00", "1970-01-01 00:00:00"], tz="UTC").as_unit("ns").asi8]
    local = pd.to_datetime(t, utc=True).tz_convert(tz).tz_localize(None)
    if close == "24:00":
        local = local - pd.Timedelta(minutes=1)
    expect = np.asarray(local.normalize(), dtype="datetime64[D]")
    assert (market_days(t, tz, close) == expect).all()


def test_array_helpers_equal_numpy():
    rng = np.random.default_rng(11)
    for shape in [(1, 3), (5, 2), (300, 70), (40, 200), (0, 100)]:
        f = rng.normal(size=shape)
        b = rng.random(shape) > 0.5
        i = rng.integers(-5, 5, shape).astype(np.int32)
        assert np.array_equal(cumsum0(f), np.cumsum(f, axis=0))
        assert np.array_equal(cumsum0(b, np.int32), np.cumsum(b, axis=0, dtype=np.int32))
        z = cumsum0(f, zero_row=True)
        assert z.shape == (shape[0] + 1, shape[1]) and np.array_equal(z[1:], np.cumsum(f, axis=0))
        assert not z[0].any()
        assert np.array_equal(accumulate0(np.maximum, i), np.maximum.accumulate(i, axis=0))
        assert np.array_equal(accumulate0(np.minimum, i), np.minimum.accumulate(i, axis=0))
    labels = rng.choice(np.array(["a", "b", "c", None, np.nan], dtype=object), 5_000)
    for arr in (labels, np.sort(labels[pd.notna(labels)].astype(str)).astype(object), labels[:0]):
        c1, u1 = factorize_runs(arr)
        c2, u2 = pd.factorize(pd.Series(arr, dtype=object), use_na_sentinel=True)
        assert np.array_equal(c1, c2) and list(u1) == list(u2)


def test_judge_matrix_keeps_given_verdicts(universe):
    """`given` verdicts stay as they are (a tail window's context rows) and carry no new note."""
    f = _walk("vix", 300)
    f.loc[280, "value"] *= 1.4
    s = universe.get("vix")
    v = f["value"].to_numpy()[:, None]
    t = pd.DatetimeIndex(f["ts"]).as_unit("ns").asi8[:, None]
    m = build_gate_matrix(["vix"], universe, v, t, np.array([len(f)]))
    code, notes = judge_matrix(m)
    assert code[280, 0] == REJECTED
    given = np.full(code.shape, -1, np.int8)
    given[280, 0] = OK
    code2, notes2 = judge_matrix(build_gate_matrix(["vix"], universe, v, t, np.array([len(f)])), given=given)
    assert code2[280, 0] == OK and (280, 0) not in notes2
    assert gate_rules_for(s, universe).hold == 8.0
