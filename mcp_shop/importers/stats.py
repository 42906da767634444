"""Pass 1 of an import: the category tree and, per category, what its attribute values look
like, in memory bounded by the taxonomy (never by the number of products).

From these statistics :func:`type_attributes` decides each leaf attribute's type: a number
with a unit ('20 hours' -> 20, 'hours'), a boolean (yes/no/true/false), an enumeration (a
small set of values repeated across the leaf's products) or text.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from mcp_shop.importers.text import clean_text

__all__ = ["AttrStats", "GENERAL", "MAX_ATTRIBUTES", "MAX_DEPTH", "NO_PATH", "Node", "Tree",
           "parse_bool", "parse_number", "slugify", "snake_name", "spec_for"]

MAX_DEPTH = 6  # deeper source paths are cut here
MAX_ATTRIBUTES = 200  # attribute names per category: later new names are not attributes
NO_PATH = ("Other", "Miscellaneous")  # where products without a category path go
GENERAL = "General {name}"  # the leaf for products sitting on an inner node or a department
MAX_DISTINCT = 24  # distinct values tracked per attribute: more is not an enumeration
ENUM_MAX = 20  # an enumeration has at most this many values ...
ENUM_REPEAT = 2.0  # ... and at least this many products per value on average
_NAME_CUT = 120
_TRUE = {"yes", "true", "y"}
_FALSE = {"no", "false", "n"}
_NUM = re.compile(r"^\s*(-?\d{1,12}(?:[.,]\d{1,6})?)\s*([^\W\d_](?:[^\W\d]|[ .°%/\"'-]){0,23}"
                  r"|%|\"|')?\s*$")


def slugify(name: str) -> str:
    """A URL-safe slug of a name: ASCII letters and digits joined by '-' ('Café & Bar' ->
    'cafe-bar'); 'c' when nothing is left."""
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")[:60].strip("-")
    return slug or "c"


@lru_cache(maxsize=8192)
def snake_name(label: str) -> str:
    """An attribute's snake_case name from the source's wording ('Battery Life (hrs)' ->
    'battery_life_hrs'); starts with a letter; at most 60 characters."""
    ascii_ = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "_", ascii_.lower()).strip("_")[:60].strip("_")
    if not name:
        return "attribute"
    return name if name[0].isalpha() else f"a_{name}"[:60]


def parse_bool(value: str) -> bool | None:
    """True for yes/true/y, False for no/false/n (any case), else None."""
    low = value.strip().lower()
    return True if low in _TRUE else False if low in _FALSE else None


@lru_cache(maxsize=65536)
def parse_number(value: str) -> tuple[float, str] | None:
    """``(number, unit)`` of '20 hours', '1.5 kg', '500ml', '12' (unit ''), '1,5 kg'; None for
    anything else. The unit is lowercased; a number must be finite."""
    m = _NUM.match(value)
    if m is None:
        return None
    number = float(m.group(1).replace(",", "."))
    if not math.isfinite(number):
        return None
    unit = " ".join((m.group(2) or "").lower().split())
    return number, unit


@lru_cache(maxsize=65536)
def _kind(value: str) -> tuple[bool, str | None, bool]:
    """(a boolean?, the unit when a number else None, a whole number?) of a value."""
    num = parse_number(value)
    return (parse_bool(value) is not None, None if num is None else num[1],
            num is not None and num[0].is_integer())


@dataclass
class AttrStats:
    """What one attribute's values look like over one leaf's products."""

    label: str
    count: int = 0
    bools: int = 0
    integral: bool = True
    units: Counter[str] = field(default_factory=Counter)  # numbers by unit
    values: Counter[str] | None = field(default_factory=Counter)  # None: too many distinct

    def add(self, value: str) -> None:
        self.count += 1
        is_bool, unit, integral = _kind(value)
        if is_bool:
            self.bools += 1
        if unit is not None:
            self.units[unit] += 1
            if not integral:
                self.integral = False
        if self.values is not None:
            self.values[value] += 1
            if len(self.values) > MAX_DISTINCT:
                self.values = None


def spec_for(name: str, stats: AttrStats) -> dict[str, Any]:
    """The ``Category.attribute_specs`` entry of an attribute from its statistics."""
    out: dict[str, Any] = {"name": name, "label": stats.label}
    if stats.bools == stats.count:
        return {**out, "type": "bool"}
    if len(stats.units) == 1 and sum(stats.units.values()) == stats.count:
        unit = next(iter(stats.units))
        spec = {**out, "type": "int" if stats.integral else "float"}
        return {**spec, "unit": unit} if unit else spec
    values = stats.values
    if values is not None and len(values) <= ENUM_MAX and stats.count >= max(
            2, ENUM_REPEAT * len(values)):
        ordered = sorted(values, key=lambda v: (-values[v], v))
        return {**out, "type": "enum", "values": ordered}
    return {**out, "type": "text"}


@dataclass
class Node:
    """A category of the source taxonomy as pass 1 saw it."""

    path: tuple[str, ...]
    own: int = 0  # products whose path ends here
    children: set[str] = field(default_factory=set)
    attrs: dict[str, AttrStats] = field(default_factory=dict)


class Tree:
    """The category tree and attribute statistics gathered in pass 1."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[str, ...], Node] = {}

    @staticmethod
    def clean_path(path: tuple[str, ...]) -> tuple[str, ...]:
        """The path as the catalog keeps it: names trimmed (no '>'), blanks dropped, at most
        ``MAX_DEPTH`` levels; ``NO_PATH`` when nothing is left."""
        names = tuple(n for n in (clean_text(" ".join(str(p).replace(">", "-").split()))
                                  [:_NAME_CUT] for p in path) if n)
        return names[:MAX_DEPTH] or NO_PATH

    def add(self, path: tuple[str, ...], attributes: dict[str, str]) -> None:
        """Count one product at ``path`` (cleaned) with its raw attributes."""
        for depth in range(1, len(path) + 1):
            prefix = path[:depth]
            node = self.nodes.get(prefix)
            if node is None:
                node = self.nodes[prefix] = Node(prefix)
            if depth < len(path):
                node.children.add(path[depth])
        node = self.nodes[path]
        node.own += 1
        seen: set[str] = set()
        for label, value in attributes.items():
            name = snake_name(label)
            if name in seen:
                continue
            seen.add(name)
            stats = node.attrs.get(name)
            if stats is None:
                if len(node.attrs) >= MAX_ATTRIBUTES:  # memory stays bounded by the taxonomy
                    continue
                stats = node.attrs[name] = AttrStats(label=" ".join(label.split())[:_NAME_CUT])
            stats.add(value)

    def leaf_of(self, path: tuple[str, ...]) -> tuple[str, ...]:
        """Where a product with (cleaned) ``path`` sits: the node itself when it is a leaf
        below a department, else its ``General <name>`` child."""
        node = self.nodes[path]
        if not node.children and len(path) > 1:
            return path
        name = GENERAL.format(name=path[-1])
        leaf, i = (*path, name), 2
        while leaf in self.nodes:  # the source has a category of that name already
            leaf, i = (*path, f"{name} ({i})"), i + 1
        return leaf
