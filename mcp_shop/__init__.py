"""mcp_shop: a verifiable e-commerce shop (catalog, search, cart, checkout, orders, returns,
exchanges, policies) with isolated sessions on a simulated clock, served over MCP.

The public names below are imported on first use, so that ``import mcp_shop.tool_catalog``
(pure data, read by ``verifiers``) loads no database layer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOME = {"DEFAULT_DB_URL": "mcp_shop.db", "make_engine": "mcp_shop.db", "Shop": "mcp_shop.shop",
         **{name: "mcp_shop.errors" for name in __all__ if name[0].isupper()
            and name not in ("DEFAULT_DB_URL", "Shop")}}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'mcp_shop' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
