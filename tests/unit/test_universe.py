"""The universe file is data, validated at start with errors that name file, key and value."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from errors import ConfigError
from universe import load_universe

ROOT = Path(__file__).resolve().parents[2]


def test_default_universe_covers_the_brief():
    u = load_universe()
    jgb = [s for s in u if s.group == "jgb_curve"]
    assert [s.symbol for s in jgb] == ["1Y", "2Y", "3Y", "4Y", "5Y", "6Y", "7Y", "8Y", "9Y", "10Y",
                                      "15Y", "20Y", "25Y", "30Y", "40Y"]
    ust = [s for s in u if s.group == "ust_curve"]
    assert ust[0].symbol == "1 Mo" and ust[-1].symbol == "30 Yr" and len(ust) == 14
    yahoo = {s.symbol for s in u if s.source == "yahoo"}
    assert {"^IRX", "^FVX", "^TNX", "^TYX", "ZT=F", "ZF=F", "ZN=F", "ZB=F", "UB=F", "SHY", "IEF", "TLT",
            "JPY=X", "^MOVE", "^VIX", "^N225", "2510.T", "2561.T"} == yahoo
    for s in u:
        assert s.unit == ("bp" if s.kind == "yield" else "logpct")
    assert u.get("ust_10y").fallback.symbol == "DGS10"
    assert "ust_10y" in {s.id for s in u.for_source("fred")}


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "u.toml"
    p.write_text(text, encoding="utf-8")
    return p


GOOD = '''version = 1
[[series]]
id = "jgb_10y"
label = "JGB 10Y"
source = "mof"
symbol = "10Y"
kind = "yield"
unit = "bp"
market = "JP"
timezone = "Asia/Tokyo"
close = "15:00"
group = "jgb_curve"
'''


@pytest.mark.parametrize("old,new,key,value", [
    ('source = "mof"', 'source = "bloomberg"', "series[0] (id='jgb_10y').source", "'bloomberg'"),
    ('timezone = "Asia/Tokyo"', 'timezone = "Mars/Olympus"', "timezone", "'Mars/Olympus'"),
    ('close = "15:00"', 'close = "3pm"', "close", "'3pm'"),
    ('unit = "bp"', 'unit = "logpct"', "unit", "'logpct'"),
    ('id = "jgb_10y"', 'id = "JGB-10Y"', "id", "'JGB-10Y'"),
    ('kind = "yield"', 'kind = "yield"\ncolour = "red"', "colour", "unknown key"),
    ('version = 1', 'version = "one"', "version", "'one'"),
    ('group = "jgb_curve"', 'group = "jgb_curve"\nstale_after = "weekly"', "stale_after", "'weekly'"),
    ('group = "jgb_curve"', 'group = "jgb_curve"\nstale_after = "90d"', "stale_after", "'90d'"),
    ('group = "jgb_curve"', 'group = "jgb_curve"\nstale_after = 4', "stale_after", "4"),
    ('group = "jgb_curve"', 'group = "jgb_curve"\nfield = "Open"', "field", "'Open'"),
    ('group = "jgb_curve"', 'group = "jgb_curve"\nfield = "High"', "field", "only a daily Yahoo series"),
])
def test_bad_entries_name_file_key_and_value(tmp_path, old, new, key, value):
    path = _write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError) as err:
        load_universe(path)
    msg = str(err.value)
    assert str(path) in msg and key in msg and value in msg


def test_stale_after_is_the_series_cadence(tmp_path):
    import datetime as dt

    assert load_universe(_write(tmp_path, GOOD)).get("jgb_10y").stale_after == dt.timedelta(days=4)
    weekly = load_universe(_write(tmp_path, GOOD.replace('group = "jgb_curve"', 'group = "jgb_curve"\nstale_after = "36h"')))
    assert weekly.get("jgb_10y").stale_after == dt.timedelta(hours=36)
    # The shipped file: FRED's weekly H.10 series waits longer than a daily close.
    real = load_universe()
    assert real.get("usdjpy_noon").stale_after > dt.timedelta(days=7) > real.get("jgb_30y").stale_after
    assert real.checked_by("usdjpy_noon") == ("usdjpy",)


def test_duplicate_ids_and_missing_keys(tmp_path):
    with pytest.raises(ConfigError, match=r"duplicate id 'jgb_10y'"):
        load_universe(_write(tmp_path, GOOD + GOOD.replace("version = 1", "").replace('"10Y"', '"11Y"')))
    with pytest.raises(ConfigError, match=r"series\[0\].*\.label: missing required key"):
        load_universe(_write(tmp_path, GOOD.replace('label = "JGB 10Y"\n', "")))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_universe(_write(tmp_path, GOOD + "[[series\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_universe(tmp_path / "nope.toml")


def test_good_minimal_file_loads(tmp_path):
    u = load_universe(_write(tmp_path, GOOD))
    assert len(u) == 1 and u.get("jgb_10y").timezone == "Asia/Tokyo"


def test_process_exits_non_zero_on_bad_universe(tmp_path):
    bad = _write(tmp_path, GOOD.replace('market = "JP"', 'market = "MOON"'))
    proc = subprocess.run([sys.executable, "app.py", "collect", "--demo"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={"CM_UNIVERSE": str(bad), "CM_DATA_DIR": str(tmp_path),
                                                      "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    assert "market" in proc.stderr and "'MOON'" in proc.stderr and str(bad) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_bars_high_and_low_are_series_of_their_own_and_a_duplicate_field_is_named(tmp_path):
    real = load_universe()
    hi, lo = real.get("usdjpy_high"), real.get("usdjpy_low")
    assert (hi.symbol, hi.field, lo.field, real.get("usdjpy").field) == ("JPY=X", "High", "Low", "Close")
    assert not hi.intraday and hi.group == lo.group == "fx_range"
    yahoo_fx = GOOD.replace('id = "jgb_10y"', 'id = "fx_hi"').replace('source = "mof"', 'source = "yahoo"') \
        .replace('symbol = "10Y"', 'symbol = "JPY=X"\nfield = "High"').replace('kind = "yield"', 'kind = "fx"') \
        .replace('unit = "bp"', 'unit = "logpct"')
    twice = yahoo_fx + yahoo_fx.replace("version = 1", "").replace('id = "fx_hi"', 'id = "fx_hi2"')
    with pytest.raises(ConfigError, match=r"series\[1\]\.symbol: 'JPY=X' \(High\) of source 'yahoo' already used by 'fx_hi'"):
        load_universe(_write(tmp_path, twice))
    both = yahoo_fx + yahoo_fx.replace("version = 1", "").replace('id = "fx_hi"', 'id = "fx_lo"').replace('"High"', '"Low"')
    assert [s.field for s in load_universe(_write(tmp_path, both))] == ["High", "Low"]


EXCHANGE = GOOD + '''
[[series]]
id = "jgb_10y_x"
label = "JGB 10Y (exchange)"
source = "cnbc"
symbol = "JP10Y-JP"
kind = "yield"
unit = "bp"
market = "JP"
timezone = "Asia/Tokyo"
close = "15:00"
group = "jgb_intraday"
intraday = true
sigma_from = "jgb_10y"
'''


def test_the_exchange_quotes_take_their_sigma_from_the_mof_tenor():
    u = load_universe()
    x = [s for s in u if s.group == "jgb_intraday"]
    assert [s.symbol for s in x] == ["JP2Y-JP", "JP5Y-JP", "JP10Y-JP", "JP20Y-JP", "JP30Y-JP", "JP40Y-JP"]
    for s in x:
        base = u.get(s.sigma_from)
        assert s.source == "cnbc" and s.intraday and base.source == "mof" and s.daily_id == base.id
        assert base.tenor_years == s.tenor_years and "exchange" in s.label
    assert u.get("jgb_10y").daily_id == "jgb_10y"
    assert load_universe(None).get("jgb_30y_x").sigma_from == "jgb_30y"


@pytest.mark.parametrize("old,new,key,value", [
    ('sigma_from = "jgb_10y"', 'sigma_from = "jgb_99y"', "series[1].sigma_from", "'jgb_99y' is not a series"),
    ('sigma_from = "jgb_10y"', 'sigma_from = "jgb_10y_x"', "series[1].sigma_from", "takes its own σ"),
    ('sigma_from = "jgb_10y"', 'sigma_from = "JGB 10Y"', "sigma_from", "'JGB 10Y' is not a series id"),
    ('intraday = true\n', '', "sigma_from", "only an intraday series"),
    ('close = "15:00"\ngroup = "jgb_intraday"', 'close = "15:30"\ngroup = "jgb_intraday"', "series[1].sigma_from",
     "differs in close ('15:00' vs '15:30')"),
    ('source = "cnbc"\n', 'source = "fred"\n', "intraday", "source 'fred' has no intraday prints"),
])
def test_a_bad_intraday_only_series_names_its_key_and_value(tmp_path, old, new, key, value):
    entry = EXCHANGE[len(GOOD):]
    assert old in entry
    path = _write(tmp_path, GOOD + entry.replace(old, new))
    with pytest.raises(ConfigError) as err:
        load_universe(path)
    msg = str(err.value)
    assert str(path) in msg and key in msg and value in msg, msg


def test_a_good_intraday_only_series_loads(tmp_path):
    u = load_universe(_write(tmp_path, EXCHANGE))
    assert u.get("jgb_10y_x").daily_id == "jgb_10y"


def test_a_push_series_is_fed_by_the_ingest_endpoint_only(tmp_path):
    import main
    from config import Settings

    desk = EXCHANGE.replace('id = "jgb_10y_x"', 'id = "jgb_10y_desk"').replace('source = "cnbc"', 'source = "push"') \
                   .replace('symbol = "JP10Y-JP"', 'symbol = "JBTC 10Y Comdty"')
    u = load_universe(_write(tmp_path, desk))
    s = u.get("jgb_10y_desk")
    assert s.source == "push" and s.intraday and s.sigma_from == "jgb_10y"
    assert [x.id for x in u.for_source("push")] == ["jgb_10y_desk"]
    # No scheduled job polls it: the collector's POST /ingest is its only way in.
    assert "push" not in main.build_jobs(Settings(), u)
