"""Facts an agent can state to the shopper: the vocabulary, its checks, and the policy facts.

An agent answers a question about an order or a policy by stating facts with the
``state_facts`` tool: each fact is a key from ``FACT_KEYS``, the thing it is about, and a value.
The shop checks the form (a known key, a value of the key's type, something to be about that
exists), turns it into one canonical form (an order id ``O-1003``, a category slug, a shipping
option code, a loyalty tier, a product id, dates as ``YYYY-MM-DD``) and records it in the trace;
whether the fact is true is the verifiers' business, never the shop's (the tool's answer says
nothing about truth).

This module is the one source of that vocabulary (the tool's schema, the task generators'
expected facts and the documentation read it) and of the shop's policy facts
(``policy_facts``): the same numbers the shop applies (``mcp_shop.policies``), as data that
``search_policy`` returns beside each section's text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from mcp_shop.errors import InvalidInput, shown
from mcp_shop.policies import DEFAULT_POLICIES, Policies

__all__ = [
    "CANNOT_CANCEL_REASONS",
    "CANNOT_RETURN_REASONS",
    "FACT_KEYS",
    "FINAL_SALE",
    "ORDER_STATUSES",
    "SUBJECTS",
    "Fact",
    "FactKey",
    "StatedFacts",
    "check_value",
    "policy_facts",
    "subject_kind",
]

ORDER_STATUSES = ("pending", "processing", "shipped", "delivered", "cancelled")
CANNOT_CANCEL_REASONS = ("already_processing", "already_shipped", "already_delivered",
                         "already_cancelled")
"""Why an order cannot be cancelled: only pending orders can be."""
CANNOT_RETURN_REASONS = ("final_sale", "window_closed", "not_delivered", "order_cancelled",
                         "already_returned")
"""Why an order line cannot be returned or exchanged (``LineEligibility.reason_code``)."""
FINAL_SALE = "final_sale"
"""The subject standing for every item sold as final sale (clearance), for ``returnable``."""

FactKey = Literal[
    "order_status", "tracking_number", "carrier", "delivered_on", "expected_delivery",
    "cannot_cancel", "cannot_return", "cannot_exchange",
    "return_window_days", "returnable", "restocking_fee_percent", "fee_waived_if_defective",
    "warranty_months", "shipping_cost_cents", "shipping_days", "free_shipping_threshold_cents",
    "cancel_window_hours",
]

Subject = Literal["order", "category", "shipping_option", "tier", "shop"]
ValueKind = Literal["status", "cancel_reason", "return_reason", "text", "date", "count", "bool"]

FACT_KEYS: dict[str, tuple[Subject, ValueKind, str]] = {
    "order_status": ("order", "status", "the order's current status"),
    "tracking_number": ("order", "text", "a parcel's tracking number"),
    "carrier": ("order", "text", "the carrier delivering it"),
    "delivered_on": ("order", "date", "the day it was delivered"),
    "expected_delivery": ("order", "date", "the day it is expected to arrive"),
    "cannot_cancel": ("order", "cancel_reason", "why the order cannot be cancelled"),
    "cannot_return": ("order", "return_reason", "why it cannot be returned"),
    "cannot_exchange": ("order", "return_reason", "why it cannot be exchanged"),
    "return_window_days": ("category", "count", "days after delivery to return it"),
    "returnable": ("category", "bool", "whether it can be returned at all"),
    "restocking_fee_percent": ("category", "count", "restocking fee on a return, percent"),
    "fee_waived_if_defective": ("category", "bool", "whether the restocking fee is waived for "
                                "defective, not-as-described or damaged items"),
    "warranty_months": ("category", "count", "manufacturer warranty in months (0: none)"),
    "shipping_cost_cents": ("shipping_option", "count", "price of the option, cents"),
    "shipping_days": ("shipping_option", "count", "days from order to delivery"),
    "free_shipping_threshold_cents": ("tier", "count", "order value from which standard "
                                      "shipping is free for the tier, cents (0: every order)"),
    "cancel_window_hours": ("shop", "count", "hours after ordering an order can be cancelled"),
}
"""Each key: what it is about, the kind of its value, and what it means."""

SUBJECTS: dict[str, str] = {
    "order": "an order id such as 'O-1003'",
    "category": "a category as the shop names it ('headphones', 'electronics/audio'), a product "
                f"id such as 'P-000042', or '{FINAL_SALE}' for items sold as final sale",
    "shipping_option": "a shipping option: standard, express or next_day",
    "tier": "a loyalty tier: standard, silver or gold",
    "shop": "nothing (leave 'about' out)",
}


class Fact(BaseModel):
    """One stated fact in canonical form."""

    fact: FactKey
    about: str | None = Field(default=None, description="what it is about (see SUBJECTS)")
    value: str | int | bool


class StatedFacts(BaseModel):
    """What the shopper was told, as the shop recorded it."""

    stated: list[Fact]


def subject_kind(key: str) -> Subject:
    return FACT_KEYS[key][0]


_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?\s*$")


def check_value(key: str, value: Any) -> str | int | bool:
    """``value`` in canonical form for ``key``, or InvalidInput saying what would be valid."""
    kind = FACT_KEYS[key][1]
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise InvalidInput(f"{key} takes true or false, got {shown(value)}")
    if kind == "count":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**9:
            raise InvalidInput(f"{key} takes a whole number from 0 to 1000000000 ("
                               f"{FACT_KEYS[key][2]}), got {shown(value)}")
        return value
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise InvalidInput(f"{key} takes a text of 1 to 200 characters, got {shown(value)}")
    text = value.strip()
    choices = {"status": ORDER_STATUSES, "cancel_reason": CANNOT_CANCEL_REASONS,
               "return_reason": CANNOT_RETURN_REASONS}.get(kind)
    if choices is not None:
        low = text.casefold().replace(" ", "_").replace("-", "_")
        low = "cancelled" if low == "canceled" else low
        if low not in choices:
            raise InvalidInput(f"{key} takes one of {', '.join(choices)}, got {shown(value)}")
        return low
    if kind == "date":
        m = _DATE.match(text)
        try:
            if m:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
        except ValueError:
            pass
        raise InvalidInput(f"{key} takes a date as YYYY-MM-DD (e.g. '2026-03-05'), got "
                           f"{value!r}")
    return text


def day_of(when: datetime | date) -> str:
    """A moment as the canonical date of a fact."""
    return (when.date() if isinstance(when, datetime) else when).isoformat()


# -- the shop's policies as facts ----------------------------------------------------------


def policy_facts(p: Policies = DEFAULT_POLICIES) -> dict[str, list[Fact]]:
    """Every policy fact, by policy section key (as ``render_policies`` names them). A
    return or warranty rule's facts are about its category prefix, ``*`` for the rule that
    covers every other category."""
    returns: list[Fact] = []
    for r in sorted(p.return_rules, key=lambda r: r.slug_prefix):
        about = r.slug_prefix or "*"
        returns.append(Fact(fact="returnable", about=about, value=r.returnable))
        if r.returnable:
            returns += [
                Fact(fact="return_window_days", about=about, value=r.window_days),
                Fact(fact="restocking_fee_percent", about=about, value=r.restocking_fee_percent),
            ]
            if r.restocking_fee_percent:
                returns.append(Fact(fact="fee_waived_if_defective", about=about, value=True))
    returns.append(Fact(fact="returnable", about=FINAL_SALE, value=False))
    shipping: list[Fact] = []
    for o in p.shipping_options:
        shipping += [Fact(fact="shipping_cost_cents", about=o.code, value=o.cost_cents),
                     Fact(fact="shipping_days", about=o.code, value=o.deliver_after.days)]
    shipping += [Fact(fact="free_shipping_threshold_cents", about=tier, value=cents)
                 for tier, cents in p.free_standard_shipping_cents.items()]
    warranty = [Fact(fact="warranty_months", about=w.slug_prefix, value=w.months)
                for w in p.warranty_rules]
    warranty.append(Fact(fact="warranty_months", about="*", value=0))
    hours = int(p.processing_after.total_seconds() // 3600)
    return {
        "returns": returns,
        "shipping": shipping,
        "warranty": warranty,
        "cancellation": [Fact(fact="cancel_window_hours", value=hours)],
    }


def category_subjects(slug: str, rule_of: Any) -> list[str]:
    """The subjects a fact about category ``slug`` may name: the slug and each of its
    ancestors to which the same rule applies (``rule_of(slug)`` gives the rule)."""
    parts = slug.split("/")
    rule = rule_of(slug)
    return [s for s in ("/".join(parts[:k]) for k in range(1, len(parts) + 1))
            if rule_of(s) == rule]


def category_index(rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Names and slugs of categories (rows with ``slug`` and ``name``) -> slug: every slug,
    every name in any case, and names without a final 's'."""
    out: dict[str, str] = {}
    for row in rows:
        slug, name = str(row["slug"]), str(row["name"]).casefold().strip()
        for key in (name, name.rstrip("s"), name.replace(" & ", " and ")):
            out.setdefault(key, slug)
    for row in rows:
        out[str(row["slug"]).casefold()] = str(row["slug"])
    return out
