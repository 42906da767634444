"""Product search over the shared catalog index: BM25 text, structured filters, sorts, per-session
price and stock overrides, similar products and the category tree."""

from __future__ import annotations

from mcp_shop.search.filters import SearchQuery
from mcp_shop.search.index import SearchIndex
from mcp_shop.search.query import SearchPage, search
from mcp_shop.search.session import ProductHit
from mcp_shop.search.similar import CategoryNode, category_tree, similar

__all__ = [
    "CategoryNode",
    "ProductHit",
    "SearchIndex",
    "SearchPage",
    "SearchQuery",
    "category_tree",
    "search",
    "similar",
]
