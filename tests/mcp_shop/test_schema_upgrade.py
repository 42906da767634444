"""A database made by an earlier version keeps working: opening it adds the tables, columns
and indexes added since, with their defaults for the rows already there."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, inspect, text
from sqlmodel import SQLModel

from episodes.http_env.store import EPISODES, EpisodeStore
from mcp_shop import Shop
from mcp_shop.catalog import ensure_catalog
from mcp_shop.db import _add_column, create_schema, make_engine
from mcp_shop.errors import InvalidState
from tests.conftest import PG_URL, engine_for

SEED, SIZE = 3, 60


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path,
           pg_reason: str | None) -> Iterator[Engine]:
    yield from engine_for(request.param, tmp_path, pg_reason)


def _columns(engine: Engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def _make_old(engine: Engine) -> str:
    """A database as an earlier version left it: a session, and none of the session columns
    and table added for tau2 worlds."""
    ensure_catalog(engine, seed=SEED, size=SIZE)
    sid = Shop(engine, index_dir=None).open_session(seed=5).session_id
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_shop_session_world"))
        for table, column in [("shop_session", "surface"), ("shop_session", "world"),
                              ("address", "line2"), ("shop_order", "follows_clock")]:
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        conn.execute(text("DROP TABLE tau2_world"))
    assert "surface" not in _columns(engine, "shop_session")
    return sid


def test_an_earlier_database_is_brought_up_to_date_when_opened(engine: Engine) -> None:
    sid = _make_old(engine)
    ensure_catalog(engine, seed=SEED, size=SIZE)  # what Shop.open does
    assert {"surface", "world"} <= _columns(engine, "shop_session")
    assert "line2" in _columns(engine, "address")
    assert "follows_clock" in _columns(engine, "shop_order")
    assert inspect(engine).has_table("tau2_world")
    assert "ix_shop_session_world" in {ix["name"] for ix in
                                       inspect(engine).get_indexes("shop_session")}
    with engine.connect() as conn:
        surface = conn.execute(text("SELECT surface FROM shop_session WHERE id = :s"),
                               {"s": sid}).scalar_one()
        lines2 = conn.execute(text("SELECT DISTINCT line2 FROM address WHERE session_id = :s"),
                              {"s": sid}).scalars().all()
    assert surface == "native" and lines2 == [""]
    shop = Shop(engine, index_dir=None)  # old and new sessions both work
    assert shop.session(sid).session_id == sid
    new = shop.open_session(seed=6).session_id
    assert shop.list_orders(new) and shop.list_orders(sid)
    ensure_catalog(engine, seed=SEED, size=SIZE)  # idempotent
    assert "surface" in _columns(engine, "shop_session")


def test_a_column_that_cannot_be_filled_in_is_refused_by_name(engine: Engine) -> None:
    ensure_catalog(engine, seed=SEED, size=SIZE)
    needed = Column("weight_grams", Integer, nullable=False)
    Table("shop_session", MetaData(), needed)
    with engine.begin() as conn, pytest.raises(InvalidState) as caught:
        _add_column(conn, "shop_session", needed)
    assert caught.value.context == {"table": "shop_session", "column": "weight_grams"}
    assert "build a new database" in str(caught.value)
    assert "weight_grams" not in _columns(engine, "shop_session")



def _start_at_once(url: str, schema: str | None, servers: int) -> None:
    """``servers`` threads, each as a server process starting on a new database (``url``, and
    ``schema`` on PostgreSQL): its own engine, the shop's tables, the env server's table; the
    first failure is raised."""
    starts = Barrier(servers)
    engines: list[Engine] = []

    def start(_: int) -> None:
        starts.wait()
        engine = make_engine(url, schema=schema)
        engines.append(engine)
        create_schema(engine)
        EpisodeStore(engine)

    try:
        with ThreadPoolExecutor(servers) as pool:
            list(pool.map(start, range(servers)))
        tables = set(inspect(engines[0]).get_table_names())
        assert {t.name for t in SQLModel.metadata.sorted_tables} | {EPISODES.name} <= tables
    finally:
        for engine in engines:
            engine.dispose()
        if schema is not None:
            admin = make_engine(url)
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            admin.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_processes_starting_at_once_create_one_schema(backend: str, tmp_path: Path,
                                                      pg_reason: str | None) -> None:
    """Servers started side by side on a new database each create the shop's tables and the
    env server's table (and on PostgreSQL their schema); they take turns, so every one of them
    starts (two concurrent CREATE TABLE of one name otherwise fail on PostgreSQL's catalog)."""
    if backend == "postgresql" and pg_reason:
        pytest.skip(pg_reason)
    for k in range(3):  # the race needs the starts to overlap: several tries
        if backend == "sqlite":
            _start_at_once(f"sqlite:///{tmp_path / f'shop{k}.db'}", None, servers=8)
        else:
            _start_at_once(PG_URL, "t_" + secrets.token_hex(6), servers=8)
