"""Search query parsing: the query model and its filters compiled to tantivy queries.

Category, brand, rating and attribute filters never depend on the session ("static"); the price
and stock bounds are compiled for catalog values and also kept as plain bounds, which
:mod:`mcp_shop.search.query` applies to the products whose price or stock the session overrides.
Unknown categories and attributes and unusable values are rejected with the valid choices.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import tantivy
from pydantic import BaseModel, ConfigDict, Field

from mcp_shop.errors import InvalidInput, shown
from mcp_shop.search.index import (
    CategoryInfo,
    SearchIndex,
    attr_term,
    norm_value,
    stock_price_filter,
)

__all__ = [
    "Filters",
    "SearchQuery",
    "Sort",
    "compile_filters",
    "resolve_category",
    "zero_score",
]

_FLOAT_MAX = 1.7976931348623157e308  # the largest finite number a filter can hold
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


def zero_score(q: tantivy.Query) -> tantivy.Query:
    """``q`` as a filter: it matches the same products and adds nothing to scores."""
    return _Query.const_score_query(q, 0.0)



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
    return [zero_score(q) for q in queries]


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
