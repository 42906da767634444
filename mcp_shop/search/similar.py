"""Browsing beyond a query: products similar to a given one, and the category tree with counts.

Similar products come from the same leaf category and are ranked, from the index alone, by
attribute closeness (equal categorical values, numeric values by relative distance) and by the
share of the product's title words they contain, with the session's effective price and stock.
"""

from __future__ import annotations

import math
from typing import Any

import tantivy
from pydantic import BaseModel, Field
from sqlalchemy import Connection, func, select

from mcp_shop.errors import InvalidInput, NotFound
from mcp_shop.ids import product_id
from mcp_shop.models import Category, Product
from mcp_shop.search.index import SearchIndex, attr_term, stock_price_filter
from mcp_shop.search.query import pk_query
from mcp_shop.search.session import ProductHit, effective_values, fetch_hits
from mcp_shop.search.words import tokenize
from mcp_shop.sql import Sql, as_json, fetch_one

__all__ = ["CategoryNode", "category_tree", "similar"]

_CANDIDATES = 200  # products preselected by the index before numeric attributes are compared
_ATTR_WEIGHT = 0.6
_TITLE_WEIGHT = 0.4
_Q, _Occur = tantivy.Query, tantivy.Occur
_BASE = Sql(f"SELECT title, category_id, attributes FROM "
            f"{Product.__table__.name} WHERE id = ?")  # type: ignore[attr-defined]


def similar(conn: Connection, index: SearchIndex, product_pk: int, session_id: str | None, *,
            cheaper_than_cents: int | None = None, in_stock_only: bool = True,
            limit: int = 10) -> list[ProductHit]:
    """Products like ``product_pk``, most similar first (``score`` is the similarity, 0 to 1).

    The similarity is 0.6 x attribute closeness (the mean over the category's attributes of 1
    for an equal value, or 1 - relative distance for numbers) + 0.4 x the share of the
    product's title words found in the other title. Ties go to the lower product id.

    Args:
        conn: an open connection to the shop database.
        index: the catalog's search index.
        product_pk: the product to match (its integer key).
        session_id: whose prices and stock apply (None: catalog values).
        cheaper_than_cents: only products whose effective lowest price is below this.
        in_stock_only: only products with some variant in stock in this session.
        limit: how many to return, 1 to 50.

    Raises:
        NotFound: no such product.
        InvalidInput: a limit or price bound out of range.
    """
    if not 1 <= limit <= 50:
        raise InvalidInput(f"limit must be between 1 and 50, not {limit}")
    if cheaper_than_cents is not None and cheaper_than_cents <= 0:
        raise InvalidInput(f"cheaper_than_cents must be positive, not {cheaper_than_cents}")
    base = fetch_one(conn, _BASE, (product_pk,))
    if base is None:
        raise NotFound(f"no product {product_id(product_pk)} in this catalog")
    effective = effective_values(conn, session_id, index)
    cat = index.categories.get(base.category_id)
    attrs = as_json(base.attributes) or {}
    names = [s["name"] for s in (cat.specs if cat else ()) if isinstance(s.get("name"), str)]
    names = names or sorted(attrs)
    numeric = {n: float(v) for n, v in attrs.items() if n in names and _number(v)
               and n in index.numeric_fields}
    categorical = [attr_term(n, v) for n, v in attrs.items()
                   if n in names and n not in numeric and not isinstance(v, list)]
    stems = [w.stem for w in tokenize(index, base.title)]
    # each shared categorical value scores exactly 1, each shared title word a fraction whose
    # sum stays below 1: a hit's score tells both counts apart
    word = 1.0 / (len(stems) + 1)
    must = [(_Occur.Must, _Q.const_score_query(_Q.term_query(index.schema, "cat",
                                                             base.category_id), 0.0)),
            (_Occur.MustNot, _Q.term_query(index.schema, "pk", product_pk))]
    must += [(_Occur.Should, _Q.const_score_query(_Q.term_query(index.schema, "attr", t), 1.0))
             for t in categorical]
    must += [(_Occur.Should, _Q.const_score_query(
        _Q.term_query(index.schema, "title", s, index_option="freq"), word)) for s in stems]
    catalog = stock_price_filter(index, None if cheaper_than_cents is None else 0,
                                 None if cheaper_than_cents is None else cheaper_than_cents - 1,
                                 in_stock_only)
    main = list(must)
    if catalog is not None:
        main.append((_Occur.Must, _Q.const_score_query(catalog, 0.0)))
    hits = [h for h in _hits(index, _Q.boolean_query(main), _CANDIDATES + len(effective),
                             numeric) if h[0] not in effective]
    if effective:  # overridden products: judged on their effective price and stock
        mine = _Q.const_score_query(pk_query(index, sorted(effective)), 0.0)
        for hit in _hits(index, _Q.boolean_query([*must, (_Occur.Must, mine)]), len(effective),
                         numeric):
            price, stocked = effective[hit[0]]
            if (cheaper_than_cents is None or price < cheaper_than_cents) and (
                    stocked or not in_stock_only):
                hits.append(hit)
    ranked = sorted((-_similarity(score, word, len(stems), len(names), numeric, values), pk)
                    for pk, score, values in hits)[:limit]
    return fetch_hits(conn, index, [(pk, -neg) for neg, pk in ranked], effective)


def _hits(index: SearchIndex, query: tantivy.Query, limit: int,
          numeric: dict[str, float]) -> list[tuple[int, float, list[Any]]]:
    """(product key, score, numeric attribute values) of the top hits."""
    searcher = index.searcher
    hits = searcher.search(query, limit=max(1, limit), count=False).hits
    addrs = [addr for _, addr in hits]
    pks = searcher.fast_field_values("pk", addrs)
    columns = [searcher.fast_field_values(index.numeric_fields[n], addrs) for n in numeric]
    return [(int(pk), score, [col[i] for col in columns])  # type: ignore[arg-type]
            for i, ((score, _), pk) in enumerate(zip(hits, pks, strict=True))]


def _similarity(score: float, word: float, n_words: int, n_attrs: int,
                numeric: dict[str, float], values: list[Any]) -> float:
    equal = math.floor(score + 1e-4)  # categorical matches; the rest is title words
    shared = round((score - equal) / word) if n_words else 0
    closeness = 0.0
    for mine, theirs in zip(numeric.values(), values, strict=True):
        if theirs is not None:
            scale = max(abs(mine), abs(theirs))
            closeness += 1.0 if scale == 0 else max(0.0, 1.0 - abs(mine - theirs) / scale)
    attr = (equal + closeness) / n_attrs if n_attrs else 0.0
    title = shared / n_words if n_words else 0.0
    return round(_ATTR_WEIGHT * attr + _TITLE_WEIGHT * title, 6)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class CategoryNode(BaseModel):
    """A category with the number of products in it and below it."""

    slug: str = Field(description="e.g. 'electronics/audio/headphones'")
    name: str
    path: str = Field(description="e.g. 'Electronics > Audio > Headphones'")
    product_count: int
    children: list[CategoryNode] = Field(default_factory=list)


def category_tree(conn: Connection, index: SearchIndex | None = None) -> list[CategoryNode]:
    """The category forest (departments first level), children in key order.

    Counts come from the index when given (no table scan), else from one grouped query.
    """
    c = Category.__table__  # type: ignore[attr-defined]
    rows = conn.execute(select(c.c.id, c.c.slug, c.c.name, c.c.path, c.c.parent_id)
                        .order_by(c.c.id)).all()
    direct: dict[int, int] = {}
    if index is None:
        p = Product.__table__  # type: ignore[attr-defined]
        direct = dict(conn.execute(select(p.c.category_id, func.count())  # type: ignore[arg-type]
                                   .group_by(p.c.category_id)).all())
    nodes = {r.id: CategoryNode(slug=r.slug, name=r.name, path=r.path, product_count=0)
             for r in rows}
    children: dict[int, list[int]] = {r.id: [] for r in rows}
    roots: list[int] = []
    for r in rows:
        (children[r.parent_id] if r.parent_id in nodes else roots).append(r.id)

    def fill(cid: int) -> int:
        node = nodes[cid]
        node.children = [nodes[k] for k in children[cid]]
        below = sum(fill(k) for k in children[cid])
        node.product_count = (index.subtree_count(cid) if index is not None
                              else direct.get(cid, 0) + below)
        return node.product_count

    for cid in roots:
        fill(cid)
    return [nodes[cid] for cid in roots]
