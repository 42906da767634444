"""Recording the facts an agent states to the shopper (the ``state_facts`` tool's domain side).

Each fact is checked for form only (``mcp_shop.facts``): a known key, a value of its type, and
something to be about that exists in the session or the catalog. It comes back in canonical
form, which is what the trace records and the verifiers compare. Nothing here says whether a
fact is true, and nothing changes in the shop.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select

from mcp_shop.errors import InvalidInput
from mcp_shop.facts import (
    FACT_KEYS,
    FINAL_SALE,
    SUBJECTS,
    Fact,
    StatedFacts,
    category_index,
    check_value,
    subject_kind,
)
from mcp_shop.ids import order_id, parse_order_id, parse_product_id, product_id
from mcp_shop.models import Category
from mcp_shop.orders import require_order
from mcp_shop.products import get_product
from mcp_shop.shop_policies import policies_for

__all__ = ["MAX_FACTS", "state_facts"]

MAX_FACTS = 10
CAT = Category.__table__  # type: ignore[attr-defined]
_FINAL_SALE_NAMES = {"final_sale", "final sale", "final-sale", "clearance", "clearance items",
                     "final sale items"}
_EVERYTHING_ELSE = {"*", "other", "others", "other items", "other categories", "most items",
                    "everything else", "all other items"}


def state_facts(conn: Connection, session_id: str,
                facts: Sequence[Mapping[str, Any]]) -> StatedFacts:
    """The facts in canonical form; InvalidInput (naming the fact) for one that is malformed.
    Orders must be the session's own (NotFound otherwise)."""
    if not 1 <= len(facts) <= MAX_FACTS:
        raise InvalidInput(f"state between 1 and {MAX_FACTS} facts at a time, got {len(facts)}")
    index: dict[str, str] | None = None
    out: list[Fact] = []
    for i, raw in enumerate(facts):
        key = raw.get("fact")
        if key not in FACT_KEYS:
            raise InvalidInput(f"facts[{i}].fact {key!r} is not a fact this shop knows; valid: "
                               f"{', '.join(FACT_KEYS)}")
        try:
            value = check_value(key, raw.get("value"))
            kind = subject_kind(key)
            about = raw.get("about")
            about = about.strip() if isinstance(about, str) else about
            if kind == "category" and index is None:
                index = category_index([dict(r._mapping) for r in conn.execute(
                    select(CAT.c.slug, CAT.c.name))])
            canonical = _subject(conn, session_id, kind, about, index or {})
        except InvalidInput as exc:
            raise InvalidInput(f"facts[{i}] ({key}): {exc}") from None
        out.append(Fact(fact=key, about=canonical, value=value))
    return StatedFacts(stated=out)


def _subject(conn: Connection, session_id: str, kind: str, about: Any,
             index: Mapping[str, str]) -> str | None:
    if kind == "shop":
        if about not in (None, ""):
            raise InvalidInput(f"this fact is about the shop as a whole: leave 'about' out, "
                               f"got {about!r}")
        return None
    if not isinstance(about, str) or not about:
        raise InvalidInput(f"'about' must name {SUBJECTS[kind]}")
    if kind == "order":
        number = parse_order_id(about.upper())
        require_order(conn, session_id, number)
        return order_id(number)
    low = re.sub(r"\s+", " ", about.casefold())
    if kind == "shipping_option":
        code = low.replace(" ", "_").replace("-", "_")
        if policies_for(conn).shipping_option(code) is None:
            raise InvalidInput(f"'about' must name {SUBJECTS[kind]}, got {about!r}")
        return code
    if kind == "tier":
        if low not in policies_for(conn).free_standard_shipping_cents:
            raise InvalidInput(f"'about' must name {SUBJECTS[kind]}, got {about!r}")
        return low
    if re.match(r"^p-\d{1,9}$", low):
        pk = parse_product_id(about.upper())
        get_product(conn, None, pk)
        return product_id(pk)
    if low in _FINAL_SALE_NAMES:
        return FINAL_SALE
    if low in _EVERYTHING_ELSE:
        return "*"
    slug = index.get(low) or index.get(low.rstrip("s")) or index.get(low.replace(" and ", " & "))
    if slug is None:
        raise InvalidInput(f"'about' must name {SUBJECTS[kind]}; no category is called "
                           f"{about!r} (list_categories shows them)")
    return slug
