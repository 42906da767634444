"""A tau2 retail world as shop data: its products imported as a catalog, read back unchanged;
tau2's database hash; amounts in cents."""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from mcp_shop.tau2 import Tau2DataError, load_tau2_retail
from mcp_shop.tau2.loader import Tau2Retail
from mcp_shop.tau2.records import RetailDB
from mcp_shop.tau2.world import (
    DEPARTMENT,
    catalog_ids,
    cents,
    db_hash,
    import_tau2_catalog,
    project_products,
    source_products,
)
from tests.mcp_shop import tau2_shop
from tests.mcp_shop.import_db import engine, rows  # noqa: F401 - the engine fixture
from tests.mcp_shop.tau2_shop import FIXTURE

world = tau2_shop.world  # the fixture world (a fixture)


def _with_products(world: Tau2Retail, change: Any) -> Tau2Retail:
    raw = json.loads((FIXTURE / "db.json").read_text())
    change(raw["products"])
    return Tau2Retail(domain_dir=world.domain_dir, db=RetailDB.model_validate(raw),
                      tasks=world.tasks, splits=world.splits, policy=world.policy)


def test_products_import_as_a_catalog_and_read_back_unchanged(engine: Engine,  # noqa: F811
                                                               world: Tau2Retail) -> None:
    report = import_tau2_catalog(engine, world)
    assert report.bad_count == 0
    assert (report.info.product_count, report.info.variant_count) == (6, 24)
    with engine.connect() as conn:
        ids = catalog_ids(conn, world)
        products = project_products(conn, ids)
    assert products == world.db.products
    assert db_hash(world.db.model_copy(update={"products": products})) == db_hash(world.db)
    assert sorted(ids.item_of_pk.values()) == sorted(world.db.item_product())
    # unavailable items have no stock, the others some; prices are the items' in cents
    stock = {r["sku"]: (r["stock"], r["price_cents"])
             for r in rows(engine, "SELECT sku, stock, price_cents FROM variant")}
    for p in world.db.products.values():
        for item, v in p.variants.items():
            assert (stock[item][0] > 0) == v.available
            assert stock[item][1] == round(v.price * 100)
    cats = rows(engine, "SELECT name, department FROM category WHERE is_leaf")
    assert sorted(c["name"] for c in cats) == sorted(p.name for p in world.db.products.values())
    assert {c["department"] for c in cats} == {DEPARTMENT}


def test_a_catalog_without_the_world_is_refused(engine: Engine,  # noqa: F811
                                                world: Tau2Retail) -> None:
    import_tau2_catalog(engine, world)
    bigger = _with_products(world, lambda ps: next(iter(ps.values()))["variants"].update(
        {"1234567890": {"item_id": "1234567890", "options": {"power": "crank",
                                                             "brightness": "low"},
                        "available": True, "price": 12.34}}))
    with engine.connect() as conn, pytest.raises(Tau2DataError) as exc:
        catalog_ids(conn, bigger)
    assert "variants['1234567890']: has no variant in the catalog" in str(exc.value)


def _first(ps: dict[str, Any]) -> dict[str, Any]:
    return next(iter(ps.values()))


def _second_item(ps: dict[str, Any]) -> dict[str, Any]:
    return list(_first(ps)["variants"].values())[1]


REFUSED = {
    "other option names": (lambda ps: _second_item(ps)["options"].pop("brightness"),
                           "the option names of the product's first item"),
    "empty option value": (lambda ps: _second_item(ps)["options"].update(power=" "),
                           "hold an empty value"),
    "repeated options": (
        lambda ps: _second_item(ps).update(
            options=dict(list(_first(ps)["variants"].values())[0]["options"])),
        "items of a product to differ in their options"),
    "price finer than cents": (lambda ps: _second_item(ps).update(price=41.635),
                               "41.635 is not a whole number of cents"),
    "no items": (lambda ps: _first(ps).update(variants={}), "at least one item per product"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_products_the_import_would_alter_are_refused(world: Tau2Retail, case: str) -> None:
    change, expected = REFUSED[case]
    with pytest.raises(Tau2DataError, match=expected):
        source_products(_with_products(world, change))


def test_cents() -> None:
    assert cents(51.58) == 5158 and cents(0.1 + 0.2) == 30 and cents(1e6) == 100_000_000
    assert cents(-2.32) == -232
    for bad in (1.005, 0.001, float("inf"), float("nan")):
        with pytest.raises(Tau2DataError, match="not a whole number of cents"):
            cents(bad, "orders['#W1'].amount")


def test_db_hash_is_tau2s_rule_over_the_whole_world(world: Tau2Retail) -> None:
    # independent construction: the file's JSON with the optional order fields tau2 fills in
    raw = json.loads((FIXTURE / "db.json").read_text())
    optional = ("cancel_reason", "exchange_items", "exchange_new_items",
                "exchange_payment_method_id", "exchange_price_difference", "return_items",
                "return_payment_method_id")
    for order in raw["orders"].values():
        for name in optional:
            order.setdefault(name, None)
    expected = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode())
    assert db_hash(world.db) == expected.hexdigest()

    reordered = copy.deepcopy(raw)
    reordered["orders"] = dict(reversed(list(raw["orders"].items())))
    assert db_hash(RetailDB.model_validate(reordered)) == db_hash(world.db)
    changed = world.db.model_copy(deep=True)
    card = next(m for u in changed.users.values() for m in u.payment_methods.values()
                if m.source == "gift_card")
    card.balance = round(card.balance + 0.01, 2)  # type: ignore[union-attr]
    assert db_hash(changed) != db_hash(world.db)


def test_command_line_check_and_catalog(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    from mcp_shop.tau2.__main__ import main

    assert main(["check", str(FIXTURE)]) == 0
    out = capsys.readouterr().out
    assert "products 6, items 24, users 8, orders 19" in out
    assert "tasks 14; splits: base 14, test 5, train 9" in out
    assert main(["check", str(tmp_path / "nowhere")]) == 2
    assert "error: " in capsys.readouterr().err
    url = f"sqlite:///{tmp_path / 'tau2.db'}"
    assert main(["catalog", str(FIXTURE), "--db", url]) == 0
    assert "imported 6 products, 24 items" in capsys.readouterr().out
    assert main(["catalog", str(FIXTURE), "--db", url]) == 2  # a catalog is there already
    assert "already holds" in capsys.readouterr().err


@pytest.mark.skipif(not os.environ.get("TAU2_BENCH_PATH"),
                    reason="set TAU2_BENCH_PATH to a tau2-bench checkout to check it")
def test_a_real_tau2_bench_checkout(tmp_path: Path) -> None:
    """Opt-in: the user's own checkout loads, its products import and read back unchanged,
    and its gold trajectories replay as docs/tau2-retail.md says (the failing gold calls of
    the data read on 2026-12-05)."""
    from mcp_shop.db import make_engine
    from tests.mcp_shop.tau2_reference import replay

    real = load_tau2_retail(os.environ["TAU2_BENCH_PATH"])
    eng = make_engine(f"sqlite:///{tmp_path / 'tau2.db'}")
    import_tau2_catalog(eng, real)
    with eng.connect() as conn:
        assert project_products(conn, catalog_ids(conn, real)) == real.db.products
    eng.dispose()
    failing = sorted((t.id for t in real.tasks
                      if replay(real.db, [(a.name, a.arguments) for a in t.gold_actions()])[1]),
                     key=int)
    if real.db.statistics() == {"products": 50, "items": 591, "users": 500, "orders": 1000}:
        assert failing == ["2", "3", "4", "35", "37", "38", "39", "46", "47", "54", "55", "64",
                           "67", "68", "105"]
