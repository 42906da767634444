"""Typed results of the shop operations (what tools return; never table rows).

Money is in integer cents everywhere (``*_cents``); times are on the session's simulated clock,
which runs in UTC: the shop keeps them naive, and a view writes them to JSON as RFC 3339 with
the offset (``2026-03-02T09:00:00Z``), as the ``format: date-time`` of its schema requires.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, PlainSerializer

__all__ = [
    "AddressView",
    "CartLineView",
    "CartView",
    "CodeView",
    "CustomerView",
    "ExchangeView",
    "LineEligibility",
    "OrderLineView",
    "OrderSummary",
    "OrderView",
    "PaymentMethodView",
    "PaymentView",
    "ProductView",
    "ReturnView",
    "SessionView",
    "ShipmentView",
    "Timestamp",
    "VariantView",
    "as_utc",
]


def as_utc(value: datetime) -> datetime:
    """A moment of the simulated clock with its offset: naive times are UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# A datetime field of a view: unchanged in Python, RFC 3339 with "Z" in JSON (a naive ISO text
# would fail the "date-time" format that clients such as the MCP Inspector check).
Timestamp = Annotated[datetime, PlainSerializer(as_utc, return_type=datetime, when_used="json")]


class VariantView(BaseModel):
    """A variant with this session's price and stock."""

    variant_id: str
    sku: str
    options: dict[str, str]
    price_cents: int
    stock: int
    stock_status: str = Field(description="in_stock, low_stock (1-3 left) or out_of_stock")


class ProductView(BaseModel):
    """A product in full: category, attributes and variants."""

    product_id: str
    title: str
    brand: str
    category: str
    category_slug: str
    description: str
    attributes: dict[str, Any]
    rating: float
    rating_count: int
    final_sale: bool
    option_names: list[str]
    variants: list[VariantView]
    price_cents: int = Field(description="lowest variant price in this session")
    in_stock: bool


class CodeView(BaseModel):
    """The discount code on a cart and whether it currently applies."""

    code: str
    description: str
    applies: bool
    reason: str | None = Field(default=None, description="why it does not apply, if it does not")
    discount_cents: int
    free_shipping: bool


class CartLineView(BaseModel):
    """One cart line with this session's price and stock."""

    product_id: str
    variant_id: str
    title: str
    options: dict[str, str]
    unit_price_cents: int
    quantity: int
    line_total_cents: int
    available: int = Field(description="units in stock now")


class CartView(BaseModel):
    """The cart with totals as checkout would charge them with standard shipping."""

    lines: list[CartLineView]
    item_count: int
    subtotal_cents: int
    discount_cents: int
    code: CodeView | None
    standard_shipping_cents: int
    total_cents: int = Field(description="subtotal - discount + standard shipping")


class AddressView(BaseModel):
    """A customer address."""

    address_id: str
    label: str
    recipient: str
    line1: str
    city: str
    region: str
    postcode: str
    country: str
    is_default: bool


class PaymentMethodView(BaseModel):
    """A payment method, masked."""

    payment_method_id: str
    kind: str
    label: str
    balance_cents: int | None
    is_default: bool


class CustomerView(BaseModel):
    """The session's customer."""

    customer_id: str
    name: str
    email: str
    tier: str
    member_since: Timestamp
    addresses: list[AddressView]
    payment_methods: list[PaymentMethodView]


class OrderLineView(BaseModel):
    """An order line with what has been returned or exchanged of it."""

    line_no: int
    product_id: str
    variant_id: str
    title: str
    options: dict[str, str]
    unit_price_cents: int
    quantity: int
    discount_cents: int
    final_sale: bool
    returned_quantity: int
    exchanged_quantity: int


class PaymentView(BaseModel):
    """A charge or refund."""

    kind: str
    payment_method_id: str
    method_label: str
    amount_cents: int
    reason: str
    created_at: Timestamp


class ShipmentView(BaseModel):
    """A parcel and its tracking."""

    carrier: str
    tracking_number: str
    status: str
    shipped_at: Timestamp
    delivered_at: Timestamp
    for_exchange: str | None = None


class ReturnView(BaseModel):
    """A return request and its refund."""

    return_id: str
    order_id: str
    status: str
    reason: str
    refund_to: str
    refund_cents: int
    fee_cents: int
    created_at: Timestamp
    lines: list[dict[str, Any]]


class ExchangeView(BaseModel):
    """An exchange of one line for another variant."""

    exchange_id: str
    order_id: str
    status: str
    reason: str
    from_variant_id: str
    to_variant_id: str
    quantity: int
    price_difference_cents: int = Field(description="> 0 charged, < 0 refunded")
    created_at: Timestamp


class OrderSummary(BaseModel):
    """One line of the order history."""

    order_id: str
    status: str
    placed_at: Timestamp
    total_cents: int
    item_count: int


class OrderView(BaseModel):
    """An order in full."""

    order_id: str
    status: str
    placed_at: Timestamp
    ship_to: str
    shipping_option: str
    subtotal_cents: int
    discount_cents: int
    discount_code: str | None
    shipping_cents: int
    total_cents: int
    expected_delivery: Timestamp
    cancelled_at: Timestamp | None
    cancel_reason: str | None
    lines: list[OrderLineView]
    payments: list[PaymentView]
    shipments: list[ShipmentView]
    returns: list[ReturnView]
    exchanges: list[ExchangeView]


class LineEligibility(BaseModel):
    """Whether one order line can be returned now, and on what terms."""

    line_no: int
    variant_id: str
    title: str
    eligible: bool
    reason: str
    reason_code: Literal["eligible", "final_sale", "window_closed", "not_delivered",
                         "order_cancelled", "already_returned"] = Field(
        description="why, as a code: the value of a cannot_return / cannot_exchange fact")
    returnable_quantity: int
    window_ends: Timestamp | None
    restocking_fee_percent: int
    refund_per_unit_cents: int = Field(description="before any restocking fee")


class SessionView(BaseModel):
    """A session's handle, clock and customer."""

    session_id: str
    seed: int
    clock: Timestamp
    customer_id: str
