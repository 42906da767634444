"""Tool results that are not plain domain views: wrappers for lists and the summaries of
``open_session``, ``present_products`` and ``find_similar``.

Lists are wrapped in a model so that every tool has an object output schema with named fields.
Money is in integer cents (``*_cents``), as everywhere in the shop.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from mcp_shop.search import ProductHit
from mcp_shop.views import LineEligibility, OrderSummary, Timestamp

__all__ = [
    "OrderHistory",
    "PresentationResult",
    "PresentedProduct",
    "ReturnEligibility",
    "SessionOpened",
    "SimilarProducts",
]


class SessionOpened(BaseModel):
    """A new shopping session."""

    session_id: str = Field(description="the handle to pass as session_id to every other tool")
    customer_id: str = Field(description="the session's customer, e.g. 'C-1234'")
    clock: Timestamp = Field(description="the session's simulated current time")


class PresentedProduct(BaseModel):
    """A product as it was shown to the shopper."""

    product_id: str
    title: str
    brand: str
    category: str
    price_cents: int = Field(description="lowest variant price in this session, in cents")
    rating: float
    in_stock: bool


class PresentationResult(BaseModel):
    """What was shown to the shopper (recorded in the session's trace)."""

    presented: list[PresentedProduct]
    message: str | None = Field(default=None, description="the note shown with the products")


class SimilarProducts(BaseModel):
    """Products similar to one product, most similar first."""

    product_id: str = Field(description="the product the others are similar to")
    hits: list[ProductHit]


class OrderHistory(BaseModel):
    """The customer's orders, newest first."""

    orders: list[OrderSummary]


class ReturnEligibility(BaseModel):
    """Per order line: can it be returned (or exchanged) now, and on what terms."""

    order_id: str
    lines: list[LineEligibility]
