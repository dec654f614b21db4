"""Store backends for tests: SQLite always, PostgreSQL when CM_TEST_PG_URL is set.

Import the fixture into a test module (`from tests.backends import store_url, store  # noqa`).
Each PostgreSQL test gets its own fresh schema (random name, selected through the connection's
`search_path` option) which is dropped afterwards, so tests never see each other's rows and a
shared database is left clean. Without CM_TEST_PG_URL the PostgreSQL cases skip with a reason —
except under CI=true, where they fail: a skip there would hide a broken install step (BRIEF §5).
"""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from data.store import Store
from tests.conftest import IN_CI

PG_ENV = "CM_TEST_PG_URL"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def pg_base_url() -> str:
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        if IN_CI:
            pytest.fail(f"CI=true but {PG_ENV} is not set: the PostgreSQL start step of .ci/run did not run "
                        "or failed; PostgreSQL tests must run in CI, not skip")
        pytest.skip(f"PostgreSQL tests need {PG_ENV}=postgresql+psycopg://user@host:port/db "
                    "(.ci/run starts a throw-away cluster); skipped outside CI")
    return url


def _pg_admin_engine(base: str):
    u = make_url(base)
    if u.drivername in ("postgres", "postgresql"):
        u = u.set(drivername="postgresql+psycopg")
    return create_engine(u, isolation_level="AUTOCOMMIT", pool_pre_ping=True), u


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path):
    """A URL to an empty store on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = pg_base_url()
    admin, u = _pg_admin_engine(base)
    schema = f"cm_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        query = dict(u.query)
        query["options"] = f"-csearch_path={schema}"
        yield u.set(query=query).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(store_url):
    st = Store(store_url)
    st.create_schema()
    yield st
    st.dispose()
