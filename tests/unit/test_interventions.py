"""The intervention record is data: the shipped file holds the issue's days with the published
amounts, and a bad entry is named with file, key and value."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from data.interventions import DEFAULT_INTERVENTIONS, load_interventions
from errors import ConfigError

D = dt.date.fromisoformat
BN = 1e9   # the MOF publishes in ¥100 million; figures here are ¥ billions

# Issue 12's list.
YEN_SELLING = ["2010-09-15", "2011-03-18", "2011-08-04", "2011-10-31"]
YEN_BUYING = ["2022-09-22", "2022-10-21", "2022-10-24", "2024-04-29", "2024-05-01", "2024-07-11", "2024-07-12"]


@pytest.fixture(scope="module")
def record():
    return {x.date: x for x in load_interventions()}


def test_shipped_file_loads_oldest_first():
    xs = load_interventions()
    assert DEFAULT_INTERVENTIONS.name == "interventions.toml" and DEFAULT_INTERVENTIONS.exists()
    assert [x.date for x in xs] == sorted(x.date for x in xs)
    assert all(x.sources for x in xs)


@pytest.mark.parametrize("day,direction",
                         [(d, "sell_jpy") for d in YEN_SELLING] + [(d, "buy_jpy") for d in YEN_BUYING])
def test_every_listed_day_is_there_with_its_direction(record, day, direction):
    x = record[D(day)]
    assert x.direction == direction
    assert x.yen_buying is (direction == "buy_jpy")


@pytest.mark.parametrize("day,billions", [("2022-09-22", 2838.2), ("2022-10-21", 5620.2), ("2022-10-24", 729.6)])
def test_2022_daily_amounts_equal_the_published_ones(record, day, billions):
    x = record[D(day)]
    assert x.amount_basis == "day"
    assert x.amount_jpy == pytest.approx(billions * BN, abs=1e6)


def test_2024_period_amounts_are_attached_to_their_period(record):
    # April–May: ¥9,788.5bn for the reporting period 26 Apr – 29 May, split by day in the quarterly data.
    apr, may = record[D("2024-04-29")], record[D("2024-05-01")]
    assert apr.period == may.period
    assert (apr.period.start, apr.period.end) == (D("2024-04-26"), D("2024-05-29"))
    assert apr.period.amount_jpy == pytest.approx(9788.5 * BN, abs=1e6)
    assert round(apr.period.amount_jpy / 1e12, 2) == 9.79                    # "¥9.79tn for the two"
    assert apr.amount_jpy + may.amount_jpy == pytest.approx(apr.period.amount_jpy, abs=1e6)
    # July: only the period total was checked to ¥0.1bn; both days carry it, neither claims it alone.
    j11, j12 = record[D("2024-07-11")], record[D("2024-07-12")]
    assert j11.period == j12.period and j11.period.amount_jpy == pytest.approx(5534.8 * BN, abs=1e6)
    assert (j11.period.start, j11.period.end) == (D("2024-06-27"), D("2024-07-29"))
    assert j11.amount_jpy is None and j12.amount_jpy is None
    assert j11.amount_basis == j12.amount_basis == "period"
    assert D("2024-07-11") in j11.period and D("2024-07-30") not in j11.period


def test_unverifiable_amounts_are_left_out_and_said_so(record):
    # 2010-09-15 and 2011-10-31 were only seen rounded: the date ships, the amount does not.
    for day in ("2010-09-15", "2011-10-31"):
        x = record[D(day)]
        assert x.amount_jpy is None and x.verified and "not" in x.note
    assert record[D("2011-10-31")].period.amount_jpy is None


def test_stealth_days_are_marked(record):
    assert record[D("2022-09-22")].stealth is False          # announced on the day
    for day in ("2022-10-21", "2022-10-24", "2024-04-29", "2024-05-01", "2024-07-11", "2024-07-12", "2011-11-01"):
        assert record[D(day)].stealth is True, day


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "iv.toml"
    p.write_text(text, encoding="utf-8")
    return p


GOOD = '''version = 1
[[intervention]]
date = 2022-09-22
direction = "buy_jpy"
amount_jpy = 2_838_200_000_000
period = { start = 2022-08-30, end = 2022-09-28, amount_jpy = 2_838_200_000_000 }
stealth = false
verified = true
source = "MOF"
'''


def test_good_minimal_file_loads(tmp_path):
    (x,) = load_interventions(_write(tmp_path, GOOD))
    assert x.date == D("2022-09-22") and x.amount_jpy == 2.8382e12 and x.sources == ("MOF",)
    # ISO strings are dates too.
    (y,) = load_interventions(_write(tmp_path, GOOD.replace("date = 2022-09-22", 'date = "2022-09-22"')))
    assert y.date == x.date


@pytest.mark.parametrize("old,new,key,value", [
    ('date = 2022-09-22', 'date = "2022-09-31"', "intervention[0] (date=2022-09-31).date", "'2022-09-31'"),
    ('date = 2022-09-22', 'date = 2022-09-22T09:00:00', ".date", "datetime"),
    ('direction = "buy_jpy"', 'direction = "buy_usd"', "intervention[0] (date=2022-09-22).direction", "'buy_usd'"),
    ('amount_jpy = 2_838_200_000_000\n', 'amount_jpy = -5\n', ".amount_jpy", "-5"),
    ('amount_jpy = 2_838_200_000_000\n', 'amount_jpy = "2.8tn"\n', ".amount_jpy", "'2.8tn'"),
    ('amount_jpy = 2_838_200_000_000\n', 'amount_jpy = 0\n', ".amount_jpy", "0"),
    ('stealth = false', 'stealth = false\ncolour = "red"', ".colour", "unknown key"),
    ('stealth = false', 'stealth = "maybe"', ".stealth", "'maybe'"),
    ('verified = true', 'verified = "yes"', ".verified", "'yes'"),
    ('source = "MOF"', 'source = ""', ".source", "''"),
    ('source = "MOF"\n', '', ".source", "missing required key"),
    ('start = 2022-08-30', 'start = 2022-09-23', ".period", "outside"),
    ('end = 2022-09-28', 'end = 2022-08-01', ".period.end", "2022-08-01"),
    ('end = 2022-09-28, amount_jpy = 2_838_200_000_000', 'end = 2022-09-28, amount_jpy = -1', ".period.amount_jpy", "-1"),
    ('end = 2022-09-28,', 'end = 2022-09-28, days = 1,', ".period.days", "unknown key"),
    ('end = 2022-09-28, amount_jpy = 2_838_200_000_000', 'end = 2022-09-28, amount_jpy = 1_000', ".amount_jpy",
     "exceeds the period total"),
    ('verified = true', 'verified = false', ".verified", "carries an amount"),
    ('version = 1', 'version = "one"', "version", "'one'"),
])
def test_bad_entries_name_file_key_and_value(tmp_path, old, new, key, value):
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError) as err:
        load_interventions(path)
    msg = str(err.value)
    assert str(path) in msg and key in msg and value in msg, msg


def test_duplicates_and_disagreeing_periods(tmp_path):
    dup = r"intervention\[1\]\.date: duplicate date 2022-09-22 \(first at intervention\[0\]\)"
    with pytest.raises(ConfigError, match=dup):
        load_interventions(_write(tmp_path, GOOD + GOOD.replace("version = 1", "")))
    other_day = GOOD.replace("version = 1", "").replace("date = 2022-09-22", "date = 2022-09-26") \
                    .replace("amount_jpy = 2_838_200_000_000\n", "") \
                    .replace("amount_jpy = 2_838_200_000_000 }", "amount_jpy = 3_000_000_000_000 }")
    with pytest.raises(ConfigError, match=r"intervention\[1\].*period\.amount_jpy: 3,000,000,000,000 differs"):
        load_interventions(_write(tmp_path, GOOD + other_day))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_interventions(_write(tmp_path, GOOD + "[[intervention\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_interventions(tmp_path / "nope.toml")
