"""Per-session tables: one isolated shop world per session handle.

Every row carries ``session_id``; catalog rows are never copied. A session's stock and prices
are the catalog's, except where ``StockOverride`` / ``PriceOverride`` rows say otherwise
(copy-on-write). All times are on the session's simulated clock.

A session serves one surface (``ShopSession.surface``). A native session has one shopper
(``ShopSession.customer_id``) and its addresses, payment methods and orders leave
``customer_id`` None, meaning "the session's shopper". A tau2 retail session
(docs/tau2-retail.md) holds many customers: every address, payment method and order names its
customer, its orders keep the status tau2 gave them (``Order.follows_clock`` False), and the
columns added for it (line2, brand, last four, tracking ids, request headers) have defaults
that leave native rows as they were. /work/notes/tau2-contract.md maps each tau2 field to
its column.
"""

from __future__ import annotations

from typing import Any

from pydantic import NaiveDatetime
from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint, true
from sqlmodel import Field, SQLModel

__all__ = [
    "Address",
    "Cart",
    "CartLine",
    "Customer",
    "DiscountCode",
    "ExchangeRequest",
    "Order",
    "OrderLine",
    "Payment",
    "PaymentMethod",
    "PriceOverride",
    "ReturnLine",
    "ReturnRequest",
    "SURFACES",
    "Shipment",
    "ShopSession",
    "StockOverride",
    "Tau2World",
    "TraceEvent",
]

SURFACES = ("native", "tau2-retail", "tau2-retail-template")
"""What a session serves: the shop's own tools, tau2 retail's tools, or nothing (the template
a tau2 world is copied from for each tau2 session; no server may serve it)."""


def _sid() -> Any:
    return Field(foreign_key="shop_session.id", index=True, max_length=64)


class ShopSession(SQLModel, table=True):
    """One shop world: its handle, seed, simulated clock and counters for its public ids."""

    __tablename__ = "shop_session"

    id: str = Field(primary_key=True, max_length=64, description="unguessable handle")
    seed: int
    catalog_fingerprint: str
    clock: NaiveDatetime = Field(description="the session's simulated 'now'")
    started_at: NaiveDatetime
    customer_id: int | None = None
    next_order_number: int = 1001
    next_return_number: int = 1
    next_exchange_number: int = 1
    trace_seq: int = 0
    surface: str = Field(default="native", max_length=32,
                         sa_column_kwargs={"server_default": "native"},
                         description="'native', 'tau2-retail' or 'tau2-retail-template'")
    world: str | None = Field(default=None, max_length=64, index=True,
                              description="tau2 sessions: the world's database hash")


class StockOverride(SQLModel, table=True):
    """This session's stock of a variant, replacing the catalog's."""

    __tablename__ = "stock_override"

    session_id: str = Field(foreign_key="shop_session.id", primary_key=True, max_length=64)
    variant_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    stock: int


class PriceOverride(SQLModel, table=True):
    """This session's price of a variant, replacing the catalog's (sales, price moves)."""

    __tablename__ = "price_override"

    session_id: str = Field(foreign_key="shop_session.id", primary_key=True, max_length=64)
    variant_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    price_cents: int


class Customer(SQLModel, table=True):
    """The shopper of a session (one of many in a tau2 session)."""

    __tablename__ = "customer"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = _sid()
    public_id: str = Field(description="e.g. 'C-1001'; a tau2 user id in tau2 sessions")
    name: str
    email: str
    tier: str = Field(description="'standard', 'silver' or 'gold'")
    member_since: NaiveDatetime
    first_name: str | None = Field(default=None, description="tau2 sessions: the name's parts")
    last_name: str | None = None


class Address(SQLModel, table=True):
    """A shipping address of the customer (or of one order, in tau2 sessions)."""

    __tablename__ = "address"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = _sid()
    customer_id: int | None = Field(default=None,
                                    description="None: the session's shopper")
    public_id: str = Field(description="e.g. 'A-1'")
    label: str
    recipient: str
    line1: str
    line2: str = Field(default="", sa_column_kwargs={"server_default": ""})
    city: str
    region: str
    postcode: str
    country: str
    is_default: bool = False


class PaymentMethod(SQLModel, table=True):
    """A card, PayPal account or gift card (with balance) of the customer."""

    __tablename__ = "payment_method"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = _sid()
    customer_id: int | None = Field(default=None,
                                    description="None: the session's shopper")
    public_id: str = Field(description="e.g. 'PM-1'; a tau2 payment method id in tau2 sessions")
    kind: str = Field(description="'card', 'paypal' or 'gift_card'")
    label: str = Field(description="masked, e.g. 'Visa ending 4242'")
    balance_cents: int | None = Field(default=None, description="gift cards only")
    is_default: bool = False
    brand: str | None = Field(default=None, description="cards of tau2 sessions, e.g. 'visa'")
    last_four: str | None = None


class DiscountCode(SQLModel, table=True):
    """A discount code known in this session, with its rules."""

    __tablename__ = "discount_code"
    __table_args__ = (UniqueConstraint("session_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = _sid()
    code: str
    kind: str = Field(description="'percent', 'fixed' or 'free_shipping'")
    value: int = Field(description="percent (1-100) or cents, 0 for free shipping")
    min_spend_cents: int = 0
    category_slug: str | None = Field(
        default=None, description="applies only to items under this category slug prefix"
    )
    expires_at: NaiveDatetime | None = None
    single_use: bool = True
    used: bool = False
    description: str = ""


class Cart(SQLModel, table=True):
    """The session's cart header: the applied discount code, if any."""

    __tablename__ = "cart"

    session_id: str = Field(foreign_key="shop_session.id", primary_key=True, max_length=64)
    discount_code_id: int | None = None


class CartLine(SQLModel, table=True):
    """A variant and quantity in the cart."""

    __tablename__ = "cart_line"

    session_id: str = Field(foreign_key="shop_session.id", primary_key=True, max_length=64)
    variant_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    quantity: int
    added_seq: int = Field(description="order in which lines were first added")


class Order(SQLModel, table=True):
    """A placed order; its status moves with the session clock unless ``follows_clock`` is
    False (tau2 orders: their status is what tau2's tools make it)."""

    __tablename__ = "shop_order"
    __table_args__ = (UniqueConstraint("session_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = _sid()
    customer_id: int | None = Field(default=None,
                                    description="None: the session's shopper")
    number: int = Field(description="public id is 'O-<number>' ('#W<7 digits>' for tau2)")
    status: str = Field(description="pending, processing, shipped, delivered or cancelled; "
                                    "tau2 orders: one of tau2's statuses")
    follows_clock: bool = Field(default=True, sa_column_kwargs={"server_default": true()},
                                description="False: the clock never changes the status")
    placed_at: NaiveDatetime
    address_id: int
    ship_to: str = Field(description="address snapshot, one line")
    shipping_option: str
    subtotal_cents: int
    discount_cents: int
    shipping_cents: int
    total_cents: int
    discount_code: str | None = None
    processing_at: NaiveDatetime
    shipped_at: NaiveDatetime
    delivered_at: NaiveDatetime
    cancelled_at: NaiveDatetime | None = None
    cancel_reason: str | None = None
    exchange_payment_method_id: int | None = Field(
        default=None, description="tau2 exchange request: the method for the difference "
                                  "(set exactly when the order has such a request)")
    exchange_price_difference_cents: int | None = Field(
        default=None, description="tau2 exchange request: new minus old, in cents")


class OrderLine(SQLModel, table=True):
    """One variant of an order, with price and discount snapshots."""

    __tablename__ = "order_line"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = _sid()
    order_id: int = Field(foreign_key="shop_order.id", index=True)
    line_no: int
    product_id: int
    variant_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    title: str
    options: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    category_slug: str
    unit_price_cents: int
    quantity: int
    discount_cents: int = Field(description="share of the order discount on this line")
    final_sale: bool = False
    returned_quantity: int = 0
    exchanged_quantity: int = 0


class Payment(SQLModel, table=True):
    """Money moved for an order: a charge (positive) or a refund (kind 'refund')."""

    __tablename__ = "payment"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = _sid()
    order_id: int = Field(foreign_key="shop_order.id", index=True)
    payment_method_id: int
    kind: str = Field(description="'charge' or 'refund'")
    amount_cents: int = Field(description="always positive")
    reason: str
    created_at: NaiveDatetime


class Shipment(SQLModel, table=True):
    """A parcel of an order or an exchange, with its tracking number."""

    __tablename__ = "shipment"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = _sid()
    order_id: int = Field(foreign_key="shop_order.id", index=True)
    exchange_id: int | None = None
    carrier: str
    tracking_number: str
    status: str = Field(description="label_created, in_transit or delivered")
    shipped_at: NaiveDatetime
    delivered_at: NaiveDatetime
    tracking_ids: list[str] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True),
        description="tau2 fulfillments: every tracking id, in order")
    variant_ids: list[int] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True),
        description="tau2 fulfillments: the variants (items) it carries, in order")


class ReturnRequest(SQLModel, table=True):
    """A return of order lines for a refund."""

    __tablename__ = "return_request"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = _sid()
    number: int = Field(description="public id is 'R-<number>'")
    order_id: int = Field(foreign_key="shop_order.id", index=True)
    status: str = Field(description="'refunded'; tau2 sessions: 'requested'")
    reason: str
    refund_to: str = Field(description="'original' or 'gift_card'")
    payment_method_id: int | None = Field(
        default=None, description="tau2 sessions: the method to refund to")
    refund_cents: int
    fee_cents: int
    created_at: NaiveDatetime


class ReturnLine(SQLModel, table=True):
    """One order line (and quantity) of a return."""

    __tablename__ = "return_line"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = _sid()
    return_id: int = Field(foreign_key="return_request.id", index=True)
    order_line_id: int
    quantity: int
    refund_cents: int
    fee_cents: int


class ExchangeRequest(SQLModel, table=True):
    """A delivered line swapped for another variant of the same product."""

    __tablename__ = "exchange_request"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = _sid()
    number: int = Field(description="public id is 'X-<number>'")
    order_id: int = Field(foreign_key="shop_order.id", index=True)
    order_line_id: int
    quantity: int
    from_variant_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    to_variant_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    price_difference_cents: int = Field(description="> 0 charged, < 0 refunded")
    status: str = Field(description="'replacement_shipped' or 'completed'; tau2: 'requested'")
    reason: str
    created_at: NaiveDatetime


class Tau2World(SQLModel, table=True):
    """A tau2 retail world installed in this database: its template session (copied for every
    tau2 session) and its product ids (tau2 product id -> catalog product key, in the world's
    order; items are found by SKU = tau2 item id)."""

    __tablename__ = "tau2_world"

    key: str = Field(primary_key=True, max_length=64, description="the world's database hash")
    template_session_id: str = Field(
        max_length=64, description="no foreign key: removing sessions (mcp-shop prune) may "
                                   "remove the template, and installing the world again "
                                   "writes a new one")
    catalog_fingerprint: str
    product_ids: dict[str, int] = Field(default_factory=dict,
                                        sa_column=Column(JSON, nullable=False))


class TraceEvent(SQLModel, table=True):
    """One tool call made in a session, recorded by the server."""

    __tablename__ = "trace_event"
    __table_args__ = (UniqueConstraint("session_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    # No index of its own: the unique (session_id, seq) index serves look-ups by session, and
    # every tool call writes a row here.
    session_id: str = Field(foreign_key="shop_session.id", max_length=64)
    seq: int
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    ok: bool
    error_code: str | None = None
    error_message: str | None = None
    result: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    result_digest: str | None = None
    latency_ms: float
    clock: NaiveDatetime
