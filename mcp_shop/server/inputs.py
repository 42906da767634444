"""Typed tool arguments: ids, quantities, reasons and options as ``Annotated`` pydantic types.

Each type carries its bounds and a description written for a language model; the SDK turns them
into the tools' input schemas and rejects a bad argument (naming the field) before a tool runs.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from mcp_shop.policies import CANCEL_REASONS, EXCHANGE_REASONS, MAX_LINE_QUANTITY, RETURN_REASONS

__all__ = [
    "AddressIdArg",
    "CancelReason",
    "CodeArg",
    "ExchangeReason",
    "OrderIdArg",
    "PaymentMethodIdArg",
    "ProductIdArg",
    "ProductIdList",
    "QuantityArg",
    "RefundTo",
    "ReturnItem",
    "ReturnReason",
    "SessionArg",
    "ShippingOption",
    "SortOrder",
    "VariantIdArg",
]

SESSION_PATTERN = r"^[A-Za-z0-9_-]{22,64}$"

SessionArg = Annotated[
    str | None,
    Field(
        description="The session handle returned by open_session, e.g. "
        "'kX3v9Q...' (22 to 64 URL-safe characters). Required over HTTP; on a stdio "
        "connection it may be omitted to use the connection's default session.",
        pattern=SESSION_PATTERN,
    ),
]
ProductIdArg = Annotated[
    str,
    Field(
        description="A product id such as 'P-000042', as listed by search_products.",
        pattern=r"^P-\d{1,9}$",
        max_length=12,
    ),
]
VariantIdArg = Annotated[
    str,
    Field(
        description="A variant id such as 'V-000042-3' (product 42, variant 3), as listed in "
        "the variants of get_product. Carts, orders, returns and exchanges work by variant.",
        pattern=r"^V-\d{1,9}-\d{1,3}$",
        max_length=16,
    ),
]
OrderIdArg = Annotated[
    str,
    Field(
        description="An order id such as 'O-1042', as listed by list_orders or returned by "
        "checkout.",
        pattern=r"^O-\d{1,9}$",
        max_length=12,
    ),
]
PaymentMethodIdArg = Annotated[
    str,
    Field(
        description="A payment method id such as 'PM-1', from get_customer.",
        pattern=r"^PM-\d{1,6}$",
        max_length=10,
    ),
]
AddressIdArg = Annotated[
    str,
    Field(
        description="A shipping address id such as 'A-1', from get_customer.",
        pattern=r"^A-\d{1,6}$",
        max_length=10,
    ),
]
QuantityArg = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_LINE_QUANTITY,
        description=f"Number of units, 1 to {MAX_LINE_QUANTITY}.",
    ),
]
CodeArg = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        description="A discount code such as 'WELCOME10' (case does not matter).",
    ),
]
ProductIdList = Annotated[
    list[ProductIdArg],
    Field(min_length=1, max_length=10, description="1 to 10 product ids such as 'P-000042'."),
]

SortOrder = Literal["relevance", "price_asc", "price_desc", "rating", "popularity"]
ShippingOption = Literal["standard", "express", "next_day"]
RefundTo = Literal["original", "gift_card"]
CancelReason = Literal[CANCEL_REASONS]  # type: ignore[valid-type]
ReturnReason = Literal[RETURN_REASONS]  # type: ignore[valid-type]
ExchangeReason = Literal[EXCHANGE_REASONS]  # type: ignore[valid-type]


class ReturnItem(BaseModel):
    """One order line to return: which variant and how many units."""

    model_config = ConfigDict(extra="forbid")

    variant_id: VariantIdArg
    quantity: QuantityArg = 1
