"""The Overview page's callbacks on the real JGB store, with the snapshot provider injected (no
module global): the page serves rendered, an unchanged snapshot sends no_update, every web
process agrees on the tag, and a new close patches only what it changed (callbacks/diff.py)."""
from __future__ import annotations

import datetime as dt

from dash import Patch, no_update

from callbacks import diff
from callbacks import overview as cb
from config import Settings
from tests.unit.realjgb import NOW, UNIVERSE, add_closes, copy_store
from views.overview import KEY_SERIES
from views.snapshot import SnapshotService


def _service(store):
    return SnapshotService(store, UNIVERSE, check_every=3600)


def test_full_render_is_the_views_content_and_an_unchanged_tick_sends_nothing(jgb_store):
    snap = _service(jgb_store).current()
    tiles, jgb, ust, note, feed, tag = cb.refresh(snap, None)
    assert [t["props"]["id"] for t in tiles] == [f"ov-tile-{s}" for s in KEY_SERIES]
    assert "+20.3 bp" in str(tiles[KEY_SERIES.index("jgb_30y")]) and "JGB: now = 2026-01-20" in note
    assert [t["name"].split()[0] for t in jgb["data"]] == ["1M", "1W", "1D", "now"]
    assert "No UST curve yet" in str(ust) and "cm-ov-feed-item" in str(feed)
    assert cb.refresh(snap, tag) == (no_update,) * (len(cb.OUTPUTS) + 1)
    assert cb.parts(snap) is cb.parts(snap)                    # rendered once per snapshot


def test_every_web_process_agrees_on_the_tag(jgb_store):
    tag = cb.refresh(_service(jgb_store).current(), None)[-1]
    other = _service(jgb_store).current()                      # another gunicorn worker
    assert cb.refresh(other, tag) == (no_update,) * (len(cb.OUTPUTS) + 1)


def test_a_new_close_patches_only_the_changed_tiles_and_curve(jgb_store, market_dir, tmp_path):
    copy = copy_store(jgb_store, tmp_path / "copy.db")
    try:
        service = _service(copy)
        first = cb.refresh(service.current(), None)
        add_closes(copy, market_dir, "2026-01-21", NOW + dt.timedelta(days=1))
        service.refresh()
        tiles, jgb, ust, _note, feed, tag = cb.refresh(service.current(), first[-1])
        assert isinstance(tiles, Patch)
        ops = tiles.to_plotly_json()["operations"]
        assert sorted(op["location"][0] for op in ops) == [KEY_SERIES.index(s) for s in ("jgb_10y", "jgb_30y", "jgb_40y")]
        new_30 = next(op["params"]["value"] for op in ops if op["location"] == [KEY_SERIES.index("jgb_30y")])
        assert "2026" in str(new_30) and "+20.3 bp" not in str(new_30)
        assert isinstance(jgb, Patch) and ust is no_update
        jops = {tuple(op["location"]): op["params"]["value"] for op in jgb.to_plotly_json()["operations"]}
        assert "2026-01-21" in jops[("data", 3, "name")] and "2026-01-20" in jops[("data", 2, "name")]
        assert (feed is no_update) == (tag["feed"] == first[-1]["feed"])
        assert cb.refresh(service.current(), tag) == (no_update,) * 6
        # a damaged or foreign tag: everything in full, never an error
        full = cb.refresh(service.current(), {"tiles": "x", "curves": 3})
        assert isinstance(full[0], list) and isinstance(full[1], dict)
    finally:
        copy.dispose()


def test_the_page_registers_itself_with_the_injected_provider_and_serves(jgb_store):
    import app as app_module
    from tests.layout import find

    service = _service(jgb_store)
    calls = []

    def provider():
        calls.append(1)
        return service.current()

    dash_app = app_module.create_app(Settings(), service)
    cb.register(dash_app, provider)                            # the same page, another provider
    import dash

    page = dash.page_registry["overview"]
    assert page["path"] == "/"
    body = page["layout"]()
    assert calls and find(body, "ov-tiles").children[1]["props"]["id"] == "ov-tile-jgb_30y"
    assert find(body, "ov-tag").data == cb.refresh(service.current(), None)[-1]
    client = dash_app.server.test_client()
    for path in ("/", "/?unknown=1", "/?asof=garbage"):
        assert client.get(path).status_code == 200
    bad = find(page["layout"](asof="garbage"), "cm-url-notice")
    assert bad is not None and "asof" in str(bad.children)


def test_diff_helper():
    assert diff.items(["a", "b"], ["a", "b"], None, None) is no_update
    p = diff.items(["a", "b"], ["a", "c"], lambda i: f"r{i}", lambda: "all")
    assert [o["location"] for o in p.to_plotly_json()["operations"]] == [[1]]
    assert diff.items(None, ["a"], None, lambda: "all") == "all" == diff.items(["a"], ["a", "b"], None, lambda: "all")
    assert diff.value("x", "x", None) is no_update and diff.value("x", "y", lambda: 1) == 1
    assert diff.reshaped(1, 1, True, None, None) is no_update
    assert diff.reshaped(1, 2, True, lambda: "patch", None) == "patch" == diff.reshaped(1, 2, False, None, lambda: "patch")


def test_the_first_view_arrives_with_the_shell_in_the_layout_response(jgb_store):
    """/_dash-layout asked for by the overview (its Referer) already holds the tiles with values,
    so they paint with the shell, not one callback round-trip later; for another page, another
    origin or no Referer the container is empty, as before (the router fills it)."""
    import app as app_module

    service = _service(jgb_store)
    client = app_module.create_app(Settings(), service).server.test_client()
    first = client.get("/_dash-layout", headers={"Referer": "http://localhost/?asof=2026-01-20"})
    assert first.status_code == 200
    body = first.get_data(as_text=True)
    assert "ov-tile-jgb_30y" in body and "+20.3 bp" in body and "PINNED to 2026-01-20" in body
    # The location starts where the browser is, so the router has nothing to render again on load
    # (it would replace the page under a reader who already clicked in it), and the title is set.
    import json

    def find_id(node, cid):
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == cid:
                return node["props"]
            for v in node.values():
                hit = find_id(v, cid)
                if hit is not None:
                    return hit
        elif isinstance(node, list):
            for v in node:
                hit = find_id(v, cid)
                if hit is not None:
                    return hit
        return None

    tree = json.loads(body)
    loc = find_id(tree, "_pages_location")
    assert (loc["pathname"], loc["search"], loc["refresh"]) == ("/", "?asof=2026-01-20", "callback-nav")
    import dash
    assert find_id(tree, "_pages_store")["data"] == {"title": dash.page_registry["overview"]["title"]}
    for headers in ({}, {"Referer": "http://localhost/markets"}, {"Referer": "http://elsewhere.example/"}):
        other = client.get("/_dash-layout", headers=headers)
        assert other.status_code == 200 and "ov-tile-jgb_30y" not in other.get_data(as_text=True), headers
    bad = client.get("/_dash-layout", headers={"Referer": "http://localhost/?asof=garbage"}).get_data(as_text=True)
    assert "ov-tile-jgb_30y" in bad and "cm-url-notice" in bad          # a bad parameter: defaults + notice
