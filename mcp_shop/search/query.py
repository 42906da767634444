"""Product search: the query and result models, and their execution over the shared index.

Text is normalised into plain word tokens and matched with BM25 (all words first, any word as a
fallback); filters and sorts run in tantivy with catalog values, and the few products whose
stock or price the session overrides are re-evaluated with their effective values and merged in,
so that totals, order and pages are exactly those of an index of the session's own values.
"""

from __future__ import annotations

import difflib
import math
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

import tantivy
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, bindparam, select

from mcp_shop.errors import InvalidInput, shown
from mcp_shop.ids import VARIANTS_PER_PRODUCT, product_id
from mcp_shop.models import PriceOverride, Product, StockOverride, Variant
from mcp_shop.search.index import (
    PK_BITS,
    CategoryInfo,
    SearchIndex,
    attr_term,
    norm_value,
    sort_key_fields,
    stock_price_filter,
    text_query,
    tokenize,
)
from mcp_shop.sql import Sql, fetch_all

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
_FLOAT_MAX = 1.7976931348623157e308  # the largest finite number a filter can hold
_MASK = (1 << PK_BITS) - 1
_Occur = tantivy.Occur
_Query = tantivy.Query
Sort = Literal["relevance", "price_asc", "price_desc", "rating", "popularity"]


class SearchQuery(BaseModel):
    """What to search for: free text, filters, sort order and page."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    text: str = Field("", description="free text, e.g. 'wireless noise cancelling headphones'; "
                      "empty to browse")
    category: str | None = Field(None, description="category slug, e.g. "
                                 "'electronics/audio/headphones' or a department such as 'toys'")
    brand: str | None = Field(None, description="exact brand name, any case, e.g. 'Sonix'")
    min_price_cents: int | None = Field(None, ge=0, description="lowest price, in cents")
    max_price_cents: int | None = Field(None, ge=0, description="highest price, in cents")
    min_rating: float | None = Field(None, ge=0, le=5, description="minimum mean rating, 0 to 5")
    in_stock_only: bool = Field(False, description="only products with some variant in stock")
    attributes: dict[str, str | bool | int | float] = Field(
        default_factory=dict,
        description="attribute equality, e.g. {'noise_cancelling': true, 'theme': 'dinosaurs'}",
    )
    attributes_at_least: dict[str, float] = Field(
        default_factory=dict, description="numeric attribute minimums, e.g. {'battery_hours': 20}"
    )
    sort: Sort = Field(
        "relevance",
        description="'relevance' (text match; most popular first when there is no text), "
        "'price_asc' / 'price_desc' (lowest variant price in this session), 'rating' (highest "
        "rating, then most ratings) or 'popularity' (most ratings, then highest rating); "
        "ties go to the lower product id",
    )
    page: int = Field(1, ge=1, description="1-based page number")
    page_size: int = Field(10, ge=1, le=50, description="hits per page, 1 to 50")


class ProductHit(BaseModel):
    """One product of a result list, with this session's price and stock status."""

    product_id: str = Field(description="e.g. 'P-000042'")
    title: str
    brand: str
    category: str = Field(description="category path, e.g. 'Electronics > Audio > Headphones'")
    price_cents: int = Field(description="lowest variant price in this session, in cents")
    rating: float
    rating_count: int
    in_stock: bool = Field(description="some variant is in stock in this session")
    score: float | None = Field(None, description="relevance (text searches) or similarity")


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
        mine = _zero(pk_query(index, overridden))
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


def _zero(q: tantivy.Query) -> tantivy.Query:
    return _Query.const_score_query(q, 0.0)


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

# -- filters -------------------------------------------------------------------------------


@dataclass
class Filters:
    """Compiled filters: ``static`` ones never depend on the session; ``catalog`` ones test the
    catalog price and stock (used for products the session does not override), and
    ``accepts`` tests the same bounds on effective values."""

    static: list[tantivy.Query] = field(default_factory=list)
    catalog: list[tantivy.Query] = field(default_factory=list)
    min_price: int | None = None
    max_price: int | None = None
    in_stock_only: bool = False

    def accepts(self, price: int, in_stock: bool) -> bool:
        """Whether effective ``price`` and ``in_stock`` pass the price and stock filters."""
        if self.min_price is not None and price < self.min_price:
            return False
        if self.max_price is not None and price > self.max_price:
            return False
        return in_stock or not self.in_stock_only


def _zero_all(queries: list[tantivy.Query]) -> list[tantivy.Query]:
    return [_zero(q) for q in queries]


def compile_filters(index: SearchIndex, query: SearchQuery) -> Filters:
    """Tantivy queries for the filters of ``query`` (they add nothing to scores).

    Raises:
        InvalidInput: unknown category or attribute, bad attribute value, min above max.
    """
    schema, static, catalog = index.schema, [], []
    lo, hi = query.min_price_cents, query.max_price_cents
    if lo is not None and hi is not None and lo > hi:
        raise InvalidInput(f"min_price_cents ({lo}) is above max_price_cents ({hi})")
    cat = resolve_category(index, query.category) if query.category is not None else None
    if cat is not None:
        static.append(_Query.term_query(schema, "cat", cat.id))
    if query.brand is not None and query.brand.strip():
        static.append(_Query.term_query(schema, "brand", query.brand.strip().lower()[:200]))
    if query.min_rating is not None:
        static.append(_Query.range_query(schema, "rating", tantivy.FieldType.Float,
                                         float(query.min_rating), None))
    static.extend(_attribute_filters(index, cat, query.attributes, query.attributes_at_least))
    stock_price = stock_price_filter(index, lo, hi, query.in_stock_only)
    if stock_price is not None:
        catalog.append(stock_price)
    return Filters(_zero_all(static), _zero_all(catalog), lo, hi, query.in_stock_only)


def _clip(text: str, n: int = 60) -> str:
    return repr(text if len(text) <= n else text[:n] + "...")


def resolve_category(index: SearchIndex, slug: str) -> CategoryInfo:
    """The category of a slug such as 'electronics/audio/headphones', in any case; its path
    ('Electronics > Audio > Headphones', as shown in hits) or its name, when no other category
    has that name, are accepted too.

    Raises:
        InvalidInput: no such category; the message lists close valid slugs.
    """
    key = "/".join(p for p in slug.strip().lower().split("/") if p)
    if key in index.by_slug:
        return index.by_slug[key]
    words = " ".join(slug.lower().split())[:300]
    by_path = [c for c in index.categories.values()
               if " ".join(c.path.lower().split()) == words]
    by_name = [c for c in index.categories.values() if c.name.lower() == words]
    for found in (by_path, by_name):
        if len(found) == 1:
            return found[0]
    slugs = sorted(index.by_slug)
    tail = [s for s in slugs if key and (s.endswith("/" + key) or s.split("/")[-1] == key)]
    close = difflib.get_close_matches(key[:100], slugs, n=5, cutoff=0.5)
    suggestions = list(dict.fromkeys(tail + close))[:6]
    if not suggestions:
        suggestions = [c.slug for c in index.categories.values() if c.parent_id is None]
    raise InvalidInput(
        f"unknown category {_clip(slug)}; valid slugs include: {', '.join(suggestions)} "
        "(see list_categories for the full tree)", suggestions=suggestions)


def _attribute_filters(index: SearchIndex, cat: CategoryInfo | None, equal: dict[str, Any],
                       at_least: dict[str, float]) -> list[tantivy.Query]:
    if not equal and not at_least:
        return []
    specs = index.attribute_specs(cat.id if cat else None)
    scope = f"category {cat.slug!r}" if cat else "the catalog"
    out = []
    for name in [*equal, *at_least]:
        if name not in specs:
            valid = sorted(specs)
            raise InvalidInput(
                f"unknown attribute {_clip(name)} in {scope}; valid attributes: "
                f"{', '.join(valid[:60]) or '(none)'}", valid=valid[:60])
    for name, value in equal.items():
        out.append(_equality(index, name, value, specs[name]))
    for name, value in at_least.items():
        fname = index.numeric_fields.get(name)
        if fname is None:
            numeric = sorted(n for n in specs if n in index.numeric_fields)
            raise InvalidInput(
                f"attributes_at_least needs a numeric attribute; {name!r} is not one. Numeric "
                f"attributes in {scope}: {', '.join(numeric) or '(none)'}", valid=numeric)
        number = _as_number(value)
        if not math.isfinite(number):
            raise _not_a_usable_number(name, value, specs[name], "attributes_at_least")
        out.append(_Query.range_query(index.schema, fname, tantivy.FieldType.Float,
                                      number, None))
    return out


_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n"}


def _equality(index: SearchIndex, name: str, value: Any,
              specs: list[dict[str, Any]]) -> tantivy.Query:
    types = {s.get("type") for s in specs}
    numeric_field = index.numeric_fields.get(name) if types & {"int", "float"} else None
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if "bool" in types and not is_number:
        word = norm_value(value)
        if word in _TRUE | _FALSE:
            return _Query.term_query(index.schema, "attr", attr_term(name, word in _TRUE))
    if numeric_field is not None and not isinstance(value, bool):
        number = _as_number(value)
        if math.isfinite(number):
            return _Query.range_query(index.schema, numeric_field, tantivy.FieldType.Float,
                                      number, number)
        if is_number:
            raise _not_a_usable_number(name, value, specs, "attributes")
    if types & {"enum", "text"}:
        allowed = {norm_value(v) for s in specs for v in (s.get("values") or ())}
        if "text" in types or not allowed or norm_value(value) in allowed:
            return _Query.term_query(index.schema, "attr", attr_term(name, value))
        valid = sorted(allowed)
        raise InvalidInput(f"{name} cannot be {shown(value)}; valid values: "
                           f"{', '.join(valid[:40])}", valid=valid[:40])
    kinds = "true or false" if types == {"bool"} else "a number" if numeric_field else "a value"
    raise InvalidInput(f"attribute {name!r} takes {kinds}, not {shown(value)}")


def _as_number(value: Any) -> float:
    """``value`` as a float; NaN when it is no number or too large for one (e.g. 10**400)."""
    try:
        return float(value)
    except (ValueError, OverflowError, TypeError):
        return math.nan


def _not_a_usable_number(name: str, value: Any, specs: list[dict[str, Any]],
                         where: str) -> InvalidInput:
    unit = next((s["unit"] for s in specs if isinstance(s.get("unit"), str)), None)
    what = f"a number of {unit}" if unit else "a number"
    return InvalidInput(
        f"{where}: {name!r} takes {what}, e.g. {{{name!r}: 20}}; {shown(value)} is not a usable "
        f"number: give a finite number between {-_FLOAT_MAX:.4g} and {_FLOAT_MAX:.4g}",
        attribute=name)


# -- session values and result rows ------------------------------------------------------------


_P = Product.__table__  # type: ignore[attr-defined]
_PO, _SO = PriceOverride.__table__, StockOverride.__table__  # type: ignore[attr-defined]
# Hand-written (mcp_shop.sql): every search runs these two, and Core's per-statement work
# (an expanding IN compiled per call) was about a third of a search's time.
_OVERRIDES = Sql(f"""SELECT variant_id, price_cents, NULL FROM {_PO.name} WHERE session_id = ?
                     UNION ALL
                     SELECT variant_id, NULL, stock FROM {_SO.name} WHERE session_id = ?""")
_ROWS_COLUMNS = "id, title, brand, category_id, rating, rating_count, price_min_cents, in_stock"
_ROWS: dict[int, Sql] = {}  # by number of ids


def _rows_sql(count: int) -> Sql:
    sql = _ROWS.get(count)
    if sql is None:
        sql = _ROWS[count] = Sql(f"SELECT {_ROWS_COLUMNS} FROM {_P.name} "
                                 f"WHERE id IN ({', '.join('?' * count)})")
    return sql


_V = Variant.__table__  # type: ignore[attr-defined]
_VARIANT_SQL: dict[int, Sql] = {}  # by number of product keys


def _variants_sql(count: int) -> Sql:
    sql = _VARIANT_SQL.get(count)
    if sql is None:
        sql = _VARIANT_SQL[count] = Sql(
            f"SELECT product_id, id, price_cents, stock FROM {_V.name} "
            f"WHERE product_id IN ({', '.join('?' * count)})")
    return sql


_VARIANTS_OF = select(_V.c.product_id, _V.c.id, _V.c.price_cents, _V.c.stock).where(
    _V.c.product_id.in_(select(_V.c.product_id).where(
        _V.c.id.in_(bindparam("vids", expanding=True)))))
VariantRows = tuple[tuple[int, int, int], ...]  # (variant key, catalog price, catalog stock)


class CatalogVariants:
    """Catalog variants of products, by the key of one of their variants, cached (the catalog
    never changes; the cache holds at most ``limit`` products and starts over when full)."""

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self._products: dict[int, VariantRows] = {}
        self._owner: dict[int, int] = {}  # variant key -> product key
        self._lock = threading.Lock()

    def __call__(self, conn: Connection, variant_keys: set[int]) -> dict[int, VariantRows]:
        """Product key -> its variants, for every product owning one of ``variant_keys``."""
        with self._lock:
            missing = variant_keys - self._owner.keys()
        fetched: dict[int, list[tuple[int, int, int]]] = {}
        if missing:
            # keys made by mcp_shop.ids.variant_key embed their product's key: use that index
            pks = sorted({v // VARIANTS_PER_PRODUCT for v in missing})
            for pk, vid, price, stock in fetch_all(conn, _variants_sql(len(pks)), pks):
                fetched.setdefault(pk, []).append((vid, price, stock))
            found = {vid for rows in fetched.values() for vid, _, _ in rows}
            if missing - found:  # other keys: ask the variant table who owns them
                for pk, vid, price, stock in conn.execute(
                        _VARIANTS_OF, {"vids": sorted(missing - found)}):
                    fetched.setdefault(pk, []).append((vid, price, stock))
        out = {pk: tuple(sorted(rows)) for pk, rows in fetched.items()}
        with self._lock:
            for v in variant_keys:
                pk = self._owner.get(v)
                if pk is not None and pk not in out:
                    out[pk] = self._products[pk]
            if len(self._products) + len(fetched) > self.limit:
                self._products.clear()
                self._owner.clear()
            for pk in fetched:
                self._products[pk] = out[pk]
                self._owner.update((vid, pk) for vid, _, _ in out[pk])
        return out


def effective_values(conn: Connection, session_id: str | None,
                     index: SearchIndex | None = None) -> dict[int, tuple[int, bool]]:
    """Product key -> (effective lowest price, effective in stock) for every product on which
    the session overrides some variant's price or stock.

    One primary-key lookup on the override tables; a session with overrides also needs the
    catalog variants of the products concerned, which ``index`` caches (the catalog never
    changes), else one indexed query.
    """
    if session_id is None:
        return {}
    rows = tuple(fetch_all(conn, _OVERRIDES, (session_id, session_id)))
    if not rows:
        return {}
    # the same overrides give the same values: a session's searches between two changes of its
    # stock or prices reuse them (keyed by the override rows themselves, so never stale)
    known = index.cache.setdefault("effective", {}) if index is not None else {}
    hit = known.get(session_id)
    if hit is not None and hit[0] == rows:
        return dict(hit[1])
    out = _effective(conn, rows, index)
    if len(known) >= 4096:
        known.clear()
    known[session_id] = (rows, out)
    return dict(out)


def _effective(conn: Connection, rows: tuple[Any, ...],
               index: SearchIndex | None) -> dict[int, tuple[int, bool]]:
    prices: dict[int, int] = {}
    stock: dict[int, int] = {}
    for vid, price, level in rows:
        if price is not None:
            prices[vid] = price
        if level is not None:
            stock[vid] = level
    touched = {*prices, *stock}
    if not touched:
        return {}
    cache = (index.cache.setdefault("variants", CatalogVariants()) if index is not None
             else CatalogVariants())
    variants = cache(conn, touched)
    out: dict[int, tuple[int, bool]] = {}
    for pk, catalog in variants.items():
        low, stocked = None, False
        for vid, price, level in catalog:
            price, level = prices.get(vid, price), stock.get(vid, level)
            low = price if low is None else min(low, price)
            stocked = stocked or level > 0
        if low is not None:
            out[pk] = (low, stocked)
    return out


def fetch_hits(conn: Connection, index: SearchIndex, ranked: list[tuple[int, float | None]],
               effective: dict[int, tuple[int, bool]]) -> list[ProductHit]:
    """Result rows for ``(product key, score)`` pairs, in that order (one query)."""
    if not ranked:
        return []
    rows = {r[0]: r for r in fetch_all(conn, _rows_sql(len(ranked)), [pk for pk, _ in ranked])}
    hits = []
    for pk, score in ranked:
        row = rows.get(pk)
        if row is None:  # index and database disagree: skip rather than fail
            continue
        _, title, brand, cat_id, rating, rating_count, price, in_stock = row
        price, in_stock = effective.get(pk, (price, in_stock))
        cat = index.categories.get(cat_id)
        hits.append(ProductHit.model_construct(
            product_id=product_id(pk), title=title, brand=brand,
            category=cat.path if cat else "", price_cents=int(price), rating=float(rating),
            rating_count=int(rating_count), in_stock=bool(in_stock),
            score=None if score is None else round(score, 4)))
    return hits
