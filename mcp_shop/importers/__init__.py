"""Importers: a store's own product data (Shopify CSV, Google Merchant Center feed, Amazon item
metadata) into a shop catalog. Readers yield :mod:`.records`; the core writes the catalog.

    from mcp_shop.importers import import_catalog
    report = import_catalog(engine, "amazon", ["meta.jsonl.gz"], seed=0)
"""

from __future__ import annotations

from typing import Any

__all__ = ["FORMATS", "ImportFailed", "ImportReport", "import_catalog", "load_policies",
           "read_policy_config"]

_LAZY = {
    "FORMATS": "mcp_shop.importers.formats",
    "ImportFailed": "mcp_shop.importers.core",
    "ImportReport": "mcp_shop.importers.core",
    "import_catalog": "mcp_shop.importers.core",
    "load_policies": "mcp_shop.importers.policy_config",
    "read_policy_config": "mcp_shop.importers.policy_config",
}


def __getattr__(name: str) -> Any:
    """The public names, imported on first use (the shop reads policies without loading the
    import machinery)."""
    import importlib

    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
