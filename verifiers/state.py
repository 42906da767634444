"""Normalising a raw session snapshot into a ``ShopState`` with public ids.

``Shop.snapshot(session_id)`` returns every per-session row keyed by table name, with integer
keys. The verifiers compare states by what an agent and a shopper can see, so this module turns
those rows into public ids (``P-000042``, ``V-000042-3``, ``O-1001``, ``R-1``, ``X-1``,
``PM-1``) and joins the tables a check needs (payments with their method, return lines with
their variant, ...). It is pure: no database, only the rows.

The id formats are restated here (rather than imported from ``mcp_shop.ids``) so that importing
the verifiers never imports the shop's database layer; ``tests/verifiers`` checks they agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from verifiers.types import (
    CartLine,
    ExchangeState,
    OrderLineState,
    OrderState,
    PaymentState,
    ReturnState,
    ShopState,
)

__all__ = ["normalize", "order_public_id", "product_of", "product_public_id",
           "variant_public_id"]

_VARIANTS_PER_PRODUCT = 1000  # variant key = product key * 1000 + position (mcp_shop.ids)
_VARIANT = re.compile(r"^V-(\d{1,9})-(\d{1,3})$")  # as mcp_shop.ids

Rows = list[dict[str, Any]]


def product_public_id(pk: int) -> str:
    """'P-000042' for product key 42."""
    return f"P-{int(pk):06d}"


def variant_public_id(key: int) -> str:
    """'V-000042-3' for variant key 42003 (third variant of product 42)."""
    key = int(key)
    return f"V-{key // _VARIANTS_PER_PRODUCT:06d}-{key % _VARIANTS_PER_PRODUCT}"


def order_public_id(number: int) -> str:
    """'O-1001' for order number 1001."""
    return f"O-{int(number)}"


def product_of(variant_id: str) -> str:
    """The product id of a public variant id: 'V-000042-3' -> 'P-000042'; '' for text that is
    not a variant id (``mcp_shop.ids.product_of`` raises instead)."""
    m = _VARIANT.match(variant_id.strip()) if isinstance(variant_id, str) else None
    if m is None or int(m.group(2)) == 0:
        return ""
    return product_public_id(int(m.group(1)))


def _iso(value: Any) -> str:
    """A timestamp as ISO text, whether the driver returned a datetime or a string (SQLite
    and JSON round trips give strings, PostgreSQL datetimes)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        return text


def _flag(value: Any) -> bool:
    """A boolean column (some drivers and JSON dumps give 0/1 or 'true')."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "t", "yes")
    return bool(value)


def normalize(snapshot: Mapping[str, Rows], *,
              prices: Mapping[str, int] | None = None) -> ShopState:
    """The ``ShopState`` of a raw session snapshot (table name -> rows).

    Cart lines come in the order they were first added. A cart line's ``unit_price_cents`` is
    the session's price override of the variant if there is one, else ``prices[variant_id]``
    when the caller knows it, else 0: catalog prices are not part of a session snapshot, so 0
    means "unknown" (``verifiers.match`` then uses the product facts' price). Orders are sorted
    by number, returns and exchanges by their number.
    """
    known = dict(prices or {})
    session = (snapshot.get("shop_session") or [{}])[0]

    price_overrides = {variant_public_id(r["variant_id"]): int(r["price_cents"])
                       for r in snapshot.get("price_override", [])}
    stock_overrides = {variant_public_id(r["variant_id"]): int(r["stock"])
                       for r in snapshot.get("stock_override", [])}
    known.update(price_overrides)

    codes = {r["id"]: r for r in snapshot.get("discount_code", [])}
    methods = {r["id"]: r for r in snapshot.get("payment_method", [])}

    cart_code = None
    for header in snapshot.get("cart", []):
        code_row = codes.get(header.get("discount_code_id"))
        if code_row is not None:
            cart_code = str(code_row["code"])
    cart = [
        CartLine(variant_id=(vid := variant_public_id(r["variant_id"])),
                 product_id=product_of(vid), quantity=int(r["quantity"]),
                 unit_price_cents=int(known.get(vid, 0)))
        for r in sorted(snapshot.get("cart_line", []), key=lambda r: int(r["added_seq"]))
    ]

    order_rows = sorted(snapshot.get("shop_order", []), key=lambda r: int(r["number"]))
    order_ids = {r["id"]: order_public_id(r["number"]) for r in order_rows}
    # each order's lines, payments and shipments, grouped once in their order
    lines_of = _by_order(snapshot, "order_line", lambda x: int(x["line_no"]), order_rows)
    payments_of = _by_order(snapshot, "payment", lambda p: p["id"], order_rows)
    shipments_of = _by_order(snapshot, "shipment", lambda s: s["id"], order_rows)

    orders = [
        _order(row, lines_of.get(row["id"], []), payments_of.get(row["id"], []),
               shipments_of.get(row["id"], []), methods) for row in order_rows
    ]
    return_rows = snapshot.get("return_request", [])
    line_variant = {r["id"]: variant_public_id(r["variant_id"])
                    for r in snapshot.get("order_line", [])} if return_rows else {}
    return_lines_of = _by_order(snapshot, "return_line", lambda x: x["id"], return_rows,
                                by="return_id")
    returns = []
    for r in sorted(return_rows, key=lambda r: int(r["number"])):
        lines = [(line_variant.get(x["order_line_id"], ""), int(x["quantity"]))
                 for x in return_lines_of.get(r["id"], [])]
        returns.append(ReturnState(return_id=f"R-{int(r['number'])}",
                                   order_id=order_ids.get(r["order_id"], ""),
                                   reason=str(r["reason"]), refund_to=str(r["refund_to"]),
                                   lines=lines))
    exchanges = [
        ExchangeState(exchange_id=f"X-{int(x['number'])}",
                      order_id=order_ids.get(x["order_id"], ""),
                      from_variant_id=variant_public_id(x["from_variant_id"]),
                      to_variant_id=variant_public_id(x["to_variant_id"]),
                      quantity=int(x["quantity"]), reason=str(x["reason"]))
        for x in sorted(snapshot.get("exchange_request", []), key=lambda x: int(x["number"]))
    ]
    used = [str(r["code"]) for r in sorted(codes.values(), key=lambda r: r["id"])
            if _flag(r.get("used"))]
    return ShopState(clock=_iso(session.get("clock")), cart=cart, cart_code=cart_code,
                     orders=orders, returns=returns, exchanges=exchanges, used_codes=used,
                     stock=stock_overrides, prices=price_overrides)


def _by_order(snapshot: Mapping[str, Rows], table: str, key: Callable[[dict[str, Any]], Any],
              orders: Rows, *, by: str = "order_id") -> dict[Any, Rows]:
    """The rows of ``table`` by their ``by`` column (an order's id; a return's), each group
    sorted by ``key`` (read only when there are ``orders``, the rows they belong to)."""
    out: dict[Any, Rows] = {}
    for r in sorted(snapshot.get(table, []), key=key) if orders else ():
        out.setdefault(r[by], []).append(r)
    return out


def _order(row: dict[str, Any], line_rows: Rows, payment_rows: Rows, shipment_rows: Rows,
           methods: dict[Any, dict[str, Any]]) -> OrderState:
    """One order with its lines (by line number), payments (by id, joined to their methods)
    and tracking numbers (shipments by id)."""
    lines = [
        OrderLineState(line_no=int(x["line_no"]),
                       variant_id=variant_public_id(x["variant_id"]),
                       product_id=product_public_id(x["product_id"]),
                       quantity=int(x["quantity"]), unit_price_cents=int(x["unit_price_cents"]),
                       returned_quantity=int(x.get("returned_quantity") or 0),
                       exchanged_quantity=int(x.get("exchanged_quantity") or 0))
        for x in line_rows
    ]
    payments = []
    for p in payment_rows:
        method = methods.get(p["payment_method_id"], {})
        payments.append(PaymentState(
            payment_method_id=str(method.get("public_id", "")), kind=str(method.get("kind", "")),
            amount_cents=int(p["amount_cents"]), reason=str(p["reason"]),
            direction=str(p["kind"])))
    tracking = [str(s["tracking_number"]) for s in shipment_rows]
    return OrderState(
        order_id=order_public_id(row["number"]), status=str(row["status"]), lines=lines,
        code=row.get("discount_code"), shipping_option=str(row["shipping_option"]),
        subtotal_cents=int(row["subtotal_cents"]), discount_cents=int(row["discount_cents"]),
        shipping_cents=int(row["shipping_cents"]), total_cents=int(row["total_cents"]),
        payments=payments, cancel_reason=row.get("cancel_reason"), tracking_numbers=tracking)
