"""Typed arguments of the tau2-retail surface's tools (``tools_tau2``).

Every parameter takes tau2's type: a string, or a list of item-id strings. The bounds are far
above anything a tau2 world holds and keep out what no id, name or address has: text longer
than a few hundred characters, and control characters (a NUL byte cannot even be stored on
PostgreSQL). Ids are not checked against a pattern here: an id of the wrong shape gets tau2's
own answer for an id it does not know ("Order not found", ...), as under tau2.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from mcp_shop.tau2.records import CANCEL_REASONS

__all__ = [
    "AddressText",
    "CancelReasonArg",
    "EmailArg",
    "ExpressionArg",
    "ItemIdArg",
    "ItemIdList",
    "NameArg",
    "OrderIdArg",
    "PaymentMethodIdArg",
    "ProductIdArg",
    "SummaryArg",
    "UserIdArg",
    "ZipArg",
]

_PLAIN = r"^[^\x00-\x1f\x7f]*$"  # no control characters
MAX_ITEMS = 100  # item ids in one call (a tau2 order holds a handful of units)

EmailArg = Annotated[str, Field(max_length=254, pattern=_PLAIN, description=
                                "The customer's email address, e.g. 'ana.silva123@example.com'.")]
NameArg = Annotated[str, Field(max_length=100, pattern=_PLAIN)]
ZipArg = Annotated[str, Field(max_length=20, pattern=_PLAIN, description=
                              "The postcode of the customer's default address, e.g. '94110'.")]
UserIdArg = Annotated[str, Field(max_length=100, pattern=_PLAIN, description=
                                 "A user id such as 'ana_silva_1234', from "
                                 "find_user_id_by_email or find_user_id_by_name_zip.")]
OrderIdArg = Annotated[str, Field(max_length=32, pattern=_PLAIN, description=
                                  "An order id: '#W' and seven digits, e.g. '#W0123456', as "
                                  "listed in the user's details. Include the '#'.")]
ProductIdArg = Annotated[str, Field(max_length=32, pattern=_PLAIN, description=
                                    "A product id (ten digits, e.g. '6086499569'), from "
                                    "list_all_product_types or an order's items. Not an "
                                    "item id.")]
ItemIdArg = Annotated[str, Field(max_length=32, pattern=_PLAIN, description=
                                 "An item id (ten digits, e.g. '1008292230'): one variant of a "
                                 "product, from get_product_details or an order's items.")]
ItemIdList = Annotated[list[ItemIdArg], Field(max_length=MAX_ITEMS)]
PaymentMethodIdArg = Annotated[str, Field(max_length=64, pattern=_PLAIN, description=
                                          "A payment method id of the order's user, e.g. "
                                          "'credit_card_1234567', 'paypal_1234567' or "
                                          "'gift_card_1234567', from get_user_details.")]
AddressText = Annotated[str, Field(max_length=200, pattern=_PLAIN)]
CancelReasonArg = Literal[CANCEL_REASONS]  # type: ignore[valid-type]
ExpressionArg = Annotated[str, Field(max_length=1000, description=
                                     "Arithmetic over numbers with + - * / and parentheses, "
                                     "e.g. '(41.63 + 12.5) * 2'.")]
SummaryArg = Annotated[str, Field(max_length=10_000, description=
                                  "What the customer needs and what was done so far, for the "
                                  "person taking over.")]
