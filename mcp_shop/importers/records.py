"""What a reader hands the import: one source product with its variants, or one bad row.

Every reader (Shopify CSV, Google Merchant Center TSV / RSS XML, Amazon item metadata JSONL)
turns its format into these records and nothing else; the import core
(:mod:`mcp_shop.importers.core`) types the attributes, builds the category tree, synthesises
what the source lacks from the seed, and writes the catalog. Readers keep values verbatim
(texts already turned from HTML into plain text); ``None`` means "the source does not say".
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BadRow", "Where", "SourceProduct", "SourceVariant"]


@dataclass(frozen=True)
class Where:
    """Where a record came from: the file and its first line (1-based; a record's first row)."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class SourceVariant:
    """One purchasable variant as the source gives it.

    Attributes:
        sku: the source's SKU or id ('' when absent: the import makes one).
        options: option name -> value, in the source's option order and wording
            (e.g. ``{"Farbe": "Rot", "Size": "M"}``); empty for a product without options.
        price_cents: the selling price in cents (a sale price when the source has one), or None.
        compare_at_cents: the list price when the source gives a higher one, else None.
        stock: units in stock, or None when the source does not say (synthesised).
        available: the source's availability flag when it has one instead of a count
            (True in stock, False out of stock), else None.
    """

    sku: str = ""
    options: dict[str, str] = field(default_factory=dict)
    price_cents: int | None = None
    compare_at_cents: int | None = None
    stock: int | None = None
    available: bool | None = None


@dataclass(frozen=True)
class SourceProduct:
    """One product (a Shopify handle, a Merchant Center item group, an Amazon parent ASIN).

    Attributes:
        key: the source's identity of the product (handle, item_group_id or id, parent_asin).
        where: where its first row is.
        title: verbatim.
        brand: vendor / brand / store ('' when absent).
        description: plain text (HTML already turned into text).
        category_path: the taxonomy path, department first, e.g.
            ``["Apparel & Accessories", "Clothing", "Shirts & Tops"]``; empty when the source
            has none (the import files it under an "Other" department).
        attributes: raw attribute name -> value strings (from details, tags, metafields,
            product_detail, feed columns such as color or material); typed by the import.
        option_names: the variant dimensions in the source's order and wording.
        variants: at least one.
        rating: mean rating 1.0-5.0 when the source has one, else None (synthesised).
        rating_count: number of ratings when the source has one, else None.
        final_sale: the source marks the product as not returnable (else None: the
            department's policy decides).
    """

    key: str
    where: Where
    title: str
    brand: str = ""
    description: str = ""
    category_path: tuple[str, ...] = ()
    attributes: dict[str, str] = field(default_factory=dict)
    option_names: tuple[str, ...] = ()
    variants: tuple[SourceVariant, ...] = ()
    rating: float | None = None
    rating_count: int | None = None
    final_sale: bool | None = None


@dataclass(frozen=True)
class BadRow:
    """A row or record the reader could not use: reported with file, line and reason, skipped
    (or the import stops at the first with ``--strict``)."""

    where: Where
    reason: str
