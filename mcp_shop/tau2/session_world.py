"""A tau2 retail world's users and orders as the rows of a shop session, copied per episode.

``install_tau2_world`` writes the world's users (customers), their default addresses and
payment methods, and their orders (an address row of each order's own, one order line per
unit in tau2's order, payments in history order, fulfillments as shipments, return and
exchange requests) into a *template* session (surface ``tau2-retail-template``, which no
server serves), once per database and world (keyed by the world's database hash).
``open_tau2_session`` makes a ``tau2-retail`` session holding an exact copy of the template
(:mod:`mcp_shop.tau2.session_copy`). The rows and their meaning are listed in
``/work/notes/tau2-contract.md``; :mod:`mcp_shop.tau2.projection` reads them back into tau2's
layout, which gives the world unchanged.

Nothing here follows the clock: every time is ``sessions.SIM_EPOCH`` and every order has
``follows_clock`` False. Amounts are whole cents (:func:`mcp_shop.tau2.world.cents`); an
amount that would not read back as the same float is refused.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from sqlalchemy import Connection, Engine, select

from mcp_shop.db import write_tx
from mcp_shop.errors import InvalidState, NotFound
from mcp_shop.ids import FIRST_ORDER_NUMBER
from mcp_shop.models import CatalogInfo, Category, ShopSession
from mcp_shop.models import Product as CatalogProduct
from mcp_shop.models import Variant as CatalogVariant
from mcp_shop.models.session import Tau2World
from mcp_shop.sessions import SIM_EPOCH, new_handle
from mcp_shop.sql import insert
from mcp_shop.tau2.loader import Problem, Tau2DataError, Tau2Retail
from mcp_shop.tau2.records import Order, User, UserAddress
from mcp_shop.tau2.session_copy import copy_session_rows, write_rows
from mcp_shop.tau2.world import CatalogIds, catalog_ids, cents, db_hash

__all__ = ["SURFACE", "TEMPLATE_SURFACE", "install_tau2_world", "open_tau2_session",
           "order_number", "order_key", "world_ids", "world_of"]

SURFACE = "tau2-retail"
TEMPLATE_SURFACE = "tau2-retail-template"
_ORDER_ID = re.compile(r"^#W(\d{7})$")
_KIND = {"credit_card": "card", "paypal": "paypal", "gift_card": "gift_card"}


def order_number(order_id: str) -> int | None:
    """The shop's order number of a tau2 order id ('#W0123456' -> 123456), or None when the
    text is not shaped like one."""
    m = _ORDER_ID.match(order_id) if isinstance(order_id, str) else None
    return int(m.group(1)) if m else None


def order_key(number: int) -> str:
    """The tau2 order id of an order number (123456 -> '#W0123456')."""
    return f"#W{number:07d}"


class _Rows:
    """The template's rows being built, with local keys (0, 1, ... per table)."""

    def __init__(self, ids: CatalogIds, slugs: dict[int, str], prices: dict[int, int]) -> None:
        self.ids, self.slugs, self.prices = ids, slugs, prices
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.problems: list[Problem] = []
        self.counters: Counter[str] = Counter()

    def add(self, table: str, **row: Any) -> int:
        batch = self.tables.setdefault(table, [])
        row["id"] = len(batch)
        batch.append(row)
        return len(batch) - 1

    def catalog_price(self, item: str) -> int:
        return self.prices[self.ids.variant_pk[item]]

    def method(self, methods: dict[str, int], key: str, where: str) -> int | None:
        if key not in methods:
            self.problems.append(Problem(where, f"is {key!r}",
                                         "a payment method of the order's user"))
        return methods.get(key)

    def money(self, amount: float, where: str) -> int:
        """Whole cents of ``amount``; a problem when it would not read back unchanged."""
        try:
            value = cents(amount, where)
        except Tau2DataError:
            value = None
        if value is None or value / 100 != amount:
            self.problems.append(Problem(where, f"is {amount!r}", "a whole number of cents"))
            return 0
        return value


def _address(rows: _Rows, sid: str, customer: int, user: User, a: UserAddress, *,
             default: bool, label: str) -> int:
    n = len(rows.tables.get("address", [])) + 1
    return rows.add("address", session_id=sid, customer_id=customer, public_id=f"A-{n}",
                    label=label, recipient=f"{user.name.first_name} {user.name.last_name}",
                    line1=a.address1, line2=a.address2, city=a.city, region=a.state,
                    postcode=a.zip, country=a.country, is_default=default)


def _user(rows: _Rows, sid: str, user: User) -> tuple[int, dict[str, int]]:
    where = f"users[{user.user_id!r}]"
    customer = rows.add(
        "customer", session_id=sid, public_id=user.user_id,
        name=f"{user.name.first_name} {user.name.last_name}", email=user.email,
        tier="standard", member_since=SIM_EPOCH, first_name=user.name.first_name,
        last_name=user.name.last_name)
    _address(rows, sid, customer, user, user.address, default=True, label="default")
    methods: dict[str, int] = {}
    for key, m in user.payment_methods.items():
        brand = getattr(m, "brand", None)
        last_four = getattr(m, "last_four", None)
        balance = getattr(m, "balance", None)
        label = {"credit_card": f"{brand} ending {last_four}", "paypal": "PayPal",
                 "gift_card": "Gift card"}[m.source]
        methods[key] = rows.add(
            "payment_method", session_id=sid, customer_id=customer, public_id=m.id,
            kind=_KIND[m.source], label=label, is_default=False, brand=brand,
            last_four=last_four,
            balance_cents=None if balance is None else rows.money(
                balance, f"{where}.payment_methods[{key!r}].balance"))
    if len(set(user.orders)) != len(user.orders):
        rows.problems.append(Problem(f"{where}.orders", "repeat an order id",
                                     "each of the user's orders once"))
    return customer, methods


def _units(rows: _Rows, where: str, lines: list[tuple[int, str]], items: list[str],
           ) -> list[int | None]:
    """The line (local key) of each unit of ``items``, each line used once."""
    free = list(lines)
    out: list[int | None] = []
    for item in items:
        hit = next((x for x in free if x[1] == item), None)
        if hit is None:
            rows.problems.append(Problem(where, f"name {item!r} more often than the order "
                                         "holds it", "units of the order's items"))
            out.append(None)
            continue
        free.remove(hit)
        out.append(hit[0])
    return out


def _sorted(rows: _Rows, where: str, items: list[str]) -> None:
    if items != sorted(items):
        rows.problems.append(Problem(where, f"is {items}", "sorted item ids (tau2 sorts them)"))


def _requests(rows: _Rows, sid: str, o: Order, order: int, methods: dict[str, int],
              lines: list[tuple[int, str]], prices: list[int], counters: Counter[str]) -> None:
    where = f"orders[{o.order_id!r}]"
    if (o.return_items is None) != (o.return_payment_method_id is None):
        rows.problems.append(Problem(where, "has only part of a return request",
                                     "return_items and return_payment_method_id together"))
    elif o.return_items is not None and o.return_payment_method_id is not None:
        _sorted(rows, f"{where}.return_items", o.return_items)
        method = rows.method(methods, o.return_payment_method_id,
                             f"{where}.return_payment_method_id")
        kind = rows.tables["payment_method"][method]["kind"] if method is not None else ""
        counters["return"] += 1
        request = rows.add(
            "return_request", session_id=sid, number=counters["return"], order_id=order,
            status="requested", reason="",
            refund_to="gift_card" if kind == "gift_card" else "original", refund_cents=0,
            fee_cents=0, created_at=SIM_EPOCH, payment_method_id=method)
        for line in _units(rows, f"{where}.return_items", lines, o.return_items):
            rows.add("return_line", session_id=sid, return_id=request, order_line_id=line,
                     quantity=1, refund_cents=0, fee_cents=0)
    parts = (o.exchange_items, o.exchange_new_items, o.exchange_payment_method_id,
             o.exchange_price_difference)
    if any(p is None for p in parts) and any(p is not None for p in parts):
        rows.problems.append(Problem(where, "has only part of an exchange request",
                                     "the four exchange fields together"))
        return
    if o.exchange_items is None or o.exchange_new_items is None \
            or o.exchange_price_difference is None or o.exchange_payment_method_id is None:
        return
    _sorted(rows, f"{where}.exchange_items", o.exchange_items)
    _sorted(rows, f"{where}.exchange_new_items", o.exchange_new_items)
    if len(o.exchange_items) != len(o.exchange_new_items):
        rows.problems.append(Problem(f"{where}.exchange_new_items", "differ in number from "
                                     "exchange_items", "one new item per exchanged unit"))
        return
    header = rows.tables["shop_order"][order]
    header["exchange_payment_method_id"] = rows.method(
        methods, o.exchange_payment_method_id, f"{where}.exchange_payment_method_id")
    header["exchange_price_difference_cents"] = rows.money(
        o.exchange_price_difference, f"{where}.exchange_price_difference")
    used = _units(rows, f"{where}.exchange_items", lines, o.exchange_items)
    by_line = {line: (item, price) for (line, item), price in zip(lines, prices, strict=True)}
    for line, new in zip(used, o.exchange_new_items, strict=True):
        if line is None or new not in rows.ids.variant_pk:
            continue
        old_item, paid = by_line[line]
        counters["exchange"] += 1
        rows.add("exchange_request", session_id=sid, number=counters["exchange"],
                 order_id=order, order_line_id=line, quantity=1,
                 from_variant_id=rows.ids.variant_pk[old_item],
                 to_variant_id=rows.ids.variant_pk[new],
                 price_difference_cents=rows.catalog_price(new) - paid,
                 status="requested", reason="", created_at=SIM_EPOCH)


def _order(rows: _Rows, sid: str, o: Order, user: User, customer: int,
           methods: dict[str, int], counters: Counter[str]) -> None:
    where = f"orders[{o.order_id!r}]"
    number = order_number(o.order_id)
    if number is None:
        rows.problems.append(Problem(where, "has an id not shaped '#W' and seven digits",
                                     "an order id like '#W0123456'"))
        return
    address = _address(rows, sid, customer, user, o.address, default=False, label=o.order_id)
    prices = [rows.money(it.price, f"{where}.items[{i}].price") for i, it in enumerate(o.items)]
    a = o.address
    order = rows.add(
        "shop_order", session_id=sid, customer_id=customer, number=number, status=o.status,
        follows_clock=False, placed_at=SIM_EPOCH, address_id=address,
        ship_to=", ".join(x for x in (f"{user.name.first_name} {user.name.last_name}",
                                      a.address1, a.address2, a.city,
                                      f"{a.state} {a.zip}", a.country) if x),
        shipping_option="standard", subtotal_cents=sum(prices), discount_cents=0,
        shipping_cents=0, total_cents=sum(prices), discount_code=None,
        processing_at=SIM_EPOCH, shipped_at=SIM_EPOCH, delivered_at=SIM_EPOCH,
        cancelled_at=SIM_EPOCH if o.cancel_reason is not None else None,
        cancel_reason=o.cancel_reason, exchange_payment_method_id=None,
        exchange_price_difference_cents=None)
    lines: list[tuple[int, str]] = []
    for i, (it, price) in enumerate(zip(o.items, prices, strict=True)):
        product = rows.ids.product_pk.get(it.product_id)
        variant = rows.ids.variant_pk.get(it.item_id)
        if product is None or variant is None:
            rows.problems.append(Problem(f"{where}.items[{i}]", f"names item {it.item_id!r} "
                                         f"of product {it.product_id!r}",
                                         "an item of the world's products"))
            continue
        lines.append((rows.add(
            "order_line", session_id=sid, order_id=order, line_no=i + 1, product_id=product,
            variant_id=variant, title=it.name, options=dict(it.options),
            category_slug=rows.slugs[product], unit_price_cents=price, quantity=1,
            discount_cents=0, final_sale=False, returned_quantity=0,
            exchanged_quantity=0), it.item_id))
    for i, pay in enumerate(o.payment_history):
        rows.add("payment", session_id=sid, order_id=order,
                 payment_method_id=rows.method(
                     methods, pay.payment_method_id,
                     f"{where}.payment_history[{i}].payment_method_id"),
                 kind="charge" if pay.transaction_type == "payment" else "refund",
                 amount_cents=rows.money(pay.amount, f"{where}.payment_history[{i}].amount"),
                 reason=pay.transaction_type, created_at=SIM_EPOCH)
    delivered = o.status in ("delivered", "return requested", "exchange requested")
    for f in o.fulfillments:
        rows.add("shipment", session_id=sid, order_id=order, exchange_id=None, carrier="",
                 tracking_number=f.tracking_id[0] if f.tracking_id else "",
                 status="cancelled" if o.status == "cancelled" else
                 "delivered" if delivered else "in_transit",
                 shipped_at=SIM_EPOCH, delivered_at=SIM_EPOCH,
                 tracking_ids=list(f.tracking_id),
                 variant_ids=[rows.ids.variant_pk.get(item, 0) for item in f.item_ids])
    _requests(rows, sid, o, order, methods, lines,
              [p for p, it in zip(prices, o.items, strict=True)
               if it.item_id in rows.ids.variant_pk and it.product_id in rows.ids.product_pk],
              counters)


def _template_rows(conn: Connection, world: Tau2Retail, sid: str) -> _Rows:
    """Every row of the template (local keys), or Tau2DataError naming what cannot be held."""
    ids = catalog_ids(conn, world)
    P, C = CatalogProduct.__table__, Category.__table__  # type: ignore[attr-defined]  # noqa: N806
    V = CatalogVariant.__table__  # type: ignore[attr-defined]  # noqa: N806
    slugs: dict[int, str] = dict(conn.execute(
        select(P.c.id, C.c.slug).join(C, C.c.id == P.c.category_id)
        .where(P.c.id.in_(list(ids.product_pk.values())))).all())
    prices: dict[int, int] = dict(conn.execute(select(V.c.id, V.c.price_cents).where(
        V.c.id.in_(list(ids.variant_pk.values())))).all())
    rows = _Rows(ids, slugs, prices)
    counters: Counter[str] = Counter()
    for user in world.db.users.values():
        customer, methods = _user(rows, sid, user)
        for key in user.orders:
            o = world.db.orders[key]
            _order(rows, sid, o, user, customer, methods, counters)
    if rows.problems:
        file = str(world.domain_dir / "db.json")
        raise Tau2DataError(
            f"{file}: the world cannot be held as session rows: "
            + "; ".join(p.text() for p in rows.problems[:5]),
            file=file, problems=[p.__dict__ for p in rows.problems[:5]],
            problem_count=len(rows.problems))
    rows.counters = counters
    return rows


def _catalog_fingerprint(conn: Connection) -> str:
    CI = CatalogInfo.__table__  # type: ignore[attr-defined]  # noqa: N806
    info = conn.execute(select(CI.c.fingerprint)).scalar()
    if info is None:
        raise InvalidState("the database has no catalog yet: import the tau2 world's products "
                           "first (mcp_shop.tau2.world.import_tau2_catalog)")
    return str(info)


def _session_row(sid: str, *, surface: str, world: str, fingerprint: str,
                 returns: int = 1, exchanges: int = 1) -> dict[str, Any]:
    return dict(id=sid, seed=0, catalog_fingerprint=fingerprint, clock=SIM_EPOCH,
                started_at=SIM_EPOCH, customer_id=None, next_order_number=FIRST_ORDER_NUMBER,
                next_return_number=returns, next_exchange_number=exchanges, trace_seq=0,
                surface=surface, world=world)


def install_tau2_world(engine: Engine, world: Tau2Retail) -> str:
    """Write ``world``'s users and orders as a template session (once: the same world again
    reuses it) and return the world's key (its database hash) for ``open_tau2_session``.

    The world's products must be the database's catalog (``import_tau2_catalog``). Raises
    ``Tau2DataError`` (nothing written) when the world cannot be held exactly: an order id not
    shaped '#W' + seven digits, an amount that is not a whole number of cents, a request that
    names units the order does not hold or item lists that are not sorted as tau2 keeps them.
    """
    key = db_hash(world.db)
    W = Tau2World.__table__  # type: ignore[attr-defined]  # noqa: N806
    with write_tx(engine) as conn:
        if conn.dialect.name == "postgresql":  # concurrent installs of one world: one writes
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext(%(k)s))",
                                 {"k": f"tau2_world:{key}"})
        fingerprint = _catalog_fingerprint(conn)
        found = conn.execute(select(W.c.template_session_id, W.c.catalog_fingerprint)
                             .where(W.c.key == key)).first()
        if found is not None and found[1] == fingerprint:
            return key
        if found is not None:
            raise InvalidState(f"tau2 world {key[:12]}... was installed over another catalog; "
                               "import its products into a fresh database",
                               world=key)
        sid = new_handle()
        rows = _template_rows(conn, world, sid)
        insert(conn, ShopSession.__table__, _session_row(  # type: ignore[attr-defined]
            sid, surface=TEMPLATE_SURFACE, world=key, fingerprint=fingerprint,
            returns=rows.counters["return"] + 1, exchanges=rows.counters["exchange"] + 1))
        write_rows(conn, rows.tables)
        insert(conn, W, dict(key=key, template_session_id=sid, catalog_fingerprint=fingerprint,
                             product_ids=rows.ids.product_pk))
    return key


def open_tau2_session(engine: Engine, world_key: str) -> str:
    """A new ``tau2-retail`` session holding an exact copy of the world's template; returns
    its handle. NotFound when the world was not installed in this database."""
    W = Tau2World.__table__  # type: ignore[attr-defined]  # noqa: N806
    S = ShopSession.__table__  # type: ignore[attr-defined]  # noqa: N806
    with write_tx(engine) as conn:
        found = conn.execute(select(W.c.template_session_id, W.c.catalog_fingerprint)
                             .where(W.c.key == world_key)).first()
        if found is None:
            raise NotFound(f"no tau2 world {world_key!r} in this database: install it with "
                           "install_tau2_world first", world=world_key)
        template, fingerprint = found
        if _catalog_fingerprint(conn) != fingerprint:
            raise InvalidState("the catalog changed since this tau2 world was installed; "
                               "install the world again over its own catalog", world=world_key)
        t = conn.execute(select(S.c.next_return_number, S.c.next_exchange_number)
                         .where(S.c.id == template)).one()
        sid = new_handle()
        insert(conn, S, _session_row(sid, surface=SURFACE, world=world_key,
                                     fingerprint=fingerprint, returns=t[0], exchanges=t[1]))
        copy_session_rows(conn, template, sid)
    return sid


def world_of(conn: Connection, session_id: str) -> str:
    """The world key of a tau2 session (or template); NotFound/InvalidState otherwise."""
    S = ShopSession.__table__  # type: ignore[attr-defined]  # noqa: N806
    row = conn.execute(select(S.c.surface, S.c.world).where(S.c.id == session_id)).first()
    if row is None:
        raise NotFound("unknown session_id: open a tau2 session with open_tau2_session first")
    if row[0] not in (SURFACE, TEMPLATE_SURFACE) or row[1] is None:
        raise InvalidState(f"session is a {row[0]} session, not a tau2 retail one",
                           surface=row[0])
    return str(row[1])


_IDS: dict[tuple[str, str], CatalogIds] = {}  # (database url, world key) -> its ids


def world_ids(conn: Connection, session_id: str) -> CatalogIds:
    """tau2 product and item ids <-> catalog keys for the session's world (cached per
    database and world: the catalog is immutable)."""
    key = world_of(conn, session_id)
    cache_key = (str(conn.engine.url), key)
    found = _IDS.get(cache_key)
    if found is not None:
        return found
    W = Tau2World.__table__  # type: ignore[attr-defined]  # noqa: N806
    V = CatalogVariant.__table__  # type: ignore[attr-defined]  # noqa: N806
    products = conn.execute(select(W.c.product_ids).where(W.c.key == key)).scalar_one()
    if isinstance(products, str):
        products = json.loads(products)
    variants = {sku: vid for vid, sku in conn.execute(
        select(V.c.id, V.c.sku).where(V.c.product_id.in_(list(products.values()))))}
    found = _IDS[cache_key] = CatalogIds.of(dict(products), variants)
    return found
