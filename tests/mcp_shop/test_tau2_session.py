"""A tau2 retail world as the rows of a shop session and back: the template install, the
per-episode copy, the projection into tau2's layout, isolation between sessions, native
sessions untouched, and worlds the rows cannot hold exactly refused."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from mcp_shop import InvalidState, NotFound, Shop
from mcp_shop.db import read_tx, write_tx
from mcp_shop.pruning import remove_session
from mcp_shop.sessions import open_session
from mcp_shop.tau2 import Tau2DataError
from mcp_shop.tau2.loader import Tau2Retail
from mcp_shop.tau2.projection import (
    find_item,
    project_order,
    project_product,
    project_session,
    project_user,
)
from mcp_shop.tau2.records import RetailDB
from mcp_shop.tau2.session_world import (
    SURFACE,
    TEMPLATE_SURFACE,
    install_tau2_world,
    open_tau2_session,
    world_of,
)
from mcp_shop.tau2.world import db_hash, import_tau2_catalog
from tests.mcp_shop import tau2_shop
from tests.mcp_shop.import_db import engine, rows  # noqa: F401 - the engine fixture
from tests.mcp_shop.tau2_shop import FIXTURE
from tests.mcp_shop.tau2_synthetic import synthetic_world

world = tau2_shop.world  # the fixture world (a fixture)


def _project(engine: Engine, sid: str) -> RetailDB:  # noqa: F811
    with read_tx(engine) as conn:
        return project_session(conn, sid)


def _one(engine: Engine, sql: str, **params: Any) -> Any:  # noqa: F811
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def _sql(engine: Engine, sql: str, **params: Any) -> int:  # noqa: F811
    with engine.begin() as conn:
        return conn.execute(text(sql), params).rowcount


def test_a_session_reads_back_as_the_world(engine: Engine, world: Tau2Retail) -> None:  # noqa: F811
    import_tau2_catalog(engine, world)
    key = install_tau2_world(engine, world)
    assert key == db_hash(world.db)
    sid = open_tau2_session(engine, key)
    db = _project(engine, sid)
    assert db == world.db
    assert db_hash(db) == db_hash(world.db)
    # the same order, not only equal dictionaries: each user's orders and payment methods
    for uid, user in world.db.users.items():
        assert db.users[uid].orders == user.orders
        assert list(db.users[uid].payment_methods) == list(user.payment_methods)
    # the rows are the shop's: one order line of quantity 1 per unit, tau2's statuses frozen
    units = sum(len(o.items) for o in world.db.orders.values())
    assert _one(engine, "SELECT count(*) FROM order_line WHERE session_id = :s AND "
                        "quantity = 1", s=sid) == units
    assert _one(engine, "SELECT count(*) FROM shop_order WHERE session_id = :s AND "
                        "NOT follows_clock", s=sid) == len(world.db.orders)
    assert _one(engine, "SELECT count(*) FROM customer WHERE session_id = :s",
                s=sid) == len(world.db.users)
    assert _one(engine, "SELECT surface FROM shop_session WHERE id = :s", s=sid) == SURFACE


def test_single_records_are_the_worlds(engine: Engine, world: Tau2Retail) -> None:  # noqa: F811
    import_tau2_catalog(engine, world)
    sid = open_tau2_session(engine, install_tau2_world(engine, world))
    with read_tx(engine) as conn:
        for uid, user in world.db.users.items():
            assert project_user(conn, sid, uid) == user
        for oid, order in world.db.orders.items():
            assert project_order(conn, sid, oid) == order
        for pid, product in world.db.products.items():
            assert project_product(conn, sid, pid) == product
            for item, variant in product.variants.items():
                assert find_item(conn, sid, item) == variant
        assert project_user(conn, sid, "nobody_0000") is None
        assert project_order(conn, sid, "#W0000000") is None
        assert project_order(conn, sid, "W123") is None
        assert project_product(conn, sid, "0000000000") is None
        assert find_item(conn, sid, "0000000000") is None


def test_install_is_done_once_per_world(engine: Engine, world: Tau2Retail) -> None:  # noqa: F811
    import_tau2_catalog(engine, world)
    key = install_tau2_world(engine, world)
    before = _one(engine, "SELECT count(*) FROM customer")
    assert install_tau2_world(engine, world) == key
    assert _one(engine, "SELECT count(*) FROM customer") == before == len(world.db.users)
    assert _one(engine, "SELECT count(*) FROM shop_session WHERE surface = :t",
                t=TEMPLATE_SURFACE) == 1
    with pytest.raises(NotFound, match="install_tau2_world"):
        open_tau2_session(engine, "0" * 64)


def test_sessions_are_independent(engine: Engine, world: Tau2Retail) -> None:  # noqa: F811
    import_tau2_catalog(engine, world)
    key = install_tau2_world(engine, world)
    a, b = open_tau2_session(engine, key), open_tau2_session(engine, key)
    assert a != b
    pending = next(k for k, o in world.db.orders.items() if o.status == "pending")
    number = int(pending[2:])
    # change session a directly: an order's status, a gift card's balance, a payment, a line
    assert _sql(engine, "UPDATE shop_order SET status = 'cancelled' WHERE session_id = :s "
                        "AND number = :n", s=a, n=number) == 1
    assert _sql(engine, "UPDATE payment_method SET balance_cents = 1 WHERE session_id = :s "
                        "AND kind = 'gift_card'", s=a) > 0
    assert _sql(engine, "DELETE FROM payment WHERE session_id = :s AND id = (SELECT min(id) "
                        "FROM payment WHERE session_id = :s)", s=a) == 1
    assert _sql(engine, "UPDATE order_line SET unit_price_cents = unit_price_cents + 1 "
                        "WHERE session_id = :s", s=a) > 0
    changed = _project(engine, a)
    assert changed.orders[pending].status == "cancelled"
    assert changed != world.db and db_hash(changed) != db_hash(world.db)
    assert _project(engine, b) == world.db
    # and a session opened after the change is the world again (the template is untouched)
    assert _project(engine, open_tau2_session(engine, key)) == world.db


def test_the_clock_leaves_tau2_orders_alone(engine: Engine, world: Tau2Retail) -> None:  # noqa: F811
    import_tau2_catalog(engine, world)
    sid = open_tau2_session(engine, install_tau2_world(engine, world))
    shop = Shop(engine, index_dir=None)
    shop.advance_clock(sid, days=400)
    assert _project(engine, sid) == world.db


def _native_view(shop: Shop, sid: str) -> list[Any]:
    orders = [shop.get_order(sid, o.order_id) for o in shop.list_orders(sid)]
    return [shop.get_customer(sid), orders]


def test_native_sessions_are_unchanged(engine: Engine, world: Tau2Retail) -> None:  # noqa: F811
    import_tau2_catalog(engine, world)
    shop = Shop(engine, index_dir=None)
    native = shop.open_session(seed=7, history_orders=4).session_id
    before = _native_view(shop, native)
    sid = open_tau2_session(engine, install_tau2_world(engine, world))
    after = _native_view(shop, native)
    assert after == before
    # a native session opened after the tau2 ones is what the same seed gave before
    twin = shop.open_session(seed=7, history_orders=4).session_id
    assert _native_view(shop, twin) == before
    # native rows keep the defaults; the clock still moves native orders
    assert _one(engine, "SELECT surface FROM shop_session WHERE id = :s", s=native) == "native"
    assert _one(engine, "SELECT count(*) FROM shop_order WHERE session_id = :s AND "
                        "(customer_id IS NOT NULL OR NOT follows_clock)", s=native) == 0
    assert _one(engine, "SELECT count(*) FROM address WHERE session_id = :s AND "
                        "(customer_id IS NOT NULL OR line2 <> '')", s=native) == 0
    shop.advance_clock(native, days=60)
    assert {o.status for o in shop.list_orders(native)} == {"delivered"}
    assert _project(engine, sid) == world.db
    with read_tx(engine) as conn, pytest.raises(InvalidState, match="native session"):
        world_of(conn, native)


def _changed(world: Tau2Retail, tmp: Path, change: Any) -> Tau2Retail:
    raw = json.loads((FIXTURE / "db.json").read_text())
    change(raw)
    (tmp / "db.json").write_text(json.dumps(raw))
    return Tau2Retail(domain_dir=tmp, db=RetailDB.model_validate(raw), tasks=world.tasks,
                      splits=world.splits, policy=world.policy)


def _order_where(raw: dict[str, Any], status: str) -> dict[str, Any]:
    return next(o for o in raw["orders"].values() if o["status"] == status)


def _gift_card(raw: dict[str, Any]) -> dict[str, Any]:
    return next(m for u in raw["users"].values() for m in u["payment_methods"].values()
                if m["source"] == "gift_card")


def _rename_first_order(raw: dict[str, Any], new: str) -> None:
    key = next(iter(raw["orders"]))
    order = raw["orders"].pop(key)
    raw["orders"][new] = dict(order, order_id=new)
    user = raw["users"][order["user_id"]]
    user["orders"] = [new if k == key else k for k in user["orders"]]


REFUSED = {
    "payment finer than cents": (
        lambda raw: _order_where(raw, "pending")["payment_history"][0].update(amount=10.005),
        "payment_history[0].amount: is 10.005"),
    "a float that reads back otherwise": (
        lambda raw: _gift_card(raw).update(balance=0.1 + 0.2),
        ".balance: is 0.30000000000000004 (expected a whole number of cents)"),
    "an exchange difference finer than cents": (
        lambda raw: _order_where(raw, "exchange requested").update(
            exchange_price_difference=-2.325), "exchange_price_difference: is -2.325"),
    "an order id of another shape": (
        lambda raw: _rename_first_order(raw, "#W12"), "not shaped '#W' and seven digits"),
    "unsorted return items": (
        lambda raw: _order_where(raw, "return requested").update(
            return_items=["9999999999", "0000000001"]), "sorted item ids"),
    "part of an exchange": (
        lambda raw: _order_where(raw, "exchange requested").update(
            exchange_payment_method_id=None), "only part of an exchange request"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_worlds_the_rows_cannot_hold_are_refused(engine: Engine, world: Tau2Retail,  # noqa: F811
                                                 tmp_path: Path, case: str) -> None:
    change, expected = REFUSED[case]
    bad = _changed(world, tmp_path, change)
    import_tau2_catalog(engine, bad)
    with pytest.raises(Tau2DataError) as exc:
        install_tau2_world(engine, bad)
    assert expected in str(exc.value)
    assert exc.value.context["problem_count"] >= 1
    # nothing written
    assert rows(engine, "SELECT id FROM shop_session") == []
    assert rows(engine, "SELECT key FROM tau2_world") == []


def test_a_world_of_tau2_benchs_size_reads_back(engine: Engine, tmp_path: Path) -> None:  # noqa: F811
    big = synthetic_world(tmp_path)
    stats = big.db.statistics()
    assert (stats["users"], stats["orders"]) == (500, 1000)
    import_tau2_catalog(engine, big)
    key = install_tau2_world(engine, big)
    first, second = open_tau2_session(engine, key), open_tau2_session(engine, key)
    assert db_hash(_project(engine, second)) == db_hash(big.db)
    assert _project(engine, first) == big.db
    with write_tx(engine) as conn:  # a native session still opens on the same database
        open_session(conn, seed=1)


def test_a_removed_template_is_written_again(engine: Engine, world: Tau2Retail) -> None:  # noqa: F811
    import_tau2_catalog(engine, world)
    key = install_tau2_world(engine, world)
    sid = open_tau2_session(engine, key)
    template = _one(engine, "SELECT template_session_id FROM tau2_world WHERE key = :k", k=key)
    remove_session(engine, template)  # as a prune of old sessions may
    with pytest.raises(NotFound, match="install the world again"):
        open_tau2_session(engine, key)
    assert install_tau2_world(engine, world) == key
    assert _project(engine, open_tau2_session(engine, key)) == world.db
    assert _project(engine, sid) == world.db  # the sessions already open keep their rows


def test_sessions_opened_at_once_are_each_the_world(engine: Engine,  # noqa: F811
                                                    world: Tau2Retail) -> None:
    """Copies running in parallel, beside native sessions being opened, take distinct keys
    (PostgreSQL: from the sequences, with no lock) and each holds the whole world."""
    import_tau2_catalog(engine, world)
    key = install_tau2_world(engine, world)

    def tau2(_: int) -> str:
        return open_tau2_session(engine, key)

    def native(seed: int) -> str:
        with write_tx(engine) as conn:
            return open_session(conn, seed=seed).session_id

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(tau2 if n % 2 else native, n) for n in range(12)]
        opened = [f.result() for f in futures]
    for n, sid in enumerate(opened):
        if n % 2:
            assert _project(engine, sid) == world.db
    assert len(set(opened)) == 12
