"""Bad configuration names the key and the value; defaults are safe (loopback, no debug)."""
from __future__ import annotations

import datetime as dt

import pytest

from config import load_settings
from errors import ConfigError


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
    ({"CM_MODE": "turbo"}, "CM_MODE='turbo'"),
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


def test_debug_refuses_any_non_loopback_host_whatever_the_credentials():
    """--debug serves the Werkzeug console before any auth check: loopback only."""
    for host in ("0.0.0.0", "192.0.2.2", "::", "monitor.example.com"):
        with pytest.raises(ConfigError) as err:
            load_settings({"CM_HOST": host, "CM_DEBUG": "1", "CM_AUTH_TOKEN": "t0ken",
                           "CM_OPERATOR_USER": "alice", "CM_OPERATOR_PASSWORD": "pw"})
        assert f"CM_DEBUG with CM_HOST={host!r}" in str(err.value)
    with pytest.raises(ConfigError, match="debug"):
        load_settings({"CM_AUTH_TOKEN": "t0ken"}).with_overrides(host="0.0.0.0", debug=True)
    assert load_settings({"CM_DEBUG": "1"}).debug and load_settings({"CM_DEBUG": "1", "CM_HOST": "::1"}).debug


def test_debug_on_a_public_host_exits_2(monkeypatch, tmp_path, capsys):
    import app

    monkeypatch.setenv("CM_AUTH_TOKEN", "t0ken")
    monkeypatch.setenv("CM_DATA_DIR", str(tmp_path))
    assert app.main(["--debug", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "--debug with --host='0.0.0.0'" in err and "t0ken" not in err


@pytest.mark.parametrize("raw,want", [
    ("monitor.example.com", ("monitor.example.com",)),
    (" Monitor.Example.com , .desk.example.com,10.0.0.5,[::1],", ("monitor.example.com", ".desk.example.com",
                                                                  "10.0.0.5", "::1")),
    ("", ()),
])
def test_allowed_hosts(raw, want):
    s = load_settings({"CM_ALLOWED_HOSTS": raw, "CM_AUTH_TOKEN": "t0ken"})
    assert s.allowed_hosts == want


@pytest.mark.parametrize("raw", ["https://monitor.example.com", "monitor.example.com:443", "*", "*.example.com",
                                 "monitor.example.com/path", "a b", "-bad.example.com", "x" * 300, "é.example.com"])
def test_bad_allowed_hosts_name_key_and_value(raw):
    with pytest.raises(ConfigError) as err:
        load_settings({"CM_ALLOWED_HOSTS": raw, "CM_AUTH_TOKEN": "t0ken"})
    assert f"CM_ALLOWED_HOSTS={raw!r}" in str(err.value)


def test_a_name_beyond_localhost_requires_credentials():
    with pytest.raises(ConfigError) as err:
        load_settings({"CM_ALLOWED_HOSTS": "monitor.example.com"})
    assert "CM_ALLOWED_HOSTS='monitor.example.com'" in str(err.value) and "CM_AUTH_TOKEN" in str(err.value)


def test_operator_credentials():
    s = load_settings({"CM_OPERATOR_USER": "alice", "CM_OPERATOR_PASSWORD": "pässwörd"})
    assert s.auth_enabled and "pässwörd" not in repr(s)
    assert load_settings({"CM_HOST": "0.0.0.0", "CM_OPERATOR_USER": "alice", "CM_OPERATOR_PASSWORD": "pw"}).auth_enabled
    for env, needle in [({"CM_OPERATOR_USER": "alice"}, "CM_OPERATOR_USER/CM_OPERATOR_PASSWORD"),
                        ({"CM_OPERATOR_PASSWORD": "pw"}, "CM_OPERATOR_USER/CM_OPERATOR_PASSWORD"),
                        ({"CM_AUTH_USER": "risk"}, "CM_AUTH_USER/CM_AUTH_PASSWORD"),
                        ({"CM_AUTH_USER": "a", "CM_AUTH_PASSWORD": "x", "CM_OPERATOR_USER": "a",
                          "CM_OPERATOR_PASSWORD": "y"}, "CM_OPERATOR_USER='a'"),
                        ({"CM_OPERATOR_USER": "a:b", "CM_OPERATOR_PASSWORD": "y"}, "CM_OPERATOR_USER='a:b'")]:
        with pytest.raises(ConfigError) as err:
            load_settings(env)
        assert needle in str(err.value) and "pw" not in str(err.value).replace("password", "")


def test_body_cap_and_logging_settings(tmp_path):
    s = load_settings({"CM_DATA_DIR": str(tmp_path)})
    assert s.max_body == 1 << 20 and s.log_level == "INFO"
    assert s.resolved_log_file() == tmp_path / "logs" / "contagion.log"
    assert load_settings({"CM_LOG_FILE": "none"}).resolved_log_file() is None
    assert load_settings({"CM_LOG_FILE": str(tmp_path / "x.log")}).resolved_log_file() == tmp_path / "x.log"
    assert load_settings({"CM_MAX_BODY": "65536", "CM_LOG_LEVEL": "debug"}).max_body == 65536
    for env, needle in [({"CM_MAX_BODY": "1"}, "CM_MAX_BODY='1'"), ({"CM_MAX_BODY": "1GB"}, "CM_MAX_BODY='1GB'"),
                        ({"CM_LOG_LEVEL": "chatty"}, "'chatty'")]:
        with pytest.raises(ConfigError) as err:
            load_settings(env)
        assert needle in str(err.value)


# ---------------------------------------------------------------- errors name what the user set
def _cli_error(argv, monkeypatch, env=None) -> str:
    import app

    for k in [k for k in __import__("os").environ if k.startswith("CM_")]:
        monkeypatch.delenv(k)
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as err:
        app.settings_from_args(argv)
    return str(err.value)


@pytest.mark.parametrize("argv,env,needle", [
    (["--port", "99999"], {}, "--port=99999: must be an integer between 1 and 65535"),
    (["--port", "0"], {}, "--port=0:"),
    (["--port", "-1"], {}, "--port=-1:"),
    ([], {"CM_PORT": "99999"}, "CM_PORT='99999'"),
    ([], {"CM_HOST": "0.0.0.0"}, "CM_HOST='0.0.0.0' exposes"),
    (["--host", "0.0.0.0"], {}, "--host='0.0.0.0' exposes"),
    ([], {"CM_MODE": "turbo"}, "CM_MODE='turbo'"),
    ([], {"CM_MODE": "replay"}, "CM_MODE='replay': a directory"),
    (["--speed", "0", "--demo"], {}, "--speed=0.0: must be > 0"),
    ([], {"CM_REPLAY_SPEED": "0"}, "CM_REPLAY_SPEED='0'"),
    (["--db", "mysql://u:secret@x/y"], {}, "--db: unsupported"),
    ([], {"CM_DB_URL": "mysql://x/y"}, "CM_DB_URL: unsupported"),
    (["--log-level", "debug", "--host", "0.0.0.0", "--debug"], {"CM_AUTH_TOKEN": "t"}, "--debug with --host='0.0.0.0'"),
    ([], {"CM_LOG_LEVEL": "chatty"}, "CM_LOG_LEVEL='chatty'"),
    (["--start", "soon"], {}, "--start='soon'"),
    (["--until", "later"], {}, "--until='later'"),
    ([], {"CM_REPLAY_UNTIL": "later"}, "CM_REPLAY_UNTIL='later'"),
])
def test_errors_name_the_option_or_variable_the_user_set(argv, env, needle, monkeypatch):
    msg = _cli_error(argv, monkeypatch, env)
    assert needle in msg, msg
    assert "secret" not in msg


def test_replay_errors_name_cli_or_env(monkeypatch, tmp_path):
    msg = _cli_error(["--replay", str(tmp_path / "missing"), "--start", "2026-01-21"], monkeypatch)
    assert f"--replay={str(tmp_path / 'missing')!r}: not a directory" in msg
    msg = _cli_error([], monkeypatch, {"CM_MODE": "replay", "CM_REPLAY_DIR": str(tmp_path / "missing"),
                                       "CM_REPLAY_START": "2026-01-21"})
    assert f"CM_REPLAY_DIR={str(tmp_path / 'missing')!r}: not a directory" in msg
    msg = _cli_error(["--replay", str(tmp_path)], monkeypatch)
    assert msg.startswith("--start/CM_REPLAY_START: a start date") and "--replay" in msg
    msg = _cli_error(["--replay", str(tmp_path), "--start", "2026-01-21", "--until", "2026-01-20"], monkeypatch)
    assert "--until='2026-01-20': must not be before --start='2026-01-21'" in msg
    msg = _cli_error(["--replay", str(tmp_path), "--start", "2026-01-21"], monkeypatch,
                     {"CM_REPLAY_UNTIL": "2026-01-01"})
    assert "CM_REPLAY_UNTIL='2026-01-01': must not be before --start='2026-01-21'" in msg


def test_an_option_corrects_a_variable(monkeypatch, tmp_path):
    """Validated once, after the command line: CM_HOST=0.0.0.0 with --host 127.0.0.1 is fine."""
    import app

    monkeypatch.setenv("CM_HOST", "0.0.0.0")
    monkeypatch.setenv("CM_MODE", "replay")
    _, s = app.settings_from_args(["--host", "127.0.0.1", "--demo"])
    assert s.host == "127.0.0.1" and s.mode == "demo"


def test_replay_until_and_the_cut(monkeypatch, tmp_path):
    import app

    monkeypatch.delenv("CM_REPLAY_UNTIL", raising=False)
    _, s = app.settings_from_args(["--replay", str(tmp_path), "--start", "2026-01-14", "--until", "2026-01-21"])
    assert s.replay_until == dt.date(2026, 1, 21)
    assert s.replay_cut == dt.datetime(2026, 1, 21, 23, 59, 59, 999999, tzinfo=dt.timezone.utc)
    env = load_settings({"CM_MODE": "replay", "CM_REPLAY_DIR": str(tmp_path), "CM_REPLAY_START": "2026-01-14",
                         "CM_REPLAY_UNTIL": "2026-01-21", "CM_REPLAY_SPEED": "60"})
    assert env.replay_until == dt.date(2026, 1, 21) and env.replay_speed == 60
    # the same replay given through the environment (a gunicorn web worker) finds the same store
    assert env.with_overrides(replay_speed=3600.0).resolved_db_url() == s.resolved_db_url()


def test_each_replay_has_its_own_default_store(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "x").mkdir()
    base = load_settings({"CM_DATA_DIR": str(tmp_path)})
    one = base.with_overrides(mode="replay", replay_dir=tmp_path / "a", replay_start=dt.date(2026, 1, 5))
    url = one.resolved_db_url()
    assert url.startswith(f"sqlite:///{tmp_path.resolve()}/replay-2026-01-05-") and url.endswith(".db")
    assert len(url.rsplit("-", 1)[1]) == len("12345678.db")
    same = base.with_overrides(mode="replay", replay_dir=tmp_path / "x" / ".." / "a", replay_start=dt.date(2026, 1, 5))
    assert same.resolved_db_url() == url                      # the resolved directory counts
    others = [one.with_overrides(replay_start=dt.date(2026, 1, 21)), one.with_overrides(replay_dir=tmp_path / "b"),
              one.with_overrides(replay_until=dt.date(2026, 1, 23)), one.with_overrides(replay_speed=60.0)]
    urls = {o.resolved_db_url() for o in others} | {url}
    assert len(urls) == 5
    assert one.with_overrides(db_url="sqlite:///x.db").resolved_db_url() == "sqlite:///x.db"


def test_a_port_in_use_is_one_clear_line_and_exit_2(tmp_path, capsys, monkeypatch):
    import socket

    import app as app_module

    started = []
    monkeypatch.setattr(app_module, "_start_collector", lambda *a, **k: started.append(1))
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        monkeypatch.setenv("CM_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("CM_LOG_FILE", "none")
        rc = app_module.main(["--demo", "--port", str(port)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and started == []                       # nothing started, nothing written
    assert err[-1].startswith("error: port ") and f"port {port} on 127.0.0.1 is in use" in err[-1]
    assert not any("Traceback" in line for line in err)


PUSH_TOKEN = "a-long-push-feed-token"


@pytest.mark.parametrize("env,needle", [
    ({"CM_INGEST_PORT": "push"}, "CM_INGEST_PORT='push'"),
    ({"CM_INGEST_PORT": "0"}, "CM_INGEST_PORT='0'"),
    ({"CM_INGEST_PORT": "8051"}, "CM_INGEST_PORT=8051: the push feed needs CM_INGEST_TOKEN"),
    ({"CM_INGEST_PORT": "8051", "CM_INGEST_TOKEN": "short-token"}, "CM_INGEST_TOKEN: at least 16 characters (it has 11"),
    ({"CM_INGEST_PORT": "8050", "CM_INGEST_TOKEN": PUSH_TOKEN}, "CM_INGEST_PORT=8050: the dashboard listens on it"),
    ({"CM_INGEST_PORT": "8051", "CM_INGEST_TOKEN": PUSH_TOKEN, "CM_INGEST_HOST": "desk-feed"},
     "CM_INGEST_HOST='desk-feed': an IP address"),
    ({"CM_INGEST_PORT": "8051", "CM_INGEST_TOKEN": PUSH_TOKEN, "CM_MODE": "demo"},
     "CM_INGEST_PORT=8051: the push feed posts real data, and the demo store holds SIMULATED data only"),
])
def test_bad_push_feed_settings_name_the_key_and_never_the_token(env, needle):
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert needle in str(err.value)
    assert "short-token" not in str(err.value) and PUSH_TOKEN not in str(err.value)


def test_the_push_feed_is_off_by_default_and_its_token_never_in_repr():
    assert load_settings({}).ingest_port is None
    s = load_settings({"CM_INGEST_PORT": "8051", "CM_INGEST_TOKEN": PUSH_TOKEN, "CM_INGEST_HOST": "0.0.0.0"})
    assert (s.ingest_port, s.ingest_host, s.ingest_token) == (8051, "0.0.0.0", PUSH_TOKEN)
    assert PUSH_TOKEN not in repr(s)
