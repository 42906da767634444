"""The fast paths of the tau2 projection against the records: ``state_text`` / ``state_hash``
(what the DB check hashes, built from bulk reads and memoised texts) give exactly the text and
hash of ``world.db_hash(project_session(...))``, and every single record the tools read
(``project_order``, ``project_user``, ``project_product``, ``find_item``, the product list)
equals the whole-world projection's, on the fixture world and on a synthetic world of
tau2-bench's size after random tool calls, on SQLite and PostgreSQL. And the per-world cache
of catalog keys is per database: two PostgreSQL schemas (one server URL) holding the same
world under different catalog keys each read their own."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from mcp_shop.db import create_schema, read_tx, unit_tx, write_tx
from mcp_shop.pruning import remove_session
from mcp_shop.tau2 import projection
from mcp_shop.tau2.loader import Tau2Retail
from mcp_shop.tau2.projection import (
    find_item,
    product_list,
    project_order,
    project_product,
    project_session,
    project_user,
    state_hash,
    state_text,
)
from mcp_shop.tau2.records import RetailDB
from mcp_shop.tau2.replay import gold_hash, replay_gold, session_hash
from mcp_shop.tau2.session_world import install_tau2_world, open_tau2_session
from mcp_shop.tau2.tools import call_tau2_tool
from mcp_shop.tau2.tools_common import Tau2ToolError
from mcp_shop.tau2.world import db_hash, import_tau2_catalog
from tests.conftest import engine_for
from tests.mcp_shop import tau2_shop
from tests.mcp_shop.tau2_reference import Reference, ToolFailed, in_cents
from tests.mcp_shop.tau2_synthetic import synthetic_world
from tests.mcp_shop.tau2_trajectories import random_call

shop, world = tau2_shop.shop, tau2_shop.world  # the fixtures


@pytest.fixture(scope="module")
def big_world(tmp_path_factory: pytest.TempPathFactory) -> Tau2Retail:
    return synthetic_world(tmp_path_factory.mktemp("tau2-big"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def big_shop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
             pg_reason: str | None, big_world: Tau2Retail) -> Iterator[tuple[Engine, str]]:
    """A database holding the synthetic tau2-size world, on each backend."""
    yield from tau2_shop.world_database(request.param, tmp_path_factory.mktemp("tau2big"),
                                        pg_reason, big_world)


def _check_state(engine: Engine, sid: str, orders: list[str], users: list[str]) -> RetailDB:
    """The fast text and hash equal the records' dump and hash; the single records named (and
    every product and item) equal the whole-world projection's."""
    with read_tx(engine) as conn:
        db = project_session(conn, sid)
        text = state_text(conn, sid)
        assert text == json.dumps(db.model_dump(), sort_keys=True, default=str)
        assert state_hash(conn, sid) == db_hash(db)
        for oid in orders:
            assert project_order(conn, sid, oid) == db.orders[oid], oid
        for uid in users:
            assert project_user(conn, sid, uid) == db.users[uid], uid
        for pid, product in db.products.items():
            assert project_product(conn, sid, pid) == product
            for iid, item in product.variants.items():
                assert find_item(conn, sid, iid) == item
        assert product_list(conn, sid) == dict(sorted(
            (p.name, p.product_id) for p in db.products.values()))
    return db


def _random_run(engine: Engine, key: str, base: RetailDB, seed: int, calls: int,
                every: int) -> int:
    """``calls`` random calls on a new session, the state checked every ``every`` calls (the
    orders and users the calls named); returns how many calls changed the world."""
    rng = random.Random(seed)
    sid = open_tau2_session(engine, key)
    ref = Reference(base)
    changed = 0
    orders: list[str] = []
    users: list[str] = []
    for k in range(1, calls + 1):
        name, args = random_call(ref.db, rng)
        try:
            ref.call(name, args)
            changed += name.startswith(("cancel", "modify", "exchange", "return"))
        except ToolFailed:
            pass
        try:
            with write_tx(engine) as conn:
                call_tau2_tool(conn, sid, name, args)
        except Tau2ToolError:
            pass
        if "order_id" in args:
            orders.append(args["order_id"])
            users.append(ref.db.orders[args["order_id"]].user_id)
        if "user_id" in args:
            users.append(args["user_id"])
        if k % every == 0:
            db = _check_state(engine, sid, orders, users)
            assert db.model_dump() == in_cents(ref.db).model_dump()
            orders, users = [], []
    return changed



def test_the_fast_state_is_the_records_on_the_fixture(shop: tuple[Engine, str],
                                                      world: Tau2Retail) -> None:
    engine, key = shop
    sid = open_tau2_session(engine, key)
    db = _check_state(engine, sid, list(world.db.orders), list(world.db.users))
    assert db == world.db
    changed = sum(_random_run(engine, key, world.db, seed, 40, 5) for seed in range(4))
    assert changed >= 20


def test_the_fast_state_is_the_records_at_tau2_benchs_size(big_shop: tuple[Engine, str],
                                                           big_world: Tau2Retail) -> None:
    engine, key = big_shop
    sid = open_tau2_session(engine, key)
    with read_tx(engine) as conn:
        assert state_hash(conn, sid) == db_hash(big_world.db)
    assert _random_run(engine, key, big_world.db, 11, 150, 50) >= 8


def test_the_memo_of_texts_may_start_afresh(shop: tuple[Engine, str], world: Tau2Retail,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A memo at its limit is emptied and filled again: the hash stays the records'."""
    engine, key = shop
    monkeypatch.setattr(projection, "_MEMO_LIMIT", 3)
    assert _random_run(engine, key, world.db, 99, 30, 3) >= 5


def test_the_gold_in_a_rolled_back_transaction_is_the_committed_replays(
        shop: tuple[Engine, str], world: Tau2Retail) -> None:
    """The DB check replays the gold in one transaction it rolls back (a savepoint per call):
    the hash and the failed calls are those of the gold replayed call by call on a committed
    session, also when calls fail between others, and no session is left behind."""
    engine, key = shop
    tasks = list(world.tasks)
    for task in world.tasks[:4]:  # the gold with a refused call before and after each write
        actions = []
        for a in task.gold_actions():
            actions.append(a.model_dump())
            if "order_id" in a.arguments:
                actions.append({"name": "cancel_pending_order", "arguments": {
                    "order_id": a.arguments["order_id"], "reason": "too expensive"}})
        tasks.append(type(task).model_validate({
            "id": f"{task.id}-x", "user_scenario": task.user_scenario.model_dump(),
            "evaluation_criteria": {"actions": [dict(a, action_id=f"x_{k}")
                                                for k, a in enumerate(actions)]}}))

    def sessions() -> int:
        with read_tx(engine) as conn:
            return int(conn.exec_driver_sql("SELECT count(*) FROM shop_session").scalar_one())

    before = sessions()
    failed = 0
    for task in tasks:
        expected, failures = gold_hash(engine, key, task, cache=False)
        assert sessions() == before
        gold = replay_gold(engine, key, task)
        assert session_hash(engine, gold.session_id) == expected, task.id
        assert gold.failures == failures, task.id
        remove_session(engine, gold.session_id)
        failed += len(failures)
    assert failed >= 4
    want = gold_hash(engine, key, tasks[-1], cache=False)
    with unit_tx(engine):  # inside a unit of work: a savepoint of the unit's, rolled back
        assert gold_hash(engine, key, tasks[-1], cache=False) == want
    assert sessions() == before


def test_two_schemas_with_one_world_under_other_keys_read_their_own(
        tmp_path: Path, pg_reason: str | None, world: Tau2Retail) -> None:
    """Regression: the catalog keys of a world were cached per database URL, which two
    PostgreSQL schemas of one server share; the second schema's sessions then read the first
    one's keys. Here schema B's variants have other keys than schema A's (same world, same
    catalog fingerprint): each schema's sessions read back the world."""
    engines = [engine_for("postgresql", tmp_path, pg_reason) for _ in range(2)]
    a, b = (next(g) for g in engines)
    try:
        for engine in (a, b):
            create_schema(engine)
            import_tau2_catalog(engine, world)
        with b.begin() as conn:  # another numbering of the same catalog in schema B
            conn.exec_driver_sql("UPDATE variant SET id = id + 50000")
        assert str(a.url) == str(b.url)
        keys = [install_tau2_world(e, world) for e in (a, b)]
        assert keys[0] == keys[1]
        for engine in (a, b, a, b):  # alternately, each with its cache entry made
            sid = open_tau2_session(engine, keys[0])
            with read_tx(engine) as conn:
                assert project_session(conn, sid) == world.db
                assert state_hash(conn, sid) == db_hash(world.db)
            with write_tx(engine) as conn:
                order = next(iter(world.db.orders))
                assert call_tau2_tool(conn, sid, "get_order_details",
                                      {"order_id": order}) == world.db.orders[order].model_dump()
    finally:
        for g in engines:
            next(g, None)
