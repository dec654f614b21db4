"""alerts.toml: the shipped file is valid; every kind of mistake names file, key and value."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from alerts.rules import DEFAULT_RULES, load_rules
from errors import ConfigError
from universe import load_universe

UNIVERSE = load_universe()

HEAD = 'version = 1\n'


def write(tmp_path: Path, body: str, name: str = "alerts.toml") -> Path:
    p = tmp_path / name
    p.write_text(HEAD + body, encoding="utf-8")
    return p


def test_shipped_rules_file_is_valid_and_has_the_desk_defaults():
    rules = load_rules(universe=UNIVERSE)
    assert rules.path == DEFAULT_RULES
    jgb = rules.get("jgb_curve_z")
    assert (jgb.estimator, jgb.horizon, jgb.kind, jgb.pending_for) == ("w60", 1, "daily", 0)
    assert jgb.tiers == (("watch", 3.0), ("warning", 4.0), ("critical", 6.0))
    assert rules.get("ust_intraday_z").pending_for == 2 and rules.get("ust_intraday_z").kind == "intraday"
    assert "ust_futures" in rules.get("ust_intraday_z").confirm_groups
    lvl = rules.get("jgb_40y_level")
    assert (lvl.series, lvl.direction, lvl.tiers) == (("jgb_40y",), "above", (("warning", 4.0),))
    assert rules.get("usdjpy_level").tiers == (("warning", 160.0),)
    assert rules.get("ust10_jgb10_spread").legs == ("ust_10y", "jgb_10y")
    assert not rules.get("context_z").enabled and rules.get("context_z") not in rules.enabled()
    groups = {g for r in rules if r.type == "z" for g in r.groups}
    assert {"jgb_curve", "ust_curve", "ust_intraday", "ust_futures", "ust_etf", "fx", "fx_daily", "context",
            "jgb_proxy"} <= groups


def test_defaults_and_per_rule_overrides(tmp_path):
    p = write(tmp_path, """
[defaults]
estimator = "ewma"
tiers = { watch = 2.5, warning = 3.5, critical = 5.0 }
keep_firing_for = 1

[[rule]]
id = "a"
type = "z"
groups = ["jgb_curve"]

[[rule]]
id = "b"
type = "z"
series = ["jgb_30y"]
estimator = "mad250"
tiers = { critical = 6.0 }
hysteresis = 1.0
enabled = false
""")
    rs = load_rules(p, UNIVERSE)
    a, b = rs.get("a"), rs.get("b")
    assert a.estimator == "ewma" and a.tiers[0] == ("watch", 2.5) and a.keep_firing_for == 1
    assert b.estimator == "mad250" and b.tiers == (("critical", 6.0),) and b.hysteresis == 1.0 and not b.enabled


CASES = [
    # (body, key, value fragment)
    ('[[rule]]\nid = "a"\ntype = "z"\ngroups = ["jgb_curve"]\ntiers = { watch = "three" }\n',
     r"rule\[0\] \(id='a'\)\.tiers\.watch", "'three'"),
    ('[[rule]]\nid = "a"\ntype = "z"\ngroups = ["jgb_curv"]\n', r"rule\[0\] \(id='a'\)\.groups\[0\]", "'jgb_curv'"),
    ('[[rule]]\nid = "a"\ntype = "z"\nseries = ["jgb_31y"]\n', r"rule\[0\] \(id='a'\)\.series\[0\]", "'jgb_31y'"),
    ('[[rule]]\nid = "a"\ntype = "z"\ngroups = ["fx"]\ntiers = { watch = 4.0, warning = 3.0 }\n',
     r"\.tiers\.warning", "3.0"),
    ('[[rule]]\nid = "a"\ntype = "z"\ngroups = ["fx"]\ntreshold = 3\n', r"rule\[0\] \(id='a'\)\.treshold", "unknown key"),
    ('[[rule]]\nid = "a"\ntype = "zz"\n', r"rule\[0\] \(id='a'\)\.type", "'zz'"),
    ('[[rule]]\nid = "A b"\ntype = "z"\n', r"rule\[0\] \(id='A b'\)\.id", "'A b'"),
    ('[[rule]]\nid = "a"\ntype = "z"\ngroups = ["fx"]\n[[rule]]\nid = "a"\ntype = "z"\ngroups = ["fx"]\n',
     r"rule\[1\]\.id", "duplicate id 'a'"),
    ('[[rule]]\nid = "lv"\ntype = "level"\nseries = "usdjpy"\n', r"rule\[0\] \(id='lv'\)\.tiers", "missing"),
    ('[[rule]]\nid = "lv"\ntype = "level"\nseries = "usdjpy"\ndirection = "over"\ntiers = { warning = 160.0 }\n',
     r"\.direction", "'over'"),
    ('[[rule]]\nid = "lv"\ntype = "level"\nseries = "usdjpy"\ndirection = "below"\ntiers = { warning = 140.0, critical = 145.0 }\n',
     r"\.tiers\.critical", "145.0"),
    ('[[rule]]\nid = "sp"\ntype = "spread"\nlegs = ["ust_10y", "usdjpy"]\ntiers = { watch = 10.0 }\n',
     r"rule\[0\] \(id='sp'\)\.legs\[1\]", "'usdjpy'"),
    ('[[rule]]\nid = "sp"\ntype = "spread"\nlegs = ["ust_10y"]\ntiers = { watch = 10.0 }\n', r"\.legs", "['ust_10y']"),
    ('[[rule]]\nid = "a"\ntype = "z"\ngroups = ["fx"]\npending_for = -1\n', r"\.pending_for", "-1"),
    ('[[rule]]\nid = "a"\ntype = "z"\ngroups = ["fx"]\nhysteresis = 3.0\n', r"\.hysteresis", "3.0"),
    ('[[rule]]\nid = "a"\ntype = "z"\ngroups = ["fx"]\nestimator = "w20"\n', r"\.estimator", "'w20'"),
    ('[[rule]]\nid = "a"\ntype = "z"\ngroups = ["fx"]\nkind = "intraday"\nhorizon = 2\n', r"\.horizon", "2"),
    ('[[rule]]\nid = "a"\ntype = "z"\ngroups = ["fx"]\nnotify_on = ["fired"]\n', r"\.notify_on", "'fired'"),
    ('[[rule]]\nid = "a"\ntype = "z"\ngroups = ["fx"]\nenabled = "yes"\n', r"\.enabled", "'yes'"),
    ('[defaults]\ntiers = { watch = 0 }\n[[rule]]\nid = "a"\ntype = "z"\ngroups = ["fx"]\n', r"defaults\.tiers\.watch", "0"),
    ('[defaults]\nthreshold = 3\n', r"defaults\.threshold", "unknown key"),
    ('[[rule]]\nid = "a"\ntype = "z"\n', r"rule\[0\] \(id='a'\)", "groups"),
    # intervention rules (issue 12 §2)
    ('[[rule]]\nid = "iv"\ntype = "intervention"\nseries = "usdjpy"\nlow = "usdjpy_low"\ntiers = { warning = 4.0 }\n',
     r"rule\[0\] \(id='iv'\)\.high", "None"),
    ('[[rule]]\nid = "iv"\ntype = "intervention"\nseries = "usdjpy"\nhigh = "usdjpy_low"\nlow = "usdjpy_low"\n'
     'tiers = { warning = 4.0 }\n', r"\.high", "holds the bar's Low"),
    ('[[rule]]\nid = "iv"\ntype = "intervention"\nseries = "jgb_10y"\nhigh = "usdjpy_high"\nlow = "usdjpy_low"\n'
     'tiers = { warning = 4.0 }\n', r"\.series", "'jgb_10y' is a yield series"),
    ('[[rule]]\nid = "iv"\ntype = "intervention"\nseries = "usdjpy"\nkind = "intraday"\nhours = 48\n'
     'tiers = { warning = 1.5 }\n', r"\.hours", "48"),
    ('[[rule]]\nid = "iv"\ntype = "intervention"\nseries = "usdjpy"\nkind = "intraday"\nhigh = "usdjpy_high"\n'
     'tiers = { warning = 1.5 }\n', r"\.high", "reads bars"),
    ('[[rule]]\nid = "iv"\ntype = "intervention"\nseries = "usdjpy"\nkind = "intraday"\n', r"\.tiers", "missing"),
    ('[[rule]]\nid = "iv"\ntype = "intervention"\nseries = "usdjpy"\nkind = "intraday"\ngroups = ["fx"]\n'
     'tiers = { warning = 1.5 }\n', r"\.groups", "unknown key"),
]


@pytest.mark.parametrize("body,key,value", CASES)
def test_validation_errors_name_file_key_and_value(tmp_path, body, key, value):
    p = write(tmp_path, body)
    with pytest.raises(ConfigError) as exc:
        load_rules(p, UNIVERSE)
    msg = str(exc.value)
    assert msg.startswith(f"{p}: "), msg
    assert re.search(key, msg), msg
    assert value in msg, msg


def test_version_missing_bad_toml_and_missing_file(tmp_path):
    p = tmp_path / "a.toml"
    p.write_text("[[rule]]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"a\.toml: version: must be a positive integer, got None"):
        load_rules(p)
    p.write_text("version = 1\n[[rule]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"a\.toml: not valid TOML"):
        load_rules(p)
    with pytest.raises(ConfigError, match=r"nope\.toml: cannot read alert rules file"):
        load_rules(tmp_path / "nope.toml")


def test_without_a_universe_ids_are_not_checked(tmp_path):
    p = write(tmp_path, '[[rule]]\nid = "a"\ntype = "z"\ngroups = ["anything"]\n')
    assert load_rules(p).get("a").groups == ("anything",)
