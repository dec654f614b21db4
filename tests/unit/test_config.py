"""Bad configuration names the key and the value; defaults are safe (loopback, no debug)."""
from __future__ import annotations

import pytest

from config import load_settings
from data.errors import ConfigError


def test_safe_defaults():
    s = load_settings({})
    assert s.host == "127.0.0.1" and s.is_loopback and not s.debug and s.mode == "live"
    assert s.resolved_db_url().startswith("sqlite:///") and s.resolved_db_url().endswith("contagion.db")
    assert load_settings({"CM_MODE": "demo"}).resolved_db_url().endswith("demo.db")


@pytest.mark.parametrize("env,needle", [
    ({"CM_PORT": "http"}, "CM_PORT='http'"),
    ({"CM_PORT": "70000"}, "CM_PORT='70000'"),
    ({"CM_YAHOO_EVERY": "0.1"}, "CM_YAHOO_EVERY='0.1'"),
    ({"CM_DEBUG": "maybe"}, "CM_DEBUG='maybe'"),
    ({"CM_MODE": "turbo"}, "mode='turbo'"),
    ({"CM_DB_URL": "mysql://x/y"}, "'mysql'"),
    ({"CM_YAHOO_INTERVAL": "7m"}, "CM_YAHOO_INTERVAL='7m'"),
    ({"CM_UNIVERSE": "/nonexistent/u.toml"}, "CM_UNIVERSE='/nonexistent/u.toml'"),
])
def test_bad_values_name_key_and_value(env, needle):
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert needle in str(err.value)


def test_exposed_bind_requires_auth():
    with pytest.raises(ConfigError, match="CM_AUTH_TOKEN"):
        load_settings({"CM_HOST": "0.0.0.0"})
    s = load_settings({"CM_HOST": "0.0.0.0", "CM_AUTH_TOKEN": "s3cret-token"})
    assert s.auth_enabled and "s3cret" not in repr(s)


def test_replay_needs_dir_and_start(tmp_path):
    s = load_settings({})
    with pytest.raises(ConfigError, match="--start"):
        s.with_overrides(mode="replay", replay_dir=tmp_path)
    with pytest.raises(ConfigError, match="not a directory"):
        s.with_overrides(mode="replay", replay_dir=tmp_path / "missing")
