"""`python app.py` on a port it cannot have: one line on stderr, exit 2, no traceback — also when
the port is taken between the check and waitress' bind."""
from __future__ import annotations

import socket
import types

import pytest


@pytest.fixture
def held_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        yield s.getsockname()[1]


def test_a_port_taken_after_the_check_is_the_same_clear_line(held_port, tmp_path, monkeypatch, capsys):
    import app as app_module

    stopped = []
    fake = types.SimpleNamespace(shutdown=lambda grace: stopped.append(grace) or True)
    monkeypatch.setattr(app_module, "_port_free", lambda host, port: None)     # the race: free at the check
    monkeypatch.setattr(app_module, "_start_collector", lambda *a, **k: fake)
    monkeypatch.setattr(app_module, "create_app", lambda settings, **kw: types.SimpleNamespace(
        server=lambda environ, start_response: []))
    monkeypatch.setenv("CM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CM_LOG_FILE", "none")
    rc = app_module.main(["--demo", "--port", str(held_port)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and "Traceback" not in "\n".join(err)
    assert err[-1] == (f"error: port {held_port} on 127.0.0.1 is in use (another Contagion Monitor?): "
                       "choose --port or CM_PORT")
    assert stopped                                   # the collector it had started was stopped


def test_port_out_of_range_is_refused_before_anything(tmp_path, monkeypatch, capsys):
    import app as app_module

    monkeypatch.setattr(app_module, "_start_collector", lambda *a, **k: pytest.fail("collector started"))
    monkeypatch.setenv("CM_DATA_DIR", str(tmp_path))
    assert app_module.main(["--demo", "--port", "99999"]) == 2
    assert capsys.readouterr().err.strip() == "error: --port=99999: must be an integer between 1 and 65535"
    monkeypatch.setenv("CM_PORT", "0")
    assert app_module.main(["--demo"]) == 2
    assert "CM_PORT='0'" in capsys.readouterr().err
