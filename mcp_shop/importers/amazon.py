"""Reader of Amazon product metadata in the layout of the public Amazon Reviews 2023 item
metadata: JSON Lines (optionally gzipped), one item per line.

Fields read: ``parent_asin`` (the product key), ``title``, ``store`` (brand; else the
``Brand`` or ``Manufacturer`` detail), ``categories`` (the path; when empty,
``main_category`` alone), ``description`` (list of paragraphs, HTML allowed) and ``features``
(bullets) as the description, ``details`` (a dict of strings: attributes), ``price`` (number,
``"$12.99"``, ``null`` or ``"None"``), ``average_rating``, ``rating_number``. Everything else
(images, videos, bought_together, ...) is ignored. One variant per item.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from mcp_shop.importers.records import BadRow, SourceProduct, SourceVariant, Where
from mcp_shop.importers.text import html_to_text, open_text, parse_price

__all__ = ["read"]

_BRAND_KEYS = ("Brand", "Brand Name", "Manufacturer")
#: details that describe the listing, not the product
_IGNORED = {"Best Sellers Rank", "Date First Available", "Customer Reviews", "ASIN",
            "Date first listed on Amazon", "Discontinued by manufacturer",
            "Is Discontinued By Manufacturer", "Product Dimensions", "Package Dimensions",
            "Item model number", "UPC", "Batteries", "Department"}
_decode = json.JSONDecoder().decode


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.replace(",", ""))
        except ValueError:
            return None
    return None


def _item(obj: dict[str, Any], where: Where) -> SourceProduct | BadRow:
    key = obj.get("parent_asin") or obj.get("asin")
    if not isinstance(key, str) or not key.strip():
        return BadRow(where, "no parent_asin (the item's id, a string such as 'B01N5IB20Q')")
    title = obj.get("title")
    if not isinstance(title, str) or not title.strip():
        return BadRow(where, f"item {key!r} has no title (a non-empty string)")
    details = obj.get("details")
    details = details if isinstance(details, dict) else {}
    store = obj.get("store")
    brand: str = store if isinstance(store, str) else ""
    if not brand.strip():
        brand = next((str(details[k]) for k in _BRAND_KEYS
                      if isinstance(details.get(k), str)), "")
    attributes = {str(k): (v if isinstance(v, str) else str(v))
                  for k, v in details.items()
                  if isinstance(v, (str, int, float)) and not isinstance(v, bool)
                  and k not in _IGNORED and k not in _BRAND_KEYS}
    path = tuple(c for c in _strings(obj.get("categories")) if c.strip())
    if not path:
        path = tuple(c for c in _strings(obj.get("main_category")) if c.strip())
    # one conversion per field, not per paragraph: the line breaks between them are kept
    text = html_to_text("\n".join(_strings(obj.get("description"))))
    features = html_to_text("\n".join(_strings(obj.get("features"))))
    bullets = "\n".join(f"- {f}" for f in features.split("\n") if f) if features else ""
    description = f"{text}\n{bullets}" if text and bullets else text or bullets
    raw_price = obj.get("price")
    price = parse_price(raw_price) if isinstance(raw_price, (str, int, float)) else None
    rating = _number(obj.get("average_rating"))
    count = _number(obj.get("rating_number"))
    return SourceProduct(
        key=key.strip(), where=where, title=" ".join(title.split()), brand=brand.strip(),
        description=description, category_path=path, attributes=attributes,
        variants=(SourceVariant(sku=key.strip(), price_cents=price),),
        rating=rating if rating is not None and 1.0 <= rating <= 5.0 else None,
        rating_count=int(count) if count is not None and 0 <= count < 1e9 else None,
    )


def read(path: str) -> Iterator[SourceProduct | BadRow]:
    """The items of an Amazon metadata file (``.jsonl`` or ``.jsonl.gz``), one per line;
    a line that is not a JSON object (a truncated last line, garbage) is a bad row."""
    with open_text(path, encoding="utf-8") as fh:  # JSON text is UTF-8 (RFC 8259)
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = Where(path, number)
            try:
                obj = _decode(line)
            except (ValueError, RecursionError) as exc:
                why = (f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError)
                       else "nested too deeply" if isinstance(exc, RecursionError) else str(exc))
                yield BadRow(where, f"not a JSON object ({why}); each line must be one item "
                                    "such as {\"parent_asin\": ..., \"title\": ...}")
                continue
            if not isinstance(obj, dict):
                yield BadRow(where, f"a JSON {type(obj).__name__}, not an object; each line "
                                    "must be one item such as {\"parent_asin\": ...}")
                continue
            yield _item(obj, where)
