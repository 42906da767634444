"""Category paths as stores write them: a Shopify Standard Product Taxonomy or Google product
category path with or without its id ("aa-1-13-8 Apparel & Accessories > Clothing",
"Apparel & Accessories > Clothing (aa-1-13)", "1604 - Apparel & Accessories > Clothing"),
and the first of several comma-separated product types."""

from __future__ import annotations

import re

from mcp_shop.importers.text import split_path

__all__ = ["first_type", "taxonomy_path"]

_ID = r"(?:gid://shopify/TaxonomyCategory/)?[a-z]{2}(?:-\d+)*"
_LEADING_ID = re.compile(rf"^\s*{_ID}\s+(?=[^\s(])")
_TRAILING_ID = re.compile(rf"\s*\(\s*{_ID}\s*\)\s*$")
_ONLY_ID = re.compile(rf"^\s*(?:{_ID}|\d+)\s*$")
_GOOGLE_ID = re.compile(r"^\s*\d+\s*-\s*")


def taxonomy_path(text: str | None) -> tuple[str, ...]:
    """The names of a taxonomy path, department first; ``()`` when ``text`` is empty or only
    an id (a bare Shopify id like 'aa-1-13-8' or a Google numeric id like '1604': without
    the taxonomy file an id cannot be turned into names, so the caller falls back to the
    product type).

    >>> taxonomy_path("aa-1-13-8 Apparel & Accessories > Clothing > Shirts & Tops")
    ('Apparel & Accessories', 'Clothing', 'Shirts & Tops')
    >>> taxonomy_path("Home & Garden > Decor (hg-3)")
    ('Home & Garden', 'Decor')
    >>> taxonomy_path("1604")
    ()
    """
    if not text or _ONLY_ID.match(text):
        return ()
    text = _TRAILING_ID.sub("", text)
    text = _LEADING_ID.sub("", text, count=1)
    text = _GOOGLE_ID.sub("", text, count=1)
    return split_path(text)


def first_type(text: str | None) -> tuple[str, ...]:
    """The path of the first product type of a comma-separated list ("Home > Candles, Gifts >
    For Her"): a new type starts only at a piece that is itself a path (holds '>'), so commas
    inside one category name ("Toys > Dolls, Playsets & Toy Figures", "Candles, Gifts") stay
    in it.

    >>> first_type("Home > Candles, Gifts > For Her")
    ('Home', 'Candles')
    >>> first_type("Toys > Dolls, Playsets & Toy Figures")
    ('Toys', 'Dolls, Playsets & Toy Figures')
    """
    if not text:
        return ()
    pieces = text.split(",")
    first = pieces[0]
    for piece in pieces[1:]:
        if ">" in piece:
            break
        first += "," + piece
    return split_path(first)
