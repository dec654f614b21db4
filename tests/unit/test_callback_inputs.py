"""callbacks/inputs.py and the callbacks' own checks: a value the page's components cannot send
(the issue-14 examples: an `al-series` of 3.0, an `al-focus` that is a list) answers no_update
or a notice, never an exception; lists are capped."""
from __future__ import annotations

import math

import pytest
from dash import no_update

from callbacks import inputs
from config import Settings
from data.store import Store
from views.snapshot import SnapshotService
from tests.unit.web.helpers import JGB_ID, LOCAL, UNIVERSE, seed


def test_checks():
    assert inputs.count(None) == 0 and inputs.count(3) == 3
    for bad in (-1, 1.5, True, "1", [1], 10**13):
        assert inputs.count(bad) is inputs.BAD, bad
    assert inputs.text("desk") == "desk" and inputs.text(None) is None
    for bad in (3, ["a"], "x" * 201, "a\x00b", {"a": 1}):
        assert inputs.text(bad) is inputs.BAD, bad
    assert inputs.text_list(None) == [] and inputs.text_list(["a", "b"]) == ["a", "b"]
    for bad in (3.0, "a", ["a", 1], [["a"]], ["a"] * 101, ["x" * 201]):
        assert inputs.text_list(bad) is inputs.BAD, bad
    assert inputs.text_list(["firing"], choices=("firing",)) == ["firing"]
    assert inputs.text_list(["nope"], choices=("firing",)) is inputs.BAD
    assert inputs.number(2) == 2.0 and inputs.number(None) is None and inputs.number(5, 0, 10) == 5
    for bad in (math.nan, math.inf, True, "2", [2], 11):
        assert inputs.number(bad, 0, 10) is inputs.BAD, bad
    assert inputs.date_text("2026-01-20") == "2026-01-20" and inputs.date_text("") is None
    for bad in ("yesterday", 20260120, ["2026-01-20"], "2026-01-20" * 5):
        assert inputs.date_text(bad) is inputs.BAD, bad
    assert inputs.alert_id("") is None and inputs.alert_id([JGB_ID]) is inputs.BAD
    assert inputs.tag_text(["x"]) is None and inputs.tag_dict("x") is None and inputs.tag_dict({"fig": 1}) == {"fig": 1}
    assert inputs.bad(1, None, inputs.BAD) and not inputs.bad(0, None, "")
    assert not inputs.BAD and repr(inputs.BAD) == "BAD"


def _no_store_error() -> None:
    return None


@pytest.fixture
def service(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'in.db'}")
    store.create_schema()
    seed(store)
    yield SnapshotService(store, UNIVERSE, check_every=3600)
    store.dispose()


@pytest.fixture
def web(service):
    import app as app_module

    yield app_module.create_app(Settings(), service)


def test_the_issue_examples_answer_no_update(web, service):
    from callbacks.alerts import acknowledge, detail_view, export_csv, focus_from_selection, table_view, url_search
    from callbacks.series import series_view
    from callbacks.series import url_search as series_search
    from components.alerts import filter_rows, search_for
    from components.series import DEFAULTS, clean_values

    assert table_view(service.current, 1, 3.0, None, None, None, 0, None) == (no_update,) * 4           # al-series = 3.0
    assert detail_view(service.current, [JGB_ID], None) == (no_update,) * 5                             # al-focus a list
    assert table_view(service.current, 1, ["jgb_30y"] * 101, None, None, None, 0, None) == (no_update,) * 4   # over the cap
    assert table_view(service.current, 1, ["jgb_30y"] * 100, None, None, None, 0, None)[0] != no_update
    assert table_view(service.current, 1, None, ["bogus"], None, None, 0, None) == (no_update,) * 4
    assert export_csv(service.current, 1, None, None, {"a": 1}, None) is no_update
    assert url_search([1, 2], None, None, None, None) is no_update
    assert focus_from_selection([["x"]], None) is no_update and focus_from_selection("x", None) is no_update
    with web.server.test_request_context("/_dash-update-component", method="POST", environ_base=LOCAL,
                                         headers={"Origin": "http://localhost", "Cookie": "cm_csrf=" + "c" * 43}):
        msg, bump = acknowledge(service, 1, [JGB_ID], "desk", 0, "c" * 43)
        assert "Bad request" in str(msg) and bump is no_update
        assert acknowledge(service, [1], JGB_ID, "desk", 0, "c" * 43) == (no_update, no_update)
    # The component helpers themselves take any JSON.
    assert filter_rows([{"series_id": "a", "state": "firing", "tier": "", "time": "2026"}], series=3.0,
                       states=[["x"]], since="2026") != []
    assert search_for([1, "jgb_30y"], 7, None, 20260120, ["x"]) == "?series=jgb_30y"
    assert clean_values([], {"a": 1}, [3.0], 20260120, ["1y"]) == DEFAULTS
    assert clean_values("250", 2, "4", "2026-01-20", "all")["horizon"] == "2"
    assert series_search([], None, math.inf, None, {"x": 1}) == ""
    assert series_view(service.current, 1, "60", "1", 3, None, "1y", ["jgb_30y"], None) == (no_update,) * 8


def test_contagion_inputs(web, service):
    from callbacks.contagion import apply_preset, riskparity_view, rolling_view, url_search

    result, _live, _sc = riskparity_view(service.current, 1e308, 10, 65, 4, 1.5, "all", None, None)
    assert "Cannot compute" in str(result) and "aum must be a number between 0 and 100000" in str(result)
    result, _live, _sc = riskparity_view(service.current, 200, 10, 65, 4, 1.5, ["all"], None, None)
    assert "scope" in str(result)
    assert url_search("10Y", "60", [200], 10, 65, 4, 1.5, "all", None) is no_update
    fig, beta = rolling_view(service.current, ["10Y"], {"w": 1}, None)             # falls back to the default pair
    assert fig is not no_update and beta is not no_update
    assert apply_preset("x", 1) == (no_update,) * 7 and apply_preset([1] * 101, None) == (no_update,) * 7


def test_wall_and_refresh_callbacks(web, service):
    from callbacks.markets import tick_table
    from callbacks.overview import tick, tick_extras
    from callbacks.shell import banner_tick
    from callbacks.sources import tick as sources_tick
    from callbacks.wall import wall_config, wall_view

    default = {"panels": ["tiles"], "rotate": 0, "asof": None}
    assert wall_config({"panels": ["tiles", "tiles"], "rotate": 10, "asof": None}) == default
    assert wall_config({"panels": ["curves"], "rotate": 20, "asof": "2026-01-20"}) == \
        {"panels": ["curves"], "rotate": 20, "asof": "2026-01-20"}
    for bad in ({"panels": "tiles", "rotate": 0, "asof": None}, {"panels": [["tiles"]], "rotate": 0, "asof": None},
                [], None, {"panels": ["tiles"], "rotate": True, "asof": None},
                {"panels": ["tiles"], "rotate": 10**6, "asof": None}, {"x": 1},
                {"panels": ["tiles"], "rotate": 0}, {"panels": ["tiles"], "rotate": 0, "asof": "yesterday"},
                {"panels": ["tiles"], "rotate": 0, "asof": ["2026-01-20"]}):
        assert wall_config(bad) == default, bad
    assert len(wall_view(service.current, _no_store_error, 1, ["x"], {"panels": 7})) == 8
    for view in (lambda n, tag: tick_table(service.current, n, tag),
                 lambda n, tag: banner_tick(service.current, _no_store_error, n, tag),
                 lambda n, tag: sources_tick(service.current, n, tag)):
        assert view(-1, None) == (no_update, no_update)
        assert view(1, ["not", "a", "tag"])[1] not in (no_update, None)      # a damaged tag: full render
    assert tick(service.current, 1.5, None) == (no_update,) * 6 == tick(service.current, 1, None, "2026-13-01")
    assert tick_extras(service.current, -1, None) == (no_update,) * 3
    assert tick(service.current, 1, ["not", "a", "tag"])[-1] not in (no_update, None)   # damaged tag: full
