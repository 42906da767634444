"""A fresh database with the test catalog on either backend, for the reliability benchmarks
(``bench/fuzz_tools.py``, ``bench/crash_loop.py``, ``bench/isolation.py``): the shop over it
and the ``mcp-shop serve`` arguments that serve the same database from another process."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mcp_shop import Shop
from mcp_shop.db import make_engine

PG_URL = os.environ.get("MCP_SHOP_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def open_backend(backend: str, work: Path, seed: int, size: int,
                 name: str = "bench") -> Iterator[tuple[Shop, list[str]]]:
    """A shop on a fresh database of ``backend`` (a SQLite file in ``work``, or a PostgreSQL
    schema dropped afterwards) and the ``mcp-shop serve`` arguments for it."""
    if backend == "sqlite":
        path = work / f"{name}-{secrets.token_hex(4)}.db"
        url = f"sqlite:///{path}"
        shop = Shop.open(url, seed=seed, size=size)
        try:
            yield shop, ["--db", url, "--seed", str(seed), "--size", str(size)]
        finally:
            shop.engine.dispose()
        return
    if backend != "postgresql":
        raise ValueError(f"unknown backend {backend!r}: sqlite or postgresql")
    schema = f"{name}_{secrets.token_hex(4)}"
    index = work / f"index-{schema}"
    shop = Shop.open(PG_URL, seed=seed, size=size, schema=schema, index_dir=index)
    try:
        yield shop, ["--db", PG_URL, "--schema", schema, "--index-dir", str(index), "--seed",
                     str(seed), "--size", str(size)]
    finally:
        shop.engine.dispose()
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()
