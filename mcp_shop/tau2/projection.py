"""A tau2 retail session read back into tau2's layout (:mod:`mcp_shop.tau2.records`).

The one reading of the rows described in ``/work/notes/tau2-contract.md``: the whole world
(``project_session``, which the tau2-compatible DB verdict hashes) and single users, orders,
products and items (what the tau2 tools return) come from the same functions, filtered, so a
tool's answer and the hashed state cannot differ. Amounts are cents / 100; lists keep row
order (key order, ``line_no`` for order lines), except the return and exchange item lists,
which tau2 keeps sorted. The many small records (addresses, order items, payments,
fulfillments) are built without validation (``model_construct``: their values come from typed
columns; about half of a whole-world projection's time otherwise); users and orders are
validated.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, true

from mcp_shop import models
from mcp_shop.sql import as_json
from mcp_shop.tau2.records import (
    CreditCard,
    Fulfillment,
    GiftCard,
    Order,
    OrderItem,
    OrderPayment,
    PaymentMethod,
    Paypal,
    Product,
    RetailDB,
    User,
    UserAddress,
    UserName,
    Variant,
)
from mcp_shop.tau2.session_world import order_key, order_number, world_ids
from mcp_shop.tau2.world import CatalogIds, project_products

__all__ = ["find_item", "project_order", "project_product", "project_session", "project_user"]

CU = models.Customer.__table__  # type: ignore[attr-defined]
AD = models.Address.__table__  # type: ignore[attr-defined]
PM = models.PaymentMethod.__table__  # type: ignore[attr-defined]
ORD = models.Order.__table__  # type: ignore[attr-defined]
OL = models.OrderLine.__table__  # type: ignore[attr-defined]
PAY = models.Payment.__table__  # type: ignore[attr-defined]
SH = models.Shipment.__table__  # type: ignore[attr-defined]
RR = models.ReturnRequest.__table__  # type: ignore[attr-defined]
RL = models.ReturnLine.__table__  # type: ignore[attr-defined]
XR = models.ExchangeRequest.__table__  # type: ignore[attr-defined]


def _address(row: Any) -> UserAddress:
    return UserAddress.model_construct(address1=row.line1, address2=row.line2, city=row.city,
                       country=row.country, state=row.region, zip=row.postcode)


def _method(row: Any) -> PaymentMethod:
    if row.kind == "gift_card":
        return GiftCard(source="gift_card", id=row.public_id, balance=row.balance_cents / 100)
    if row.kind == "paypal":
        return Paypal(source="paypal", id=row.public_id)
    return CreditCard(source="credit_card", id=row.public_id, brand=row.brand,
                      last_four=row.last_four)


def _users(conn: Connection, sid: str, customer: int | None = None) -> dict[str, User]:
    """The session's users (or the one with key ``customer``), in key order."""
    def only(table: Any, column: str = "customer_id") -> Any:
        return table.c[column] == customer if customer is not None else true()

    customers = conn.execute(
        select(CU.c.id, CU.c.public_id, CU.c.first_name, CU.c.last_name, CU.c.email)
        .where(CU.c.session_id == sid, only(CU, "id")).order_by(CU.c.id)).all()
    homes = {r.customer_id: _address(r) for r in conn.execute(
        select(AD.c.customer_id, AD.c.line1, AD.c.line2, AD.c.city, AD.c.region,
               AD.c.postcode, AD.c.country)
        .where(AD.c.session_id == sid, AD.c.is_default.is_(True), only(AD)))}
    methods: dict[int, dict[str, PaymentMethod]] = {c.id: {} for c in customers}
    for r in conn.execute(
            select(PM.c.customer_id, PM.c.public_id, PM.c.kind, PM.c.brand, PM.c.last_four,
                   PM.c.balance_cents)
            .where(PM.c.session_id == sid, only(PM)).order_by(PM.c.id)):
        methods[r.customer_id][r.public_id] = _method(r)
    orders: dict[int, list[str]] = {c.id: [] for c in customers}
    for cust, number in conn.execute(
            select(ORD.c.customer_id, ORD.c.number)
            .where(ORD.c.session_id == sid, only(ORD)).order_by(ORD.c.id)):
        orders[cust].append(order_key(number))
    return {c.public_id: User(
        user_id=c.public_id, name=UserName(first_name=c.first_name, last_name=c.last_name),
        address=homes[c.id], email=c.email, payment_methods=methods[c.id],
        orders=orders[c.id]) for c in customers}


def _orders(conn: Connection, sid: str, ids: CatalogIds,
            number: int | None = None) -> dict[str, Order]:
    """The session's orders (or the one numbered ``number``), in key order."""
    head = conn.execute(
        select(ORD.c.id, ORD.c.number, ORD.c.status, ORD.c.cancel_reason,
               ORD.c.exchange_price_difference_cents, CU.c.public_id.label("user_id"),
               PM.c.public_id.label("exchange_method"), AD.c.line1, AD.c.line2, AD.c.city,
               AD.c.region, AD.c.postcode, AD.c.country)
        .join(CU, CU.c.id == ORD.c.customer_id).join(AD, AD.c.id == ORD.c.address_id)
        .outerjoin(PM, PM.c.id == ORD.c.exchange_payment_method_id)
        .where(ORD.c.session_id == sid, ORD.c.number == number if number is not None else true())
        .order_by(ORD.c.id)).all()
    if not head:
        return {}

    def only(table: Any) -> Any:  # the child rows of these orders
        return (table.c.order_id == head[0].id) if number is not None else \
            (table.c.session_id == sid)

    per: dict[int, dict[str, Any]] = {o.id: {"items": [], "fulfillments": [], "payments": [],
                                             "returns": None, "old": [], "new": []}
                                      for o in head}
    for r in conn.execute(select(OL.c.order_id, OL.c.product_id, OL.c.variant_id, OL.c.title,
                                 OL.c.unit_price_cents, OL.c.options)
                          .where(only(OL)).order_by(OL.c.order_id, OL.c.line_no)):
        per[r.order_id]["items"].append(OrderItem.model_construct(
            name=r.title, product_id=ids.product_of_pk[r.product_id],
            item_id=ids.item_of_pk[r.variant_id], price=r.unit_price_cents / 100,
            options=as_json(r.options)))
    for r in conn.execute(select(PAY.c.order_id, PAY.c.kind, PAY.c.amount_cents,
                                 PM.c.public_id)
                          .join(PM, PM.c.id == PAY.c.payment_method_id)
                          .where(only(PAY)).order_by(PAY.c.id)):
        per[r.order_id]["payments"].append(OrderPayment.model_construct(
            transaction_type="payment" if r.kind == "charge" else "refund",
            amount=r.amount_cents / 100, payment_method_id=r.public_id))
    for r in conn.execute(select(SH.c.order_id, SH.c.tracking_ids, SH.c.variant_ids)
                          .where(only(SH)).order_by(SH.c.id)):
        per[r.order_id]["fulfillments"].append(Fulfillment.model_construct(
            tracking_id=list(as_json(r.tracking_ids) or []),
            item_ids=[ids.item_of_pk[v] for v in as_json(r.variant_ids) or []]))
    request_of: dict[int, int] = {}
    for r in conn.execute(select(RR.c.id, RR.c.order_id, PM.c.public_id)
                          .join(PM, PM.c.id == RR.c.payment_method_id)
                          .where(only(RR)).order_by(RR.c.id)):
        per[r.order_id]["returns"] = (r.public_id, [])
        request_of[r.id] = r.order_id
    if request_of:
        for r in conn.execute(select(RL.c.return_id, OL.c.variant_id)
                              .join(OL, OL.c.id == RL.c.order_line_id)
                              .where(RL.c.return_id.in_(list(request_of))).order_by(RL.c.id)):
            per[request_of[r.return_id]]["returns"][1].append(ids.item_of_pk[r.variant_id])
    for r in conn.execute(select(XR.c.order_id, XR.c.from_variant_id, XR.c.to_variant_id)
                          .where(only(XR)).order_by(XR.c.id)):
        per[r.order_id]["old"].append(ids.item_of_pk[r.from_variant_id])
        per[r.order_id]["new"].append(ids.item_of_pk[r.to_variant_id])
    out = {}
    for o in head:
        p = per[o.id]
        exchange = o.exchange_method is not None
        returns = p["returns"]
        out[order_key(o.number)] = Order(
            order_id=order_key(o.number), user_id=o.user_id, address=_address(o),
            items=p["items"], status=o.status, fulfillments=p["fulfillments"],
            payment_history=p["payments"], cancel_reason=o.cancel_reason,
            exchange_items=sorted(p["old"]) if exchange else None,
            exchange_new_items=sorted(p["new"]) if exchange else None,
            exchange_payment_method_id=o.exchange_method,
            exchange_price_difference=o.exchange_price_difference_cents / 100
            if exchange else None,
            return_items=sorted(returns[1]) if returns else None,
            return_payment_method_id=returns[0] if returns else None)
    return out


def project_session(conn: Connection, session_id: str) -> RetailDB:
    """The whole tau2 world a tau2 session holds now."""
    ids = world_ids(conn, session_id)
    return RetailDB(products=project_products(conn, ids), users=_users(conn, session_id),
                    orders=_orders(conn, session_id, ids))


def project_user(conn: Connection, session_id: str, user_id: str) -> User | None:
    """One user (tau2's ``get_user_details``), or None when the session has no such user."""
    pk = conn.execute(select(CU.c.id).where(CU.c.session_id == session_id,
                                            CU.c.public_id == user_id)).scalar()
    if pk is None:
        return None
    return _users(conn, session_id, pk).get(user_id)


def project_order(conn: Connection, session_id: str, order_id: str) -> Order | None:
    """One order (tau2's ``get_order_details``), or None when there is no such order."""
    number = order_number(order_id)
    if number is None:
        return None
    return _orders(conn, session_id, world_ids(conn, session_id), number).get(order_id)


def _one_product(conn: Connection, ids: CatalogIds, product_id: str) -> Product | None:
    pk = ids.product_pk.get(product_id)
    if pk is None:
        return None
    V = models.Variant.__table__  # type: ignore[attr-defined]  # noqa: N806
    mine = set(conn.execute(select(V.c.id).where(V.c.product_id == pk)).scalars())
    sub = CatalogIds.of({product_id: pk}, {item: vid for item, vid in ids.variant_pk.items()
                                           if vid in mine})
    return project_products(conn, sub)[product_id]


def project_product(conn: Connection, session_id: str, product_id: str) -> Product | None:
    """One product type with its items (tau2's ``get_product_details``), or None."""
    return _one_product(conn, world_ids(conn, session_id), product_id)


def find_item(conn: Connection, session_id: str, item_id: str) -> Variant | None:
    """One item (tau2's ``get_item_details``), or None when no product has it."""
    ids = world_ids(conn, session_id)
    vid = ids.variant_pk.get(item_id)
    if vid is None:
        return None
    V = models.Variant.__table__  # type: ignore[attr-defined]  # noqa: N806
    pk = conn.execute(select(V.c.product_id).where(V.c.id == vid)).scalar_one()
    product = _one_product(conn, ids, ids.product_of_pk[pk])
    return product.variants[item_id] if product is not None else None
