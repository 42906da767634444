"""mcp_shop: a verifiable e-commerce shop (catalog, search, cart, checkout, orders, returns,
exchanges, policies) with isolated sessions on a simulated clock, served over MCP.
"""

from __future__ import annotations

from mcp_shop.db import DEFAULT_DB_URL, make_engine
from mcp_shop.errors import (
    Ineligible,
    InvalidCode,
    InvalidInput,
    InvalidState,
    NotFound,
    OutOfStock,
    PaymentDeclined,
    ShopError,
)
from mcp_shop.shop import Shop

__all__ = [
    "DEFAULT_DB_URL",
    "Ineligible",
    "InvalidCode",
    "InvalidInput",
    "InvalidState",
    "NotFound",
    "OutOfStock",
    "PaymentDeclined",
    "Shop",
    "ShopError",
    "make_engine",
]

__version__ = "0.1.0"
