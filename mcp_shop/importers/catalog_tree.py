"""The category rows of an imported catalog from the tree of pass 1: stable ids (tree order
of the sorted source paths, not row order), unique slugs from names, depths, leaves with
their typed attribute specs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mcp_shop.importers.stats import Tree, slugify, spec_for

__all__ = ["CategoryRow", "Layout", "layout"]


@dataclass
class CategoryRow:
    """One category as written (``Category`` columns, ``product_count`` filled after pass 2)."""

    id: int
    slug: str
    name: str
    parent_id: int | None
    department: str
    path: str
    is_leaf: bool
    depth: int
    attribute_specs: list[dict[str, Any]] = field(default_factory=list)

    def row(self, product_count: int) -> tuple:
        import json

        return (self.id, self.slug, self.name, self.parent_id, self.department, self.path,
                self.is_leaf, self.depth,
                json.dumps(self.attribute_specs, separators=(",", ":")), product_count)


@dataclass
class Layout:
    """Categories in id order, where each source path's products go, and the departments."""

    categories: list[CategoryRow]
    leaf_of: dict[tuple[str, ...], int]  # source path -> leaf category id
    specs: dict[int, dict[str, dict[str, Any]]]  # leaf id -> attribute name -> spec
    department_of: dict[int, str]  # leaf id -> department slug
    departments: list[tuple[str, str]]  # (slug, name)


def layout(tree: Tree) -> Layout:
    """Turn pass 1's tree into category rows.

    A source path whose node has children (or is a department) puts its products in a leaf
    ``General <name>`` below that node; every other node with products is a leaf.
    """
    paths: dict[tuple[str, ...], tuple[str, ...]] = {}  # category path -> source path
    for path, node in tree.nodes.items():
        paths.setdefault(path, ())
        if node.own:
            leaf = tree.leaf_of(path)
            paths[leaf] = path
    rows: list[CategoryRow] = []
    ids: dict[tuple[str, ...], int] = {}
    slugs: dict[tuple[str, ...], str] = {}
    used: dict[tuple[str, ...], set[str]] = {}
    parents = {p[:-1] for p in paths if len(p) > 1}
    out = Layout([], {}, {}, {}, [])
    for path in sorted(paths):
        parent = path[:-1]
        siblings = used.setdefault(parent, set())
        base = slugify(path[-1])
        slug, i = base, 2
        while slug in siblings:
            slug, i = f"{base}-{i}", i + 1
        siblings.add(slug)
        full = f"{slugs[parent]}/{slug}" if parent else slug
        slugs[path] = full
        cid = len(rows) + 1
        ids[path] = cid
        is_leaf = path not in parents
        specs: list[dict[str, Any]] = []
        source = paths[path]
        if is_leaf and source:
            stats = tree.nodes[source].attrs
            specs = [spec_for(name, stats[name]) for name in sorted(stats)]
            out.leaf_of[source] = cid
            out.specs[cid] = {s["name"]: s for s in specs}
            out.department_of[cid] = slugs[path[:1]]
        rows.append(CategoryRow(cid, full, path[-1], ids.get(parent) if parent else None,
                                path[0], " > ".join(path), is_leaf, len(path) - 1, specs))
        if not parent:
            out.departments.append((full, path[0]))
    out.categories = rows
    return out
