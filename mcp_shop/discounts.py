"""Discount codes: percent, fixed amount or free shipping, with minimum spend, category,
expiry and single-use rules. One code per cart; a rejected code comes with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from mcp_shop.errors import InvalidCode, InvalidInput, InvalidState
from mcp_shop.inventory import VariantState
from mcp_shop.models import Cart, DiscountCode
from mcp_shop.orders import allocate

__all__ = ["CodeResult", "apply_discount_code", "cart_code", "evaluate", "remove_discount_code"]

DC = DiscountCode.__table__
CART = Cart.__table__
_CODE = re.compile(r"^[A-Z0-9_-]{1,32}$")


def _dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


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
        return no(f"code {code.code} needs a minimum spend of {_dollars(code.min_spend_cents)}; "
                  f"the cart subtotal is {_dollars(subtotal)} "
                  f"(add {_dollars(code.min_spend_cents - subtotal)} more)")
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


def cart_code(conn: Connection, session_id: str) -> Any | None:
    """The code row applied to the session's cart, if any."""
    code_pk = conn.execute(select(CART.c.discount_code_id)
                           .where(CART.c.session_id == session_id)).scalar()
    if code_pk is None:
        return None
    return conn.execute(select(DC).where(DC.c.id == code_pk)).one()


def apply_discount_code(conn: Connection, session_id: str, code: str,
                        lines: Sequence[tuple[VariantState, int]], now: datetime) -> CodeResult:
    """Put ``code`` on the cart if it applies now; InvalidCode with the reason otherwise."""
    text = code.strip().upper() if isinstance(code, str) else ""
    if not _CODE.match(text):
        raise InvalidInput("a discount code is 1 to 32 letters, digits, '-' or '_', e.g. SAVE20")
    current = cart_code(conn, session_id)
    if current is not None:
        if current.code == text:
            raise InvalidState(f"code {text} is already applied to the cart")
        raise InvalidCode(f"the cart already has code {current.code}; only one code per order: "
                          "remove it first to use another", code=text)
    row = conn.execute(select(DC).where(DC.c.session_id == session_id, DC.c.code == text)).first()
    if row is None:
        raise InvalidCode(f"code {text} is not a valid discount code", code=text)
    result = evaluate(row, lines, now)
    if not result.applies:
        raise InvalidCode(result.reason or "code does not apply", code=text)
    conn.execute(update(CART).where(CART.c.session_id == session_id)
                 .values(discount_code_id=row.id))
    return result


def remove_discount_code(conn: Connection, session_id: str) -> str:
    """Take the code off the cart; returns it. InvalidState if the cart has none."""
    current = cart_code(conn, session_id)
    if current is None:
        raise InvalidState("the cart has no discount code to remove")
    conn.execute(update(CART).where(CART.c.session_id == session_id)
                 .values(discount_code_id=None))
    return str(current.code)
