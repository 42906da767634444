"""Discount codes: percent, fixed amount or free shipping, with minimum spend, category,
expiry and single-use rules. One code per cart; a rejected code comes with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from mcp_shop.errors import InvalidCode, InvalidInput, InvalidState
from mcp_shop.inventory import VariantState
from mcp_shop.money import dollars
from mcp_shop.orders import allocate
from mcp_shop.sql import Sql, as_datetime, fetch_one, run

__all__ = [
    "CODE_PATTERN",
    "CodeResult",
    "CodeRow",
    "apply_discount_code",
    "cart_code",
    "evaluate",
    "remove_discount_code",
    "tier_and_cart_code",
]

CODE_PATTERN = re.compile(r"^[A-Z0-9_-]{1,32}$")



@dataclass(frozen=True)
class CodeResult:
    """What a code does to a given set of lines at a given time."""

    applies: bool
    reason: str | None
    discount_cents: int
    free_shipping: bool
    line_discounts: list[int]


def evaluate(code: Any, lines: Sequence[tuple[VariantState, int]], now: datetime) -> CodeResult:
    """Apply the code's rules to ``lines`` at simulated time ``now``."""
    zero = [0] * len(lines)

    def no(reason: str) -> CodeResult:
        return CodeResult(False, reason, 0, False, zero)

    if code.single_use and code.used:
        return no(f"code {code.code} has already been used")
    if code.expires_at is not None and code.expires_at <= now:
        return no(f"code {code.code} expired on {code.expires_at:%Y-%m-%d}")
    if not lines:
        return no("the cart is empty; add items before applying a code")
    amounts = [v.price_cents * q for v, q in lines]
    subtotal = sum(amounts)
    if subtotal < code.min_spend_cents:
        return no(f"code {code.code} needs a minimum spend of {dollars(code.min_spend_cents)}; "
                  f"the cart subtotal is {dollars(subtotal)} "
                  f"(add {dollars(code.min_spend_cents - subtotal)} more)")
    eligible = [
        a if code.category_slug is None or v.category_slug.startswith(code.category_slug) else 0
        for (v, _), a in zip(lines, amounts, strict=True)
    ]
    if code.kind == "free_shipping":
        return CodeResult(True, None, 0, True, zero)
    base = sum(eligible)
    if base == 0:
        return no(f"code {code.code} applies only to items in '{code.category_slug}'; "
                  "the cart has none")
    off = base * code.value // 100 if code.kind == "percent" else min(code.value, base)
    return CodeResult(True, None, off, False, allocate(off, eligible))


@dataclass(frozen=True)
class CodeRow:
    """A ``discount_code`` row as the rules read it."""

    id: int
    code: str
    kind: str
    value: int
    min_spend_cents: int
    category_slug: str | None
    expires_at: datetime | None
    single_use: bool
    used: bool
    description: str


_CART_CODE = Sql("""
    SELECT dc.id, dc.code, dc.kind, dc.value, dc.min_spend_cents, dc.category_slug,
           dc.expires_at, dc.single_use, dc.used, dc.description
    FROM cart JOIN discount_code dc ON dc.id = cart.discount_code_id
    WHERE cart.session_id = ?""")

_CODE = Sql("""
    SELECT id, code, kind, value, min_spend_cents, category_slug, expires_at, single_use, used,
           description
    FROM discount_code WHERE session_id = ? AND code = ?""")
_SET_CODE = Sql("UPDATE cart SET discount_code_id = ? WHERE session_id = ?")

_TIER_AND_CODE = Sql("""
    SELECT cu.tier, dc.id, dc.code, dc.kind, dc.value, dc.min_spend_cents, dc.category_slug,
           dc.expires_at, dc.single_use, dc.used, dc.description
    FROM shop_session s
    JOIN customer cu ON cu.id = s.customer_id
    LEFT JOIN cart ON cart.session_id = s.id
    LEFT JOIN discount_code dc ON dc.id = cart.discount_code_id
    WHERE s.id = ?""")


def _code_row(row: Any) -> CodeRow | None:
    if row is None or row[0] is None:
        return None
    return CodeRow(row[0], row[1], row[2], row[3], row[4], row[5], as_datetime(row[6]),
                   bool(row[7]), bool(row[8]), row[9])


def cart_code(conn: Connection, session_id: str) -> CodeRow | None:
    """The code applied to the session's cart, if any."""
    return _code_row(fetch_one(conn, _CART_CODE, (session_id,)))


def tier_and_cart_code(conn: Connection, session_id: str) -> tuple[str, CodeRow | None]:
    """The customer's tier and the cart's code, in one query (for the cart view)."""
    row = fetch_one(conn, _TIER_AND_CODE, (session_id,))
    return row[0], _code_row(row[1:])


def apply_discount_code(conn: Connection, session_id: str, code: str,
                        lines: Sequence[tuple[VariantState, int]], now: datetime) -> CodeResult:
    """Put ``code`` on the cart if it applies now; InvalidCode with the reason otherwise."""
    text = code.strip().upper() if isinstance(code, str) else ""
    if not CODE_PATTERN.match(text):
        raise InvalidInput("a discount code is 1 to 32 letters, digits, '-' or '_', e.g. SAVE20")
    current = cart_code(conn, session_id)
    if current is not None:
        if current.code == text:
            raise InvalidState(f"code {text} is already applied to the cart")
        raise InvalidCode(f"the cart already has code {current.code}; only one code per order: "
                          "remove it first to use another", code=text)
    row = _code_row(fetch_one(conn, _CODE, (session_id, text)))
    if row is None:
        raise InvalidCode(f"code {text} is not a valid discount code", code=text)
    result = evaluate(row, lines, now)
    if not result.applies:
        raise InvalidCode(result.reason or "code does not apply", code=text)
    run(conn, _SET_CODE, (row.id, session_id))
    return result


def remove_discount_code(conn: Connection, session_id: str) -> str:
    """Take the code off the cart; returns it. InvalidState if the cart has none."""
    current = cart_code(conn, session_id)
    if current is None:
        raise InvalidState("the cart has no discount code to remove")
    run(conn, _SET_CODE, (None, session_id))
    return str(current.code)
