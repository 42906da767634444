"""Read-only views the MCP surface needs beyond ``Shop``: the category tree, several products at
once (compare, present), a catalog-level product view, and keyword search over the policies.

Plain functions over an engine or connection; nothing here imports ``mcp`` or writes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Engine

from mcp_shop import products, search, sessions
from mcp_shop.db import read_tx
from mcp_shop.errors import InvalidInput, NotFound
from mcp_shop.facts import Fact, policy_facts
from mcp_shop.ids import parse_product_id
from mcp_shop.policies import DEFAULT_POLICIES, Policies, PolicySection
from mcp_shop.views import ProductView

__all__ = [
    "AttributeComparison",
    "CategoryNode",
    "CategoryTree",
    "ComparedProduct",
    "Comparison",
    "PolicyMatch",
    "PolicySearchResult",
    "catalog_product",
    "category_tree",
    "compare",
    "get_products",
    "search_policies",
]

class CategoryNode(BaseModel):
    """A category with its product count (its whole subtree) and, down to the asked depth,
    its children (a node below that depth shows no children even when it has some: see
    is_leaf)."""

    slug: str = Field(description="pass as the category filter of search_products")
    name: str
    path: str = Field(description="e.g. 'Electronics > Audio > Headphones'")
    product_count: int
    is_leaf: bool = Field(description="true when it has no subcategories")
    children: list[CategoryNode] = Field(default_factory=list)


class CategoryTree(BaseModel):
    """The category tree (or the subtree under one category)."""

    categories: list[CategoryNode]


def category_tree(forest: Sequence[search.CategoryNode], parent: str | None = None,
                  depth: int = 2) -> CategoryTree:
    """The part of ``forest`` (see ``mcp_shop.search.category_tree``) under ``parent`` (a slug;
    None: the departments), ``depth`` levels deep."""
    roots = list(forest)
    if parent is not None:
        wanted = parent.strip().strip("/").lower()
        stack, node = list(forest), None
        while stack:
            candidate = stack.pop()
            if candidate.slug == wanted:
                node = candidate
                break
            stack.extend(candidate.children)
        if node is None:
            departments = ", ".join(n.slug for n in forest)
            raise NotFound(f"unknown category {parent!r}; departments are: {departments}")
        roots = node.children

    def build(n: search.CategoryNode, level: int) -> CategoryNode:
        kids = [build(k, level + 1) for k in n.children] if level < depth else []
        return CategoryNode(slug=n.slug, name=n.name, path=n.path,
                            product_count=n.product_count, is_leaf=not n.children,
                            children=kids)

    return CategoryTree(categories=[build(n, 1) for n in roots])


def get_products(engine: Engine, session_id: str, ids: Sequence[str]) -> list[ProductView]:
    """Several products in one read transaction, in the given order (duplicates dropped).

    Raises:
        NotFound: for the first unknown product id (naming it).
    """
    keys = list(dict.fromkeys(parse_product_id(i) for i in ids))
    with read_tx(engine) as conn:
        sessions.read_session(conn, session_id)
        return [products.get_product(conn, session_id, pk) for pk in keys]


def catalog_product(engine: Engine, product: str) -> ProductView:
    """A product with catalog prices and stock, as a session without changes would see it."""
    pk = parse_product_id(product)
    with read_tx(engine) as conn:
        return products.get_product(conn, None, pk)


class ComparedProduct(BaseModel):
    """One product of a comparison."""

    product_id: str
    title: str
    brand: str
    category: str
    price_cents: int = Field(description="lowest variant price in this session, in cents")
    price_max_cents: int = Field(description="highest variant price in this session, in cents")
    rating: float
    rating_count: int
    in_stock: bool
    final_sale: bool
    variants: int = Field(description="number of variants (sizes, colours, ...)")


class AttributeComparison(BaseModel):
    """One attribute across the compared products."""

    attribute: str
    values: dict[str, Any] = Field(description="product id -> value (null if it has none)")
    differs: bool = Field(description="true when the products do not all share one value")


class Comparison(BaseModel):
    """A side-by-side comparison of a few products."""

    products: list[ComparedProduct]
    attributes: list[AttributeComparison]


def compare(views: Sequence[ProductView]) -> Comparison:
    """Side-by-side summary and attributes of ``views`` (at least two products)."""
    if len(views) < 2:
        raise InvalidInput("compare at least two different products")
    names = list(dict.fromkeys(name for v in views for name in v.attributes))
    rows = []
    for name in names:
        values = {v.product_id: v.attributes.get(name) for v in views}
        rows.append(AttributeComparison(attribute=name, values=values,
                                        differs=len({repr(x) for x in values.values()}) > 1))
    return Comparison(
        products=[ComparedProduct(
            product_id=v.product_id, title=v.title, brand=v.brand, category=v.category,
            price_cents=v.price_cents,
            price_max_cents=max((x.price_cents for x in v.variants), default=v.price_cents),
            rating=v.rating, rating_count=v.rating_count, in_stock=v.in_stock,
            final_sale=v.final_sale, variants=len(v.variants)) for v in views],
        attributes=rows,
    )


class PolicyMatch(BaseModel):
    """A policy section that matches a query."""

    key: str = Field(description="section key, e.g. 'returns'")
    title: str
    text: str
    score: float = Field(description="how well it matches; higher is better")
    facts: list[Fact] = Field(default_factory=list, description="the section's rules as facts "
                              "(fact, about, value), ready to state with state_facts")


class PolicySearchResult(BaseModel):
    """Policy sections matching a query, best first."""

    query: str
    matches: list[PolicyMatch]
    sections: list[str] = Field(description="keys of every policy section, for reference")


_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset({
    "a", "an", "and", "are", "can", "do", "does", "for", "how", "i", "if", "in", "is", "it",
    "my", "of", "on", "or", "the", "to", "what", "when", "where", "which", "who", "why",
    "will", "with", "you", "your",
})


@lru_cache(maxsize=8192)
def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _terms(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP]


@lru_cache(maxsize=256)
def _section_terms(key: str, title: str, text: str) -> tuple[Counter[str], Counter[str]]:
    """How often each term occurs in a section's key and title, and in its text (sections are
    constant: computed once)."""
    return Counter(_terms(f"{key} {title}")), Counter(_terms(text))


_FACTS: dict[int, tuple[Policies, dict[str, list[Fact]]]] = {}


def _policy_facts(policies: Policies) -> dict[str, list[Fact]]:
    """A catalog's policy facts by section, computed once per policies object (a catalog's
    policies are constant)."""
    hit = _FACTS.get(id(policies))
    if hit is None or hit[0] is not policies:
        hit = _FACTS[id(policies)] = (policies, policy_facts(policies))
    return hit[1]


def search_policies(sections: Sequence[PolicySection], query: str,
                    limit: int = 3, policies: Policies = DEFAULT_POLICIES) -> PolicySearchResult:
    """Sections whose key, title or text share words with ``query``, by a simple tf score;
    each with the facts of ``policies`` (the shop's) in that section."""
    wanted = set(_terms(query))
    facts = _policy_facts(policies)
    matches = []
    for s in sections:
        head, body = _section_terms(s.key, s.title, s.text)
        score = sum(3.0 * head[t] + min(body[t], 5) for t in wanted)
        if score > 0:
            matches.append(PolicyMatch(key=s.key, title=s.title, text=s.text,
                                       score=round(score, 2), facts=facts.get(s.key, [])))
    matches.sort(key=lambda m: -m.score)
    return PolicySearchResult(query=query, matches=matches[:limit],
                              sections=[s.key for s in sections])
