"""A short load over HTTP (the long one is bench/load_http.py): 12 concurrent SDK client
sessions shop for 3 s against ``mcp-shop serve --http`` on each backend (PostgreSQL with two
server processes on one database, clients spread over both). No call fails, none is refused,
the server logs no error, and every call made is in its session's trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.load_http import SERVER_FAULTS, LoadResult, run_rounds
from mcp_shop.server import admin
from mcp_shop.server.run import SERVE_SQLITE_CACHE_MIB, ServeOptions, open_shop
from tests.conftest import TEST_SEED, TEST_SIZE
from tests.protocol.procs import ServerProcess

SESSIONS = 12
SECONDS = 3.0


async def _load(servers: list[ServerProcess], db: str, schema: str | None) -> LoadResult:
    result = LoadResult()
    for phase in await run_rounds([s.mcp_url for s in servers], range(SESSIONS), SECONDS, 1):
        result.merge(phase)
    assert result.errors == [] and result.tool_errors == []
    assert len(result.sessions) == SESSIONS
    assert result.calls == sum(result.sessions.values())
    assert result.per_tool.keys() >= {"open_session", "get_customer", "search_products",
                                      "get_product", "add_to_cart", "view_cart"}
    for sid, calls in result.sessions.items():
        trace = admin.read_trace(db, sid, schema=schema)
        assert len(trace) == calls and all(t.ok for t in trace), sid
    for server in servers:
        faults = [line for line in server.log.read_text().splitlines()
                  if any(f in line for f in SERVER_FAULTS)]
        assert faults == []
    return result


async def test_load_sqlite(shop_url: str, tmp_path: Path) -> None:
    with ServerProcess(["--db", shop_url, "--seed", str(TEST_SEED), "--size", str(TEST_SIZE)],
                       log=tmp_path / "http.log") as server:
        await _load([server], shop_url, None)


@pytest.mark.postgres
async def test_load_postgresql_two_processes(pg_shop: tuple[str, str, Path],
                                             tmp_path: Path) -> None:
    url, schema, index_dir = pg_shop
    args = ["--db", url, "--schema", schema, "--index-dir", str(index_dir)]
    with ServerProcess(args, log=tmp_path / "a.log") as first, \
            ServerProcess(args, log=tmp_path / "b.log") as second:
        await _load([first, second], url, schema)


def test_serving_caps_the_sqlite_page_cache(shop_url: str) -> None:
    """Memory under load: a serving process's SQLite connections cache at most
    SERVE_SQLITE_CACHE_MIB of pages (make_engine's 64 MiB filled round after round as the
    database grew with sessions, orders and trace records)."""
    shop = open_shop(ServeOptions(db=shop_url))
    try:
        with shop.engine.connect() as first, shop.engine.connect() as second:
            for conn in (first, second):  # every connection of the pool, not just one
                size = conn.exec_driver_sql("PRAGMA cache_size").scalar()
                assert size == -SERVE_SQLITE_CACHE_MIB * 1024
    finally:
        shop.engine.dispose()
