"""Hand-written statements (:mod:`mcp_shop.sql`) for the order reads and money moves of
:mod:`mcp_shop.orders`: every order tool runs them, and SQLAlchemy Core's per-statement work
(expressions built, cache keys, result processing) was most of ``get_order``'s time. Values
come back raw: SQLite timestamps as text, JSON as text, booleans as 0/1.
"""

from __future__ import annotations

from mcp_shop.models import (
    ExchangeRequest,
    Order,
    OrderLine,
    Payment,
    PaymentMethod,
    ReturnLine,
    ReturnRequest,
    Shipment,
    ShopSession,
)
from mcp_shop.sql import Sql

ORD = Order.__table__  # type: ignore[attr-defined]
OL = OrderLine.__table__  # type: ignore[attr-defined]
PAY = Payment.__table__  # type: ignore[attr-defined]
PM = PaymentMethod.__table__  # type: ignore[attr-defined]
SH = Shipment.__table__  # type: ignore[attr-defined]
RR = ReturnRequest.__table__  # type: ignore[attr-defined]
RL = ReturnLine.__table__  # type: ignore[attr-defined]
XR = ExchangeRequest.__table__  # type: ignore[attr-defined]
S = ShopSession.__table__  # type: ignore[attr-defined]

ORDER_TIMES = ("placed_at", "processing_at", "shipped_at", "delivered_at", "cancelled_at")
ORDER_TIME_POSITIONS = tuple(i for i, c in enumerate(ORD.columns) if c.name in ORDER_TIMES)
ORDER_SELECT = (f"SELECT {', '.join(c.name for c in ORD.columns)} FROM {ORD.name} "
                 "WHERE session_id = ? AND number = ?")
ORDER = Sql(ORDER_SELECT)
ORDER_LOCKED = Sql(ORDER_SELECT, pg=ORDER_SELECT + " FOR UPDATE")
ORDER_NUMBERS = Sql(f"SELECT number FROM {ORD.name} WHERE session_id = ? ORDER BY number")
ORDER_LIST = Sql(f"""SELECT o.number, o.status, o.placed_at, o.total_cents, c.n
    FROM {ORD.name} o JOIN (SELECT order_id, sum(quantity) AS n FROM {OL.name}
                            WHERE session_id = ? GROUP BY order_id) c ON c.order_id = o.id
    WHERE o.session_id = ? ORDER BY o.placed_at DESC, o.number DESC""")
ORDER_LINES = Sql(f"""SELECT id, line_no, product_id, variant_id, title, options,
    unit_price_cents, quantity, discount_cents, final_sale, returned_quantity, exchanged_quantity
    FROM {OL.name} WHERE order_id = ? ORDER BY line_no""")
LINE_QUANTITIES = Sql(f"SELECT variant_id, quantity FROM {OL.name} WHERE order_id = ?")
RETURNS = Sql(f"""SELECT id, number, status, reason, refund_to, refund_cents, fee_cents,
    created_at FROM {RR.name} WHERE order_id = ? ORDER BY id""")
RETURN_LINES = Sql(f"""SELECT rl.return_id, rl.order_line_id, rl.quantity, rl.refund_cents,
    rl.fee_cents FROM {RL.name} rl JOIN {RR.name} rr ON rr.id = rl.return_id
    WHERE rr.order_id = ? ORDER BY rl.id""")
EXCHANGES = Sql(f"""SELECT id, number, status, reason, from_variant_id, to_variant_id, quantity,
    price_difference_cents, created_at FROM {XR.name} WHERE order_id = ? ORDER BY id""")
ORDER_PAYMENTS = Sql(f"""SELECT p.kind, m.public_id, m.label, p.amount_cents, p.reason,
    p.created_at FROM {PAY.name} p JOIN {PM.name} m ON m.id = p.payment_method_id
    WHERE p.order_id = ? ORDER BY p.id""")
SHIPMENTS = Sql(f"""SELECT carrier, tracking_number, status, shipped_at, delivered_at,
    exchange_id FROM {SH.name} WHERE order_id = ? ORDER BY id""")
PAYMENT_AMOUNTS = Sql(f"SELECT payment_method_id, kind, amount_cents FROM {PAY.name} "
                       "WHERE order_id = ? ORDER BY id")
GIFT_CARD_CREDIT = Sql(f"UPDATE {PM.name} SET balance_cents = balance_cents + ? "
                        "WHERE id = ? AND kind = 'gift_card'")
GIFT_CARD = Sql(f"SELECT id FROM {PM.name} WHERE session_id = ? AND kind = 'gift_card' "
                 "ORDER BY id")
METHOD_COUNT = Sql(f"SELECT count(*) FROM {PM.name} WHERE session_id = ?")
CLOCK = Sql(f"SELECT clock FROM {S.name} WHERE id = ?")
RELEASE_CODE = Sql("UPDATE discount_code SET used = ? WHERE session_id = ? AND code = ?")
CANCEL = Sql(f"UPDATE {ORD.name} SET status = 'cancelled', cancelled_at = ?, cancel_reason = ? "
              "WHERE id = ?")
CANCEL_SHIPMENTS = Sql(f"UPDATE {SH.name} SET status = 'cancelled' WHERE order_id = ?")


def _insert(table: str, columns: str, *, returning: bool = False) -> Sql:
    names = columns.split()
    return Sql(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
               + (" RETURNING id" if returning else ""))


# place_order's rows, in the columns and with the values mcp_shop.sql.insert would write
INSERT_ORDER = _insert(ORD.name, """session_id number status placed_at address_id ship_to
    shipping_option subtotal_cents discount_cents shipping_cents total_cents discount_code
    processing_at shipped_at delivered_at""", returning=True)
INSERT_LINE = _insert(OL.name, """session_id order_id line_no product_id variant_id title options
    category_slug unit_price_cents quantity discount_cents final_sale returned_quantity
    exchanged_quantity""")
INSERT_PAYMENT = _insert(PAY.name, """session_id order_id payment_method_id kind amount_cents reason
    created_at""")
INSERT_SHIPMENT = _insert(SH.name, """session_id order_id carrier tracking_number status shipped_at
    delivered_at""")
