import datetime as dt

import pytest

from alerts.routes import mask, parse_routes, resolve_target
from errors import ConfigError


def routes(toml_routes: list[dict], **kw):
    return parse_routes({"version": 1, "route": toml_routes, **kw}, "alerts.toml")


def test_first_match_wins_unless_continue():
    rs = routes([{"name": "pager", "match": {"tier": "critical", "market": "JP"}, "targets": ["json://a/x"],
                  "continue": True},
                 {"name": "desk", "match": {"tier": "warning"}, "targets": ["json://b/x"]},
                 {"name": "all", "match": {"tier": "watch"}, "targets": ["json://c/x"]}])
    assert [r.name for r in rs.select("critical", "JP")] == ["pager", "desk"]
    assert [r.name for r in rs.select("critical", "US")] == ["desk"]
    assert [r.name for r in rs.select("watch", "FX")] == ["all"]
    assert rs.select(None, "FX") == []


def test_tier_list_means_exactly_those_and_rule_match():
    rs = routes([{"name": "w", "match": {"tier": ["warning"], "rule": "jgb_z"}, "targets": ["json://a/x"]}])
    assert rs.select("warning", "JP", {"jgb_z"}) and not rs.select("critical", "JP", {"jgb_z"})
    assert not rs.select("warning", "JP", {"other"})


def test_default_route_is_critical_to_the_webhook_and_absent_without_it():
    rs = parse_routes({"version": 1}, "alerts.toml", webhook="https://hooks.example/T/B/secret")
    (r,) = rs.routes
    assert r.name == "default" and r.tiers == ("critical",) and r.targets == ("env:CM_ALERT_WEBHOOK",)
    assert parse_routes({"version": 1}, "alerts.toml").routes == ()


@pytest.mark.parametrize("route, where", [
    ({"name": "x", "targets": []}, "route[0].targets"),
    ({"name": "x", "targets": ["nourl"]}, "route[0].targets[0]"),
    ({"name": "x", "targets": ["json://a/x"], "match": {"tier": "severe"}}, "route[0].match.tier"),
    ({"name": "x", "targets": ["json://a/x"], "match": {"market": "EU"}}, "route[0].match.market"),
    ({"name": "x", "targets": ["json://a/x"], "colour": 1}, "route[0].colour"),
    ({"name": "x", "targets": ["json://a/x"], "group_wait": -1}, "route[0].group_wait"),
    ({"name": "x", "targets": ["json://a/x"], "quiet_hours": {"start": "22:00", "end": "7", "tz": "UTC"}},
     "route[0].quiet_hours.end"),
    ({"name": "x", "targets": ["json://a/x"], "quiet_hours": {"start": "22:00", "end": "07:00", "tz": "Mars/Base"}},
     "route[0].quiet_hours.tz"),
])
def test_errors_name_file_key_and_value(route, where):
    with pytest.raises(ConfigError) as exc:
        routes([route])
    assert str(exc.value).startswith(f"alerts.toml: {where}:")


def test_a_password_in_the_file_is_refused_without_echoing_it():
    with pytest.raises(ConfigError) as exc:
        routes([{"name": "m", "targets": ["mailtos://user:hunter2@smtp.example.com"]}])
    assert "hunter2" not in str(exc.value) and "env:VAR" in str(exc.value)


def test_mask_shows_scheme_and_host_only():
    # Slack's and Telegram's first token sits where a host would: it is a secret too.
    assert mask("slack://T000/B000/XXXXsecret") == "slack://***/***"
    assert mask("tgram://123456789:AAbbCCsecret/987") == "tgram://***/***"
    assert mask("pagerduty://intkey@apikey") == "pagerduty://***@***"
    assert mask("json://localhost:8080/hook") == "json://localhost:8080/***"
    assert mask("jsons://hooks.example.com") == "jsons://hooks.example.com"
    assert mask("json://127.0.0.1:8080/hook/tok") == "json://127.0.0.1:8080/***"
    assert mask("mailtos://u:pw@smtp.example.com?to=a@b") == "mailtos://***@smtp.example.com/***"
    assert resolve_target("env:HOOK", {"HOOK": "json://h/x"}) == "json://h/x"
    assert resolve_target("env:HOOK", {}) is None


def test_quiet_hours_across_midnight_in_tokyo_let_critical_through():
    rs = routes([{"name": "q", "targets": ["json://a/x"], "match": {"tier": "watch"},
                  "quiet_hours": {"start": "22:00", "end": "07:00", "tz": "Asia/Tokyo"}}])
    qh = rs.routes[0].quiet_hours
    night = dt.datetime(2026, 1, 20, 15, 0, tzinfo=dt.UTC)   # 00:00 JST
    day = dt.datetime(2026, 1, 20, 3, 0, tzinfo=dt.UTC)      # 12:00 JST
    assert qh.quiet(night, "warning") and not qh.quiet(night, "critical") and not qh.quiet(day, "warning")


def test_delivery_log_component_renders_status_reason_and_masked_target():
    from components.deliveries import delivery_log

    out = str(delivery_log([{"at": "2026-01-20T06:01:00Z", "route": "desk", "target": "json://h/***",
                             "incident_id": "JP:1", "event_kind": "opened", "status": "failed",
                             "attempts": 4, "reason": "HTTP 503"}]))
    assert "json://h/***" in out and "HTTP 503" in out and "cm-delivery-failed" in out
    assert "No notification sent yet" in str(delivery_log([]))
