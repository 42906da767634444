"""The rows a tau2 retail world becomes in a shop session (``/work/notes/tau2-contract.md``).

``template_rows`` turns the world's users and orders into row dictionaries of the session
tables with local keys (0, 1, ... per table; :func:`mcp_shop.tau2.session_copy.write_rows`
gives them real ones): per user a customer, a default address and the payment methods; per
order an address of its own, the order (tau2's status, not following the clock), one line of
quantity 1 per unit in tau2's order, the payments in history order, a shipment per fulfillment,
and its return or exchange request. What the rows could not hold exactly is refused with a
``Tau2DataError`` naming each place: an order id not shaped '#W' + seven digits, an amount that
is not a whole number of cents (or would not read back as the same float), a request naming
units the order does not hold, item lists not sorted as tau2 keeps them, part of a request.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from sqlalchemy import Connection, select

from mcp_shop.models import Category
from mcp_shop.models import Product as CatalogProduct
from mcp_shop.models import Variant as CatalogVariant
from mcp_shop.sessions import SIM_EPOCH
from mcp_shop.tau2.loader import Problem, Tau2DataError, Tau2Retail
from mcp_shop.tau2.records import Order, User, UserAddress
from mcp_shop.tau2.world import CatalogIds, catalog_ids, cents

__all__ = ["TemplateRows", "order_key", "order_number", "template_rows"]

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




class TemplateRows:
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

    def variant(self, item: str, where: str) -> int:
        """The catalog key of an item; a problem (and 0) when the catalog has no such item."""
        if item not in self.ids.variant_pk:
            self.problems.append(Problem(where, f"name item {item!r}",
                                         "items of the world's products"))
        return self.ids.variant_pk.get(item, 0)

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


def _address(rows: TemplateRows, sid: str, customer: int, user: User, a: UserAddress, *,
             default: bool, label: str) -> int:
    n = len(rows.tables.get("address", [])) + 1
    return rows.add("address", session_id=sid, customer_id=customer, public_id=f"A-{n}",
                    label=label, recipient=f"{user.name.first_name} {user.name.last_name}",
                    line1=a.address1, line2=a.address2, city=a.city, region=a.state,
                    postcode=a.zip, country=a.country, is_default=default)


def _user(rows: TemplateRows, sid: str, user: User) -> tuple[int, dict[str, int]]:
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


def _units(rows: TemplateRows, where: str, lines: list[tuple[int, str]], items: list[str],
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


def _sorted(rows: TemplateRows, where: str, items: list[str]) -> None:
    if items != sorted(items):
        rows.problems.append(Problem(where, f"is {items}", "sorted item ids (tau2 sorts them)"))


def _requests(rows: TemplateRows, sid: str, o: Order, order: int, methods: dict[str, int],
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
        if line is None or not rows.variant(new, f"{where}.exchange_new_items"):
            continue
        old_item, paid = by_line[line]
        counters["exchange"] += 1
        rows.add("exchange_request", session_id=sid, number=counters["exchange"],
                 order_id=order, order_line_id=line, quantity=1,
                 from_variant_id=rows.ids.variant_pk[old_item],
                 to_variant_id=rows.ids.variant_pk[new],
                 price_difference_cents=rows.catalog_price(new) - paid,
                 status="requested", reason="", created_at=SIM_EPOCH)


def _order(rows: TemplateRows, sid: str, o: Order, user: User, customer: int,
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
                 variant_ids=[rows.variant(item, f"{where}.fulfillments") for item in f.item_ids])
    _requests(rows, sid, o, order, methods, lines,
              [p for p, it in zip(prices, o.items, strict=True)
               if it.item_id in rows.ids.variant_pk and it.product_id in rows.ids.product_pk],
              counters)


def template_rows(conn: Connection, world: Tau2Retail, sid: str) -> TemplateRows:
    """Every row of the template (local keys), or Tau2DataError naming what cannot be held."""
    ids = catalog_ids(conn, world)
    P, C = CatalogProduct.__table__, Category.__table__  # type: ignore[attr-defined]  # noqa: N806
    V = CatalogVariant.__table__  # type: ignore[attr-defined]  # noqa: N806
    slugs: dict[int, str] = dict(conn.execute(
        select(P.c.id, C.c.slug).join(C, C.c.id == P.c.category_id)
        .where(P.c.id.in_(list(ids.product_pk.values())))).all())
    prices: dict[int, int] = dict(conn.execute(select(V.c.id, V.c.price_cents).where(
        V.c.id.in_(list(ids.variant_pk.values())))).all())
    rows = TemplateRows(ids, slugs, prices)
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


