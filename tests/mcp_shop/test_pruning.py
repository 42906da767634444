"""Removing sessions (``mcp_shop.pruning``, ``mcp-shop prune``) on both backends: every row a
session owns goes, in every table with a ``session_id`` column; other sessions and the catalog
stay as they were; bulk prunes keep the sessions opened last and work in batches."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Engine, ForeignKey, Integer, MetaData, String, Table, text
from sqlmodel import SQLModel

from mcp_shop import InvalidInput, NotFound, Shop
from mcp_shop.cli import main
from mcp_shop.models import CATALOG_TABLES, SESSION_TABLES
from mcp_shop.pruning import (
    delete_sessions,
    prune_sessions,
    remove_session,
    select_sessions,
    session_tables,
)
from tests.conftest import engine_for
from tests.mcp_shop.helpers import find_variants, sibling_variant

OWNED = [t.name for t in session_tables()]
CATALOG = [m.__table__.name for m in CATALOG_TABLES]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def own(backend: str, tmp_path_factory: pytest.TempPathFactory,
        pg_reason: str | None) -> Iterator[Shop]:
    """A shop on a database of its own (bulk prunes here remove every session in it)."""
    from mcp_shop.catalog import build_catalog

    gen = engine_for(backend, tmp_path_factory.mktemp(f"prune-{backend}"), pg_reason)
    engine = next(gen)
    build_catalog(engine, seed=11, size=300)
    yield Shop(engine, index_dir=None)
    gen.close()


def counts(engine: Engine, sid: str | None = None) -> dict[str, int]:
    """Rows per session table (of one session, or of all) and per catalog table."""
    out = {}
    with engine.connect() as conn:
        for name in OWNED:
            key = "id" if name == "shop_session" else "session_id"
            where = "" if sid is None else f" WHERE {key} = :s"
            out[name] = conn.execute(text(f"SELECT count(*) FROM {name}{where}"),
                                     {"s": sid}).scalar_one()
        if sid is None:
            for name in CATALOG:
                out[name] = conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
    return out


def rich_session(shop: Shop, seed: int) -> str:
    """A session with rows in every session table: history, overrides, an order with a
    return and an exchange, a cart line and a trace record."""
    sid = shop.open_session(seed=seed, history_orders=2).session_id
    a = next(v for v in find_variants(shop, sid, min_stock=3, multi_variant=True, count=40)
             if _has_sibling(shop, sid, v))
    b, c = [v for v in find_variants(shop, sid, min_stock=3, count=40)
            if v.split("-")[1] != a.split("-")[1]][:2]
    shop.set_price(sid, c, 1234)
    for v in (a, b):
        shop.add_to_cart(sid, v, 1)
    order = shop.checkout(sid, payment_method_id="PM-1")
    shop.advance_clock(sid, days=6)
    shop.request_return(sid, order.order_id, [(b, 1)], reason="changed_mind")
    shop.request_exchange(sid, order.order_id, a, sibling_variant(shop, sid, a),
                          reason="wrong_size")
    shop.add_to_cart(sid, c, 1)
    shop.record_call(sid, tool="view_cart", ok=True, arguments={}, result={"lines": 1},
                     latency_ms=1.0)
    return sid


def _has_sibling(shop: Shop, sid: str, vid: str) -> bool:
    try:
        sibling_variant(shop, sid, vid)
        return True
    except LookupError:
        return False


# -- which tables ------------------------------------------------------------------------------


def test_every_table_with_a_session_id_column_is_removed_children_first() -> None:
    tables = session_tables()
    with_key = {t.name for t in SQLModel.metadata.sorted_tables if "session_id" in t.c}
    assert {t.name for t in tables} == with_key | {"shop_session"}
    assert {m.__table__.name for m in SESSION_TABLES} <= set(OWNED)  # type: ignore[attr-defined]
    assert OWNED[-1] == "shop_session" and not set(OWNED) & set(CATALOG)
    position = {t.name: i for i, t in enumerate(tables)}
    for t in tables:  # a table goes before every table it references
        for fk in t.foreign_keys:
            if fk.column.table.name in position:
                assert position[t.name] < position[fk.column.table.name], (t.name, fk)


def test_a_new_table_with_a_session_id_column_is_included() -> None:
    meta = MetaData()
    parent = Table("shop_session", meta, Column("id", String, primary_key=True))
    Table("wishlist", meta, Column("id", Integer, primary_key=True),
          Column("session_id", ForeignKey("shop_session.id")))
    Table("wish_note", meta, Column("id", Integer, primary_key=True),
          Column("session_id", ForeignKey("shop_session.id")),
          Column("wish_id", ForeignKey("wishlist.id")))
    Table("catalog_thing", meta, Column("id", Integer, primary_key=True))
    names = [t.name for t in session_tables(meta, parent)]
    assert names == ["wish_note", "wishlist", "shop_session"]


# -- one session -------------------------------------------------------------------------------


def test_removing_a_session_removes_every_row_it_owns_and_nothing_else(own: Shop) -> None:
    gone, kept = rich_session(own, 1), rich_session(own, 2)
    owned = counts(own.engine, gone)
    assert all(owned[name] > 0 for name in OWNED), owned  # the test reaches every table
    kept_before, all_before = own.snapshot(kept, include_trace=True), counts(own.engine)

    result = remove_session(own.engine, gone)

    assert result.sessions == 1 and result.rows == owned
    assert counts(own.engine, gone) == dict.fromkeys(OWNED, 0)
    after = counts(own.engine)
    assert after == {k: v - owned.get(k, 0) for k, v in all_before.items()}  # catalog too
    assert own.snapshot(kept, include_trace=True) == kept_before
    with pytest.raises(NotFound, match="unknown session_id"):
        own.view_cart(gone)
    assert own.view_cart(kept).lines  # the other session still works


def test_unknown_and_malformed_sessions(own: Shop) -> None:
    sid = own.open_session(seed=3).session_id
    before = counts(own.engine)
    with pytest.raises(NotFound):
        remove_session(own.engine, "x" * 32)
    with pytest.raises(InvalidInput, match="malformed session_id"):
        remove_session(own.engine, "no such; DROP TABLE customer")
    # one bad id in a list deletes nothing
    with pytest.raises(InvalidInput), own.engine.begin() as conn:
        delete_sessions(conn, [sid, "bad id"])
    assert counts(own.engine) == before
    assert remove_session(own.engine, "x" * 32, missing_ok=True).sessions == 0
    assert remove_session(own.engine, sid).sessions == 1
    assert remove_session(own.engine, sid, missing_ok=True).total_rows == 0


# -- many sessions -----------------------------------------------------------------------------


def test_prune_keeps_the_sessions_opened_last_in_batches(own: Shop) -> None:
    prune_sessions(own.engine, keep=0)
    sids = [own.open_session(seed=i, history_orders=1).session_id for i in range(5)]
    with own.engine.connect() as conn:
        assert select_sessions(conn, keep=2) == sids[:3]  # oldest first
        assert select_sessions(conn, keep=9) == []
        assert select_sessions(conn, session_ids=[sids[4], "y" * 30]) == [sids[4]]
    before = counts(own.engine)

    dry = prune_sessions(own.engine, keep=2, dry_run=True)
    assert counts(own.engine) == before
    assert dry.dry_run and dry.sessions == 3 and dry.rows["shop_session"] == 3
    assert dry.rows["customer"] == 3 and dry.rows["shop_order"] == 3

    seen: list[tuple[int, int]] = []
    done = prune_sessions(own.engine, keep=2, batch=2, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(0, 3), (2, 3), (3, 3)]
    assert (done.sessions, done.rows) == (dry.sessions, dry.rows)
    with own.engine.connect() as conn:
        left = {r[0] for r in conn.execute(text("SELECT id FROM shop_session"))}
    assert left == set(sids[3:])
    for bad in (-1, 1.5, True):
        with pytest.raises(InvalidInput, match="keep"):
            prune_sessions(own.engine, keep=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="batch"):
        prune_sessions(own.engine, keep=0, batch=0)
    assert counts(own.engine)["shop_session"] == 2


# -- the command line --------------------------------------------------------------------------


def _db_args(own: Shop, backend: str) -> list[str]:
    url = own.engine.url
    if backend == "sqlite":
        return ["--db", url.render_as_string(hide_password=False)]
    with own.engine.connect() as conn:  # the fixture's schema (its search_path)
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    return ["--db", url.render_as_string(hide_password=False), "--schema", schema]


def test_cli_prune_dry_run_then_keep(own: Shop, backend: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    prune_sessions(own.engine, keep=0)
    sids = [own.open_session(seed=i).session_id for i in range(3)]
    args = _db_args(own, backend)
    before = counts(own.engine)

    assert main(["prune", *args, "--keep", "1", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Would remove 2 sessions" in out and "Database size:" in out
    assert counts(own.engine) == before

    assert main(["prune", *args, "--session", "z" * 30]) == 2
    assert "unknown session" in capsys.readouterr().err
    assert counts(own.engine) == before

    assert main(["prune", *args, "--keep", "1", "--vacuum"]) == 0
    out = capsys.readouterr().out
    rows = sum(before[name] for name in OWNED) - sum(counts(own.engine, sids[2]).values())
    assert f"Removed 2 sessions ({rows:,} rows)" in out and "before" in out and "after" in out
    with own.engine.connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT id FROM shop_session"))] == sids[2:]
    assert main(["prune", *args, "--session", sids[2]]) == 0
    assert "Removed 1 sessions" in capsys.readouterr().out
    assert counts(own.engine)["shop_session"] == 0


def test_cli_prune_refuses_what_it_cannot_use(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.db"
    assert main(["prune", "--db", f"sqlite:///{missing}", "--all"]) == 2
    assert "does not exist" in capsys.readouterr().err and not missing.exists()
    with pytest.raises(SystemExit) as exit_:
        main(["prune", "--db", f"sqlite:///{missing}"])
    assert exit_.value.code == 2 and "--keep" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["prune", "--keep", "-1"])


# -- the episode controller ------------------------------------------------------------------


def _strip(record: dict[str, Any]) -> dict[str, Any]:
    """A record without its timings."""
    trace = [{k: v for k, v in e.items() if k != "latency_ms"} for e in record["trace"]]
    return {**{k: v for k, v in record.items() if k != "metrics"}, "trace": trace}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True, scope="session")
async def test_the_controller_removes_the_sessions_of_finished_episodes(shop: Shop) -> None:
    """Records are built before the session goes, so they are the same either way."""
    from episodes.agents import make_agent
    from episodes.controller import EpisodeController
    from episodes.generate import generate_task

    if "keep_sessions" not in inspect.signature(EpisodeController.__init__).parameters:
        pytest.skip("EpisodeController has no keep_sessions option yet")
    tasks = [generate_task(shop, family, 2, seed) for family, seed in
             (("purchase", 1), ("return", 3))]
    records = {}
    for keep in (True, False):
        before = counts(shop.engine)["shop_session"]
        async with EpisodeController(shop, keep_sessions=keep) as controller:
            records[keep] = await controller.run(make_agent("oracle"), tasks, concurrency=2)
        added = counts(shop.engine)["shop_session"] - before
        assert added == (len(tasks) if keep else 0)
    assert [_strip(r) for r in records[True]] == [_strip(r) for r in records[False]]
    assert all(r["success"] and r["trace"] for r in records[False])


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
def test_prune_orders_tau2_sessions_by_opening_and_keeps_the_world_template(
        backend_name: str, tmp_path: Path, pg_reason: str | None) -> None:
    """A tau2 session has many customers and no session customer; it is as old as its first
    customer. The template every tau2 session is copied from is part of the world."""
    from mcp_shop.tau2 import load_tau2_retail
    from mcp_shop.tau2.session_world import install_tau2_world, open_tau2_session
    from mcp_shop.tau2.world import import_tau2_catalog

    gen = engine_for(backend_name, tmp_path, pg_reason)
    engine = next(gen)
    try:
        world = load_tau2_retail(Path(__file__).parent.parent / "fixtures" / "tau2_retail")
        import_tau2_catalog(engine, world)
        key = install_tau2_world(engine, world)
        shop = Shop(engine, index_dir=None)
        opened = []
        for k in range(4):  # tau2 and native sessions, interleaved
            opened.append(open_tau2_session(engine, key) if k % 2 == 0
                          else shop.open_session(seed=k).session_id)
        with engine.connect() as conn:
            assert select_sessions(conn, keep=1) == opened[:3]
            assert select_sessions(conn) == opened
        assert prune_sessions(engine, keep=0).sessions == 4
        with engine.connect() as conn:
            (template,) = conn.execute(text("SELECT surface FROM shop_session")).scalars()
        assert template == "tau2-retail-template"
        assert open_tau2_session(engine, key)  # the world still opens
    finally:
        gen.close()
