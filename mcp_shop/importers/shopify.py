"""Reader of the Shopify product CSV (the admin export): one row per variant and per extra
image, the rows of one product together under its ``Handle``.

Read: ``Handle`` (the key), ``Title``, ``Body (HTML)`` (as plain text), ``Vendor`` (brand),
``Product Category`` (a Standard Product Taxonomy path, with or without its id; else the
older ``Google Shopping / Google Product Category``; else ``Type`` as a one-level path),
``Tags`` ("key:value" tags become attributes; plain tags are keywords and are not kept),
product metafield columns such as ``Material (product.metafields.custom.material)`` (the
label before the parenthesis is the attribute's name), ``Google Shopping / Gender``,
``/ Age Group`` and ``/ Condition``, ``Option1..3 Name/Value`` (the options; Shopify's
single-variant marker ``Title``/``Default Title`` means none), ``Variant SKU``, ``Variant
Price``, ``Variant Compare At Price``, ``Variant Inventory Qty`` (only when Shopify tracks
the variant's inventory; with inventory policy ``continue`` it stays orderable), ``Variant
Grams`` of the first variant (a ``Weight`` attribute), ``Gift Card`` (final sale) and
``Status``. Columns are matched by name in any order and case; older exports without
``Product Category``, ``Variant Inventory Qty`` or ``Status`` are read as well.

Decisions: ``draft`` and ``archived`` products are not for sale and are skipped without a
bad-row report (there is nothing wrong with them); ``Published`` (online-store visibility)
is not read, so an older export without ``Status`` imports every product. A row with more
non-empty cells than the header (a shifted row) is a bad row; a shorter row's missing cells
are empty. A price that is present but not a price makes its variant row bad (the product
keeps its other variants); an empty price lets the import use the product's lowest price.
A handle whose rows come again after another handle cannot be merged while streaming: that
later block is one bad row ("duplicate handle, first at line N") and skipped. Variant
metafields, images, SEO fields and barcodes are ignored.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mcp_shop.importers.records import BadRow, SourceProduct, SourceVariant, Where
from mcp_shop.importers.taxonomy import taxonomy_path
from mcp_shop.importers.text import html_to_text, open_text, parse_price, split_path

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

__all__ = ["read"]

_METAFIELD = re.compile(r"^(.*?)\s*\(\s*(product|variant)\.metafields\.([^)]*)\)\s*$", re.I)
_GOOGLE = {"google shopping / gender": "Gender", "google shopping / age group": "Age Group",
           "google shopping / condition": "Condition"}
_VARIANT_COLUMNS = ("variant sku", "variant price", "variant compare at price",
                    "variant grams", "variant inventory qty", "variant barcode")
_INACTIVE = {"draft", "archived"}
_TRUE = {"true", "yes", "1"}
_INT = re.compile(r"^[+-]?\d{1,9}(?:\.0+)?$")


def _norm(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").split()).lower()


class _Columns:
    """Where each known column is, and the attribute columns (metafields, Google fields)."""

    def __init__(self, header: list[str]) -> None:
        self.width = len(header)
        self.index: dict[str, int] = {}
        self.attributes: list[tuple[int, str]] = []
        for i, raw in enumerate(header):
            name = _norm(raw)
            self.index.setdefault(name, i)
            m = _METAFIELD.match(" ".join(raw.replace("\ufeff", "").split()))
            if m and m.group(2).lower() == "product":
                label = m.group(1).strip() or m.group(3).rsplit(".", 1)[-1].replace("-", " ")
                self.attributes.append((i, label[:1].upper() + label[1:]))
            elif name in _GOOGLE:
                self.attributes.append((i, _GOOGLE[name]))

    def __contains__(self, name: str) -> bool:
        return name in self.index

    def get(self, row: list[str], name: str) -> str:
        i = self.index.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""


@dataclass
class _Product:
    """The product being read (its first row seen, continuation rows still coming)."""

    handle: str
    line: int
    skip: bool = False  # its rows are read and dropped (inactive, or its first row was bad)
    title: str = ""
    brand: str = ""
    description: str = ""
    category: tuple[str, ...] = ()
    attributes: dict[str, str] = field(default_factory=dict)
    slots: tuple[tuple[int, str], ...] = ()  # (option number 1-3, option name)
    variants: list[SourceVariant] = field(default_factory=list)
    final_sale: bool | None = None

    def record(self, path: str) -> SourceProduct | None:
        if self.skip or not self.variants:
            return None
        return SourceProduct(
            key=self.handle, where=Where(path, self.line), title=self.title, brand=self.brand,
            description=self.description, category_path=self.category,
            attributes=self.attributes, option_names=tuple(n for _, n in self.slots),
            variants=tuple(self.variants), final_sale=self.final_sale)


def _stock(cols: _Columns, row: list[str]) -> tuple[int | None, bool | None]:
    """(units, available) of a variant row: a count only when Shopify tracks the stock."""
    if "variant inventory qty" not in cols:
        return None, None
    if "variant inventory tracker" in cols and not cols.get(row, "variant inventory tracker"):
        return None, None  # not tracked: the count means nothing
    raw = cols.get(row, "variant inventory qty").replace(",", "")
    if not _INT.match(raw):
        return None, None
    units = max(0, int(float(raw)))
    if units == 0 and cols.get(row, "variant inventory policy").lower() == "continue":
        return None, True  # sold on when out of stock
    return units, None


def _variant(cols: _Columns, row: list[str], product: _Product) -> SourceVariant | str:
    """A variant from a row, or why the row cannot be one."""
    raw = cols.get(row, "variant price")
    price = parse_price(raw) if raw else None
    if raw and price is None:
        return (f"Variant Price {raw!r} is not a price (e.g. 19.99 or 1,299.00); this variant "
                "row is skipped")
    raw_compare = cols.get(row, "variant compare at price")
    compare = parse_price(raw_compare) if raw_compare else None
    options: dict[str, str] = {}
    for number, name in product.slots:
        value = " ".join(cols.get(row, f"option{number} value").split())
        if not value:
            return (f"no Option{number} Value for option {name!r} of handle "
                    f"{product.handle!r}; every variant row needs one")
        options[name] = value
    units, available = _stock(cols, row)
    return SourceVariant(
        sku=cols.get(row, "variant sku"), options=options, price_cents=price,
        compare_at_cents=compare if compare and price and compare > price else None,
        stock=units, available=available)


def _attributes(cols: _Columns, row: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, label in cols.attributes:
        value = row[i].strip() if i < len(row) else ""
        if value.startswith("[") and value.endswith("]"):
            try:
                items = json.loads(value)
                value = ", ".join(str(x) for x in items) if isinstance(items, list) else value
            except ValueError:
                pass
        if value and not value.startswith("gid://"):
            out.setdefault(label, value)
    tagged: dict[str, list[str]] = {}
    for tag in cols.get(row, "tags").split(","):
        key, sep, value = tag.partition(":")
        key, value = " ".join(key.split()), " ".join(value.split())
        if sep and key and value and key not in out:
            tagged.setdefault(key, []).append(value)
    out.update({k: ", ".join(v) for k, v in tagged.items()})
    grams = cols.get(row, "variant grams").replace(",", "")
    if _INT.match(grams) and int(float(grams)) > 0:
        out.setdefault("Weight", f"{int(float(grams))} g")
    return out


def _start(cols: _Columns, row: list[str], handle: str, line: int
           ) -> tuple[_Product, SourceVariant | str | None]:
    """The product a handle's first row opens, and its first variant (or why not)."""
    product = _Product(handle, line)
    if cols.get(row, "status").lower() in _INACTIVE:
        product.skip = True
        return product, None
    product.title = " ".join(cols.get(row, "title").split())
    if not product.title:
        product.skip = True
        return product, (f"the first row of handle {handle!r} has no Title (the first row of "
                         "a handle carries the product's fields); its rows are skipped")
    product.brand = " ".join(cols.get(row, "vendor").split())
    product.description = html_to_text(cols.get(row, "body (html)"))
    product.category = (taxonomy_path(cols.get(row, "product category"))
                        or taxonomy_path(cols.get(row, "google shopping / google product category"))
                        or split_path(cols.get(row, "type")))
    product.attributes = _attributes(cols, row)
    product.final_sale = True if cols.get(row, "gift card").lower() in _TRUE else None
    slots = [(n, " ".join(cols.get(row, f"option{n} name").split())) for n in (1, 2, 3)]
    slots = [(n, name) for n, name in slots if name]
    if (len(slots) == 1 and slots[0][1].lower() == "title"
            and cols.get(row, "option1 value").lower() in ("default title", "")):
        slots = []  # Shopify's marker of a product without options
    product.slots = tuple(slots)
    return product, _variant(cols, row, product)


def _is_variant_row(cols: _Columns, row: list[str]) -> bool:
    return (any(cols.get(row, c) for c in _VARIANT_COLUMNS)
            or any(cols.get(row, f"option{n} value") for n in (1, 2, 3)))


def read(path: str) -> Iterator[SourceProduct | BadRow]:
    """The products of a Shopify product CSV, in file order, one per handle. The header
    decides the delimiter: a comma, or a semicolon when the header has more of those (a
    spreadsheet's re-save in a European locale)."""
    with open_text(path) as fh:
        top, text = 0, ""
        for text in fh:
            top += 1
            if text.strip():
                break
        if not text.strip():
            yield BadRow(Where(path, 1), "the file is empty; a Shopify product CSV has a "
                                         "header row Handle,Title,Body (HTML),... and rows")
            return
        delimiter = ";" if text.count(";") > text.count(",") else ","
        header = next(csv.reader([text], delimiter=delimiter), [])
        cols = _Columns(header)
        if "handle" not in cols or "title" not in cols:
            shown = ",".join(h.strip() for h in header[:4])[:80]
            yield BadRow(Where(path, top),
                         f"not a Shopify product CSV: the header ({shown!r}...) has no Handle "
                         "and Title columns (the admin export starts Handle,Title,Body "
                         "(HTML),Vendor,...)")
            return
        yield from _rows(path, csv.reader(fh, delimiter=delimiter), cols, top)


def _rows(path: str, rows: CsvReader, cols: _Columns, top: int
          ) -> Iterator[SourceProduct | BadRow]:
    """The records of the rows below the header (on line ``top``)."""
    seen: dict[str, int] = {}  # handle -> its first line
    current: _Product | None = None
    last = 0  # physical lines the csv reader has consumed
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            yield BadRow(Where(path, top + last + 1), f"not readable as CSV ({exc}); row "
                                                      "skipped")
            if rows.line_num <= last:
                break
            last = rows.line_num
            continue
        line, last = top + last + 1, rows.line_num
        if not any(c.strip() for c in row):
            continue
        if len(row) > cols.width and any(c.strip() for c in row[cols.width:]):
            yield BadRow(Where(path, line), f"the row has {len(row)} cells but the header "
                         f"has {cols.width} (a comma in an unquoted value?); row skipped")
            handle = cols.get(row, "handle")
            if handle and (current is None or handle != current.handle):
                if current is not None and (done := current.record(path)) is not None:
                    yield done
                current = _Product(handle, line, skip=True)  # its other rows go with it
                seen.setdefault(handle, line)
            continue
        handle = cols.get(row, "handle")
        if not handle:
            yield BadRow(Where(path, line), "the row has no Handle (every row names its "
                                            "product's handle); row skipped")
            continue
        if current is not None and handle == current.handle:
            if current.skip or not _is_variant_row(cols, row):
                continue  # an extra image, or a product being skipped
            variant = _variant(cols, row, current)
            if isinstance(variant, str):
                yield BadRow(Where(path, line), variant)
            else:
                current.variants.append(variant)
            continue
        if current is not None and (done := current.record(path)) is not None:
            yield done
        if handle in seen:
            yield BadRow(Where(path, line), f"duplicate handle {handle!r}, first at line "
                         f"{seen[handle]}: a handle's rows must be together; these rows are "
                         "skipped")
            current = _Product(handle, line, skip=True)
            continue
        seen[handle] = line
        current, first = _start(cols, row, handle, line)
        if isinstance(first, str):
            yield BadRow(Where(path, line), first)
        elif first is not None:
            current.variants.append(first)
    if current is not None and (done := current.record(path)) is not None:
        yield done
