"""Fixtures for the protocol tests: one small catalog in a SQLite file (built once, shared by the
in-process shop and by server subprocesses), servers in memory, over stdio and over HTTP.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import StdioServerParameters

from mcp_shop import Shop
from mcp_shop.server import ShopServer, build_server
from tests.conftest import PG_URL, TEST_SEED, TEST_SIZE, require_pg
from tests.protocol.procs import ServerProcess


@pytest.fixture(scope="session")
def shop_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file holding the test catalog and, beside it, its search index."""
    path = tmp_path_factory.mktemp("protocol") / "shop.db"
    url = f"sqlite:///{path}"
    Shop.open(url, seed=TEST_SEED, size=TEST_SIZE).engine.dispose()
    return url


@pytest.fixture(scope="session")
def proto_shop(shop_url: str) -> Shop:
    """The in-process shop over ``shop_url``."""
    return Shop.open(shop_url, seed=TEST_SEED, size=TEST_SIZE)


@pytest.fixture
def server(proto_shop: Shop) -> ShopServer:
    """A server that requires session_id (as over HTTP)."""
    return build_server(proto_shop)


@pytest.fixture(params=["2026-07-28", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    """The client's protocol era: a 2026-07-28 connection or a legacy (initialize) one."""
    return str(request.param)


@pytest.fixture
def stdio_params(shop_url: str, tmp_path: Path):  # noqa: ANN201
    """Factory of stdio launch parameters for ``mcp-shop serve`` on the test database."""

    def make(*extra: str) -> StdioServerParameters:
        return StdioServerParameters(
            command=sys.executable,
            args=["-m", "mcp_shop.cli", "serve", "--db", shop_url, "--seed", str(TEST_SEED),
                  "--size", str(TEST_SIZE), "--log-level", "WARNING", *extra],
            env={"PYTHONUNBUFFERED": "1"},
        )

    return make


@pytest.fixture(scope="module")
def http_server(shop_url: str,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """``mcp-shop serve --http`` on an ephemeral port over the test database (one per module)."""
    with ServerProcess(["--db", shop_url, "--seed", str(TEST_SEED), "--size", str(TEST_SIZE)],
                       log=tmp_path_factory.mktemp("http") / "http.log") as proc:
        yield proc


@pytest.fixture(scope="session")
def pg_shop(tmp_path_factory: pytest.TempPathFactory,
            pg_reason: str | None) -> Iterator[tuple[str, str, Path]]:
    """(url, schema, index dir) of the test catalog in a fresh PostgreSQL schema."""
    require_pg(pg_reason)
    schema = "p_" + secrets.token_hex(6)
    index_dir = tmp_path_factory.mktemp("pg-index")
    shop = Shop.open(PG_URL, seed=TEST_SEED, size=TEST_SIZE, schema=schema, index_dir=index_dir)
    shop.engine.dispose()
    try:
        yield PG_URL, schema, index_dir
    finally:
        from mcp_shop.db import make_engine

        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()
