"""Declarative building blocks of the catalog taxonomy: attributes, options, leaves, departments.

The data modules (``data_*.py``) describe the shop with these; :mod:`.taxonomy` assembles the tree
and :mod:`.generator` samples products from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AttrSpec",
    "Department",
    "Group",
    "Leaf",
    "OptionSpec",
    "age_range",
    "boolean",
    "enum",
    "integer",
    "number",
    "option",
    "text",
    "when",
    "words",
]


Phrase = str | dict[Any, str]
"""A description phrase: a template with ``{v}``, or one phrase per value."""


@dataclass(frozen=True)
class AttrSpec:
    """One typed attribute of a leaf category and how to sample and describe it.

    Attributes:
        name: snake_case attribute name (the key in ``Product.attributes``).
        type: 'bool', 'int', 'float', 'enum' or 'text'.
        label: human label, e.g. 'Battery life'.
        unit: unit of a number, e.g. 'hours'.
        values: the allowed values of an enum.
        choices: values to sample from (numbers, enum values or texts; booleans use ``p``).
        weights: relative weights of ``choices`` (uniform when empty).
        p: probability of True for a boolean.
        requires: name of a boolean attribute; when that is False this one is False / 0 / the
            first enum value ('none').
        phrase: description phrase; ``{v}`` is the value (enum values with spaces). For booleans
            it is used when True, ``phrase_no`` when False.
        phrase_no: description phrase of a False boolean (omitted when empty).
        title: title word(s) of a True boolean, or ``{value: words}`` for an enum.
        price: price factor of a True boolean, or ``{value: factor}`` for other types.
        pair: for age ranges: the second attribute name (min/max are sampled together).
    """

    name: str
    type: str
    label: str
    unit: str | None = None
    values: tuple[str, ...] = ()
    choices: tuple[Any, ...] = ()
    weights: tuple[float, ...] = ()
    p: float = 0.5
    requires: str | None = None
    phrase: Phrase = ""
    phrase_no: str = ""
    title: Any = None
    price: Any = None
    pair: str | None = None

    def public(self) -> list[dict[str, Any]]:
        """The ``Category.attribute_specs`` entries of this attribute (two for an age range)."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "label": self.label}
        if self.unit:
            out["unit"] = self.unit
        if self.type == "enum":
            out["values"] = list(self.values)
        if self.pair:
            return [out, {"name": self.pair, "type": "int", "label": "Maximum age",
                          "unit": "years"}]
        return [out]


@dataclass(frozen=True)
class OptionSpec:
    """A variant dimension (size, width, color, ...) and how many of its values a product offers.

    Attributes:
        name: option name, e.g. 'size'.
        values: every value in display order.
        count: (min, max) number of values a product offers.
        run: offer a contiguous run of ``values`` (sizes) instead of a random subset (colors).
        p: probability that a product of the leaf uses this option at all.
        upcharge: ``{value: price factor}`` (e.g. bigger sizes or storage cost more).
    """

    name: str
    values: tuple[str, ...]
    count: tuple[int, int] = (1, 1)
    run: bool = False
    p: float = 1.0
    upcharge: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Leaf:
    """A leaf category: the products it holds and how they are named and priced.

    Attributes:
        slug: last slug segment, e.g. 'headphones'.
        name: display name, e.g. 'Headphones'.
        nouns: title nouns, e.g. ('Headphones', 'Headset'); the first is the most common and
            must fit every product; others may be ``when(noun, attr=value)``, used only for
            products whose attributes match (a 'Gas Grill' burns gas).
        price: median price in dollars of the log-normal price distribution.
        sigma: log-normal sigma of the price.
        attrs: typed attributes.
        options: variant dimensions.
        weight: relative share of the catalog's products.
        style: how the model name is written: 'code' ('Q240'), 'line' ('Glide 12') or 'named'
            ('Canyon Explorer').
        blurbs: closing sentences of descriptions (may use ``{noun}``).
        lead: opening phrase of descriptions, e.g. 'delivers rich, detailed sound'.
    """

    slug: str
    name: str
    nouns: tuple[str | tuple[str, dict[str, tuple[Any, ...]]], ...]
    price: float
    sigma: float
    attrs: tuple[AttrSpec, ...] = ()
    options: tuple[OptionSpec, ...] = ()
    weight: float = 1.0
    style: str = "line"
    blurbs: tuple[str, ...] = ()
    lead: tuple[str, ...] = ()


@dataclass(frozen=True)
class Group:
    """A middle node of the tree (e.g. Audio) whose leaves share a brand list."""

    slug: str
    name: str
    leaves: tuple[Leaf, ...]


@dataclass(frozen=True)
class Department:
    """A top-level node (e.g. Electronics) with its brand pool and description sentences."""

    slug: str
    name: str
    brands: tuple[str, ...]
    groups: tuple[Group, ...]
    blurbs: tuple[str, ...] = ()


def boolean(name: str, label: str, p: float, phrase: str = "", phrase_no: str = "", *,
            title: str | None = None, price: float | None = None,
            requires: str | None = None) -> AttrSpec:
    """A boolean attribute, True with probability ``p``."""
    return AttrSpec(name, "bool", label, p=p, phrase=phrase, phrase_no=phrase_no, title=title,
                    price=price, requires=requires)


def integer(name: str, label: str, choices: tuple[int, ...], phrase: Phrase = "", *,
            unit: str | None = None, weights: tuple[float, ...] = (),
            requires: str | None = None, price: dict[Any, float] | None = None) -> AttrSpec:
    """An integer attribute sampled from ``choices``."""
    return AttrSpec(name, "int", label, unit=unit, choices=choices, weights=weights,
                    phrase=phrase, requires=requires, price=price)


def number(name: str, label: str, choices: tuple[float, ...], phrase: Phrase = "", *,
           unit: str | None = None, weights: tuple[float, ...] = (),
           price: dict[Any, float] | None = None) -> AttrSpec:
    """A float attribute sampled from ``choices``."""
    return AttrSpec(name, "float", label, unit=unit, choices=tuple(float(c) for c in choices),
                    weights=weights, phrase=phrase, price=price)


def enum(name: str, label: str, values: tuple[str, ...], phrase: Phrase = "", *,
         weights: tuple[float, ...] = (), title: dict[str, str] | None = None,
         price: dict[str, float] | None = None, requires: str | None = None,
         choices: tuple[str, ...] = ()) -> AttrSpec:
    """An enum attribute; samples ``choices`` (default: all ``values``) with ``weights``."""
    return AttrSpec(name, "enum", label, values=values, choices=choices or values,
                    weights=weights, phrase=phrase, title=title, price=price, requires=requires)


def text(name: str, label: str, choices: tuple[str, ...], phrase: str = "") -> AttrSpec:
    """A free-text attribute sampled from ``choices``."""
    return AttrSpec(name, "text", label, choices=choices, phrase=phrase)


def age_range(ranges: tuple[tuple[int, int], ...], weights: tuple[float, ...] = ()) -> AttrSpec:
    """The ``min_age`` / ``max_age`` pair (years), sampled together from ``ranges``."""
    return AttrSpec("min_age", "int", "Minimum age", unit="years", choices=ranges,
                    weights=weights, pair="max_age")


def option(name: str, values: tuple[str, ...], count: tuple[int, int] = (1, 1), *,
           run: bool = False, p: float = 1.0,
           upcharge: dict[str, float] | None = None) -> OptionSpec:
    """A variant dimension."""
    return OptionSpec(name, values, count, run, p, upcharge or {})


def words(text: str) -> tuple[str, ...]:
    """The whitespace-separated words of ``text`` (for writing word lists compactly)."""
    return tuple(text.split())


def when(noun: str, **conditions: Any) -> tuple[str, dict[str, tuple[Any, ...]]]:
    """A title noun used only when the attributes match, e.g. ``when('Gas Grill', fuel='gas')``.

    A condition's value may be one value or a tuple of allowed values.
    """
    return noun, {k: v if isinstance(v, tuple) else (v,) for k, v in conditions.items()}
