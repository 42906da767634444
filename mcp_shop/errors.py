"""Typed errors of the shop domain.

Every error a caller can fix derives from ``ShopError`` and carries a stable ``code`` and a
message that says what is wrong and what would be valid. Raising one never leaves a change
behind: every operation runs in one transaction that is rolled back on error.

    ShopError
    ├── NotFound            (code: not_found)          unknown product, variant, order, code ...
    ├── InvalidInput        (code: invalid_input)      malformed id, bad quantity, bad filter ...
    ├── OutOfStock          (code: out_of_stock)       not enough stock for the requested quantity
    ├── InvalidCode         (code: invalid_code)       discount code rejected, with the reason
    ├── Ineligible          (code: ineligible)         return or exchange not allowed, with why
    ├── InvalidState        (code: invalid_state)      operation not allowed in the current state
    └── PaymentDeclined     (code: payment_declined)   payment cannot cover the amount
"""

from __future__ import annotations

import reprlib
from typing import Any

__all__ = [
    "Ineligible",
    "InvalidCode",
    "InvalidInput",
    "InvalidState",
    "NotFound",
    "OutOfStock",
    "PaymentDeclined",
    "ShopError",
    "shown",
]


class ShopError(Exception):
    """Base of every error a caller can fix; never changes state."""

    code = "shop_error"

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form: code, message and context."""
        return {"code": self.code, "message": self.message, **self.context}


class NotFound(ShopError):
    """An id that names nothing in this catalog or session."""

    code = "not_found"


class InvalidInput(ShopError):
    """An argument outside what the operation accepts."""

    code = "invalid_input"


class OutOfStock(ShopError):
    """The variant has less stock than asked for."""

    code = "out_of_stock"


class InvalidCode(ShopError):
    """A discount code that does not exist or does not apply to this cart."""

    code = "invalid_code"


class Ineligible(ShopError):
    """An order line that cannot be returned or exchanged."""

    code = "ineligible"


class InvalidState(ShopError):
    """The operation is not allowed in the current state (e.g. cancel a shipped order)."""

    code = "invalid_state"


class PaymentDeclined(ShopError):
    """The chosen payment methods cannot cover the amount."""

    code = "payment_declined"


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple = 2, 4, 4, 4
_REPR.maxstring = _REPR.maxother = 60


def shown(value: Any, limit: int = 60) -> str:
    """A value a caller sent, as an error message quotes it: its ``repr`` cut to about
    ``limit`` characters, and an integer too long for that by its number of digits (the
    ``repr`` of an integer over 4300 digits raises)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 3 * limit:
        digits = len(str(abs(value))) if value.bit_length() < 14_000 else "over 4000"
        return f"{'a negative' if value < 0 else 'an'} integer of {digits} digits"
    if isinstance(value, str):
        text = repr(value[:limit])
        if len(value) <= limit:
            return text
        return f"{text[:-1]}...{text[-1]} ({len(value)} characters)"
    try:
        return _REPR.repr(value)
    except ValueError:  # an integer over 4300 digits inside a list or object
        return f"a {type(value).__name__} holding a huge integer"
