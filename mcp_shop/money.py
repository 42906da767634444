"""Money is integer cents everywhere; this renders it for people and messages."""

from __future__ import annotations

__all__ = ["dollars"]


def dollars(cents: int) -> str:
    """'$1,234.50' for 123450 cents."""
    return f"${cents / 100:,.2f}"
