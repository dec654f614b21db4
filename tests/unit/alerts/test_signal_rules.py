"""Contagion signals through the alert engine: rule validation and the lifecycle."""
from __future__ import annotations

import datetime as dt

import pytest

from alerts.engine import Signal, State
from alerts.rules import load_rules, parse_rules
from alerts.service import AlertService
from data.store import Store
from errors import ConfigError
from universe import load_universe

U = load_universe()
UTC = dt.timezone.utc


def _rule_doc(signals):
    return {"version": 1, "rule": [{"id": "c", "type": "signal", "signals": signals, "tiers": {"warning": 1.0}}]}


def test_signal_rule_validation_names_key_and_value():
    rs = parse_rules(_rule_doc(["correlation_break"]), "x.toml", U)
    assert rs.get("c").signals == ("correlation_break",)
    with pytest.raises(ConfigError, match=r"rule\[0\].*signals\[0\].*'correlation_braek'"):
        parse_rules(_rule_doc(["correlation_braek"]), "x.toml", U)
    with pytest.raises(ConfigError, match="signals"):
        parse_rules(_rule_doc([]), "x.toml", U)


def _sig(active, day, value=0.7):
    return Signal("correlation_break", "10Y jp_to_us", active, value, 0.5,
                  dt.datetime(2026, 1, day, 21, tzinfo=UTC), f"10Y jp to us: 60-day correlation {value:.2f}")


def test_signal_fires_once_and_resolves(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    svc = AlertService(store, load_rules(universe=U), [], U)
    now = dt.datetime(2026, 1, 20, 22, tzinfo=UTC)
    events = svc.run([], {}, {}, now, signals=[_sig(True, 20)])
    fired = [e for e in events if e.rule_id == "contagion_signals"]
    assert len(fired) == 1 and fired[0].kind == "firing" and fired[0].tier == "warning"
    assert "60-day correlation 0.70" in fired[0].text and fired[0].subject == "correlation_break:10Y jp_to_us"
    assert svc.run([], {}, {}, now, signals=[_sig(True, 20)]) == []          # same point: nothing new
    later = svc.run([], {}, {}, now + dt.timedelta(days=1), signals=[_sig(False, 21, 0.3)])
    assert [e.kind for e in later if e.rule_id == "contagion_signals"] == ["resolved"]
    states = svc.alerts.load_states()
    assert states[("contagion_signals", "correlation_break:10Y jp_to_us")].state == State.RESOLVED
    store.dispose()
