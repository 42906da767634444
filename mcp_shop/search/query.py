"""Product search: the result page and the execution of a query over the shared index.

Text is normalised into plain word tokens and matched with BM25 (all words first, any word as a
fallback); filters and sorts run in tantivy with catalog values, and the few products whose
stock or price the session overrides are re-evaluated with their effective values and merged in,
so that totals, order and pages are exactly those of an index of the session's own values.

The query model and its filters live in :mod:`mcp_shop.search.filters`, the session's effective
values and the result rows in :mod:`mcp_shop.search.session`; their public names are
re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import tantivy
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from mcp_shop.errors import InvalidInput
from mcp_shop.search.filters import Filters, SearchQuery, compile_filters, zero_score
from mcp_shop.search.index import (
    PK_BITS,
    SearchIndex,
    sort_key_fields,
)
from mcp_shop.search.session import CatalogVariants, ProductHit, effective_values, fetch_hits
from mcp_shop.search.words import text_query, tokenize

__all__ = [
    "MAX_WINDOW",
    "CatalogVariants",
    "ProductHit",
    "SearchPage",
    "SearchQuery",
    "effective_values",
    "fetch_hits",
    "pk_query",
    "search",
]

MAX_WINDOW = 10_000  # deepest result position a page may reach
_MASK = (1 << PK_BITS) - 1
_Occur = tantivy.Occur
_Query = tantivy.Query


class SearchPage(BaseModel):
    """A page of search results."""

    total: int = Field(description="number of matching products")
    page: int
    page_size: int
    match_mode: Literal["all", "any"] = Field(
        description="'all': every word matched; 'any': no product had every word, so products "
        "matching some of the words are ranked by relevance"
    )
    hits: list[ProductHit]


@dataclass(frozen=True)
class _Ranked:
    """A matching product with the key it is ordered by (ascending)."""

    key: tuple[float | int, ...]
    pk: int
    score: float | None


def _by_key(r: _Ranked) -> tuple[float | int, ...]:
    return r.key


_FIELD_SORTS: dict[str, tuple[str, bool]] = {  # sort -> (key field, descending)
    "price_asc": ("k_price_asc", False),
    "price_desc": ("k_price_desc", True),
    "rating": ("k_rating", True),
    "popularity": ("k_popularity", True),
}


def search(conn: Connection, index: SearchIndex, query: SearchQuery,
           session_id: str | None = None) -> SearchPage:
    """Run ``query`` over the catalog as seen by session ``session_id``.

    Args:
        conn: an open SQLAlchemy connection to the shop database.
        index: the catalog's search index.
        query: text, filters, sort and page.
        session_id: whose stock and price overrides apply (None: catalog values).

    Raises:
        InvalidInput: an unknown category or attribute, or inconsistent bounds.
    """
    offset = (query.page - 1) * query.page_size
    if offset + query.page_size > MAX_WINDOW:
        raise InvalidInput(
            f"page {query.page} is too deep: results are available up to position {MAX_WINDOW}; "
            "narrow the search with filters instead", max_position=MAX_WINDOW)
    filters = compile_filters(index, query)
    effective = effective_values(conn, session_id, index)
    window = offset + query.page_size
    mode: Literal["all", "any"] = "all"
    if query.text.strip():
        terms = tokenize(index, query.text)
        if not terms:
            return SearchPage(total=0, page=query.page, page_size=query.page_size,
                              match_mode="all", hits=[])
        total, ranked = _run(index, filters, effective, text_query(index, terms, "all"),
                             query.sort, window)
        if total == 0 and len(terms) > 1:
            mode = "any"
            total, ranked = _run(index, filters, effective, text_query(index, terms, "any"),
                                 query.sort, window)
    else:
        sort = "popularity" if query.sort == "relevance" else query.sort
        total, ranked = _run(index, filters, effective, None, sort, window)
    page = ranked[offset:window]
    hits = fetch_hits(conn, index, [(r.pk, r.score) for r in page], effective)
    return SearchPage(total=total, page=query.page, page_size=query.page_size,
                      match_mode=mode, hits=hits)


def _run(index: SearchIndex, filters: Filters, effective: dict[int, tuple[int, bool]],
         text: tantivy.Query | None, sort: str, window: int) -> tuple[int, list[_Ranked]]:
    """Total and the first ``window`` products in order, overrides merged in.

    The catalog query runs unchanged, for ``window`` plus one hit per overridden product; the
    overridden products are dropped from its hits, re-judged on their effective values by a
    second query restricted to them, and merged back; the total is corrected likewise.
    """
    base = [(_Occur.Must, text)] if text is not None else []
    static = [(_Occur.Must, q) for q in filters.static]
    catalog_only = [(_Occur.Must, q) for q in filters.catalog]
    overridden = sorted(effective)
    total, ranked = _top(index, _combine(base + static + catalog_only), sort, text is not None,
                         window + len(overridden))
    if overridden:
        mine = zero_score(pk_query(index, overridden))
        counted, extra = _overridden(index, _combine([*base, *static, (_Occur.Must, mine)]),
                                     filters, effective, sort, text is not None)
        total += len(extra) - counted
        ranked = sorted([r for r in ranked if r.pk not in effective] + extra, key=_by_key)
    return total, ranked[:window]


def pk_query(index: SearchIndex, pks: list[int]) -> tantivy.Query:
    """Products with these keys (a union of term queries: much cheaper than a term set for a
    few keys, which builds a bitset of the whole index)."""
    if len(pks) > 256:
        return _Query.term_set_query(index.schema, "pk", pks)
    return _Query.boolean_query([(_Occur.Should, _Query.term_query(index.schema, "pk", pk))
                                 for pk in pks])


def _combine(clauses: list[tuple[tantivy.Occur, tantivy.Query]]) -> tantivy.Query:
    if not any(occur == _Occur.Must for occur, _ in clauses):
        clauses = [(_Occur.Must, _Query.all_query()), *clauses]
    if len(clauses) == 1:
        return clauses[0][1]
    return _Query.boolean_query(clauses)


def _top(index: SearchIndex, query: tantivy.Query, sort: str, scored: bool,
         window: int) -> tuple[int, list[_Ranked]]:
    searcher = index.searcher
    if scored and sort == "relevance":
        return _top_scored(index, query, window)
    field, desc = _FIELD_SORTS[sort]
    res = searcher.search(query, limit=window, count=True, order_by_field=field,
                          order=tantivy.Order.Desc if desc else tantivy.Order.Asc)
    out = []
    for key, _addr in res.hits:
        pk = key & _MASK if not desc else _MASK - (key & _MASK)
        out.append(_Ranked((-key if desc else key,), pk, None))
    return res.count or 0, out  # type: ignore[attr-defined]


def _top_scored(index: SearchIndex, query: tantivy.Query,
                window: int) -> tuple[int, list[_Ranked]]:
    """Top hits by score, ties broken by ascending product key."""
    searcher = index.searcher
    res = searcher.search(query, limit=window, count=True)
    total, hits = res.count or 0, res.hits  # type: ignore[attr-defined]
    if not index.pk_ordered and len(hits) == window < total:
        # several segments: tantivy breaks ties by document address, not by product key, so
        # widen the window until every hit tied with the last one is in it
        boundary, limit = hits[-1][0], window * 2
        while True:
            hits = searcher.search(query, limit=limit, count=False).hits
            if len(hits) < limit or hits[-1][0] < boundary:
                break
            limit *= 2
    pks = searcher.fast_field_values("pk", [addr for _, addr in hits])
    ranked = sorted((_Ranked((-score, pk), pk, score)  # type: ignore[arg-type]
                     for (score, _), pk in zip(hits, pks, strict=True)), key=_by_key)
    return total, ranked[:window]


def _overridden(index: SearchIndex, query: tantivy.Query, filters: Filters,
                effective: dict[int, tuple[int, bool]], sort: str,
                scored: bool) -> tuple[int, list[_Ranked]]:
    """Overridden products matching the text and static filters: how many of them pass the
    price and stock filters on catalog values (the catalog query counted those), and the ones
    that pass on effective values, ranked."""
    searcher = index.searcher
    hits = searcher.search(query, limit=max(1, len(effective)), count=False).hits
    addrs = [addr for _, addr in hits]
    pks = searcher.fast_field_values("pk", addrs)
    prices = searcher.fast_field_values("price_min", addrs)
    stocked = searcher.fast_field_values("in_stock", addrs)
    keys: list[Any] = [None] * len(addrs)
    if sort in ("rating", "popularity"):
        keys = searcher.fast_field_values(_FIELD_SORTS[sort][0], addrs)
    counted, out = 0, []
    for (score, _), pk_value, catalog_price, catalog_stock, key in zip(
            hits, pks, prices, stocked, keys, strict=True):
        pk = int(pk_value)  # type: ignore[arg-type]
        counted += filters.accepts(catalog_price, catalog_stock)  # type: ignore[arg-type]
        price, in_stock = effective[pk]
        if not filters.accepts(price, in_stock):
            continue
        if scored and sort == "relevance":
            out.append(_Ranked((-score, pk), pk, score))  # type: ignore[arg-type]
            continue
        if sort in ("price_asc", "price_desc"):  # the catalog's key, recomputed at this price
            key = sort_key_fields(pk, price, 0.0, 0)[_FIELD_SORTS[sort][0]]
        out.append(_Ranked((-key if sort != "price_asc" else key,), pk, None))
    return counted, out
