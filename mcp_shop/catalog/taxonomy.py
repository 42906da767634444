"""The shop's category tree (department > group > leaf) assembled from the data modules.

Category ids are dense and fixed by the order of the tree, so they are the same for every seed
and size. Each group orders its department's brands by popularity (rank 1 sells the most).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from mcp_shop.catalog.data_daily import BEAUTY, GROCERY, PETS
from mcp_shop.catalog.data_fashion import CLOTHING, SHOES
from mcp_shop.catalog.data_home import GARDEN, HOME
from mcp_shop.catalog.data_play import SPORTS, THEME_WORDS, THEMES, TOYS
from mcp_shop.catalog.data_tech import ELECTRONICS
from mcp_shop.catalog.specs import Department, Group, Leaf

__all__ = [
    "DEPARTMENTS",
    "THEMES",
    "THEME_WORDS",
    "CategorySpec",
    "LeafInfo",
    "categories",
    "leaves",
]

DEPARTMENTS: tuple[Department, ...] = (
    ELECTRONICS, SHOES, CLOTHING, TOYS, HOME, BEAUTY, SPORTS, GROCERY, PETS, GARDEN,
)
"""Every department, in tree order."""


@dataclass(frozen=True)
class CategorySpec:
    """One row of the ``category`` table (without its product count)."""

    id: int
    slug: str
    name: str
    parent_id: int | None
    department: str
    path: str
    is_leaf: bool
    depth: int
    attribute_specs: list[dict[str, Any]]

    def row(self, product_count: int = 0) -> dict[str, Any]:
        """The column values of this category, with ``product_count``."""
        return {
            "id": self.id, "slug": self.slug, "name": self.name, "parent_id": self.parent_id,
            "department": self.department, "path": self.path, "is_leaf": self.is_leaf,
            "depth": self.depth, "attribute_specs": self.attribute_specs,
            "product_count": product_count,
        }


@dataclass(frozen=True)
class LeafInfo:
    """A leaf category with what the generator needs: its id, path and ranked brands."""

    category_id: int
    leaf: Leaf
    group: Group
    department: Department
    brands: tuple[str, ...]
    path: str


def _ranked_brands(dept: Department, group: Group) -> tuple[str, ...]:
    import random

    brands = list(dept.brands)
    random.Random(f"mcp-shop-brands:{dept.slug}/{group.slug}").shuffle(brands)
    return tuple(brands)


def _attribute_specs(leaf: Leaf) -> list[dict[str, Any]]:
    return [entry for spec in leaf.attrs for entry in spec.public()]


@cache
def _build() -> tuple[tuple[CategorySpec, ...], tuple[LeafInfo, ...]]:
    cats: list[CategorySpec] = []
    infos: list[LeafInfo] = []
    for dept in DEPARTMENTS:
        dept_id = len(cats) + 1
        cats.append(CategorySpec(dept_id, dept.slug, dept.name, None, dept.name, dept.name,
                                 False, 0, []))
        for group in dept.groups:
            group_id = len(cats) + 1
            group_path = f"{dept.name} > {group.name}"
            cats.append(CategorySpec(group_id, f"{dept.slug}/{group.slug}", group.name, dept_id,
                                     dept.name, group_path, False, 1, []))
            brands = _ranked_brands(dept, group)
            for leaf in group.leaves:
                leaf_id = len(cats) + 1
                path = f"{group_path} > {leaf.name}"
                cats.append(CategorySpec(leaf_id, f"{dept.slug}/{group.slug}/{leaf.slug}",
                                         leaf.name, group_id, dept.name, path, True, 2,
                                         _attribute_specs(leaf)))
                infos.append(LeafInfo(leaf_id, leaf, group, dept, brands, path))
    return tuple(cats), tuple(infos)


def categories() -> list[CategorySpec]:
    """Every category in tree order (ids 1..n): departments, groups and leaves."""
    return list(_build()[0])


def leaves() -> tuple[LeafInfo, ...]:
    """The leaf categories in tree order."""
    return _build()[1]
