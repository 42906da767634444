"""The source formats ``mcp-shop import`` reads: format name -> reader, in one place.

A reader is ``read(path) -> Iterator[SourceProduct | BadRow]`` (see :mod:`.records`); it is
imported only when its format is used, so one reader's optional dependencies never burden
the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator

from mcp_shop.errors import InvalidInput
from mcp_shop.importers.records import BadRow, SourceProduct

__all__ = ["FORMATS", "Reader", "available", "reader"]

Reader = Callable[[str], Iterator[SourceProduct | BadRow]]

#: format name -> (``module:function`` of its reader, what it reads)
FORMATS: dict[str, tuple[str, str]] = {
    "amazon": ("mcp_shop.importers.amazon:read",
               "Amazon Reviews 2023 item metadata, JSON Lines (.jsonl or .jsonl.gz)"),
    "gmc": ("mcp_shop.importers.gmc:read",
            "Google Merchant Center feed, TSV or RSS 2.0 XML with the g: namespace"),
    "shopify": ("mcp_shop.importers.shopify:read", "Shopify product CSV (admin export)"),
}


def reader(name: str) -> Reader:
    """The reader of format ``name``; ``InvalidInput`` naming the valid formats otherwise."""
    if name not in FORMATS:
        raise InvalidInput(f"unknown import format {name!r}; use one of: "
                           + ", ".join(sorted(FORMATS)), format=name)
    module, _, function = FORMATS[name][0].partition(":")
    try:
        fn: Reader = getattr(importlib.import_module(module), function)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        raise InvalidInput(f"the {name!r} reader is not part of this installation ({module} "
                           "is missing); use one of: " + ", ".join(available()),
                           format=name) from None
    return fn


def available() -> list[str]:
    """The formats whose reader module is installed."""
    import importlib.util

    return sorted(n for n, (target, _) in FORMATS.items()
                  if importlib.util.find_spec(target.partition(":")[0]) is not None)
