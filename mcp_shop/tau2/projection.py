"""A tau2 retail session read back into tau2's layout (:mod:`mcp_shop.tau2.records`).

The one reading of the rows described in ``/work/notes/tau2-contract.md``. Each order and each
user is built by one function (``order_record``, ``user_record``) from its values as
:mod:`mcp_shop.tau2.projection_rows` reads them (one statement per table for a whole session,
an order or a user), into the plain dictionary tau2's record dumps to. From those
dictionaries come the records the tools return (``project_order``, ``project_user``), the
whole world (``project_session``) and tau2's hash of it (``state_hash``), so a tool's answer
and the hashed state cannot differ. Amounts are cents / 100; lists keep row order (key order,
``line_no`` for order lines), except the return and exchange item lists, which tau2 keeps
sorted.

The catalog half (products and items) never changes in a world: it is projected once per
database and world (:func:`mcp_shop.tau2.session_world.world_cache`) and reused, its JSON text
included. ``state_hash`` builds the same text ``world.db_hash`` hashes without building
records: each order's and user's sorted-key JSON, memoised per world by the values it is a
function of (an unchanged order of any session of the world is not encoded again).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Connection

from mcp_shop.sql import as_json
from mcp_shop.tau2.projection_rows import OrderRows, UserRows, order_rows, user_rows
from mcp_shop.tau2.records import Order, Product, RetailDB, User, Variant
from mcp_shop.tau2.session_world import WorldCache, order_key, order_number, world_cache
from mcp_shop.tau2.world import CatalogIds, project_products

__all__ = ["find_item", "order_record", "product_list", "project_order", "project_product",
           "project_session", "project_user", "state_hash", "state_text", "user_record"]

Record = dict[str, Any]
_MEMO_LIMIT = 10_000  # memoised order/user texts per world before the memo starts afresh


def _address(line1: str, line2: str, city: str, region: str, postcode: str,
              country: str) -> Record:
    return {"address1": line1, "address2": line2, "city": city, "country": country,
            "state": region, "zip": postcode}


def _method(public_id: str, kind: str, brand: str | None, last_four: str | None,
            balance_cents: int | None) -> Record:
    if kind == "gift_card":
        return {"source": "gift_card", "id": public_id, "balance": (balance_cents or 0) / 100}
    if kind == "paypal":
        return {"source": "paypal", "id": public_id}
    return {"source": "credit_card", "id": public_id, "brand": brand, "last_four": last_four}


def user_record(rows: UserRows) -> Record:
    """A user in tau2's layout (what ``records.User.model_dump()`` gives) from its values."""
    user_id, first, last, email, home, methods, numbers = rows
    return {"user_id": user_id, "name": {"first_name": first, "last_name": last},
            "address": _address(*home), "email": email,
            "payment_methods": {m[0]: _method(*m) for m in methods},
            "orders": [order_key(n) for n in numbers]}


def order_record(ids: CatalogIds, rows: OrderRows) -> Record:
    """An order in tau2's layout (what ``records.Order.model_dump()`` gives) from its values
    and the world's ids."""
    head, lines, payments, shipments, return_method, returned, exchanges = rows
    (number, status, cancel_reason, difference, user_id, exchange_method, *address) = head
    item_of, product_of = ids.item_of_pk, ids.product_of_pk
    exchange = exchange_method is not None
    asked = return_method is not None
    return {
        "order_id": order_key(number), "user_id": user_id, "address": _address(*address),
        "items": [{"name": title, "product_id": product_of[product], "item_id": item_of[variant],
                   "price": price / 100, "options": as_json(options)}
                  for title, product, variant, price, options in lines],
        "status": status,
        "fulfillments": [{"tracking_id": list(as_json(tracking) or []),
                          "item_ids": [item_of[v] for v in as_json(variants) or []]}
                         for tracking, variants in shipments],
        "payment_history": [{"transaction_type": "payment" if kind == "charge" else "refund",
                             "amount": cents / 100, "payment_method_id": method}
                            for kind, cents, method in payments],
        "cancel_reason": cancel_reason,
        "exchange_items": sorted(item_of[x[0]] for x in exchanges) if exchange else None,
        "exchange_new_items": sorted(item_of[x[1]] for x in exchanges) if exchange else None,
        "exchange_payment_method_id": exchange_method,
        "exchange_price_difference": difference / 100 if exchange else None,
        "return_items": sorted(item_of[v] for v in returned) if asked else None,
        "return_payment_method_id": return_method,
    }


# --- the catalog half, once per world ---------------------------------------------------------


@dataclass(frozen=True)
class _Catalog:
    products: dict[str, Record]  # tau2's dump of each product, by id, in the world's order
    text: str  # their sorted-key JSON
    product_of_item: dict[str, str]


def _catalog(conn: Connection, world: WorldCache) -> _Catalog:
    """The world's products in tau2's layout, projected once (``world.project_products``)
    and kept with the world."""
    found = world.memo.get("catalog")
    if found is None:
        products = {k: p.model_dump() for k, p in project_products(conn, world.ids).items()}
        found = world.memo["catalog"] = _Catalog(
            products, json.dumps(products, sort_keys=True),
            {item: k for k, p in products.items() for item in p["variants"]})
    return found  # type: ignore[no-any-return]


def product_list(conn: Connection, session_id: str) -> dict[str, str]:
    """Every product type's name and product id, sorted by name (tau2's product list)."""
    products = _catalog(conn, world_cache(conn, session_id)).products
    return dict(sorted((p["name"], p["product_id"]) for p in products.values()))


def project_product(conn: Connection, session_id: str, product_id: str) -> Product | None:
    """One product type with its items (tau2's ``get_product_details``), or None."""
    found = _catalog(conn, world_cache(conn, session_id)).products.get(product_id)
    return None if found is None else Product.model_validate(found)


def find_item(conn: Connection, session_id: str, item_id: str) -> Variant | None:
    """One item (tau2's ``get_item_details``), or None when no product has it."""
    catalog = _catalog(conn, world_cache(conn, session_id))
    product = catalog.product_of_item.get(item_id)
    if product is None:
        return None
    return Variant.model_validate(catalog.products[product]["variants"][item_id])


# --- users and orders ---------------------------------------------------------------------------


def project_user(conn: Connection, session_id: str, user_id: str) -> User | None:
    """One user (tau2's ``get_user_details``), or None when the session has no such user."""
    rows = user_rows(conn, session_id, user_id)
    return User.model_validate(user_record(rows[0])) if rows else None


def project_order(conn: Connection, session_id: str, order_id: str) -> Order | None:
    """One order (tau2's ``get_order_details``), or None when there is no such order."""
    number = order_number(order_id)
    if number is None:
        return None
    ids = world_cache(conn, session_id).ids
    rows = order_rows(conn, session_id, number)
    return Order.model_validate(order_record(ids, rows[0])) if rows else None


def project_session(conn: Connection, session_id: str) -> RetailDB:
    """The whole tau2 world a tau2 session holds now."""
    world = world_cache(conn, session_id)
    orders = (order_record(world.ids, o) for o in order_rows(conn, session_id))
    return RetailDB.model_validate({
        "products": _catalog(conn, world).products,
        "users": {u["user_id"]: u for u in map(user_record, user_rows(conn, session_id))},
        "orders": {o["order_id"]: o for o in orders}})


class _Texts:
    """Each order's and user's member text (``"<id>": <sorted-key JSON>``) by its id, for
    each version of its values met (a few per id: the world's, and changed ones). A version is
    found by comparing values, cheaper than hashing them; past ``_MEMO_LIMIT`` versions the
    memo starts afresh."""

    def __init__(self) -> None:
        self.known: dict[Any, list[tuple[Any, str]]] = {}
        self.size = 0

    def member(self, name: Any, key: str, rows: Any, record: Callable[[], Record]) -> str:
        versions = self.known.get(name)
        if versions is not None:
            for values, text in versions:
                if values == rows:
                    return text
        if self.size >= _MEMO_LIMIT:
            self.known, self.size = {}, 0
        text = f"{json.dumps(key)}: {json.dumps(record(), sort_keys=True)}"
        self.known.setdefault(name, []).append((rows, text))
        self.size += 1
        return text


def _object(members: list[tuple[str, str]]) -> str:
    """The JSON text of an object of (key, member text) pairs, keys sorted (a repeated key:
    its last member) as ``json.dumps(..., sort_keys=True)`` writes a dictionary."""
    return "{" + ", ".join(text for _, text in sorted(dict(members).items())) + "}"


def state_text(conn: Connection, session_id: str) -> str:
    """The text ``world.db_hash`` hashes for ``project_session(conn, session_id)``: the world
    dumped to JSON with sorted keys (built from the same records, without validating them)."""
    world = world_cache(conn, session_id)
    memo: _Texts = world.memo.setdefault("texts", _Texts())
    ids = world.ids
    orders = []
    for o in order_rows(conn, session_id):
        key = order_key(o[0][0])
        orders.append((key, memo.member(("order", o[0][0]), key, o,
                                        partial(order_record, ids, o))))
    users = [(u[0], memo.member(("user", u[0]), u[0], u, partial(user_record, u)))
             for u in user_rows(conn, session_id)]
    return (f'{{"orders": {_object(orders)}, "products": {_catalog(conn, world).text}, '
            f'"users": {_object(users)}}}')


def state_hash(conn: Connection, session_id: str) -> str:
    """tau2's hash of the world a tau2 session holds now; equal to
    ``world.db_hash(project_session(conn, session_id))``."""
    return hashlib.sha256(state_text(conn, session_id).encode()).hexdigest()
