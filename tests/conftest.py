"""Shared fixtures: one small generated catalog per backend (SQLite file, PostgreSQL schema).

PostgreSQL is expected on 127.0.0.1:5432 (trust auth, database ``test``; override with
``MCP_SHOP_TEST_PG``). Locally a missing server skips its tests with the reason; under
``CI=true`` a missing server fails them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from mcp_shop.db import make_engine

PG_URL = os.environ.get("MCP_SHOP_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TEST_SEED = 11
TEST_SIZE = 2000


def _pg_unavailable() -> str | None:
    try:
        engine = make_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}: {exc}"


_CPU_LOG = os.environ.get("MCP_SHOP_TEST_CPU")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """With ``MCP_SHOP_TEST_CPU=<file>``: append each test's CPU seconds (this process and the
    subprocesses it waited for; setup of shared fixtures counts to the first test using them)
    and its id to the file. On a busy machine wall times mostly measure the neighbours."""
    before = os.times()
    yield
    if _CPU_LOG:
        after = os.times()
        cpu = sum(getattr(after, k) - getattr(before, k)
                  for k in ("user", "system", "children_user", "children_system"))
        with open(_CPU_LOG, "a", encoding="utf-8") as log:
            log.write(f"{cpu:.3f}\t{item.nodeid}\n")


@pytest.fixture(scope="session")
def pg_reason() -> str | None:
    return _pg_unavailable()


def require_pg(pg_reason: str | None) -> None:
    """Skip the test when PostgreSQL is unreachable (``pg_reason`` says why), or fail it under
    CI=true, where the PostgreSQL tests must run."""
    if pg_reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires PostgreSQL: {pg_reason}")
        pytest.skip(pg_reason)


def engine_for(backend: str, tmp: Path, pg_reason: str | None) -> Generator[Engine, None, None]:
    """A fresh empty database on ``backend``; dropped afterwards."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp / 'shop.db'}")
        yield engine
        engine.dispose()
        return
    require_pg(pg_reason)
    schema = "t_" + secrets.token_hex(6)
    engine = make_engine(PG_URL, schema=schema)
    try:
        yield engine
    finally:
        engine.dispose()
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def catalog_engine(backend: str, tmp_path_factory: pytest.TempPathFactory,
                   pg_reason: str | None) -> Iterator[Engine]:
    """An engine on a database holding the shared test catalog (built once per backend)."""
    from mcp_shop.catalog import build_catalog

    tmp = tmp_path_factory.mktemp(f"catalog-{backend}")
    gen = engine_for(backend, tmp, pg_reason)
    engine = next(gen)
    build_catalog(engine, seed=TEST_SEED, size=TEST_SIZE)
    yield engine
    gen.close()


@pytest.fixture(scope="session")
def shop(catalog_engine: Engine):
    """A ``Shop`` over the shared test catalog with an in-memory search index."""
    from mcp_shop import Shop

    return Shop(catalog_engine, index_dir=None)
