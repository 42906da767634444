"""Shared wording of the shopper's messages: money, variant options, attribute constraints, the
request sentence built from the slots stated in the opening, and persona greetings.

Everything is template-based so a rule-based agent can parse it: money reads "$123" or
"$123.45", sizes "size 10", colours "in blue", brands "from <Brand>".
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from episodes.families.vocabulary import AttrVocab, LeafVocab, option_role
from mcp_shop.catalog.text import display, with_article
from verifiers.types import Slot

__all__ = [
    "PERSONAS",
    "attr_phrase",
    "greeting",
    "item_label",
    "join_words",
    "leaf_noun",
    "leaf_singular",
    "money",
    "option_phrase",
    "options_phrase",
    "request_sentence",
]

PERSONAS: tuple[str, ...] = (
    "busy parent", "bargain hunter", "first-time buyer", "gift shopper", "tech enthusiast",
    "home cook", "weekend hiker", "student",
)
"""Who the shopper is; each has a few greetings."""

_GREETINGS: dict[str, tuple[str, ...]] = {
    "busy parent": ("Hi, quick one.", "Hello! I don't have much time."),
    "bargain hunter": ("Hi there!", "Hey, looking for a good deal."),
    "first-time buyer": ("Hello, first time shopping here.", "Hi!"),
    "gift shopper": ("Hi! I'm shopping for someone.", "Hello there."),
    "tech enthusiast": ("Hey!", "Hi there."),
    "home cook": ("Hello!", "Hi there."),
    "weekend hiker": ("Hey there!", "Hi!"),
    "student": ("Hi!", "Hey."),
}

_UNITS = {"in": "inches", "W": "watts", "min": "minutes", "mm": "mm", "GB": "GB"}


def money(cents: int) -> str:
    """'$123' for whole dollars, '$123.45' otherwise (no thousands separator)."""
    dollars, rest = divmod(int(cents), 100)
    return f"${dollars}" if rest == 0 else f"${dollars}.{rest:02d}"


def join_words(parts: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = [p for p in parts if p]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def leaf_noun(leaf: LeafVocab) -> str:
    """How the shopper names a leaf's products in the plural: 'headphones', 'yoga mats'."""
    return leaf.plural


def leaf_singular(leaf: LeafVocab) -> str:
    """'a tent', 'a sleeping bag', 'headphones': one of the leaf's products."""
    return leaf.singular


def attr_phrase(spec: AttrVocab | None, name: str, value: Any, *, at_least: bool = False
                ) -> str:
    """A constraint on one attribute (``spec``: the leaf's attribute named ``name``, None if
    it has none) as the shopper says it.

    Booleans: 'with active noise cancelling'; enums: 'with a cushioned over-ear fit'; numeric
    minimums: 'with at least 30 hours of battery life' style ('with a battery life of at least
    30 hours').
    """
    label = spec.label.lower() if spec else name.replace("_", " ")
    if at_least:
        unit = _UNITS.get(spec.unit or "", spec.unit or "") if spec else ""
        amount = display(value)
        return f"with {with_article(label)} of at least {amount}{' ' + unit if unit else ''}"
    if isinstance(value, bool):
        text = spec.phrase if spec and isinstance(spec.phrase, str) and spec.phrase else label
        return f"with {text}" if value else f"without {label}"
    if spec is not None and isinstance(spec.phrase, Mapping) and value in spec.phrase:
        return f"with {spec.phrase[value]}"
    if spec is not None and isinstance(spec.phrase, str) and "{v}" in spec.phrase:
        text = spec.phrase.format(v=display(value))
        if text.startswith("a "):
            text = with_article(text[2:])
        return f"with {text}"
    return f"with {label} {display(value)}"


def option_phrase(name: str, value: str, role: str | None = None) -> str:
    """One variant option as the shopper says it: 'in blue', 'size 10', 'in the 256 GB
    storage'. ``role`` ('color', 'size'): what the dimension is, when its name does not say
    (by default read from the name: 'Farbe' is a colour, 'Größe' a size)."""
    role = role or option_role(name)
    if role == "color":
        return f"in {value}"
    if role == "size":
        return f"size {value}"
    if name == "width":
        return f"in {value} width"
    if name in ("pack",):
        return f"as {with_article(value)}"
    return f"in the {value} {name.replace('_', ' ')}"


def options_phrase(options: dict[str, str], roles: Mapping[str, str] | None = None) -> str:
    """Every option of a variant: 'size 10, in blue' (size first, colour last); ``roles``:
    {option name: role} where the names do not say it."""
    role = {n: (roles or {}).get(n) or option_role(n) for n in options}
    order = sorted(options, key=lambda n: (role[n] == "color", role[n] != "size", n))
    return ", ".join(option_phrase(n, options[n], role[n]) for n in order)


def item_label(title: str, options: dict[str, str], quantity: int = 1,
               roles: Mapping[str, str] | None = None) -> str:
    """'2 of the Sonix Airwave Headphones in black', 'the Trailo Tent'."""
    opts = options_phrase(options, roles)
    head = "the" if quantity == 1 else f"{quantity} of the"
    return f"{head} {title}{' ' + opts if opts else ''}"


def request_sentence(noun_slot: Slot, slots: Sequence[Slot], *, lead: str = "I'm looking for"
                     ) -> str:
    """'I'm looking for headphones from Sonix in black with active noise cancelling, under
    $120.' from the in-opening slots (the noun slot always leads)."""
    inline = [s.phrase for s in slots if s.in_opening and s.name in ("brand", "color", "size",
                                                                     "option")]
    features = [s.phrase for s in slots if s.in_opening and s.name in ("feature", "rating")]
    budget = [s.phrase for s in slots if s.in_opening and s.name == "budget"]
    text = f"{lead} {noun_slot.phrase}"
    if inline:
        text += " " + " ".join(inline)
    if features:
        text += " " + join_words(features)
    if budget:
        text += ", " + budget[0]
    return text + "."


def greeting(persona: str, rng: random.Random) -> str:
    """A greeting that fits the persona."""
    return rng.choice(_GREETINGS.get(persona, ("Hi!",)))
