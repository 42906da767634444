"""Words for reading any catalog: the role of an option dimension (size or colour) from its
name in several languages or from its values, a category's nouns from its name, and product
titles that read as a payment method.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mcp_shop.catalog.text import with_article

__all__ = ["OPTION_ROLES", "PAYMENT_WORDS", "leaf_nouns", "option_role", "size_key"]

PAYMENT_WORDS = frozenset({"gift card", "gift cards", "e-gift card", "paypal", "card",
                           "credit card", "store credit", "visa", "mastercard"})
"""Titles that read as a payment method in a checkout proposal ('... with Gift card ending
9831'): an imported store may sell a 'Gift Card'."""

OPTION_ROLES = ("color", "size")
"""The option roles tasks speak of by role ("in blue", "size 10"), in the order generators try
them."""

_COLOR_NAMES = {"color", "colour", "colors", "colours", "farbe", "farben", "couleur", "couleurs",
                "colore", "color/colour", "kleur", "cor", "färg", "farge", "farve", "väri",
                "kolor", "barva", "szín", "culoare", "renk", "цвет", "色", "颜色", "カラー"}
_SIZE_NAMES = {"size", "sizes", "größe", "grösse", "groesse", "taille", "talla", "taglia",
               "tamanho", "maat", "grootte", "storlek", "størrelse", "koko", "rozmiar",
               "velikost", "méret", "mărime", "beden", "размер", "尺码", "サイズ", "shoe size",
               "clothing size", "us size", "eu size", "uk size", "dress size", "ring size"}
_LETTER_SIZES = ("xxxs", "xxs", "xs", "s", "m", "l", "xl", "xxl", "2xl", "xxxl", "3xl", "4xl",
                 "5xl", "one size", "os")
_COLOR_WORDS = {"black", "white", "red", "blue", "green", "yellow", "grey", "gray", "pink",
                "purple", "orange", "brown", "navy", "beige", "silver", "gold", "teal", "olive",
                "khaki", "cream", "ivory", "charcoal", "burgundy", "tan", "schwarz", "weiß",
                "weiss", "rot", "blau", "grün", "gelb", "grau", "rosa", "lila", "braun",
                "noir", "blanc", "rouge", "bleu", "vert", "jaune", "gris", "rose", "violet",
                "negro", "blanco", "rojo", "azul", "verde", "amarillo", "nero", "bianco",
                "rosso", "blu", "giallo"}


def option_role(name: str, values: Iterable[str] = ()) -> str | None:
    """'size', 'color' or None for an option dimension: by its name ('Größe', 'Colour',
    'Taille', 'Farbe'), else by its values (letter sizes S/M/L/XL make a size; mostly colour
    words make a colour). Numbers alone say nothing: a 'Pack' of 1, 2, 4 is no size."""
    key = name.strip().lower().replace("_", " ")
    if key in _COLOR_NAMES:
        return "color"
    if key in _SIZE_NAMES:
        return "size"
    vals = [str(v).strip().lower() for v in values if str(v).strip()]
    if len(vals) < 2:
        return None
    if all(v in _LETTER_SIZES for v in vals):
        return "size"
    if sum(any(w in _COLOR_WORDS for w in re.split(r"[\s/-]+", v)) for v in vals) \
            >= max(2, (len(vals) * 3 + 3) // 4):
        return "color"
    return None


def size_key(value: str) -> tuple[int, float, str]:
    """Sort key of a size value: letter sizes (XS < S < M < L < XL) first, then numbers."""
    low = value.strip().lower()
    if low in _LETTER_SIZES:
        return 0, float(_LETTER_SIZES.index(low)), low
    m = re.match(r"^(\d+(?:[.,]\d+)?)", low)
    if m:
        return 1, float(m.group(1).replace(",", ".")), low
    return 2, 0.0, low


_PLURAL_ONLY = {"trousers", "pants", "jeans", "shorts", "leggings", "tights", "pyjamas",
                "scissors", "glasses", "sunglasses", "headphones", "earbuds", "binoculars",
                "tongs", "pliers", "clothes", "goods", "supplies", "accessories"}


def _singular_word(word: str) -> str:
    low = word.lower()
    if low in _PLURAL_ONLY:
        return word
    if low.endswith("ies") and len(low) > 4:
        return word[:-3] + "y"
    if low.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    if low.endswith("s") and not low.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def leaf_nouns(name: str) -> tuple[str, str, tuple[str, ...]]:
    """(plural, singular with article, title nouns) derived from a category name.

    'Candles' -> ('candles', 'a candle', ('Candle', 'Candles')); 'Shirts & Tops' ->
    ('shirts & tops', 'a shirt', ('Shirt', 'Top', ...)); 'Clothing' -> ('clothing',
    'a clothing item', ('Clothing',)).
    """
    plural = " ".join(name.split()).lower()
    heads = [h.strip() for h in re.split(r"\s*(?:&|,|/|\band\b|\bor\b)\s*", name) if h.strip()]
    nouns: list[str] = []
    for head in heads or [name]:
        words = head.split()
        one = " ".join([*words[:-1], _singular_word(words[-1])])
        nouns += [one] if one == head else [one, head]
    first = (heads or [name])[0].split()
    if first[-1].lower() in _PLURAL_ONLY:
        singular = " ".join(first).lower()  # 'trousers', like 'headphones'
    elif _singular_word(first[-1]) == first[-1]:
        singular = with_article(f"{' '.join(first).lower()} item")
    else:
        singular = with_article(nouns[0].lower())
    return plural, singular, tuple(dict.fromkeys(nouns))
