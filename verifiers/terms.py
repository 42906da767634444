"""The terms of a proposed consequential action, as data: what the agent named when it asked the
shopper's yes (items, payment methods, shipping, address, refund route, reason, orders).

``verifiers.proposals`` reads them from an agent message; a ``Confirmation`` carries the terms
the shopper accepted, and ``verifiers.confirm`` holds every consequential call to them. An empty
list means the proposal left that term unsaid.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ActionKind", "ItemTerm", "PaymentTerm", "ProposalTerms"]

ActionKind = Literal["checkout", "cancel", "return", "exchange"]

_STRICT = ConfigDict(extra="forbid")


class PaymentTerm(BaseModel):
    """One payment method a proposal names."""

    model_config = _STRICT

    text: str = Field(description="the words that named it, e.g. 'Amex ending 8538'")
    method_id: str | None = Field(default=None, description="the method it names (PM-1), when "
                                  "the customer's methods shown in the trace identify it")
    kind: str | None = Field(default=None, description="card, paypal or gift_card")
    amount_cents: int | None = Field(default=None, description="what it pays, where stated")


class ItemTerm(BaseModel):
    """One item (a cart or order line) a proposal names, with its quantity where stated."""

    model_config = _STRICT

    text: str = Field(description="the words that named it (a title or a variant id)")
    variant_ids: list[str] = Field(description="the variants it can mean: one for a variant "
                                   "id, every known variant of a title otherwise (narrowed by "
                                   "the options named in brackets after it)")
    quantity: int | None = None


class ProposalTerms(BaseModel):
    """Everything a proposal names; each list empty when unsaid."""

    model_config = _STRICT

    orders: list[str] = Field(default_factory=list, description="orders named, excluded "
                              "ones left out")
    excluded_orders: list[str] = Field(default_factory=list, description="orders explicitly "
                                       "excluded ('not O-1002')")
    items: list[ItemTerm] = Field(default_factory=list)
    payments: list[PaymentTerm] = Field(default_factory=list)
    shipping: list[str] = Field(default_factory=list, description="standard, express, "
                                "next_day")
    addresses: list[str] = Field(default_factory=list, description="address ids (A-1), or "
                                 "'default' for 'your default address' unresolved")
    refund_to: list[str] = Field(default_factory=list, description="original, gift_card")
    reasons: list[str] = Field(default_factory=list, description="reason codes "
                               "(no_longer_needed, wrong_size, ...)")
    replacement: str = Field(default="", description="exchange: the words naming the "
                             "replacement (after 'for'), options included")
