"""Reader of a Google Merchant Center product feed: TSV (or comma-separated) with a header
row of attribute names, or RSS 2.0 / Atom XML with the ``g:`` namespace (decided by content:
a first non-blank '<' means XML).

Read per item: ``id`` (the variant's SKU; the product key when there is no
``item_group_id``), ``title``, ``description`` (HTML turned into text), ``price`` ("15.00
USD") and ``sale_price`` (a lower sale price sells, the price becomes the compare-at price),
``availability`` (in_stock / "in stock", out_of_stock; preorder and backorder count as
orderable), ``brand``, ``google_product_category`` (a path, with or without its numeric
id; a bare numeric id cannot become names without Google's taxonomy file, so then the first
``product_type`` is the path), ``product_type``, ``item_group_id``, ``color``, ``size``,
``material``, ``pattern``, ``gender``, ``age_group``, ``condition`` and ``product_detail``
(attributes). ``link``, ``gtin``, ``mpn``, images and shipping are not kept.

Items sharing an ``item_group_id`` are one product with one variant each; its options are
those of color, size, material and pattern that differ across the group ("Color", "Size",
...), the others are attributes; a group differing in none of them gets a "Variant" option
(the titles' differing ends, else the ids). Its title is the words the items' titles start
with in common (else the first title). Group members need not be adjacent: ``read`` counts
each group's items in a first scan (memory: one counter per group id), then buffers only
the items of groups still incomplete, at most ``MAX_BUFFERED`` items; past that the oldest
open group is written as it is and its later items are bad rows (sort such a feed by
``item_group_id``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

from mcp_shop.importers.gmc_items import Item, looks_like_xml, tsv_items, xml_items
from mcp_shop.importers.records import BadRow, SourceProduct, SourceVariant, Where
from mcp_shop.importers.taxonomy import first_type, taxonomy_path
from mcp_shop.importers.text import detect_encoding, html_to_text, parse_price

__all__ = ["MAX_BUFFERED", "read"]

MAX_BUFFERED = 10_000
DIMENSIONS = (("color", "Color"), ("size", "Size"), ("material", "Material"),
              ("pattern", "Pattern"))
_OTHER = (("gender", "Gender"), ("age_group", "Age Group"), ("condition", "Condition"))
_AVAILABLE = {"in_stock": True, "out_of_stock": False, "preorder": True, "backorder": True,
              "available_for_order": True}
_TRIM = " -–—,/|(:;"


def _group(item: Item) -> str:
    return " ".join(item.first("item_group_id").split())


def read(path: str) -> Iterator[SourceProduct | BadRow]:
    """The products of a Merchant Center feed: one per item group, one per ungrouped item."""
    encoding = detect_encoding(path)  # one scan of the bytes, not one per reading
    items: Callable[[str, str], Iterator[Item | BadRow]] = (
        xml_items if looks_like_xml(path, encoding) else tsv_items)
    sizes: Counter[str] = Counter(g for it in items(path, encoding)
                                  if isinstance(it, Item) and (g := _group(it)))
    open_groups: dict[str, list[Item]] = {}
    buffered = 0
    written: set[str] = set()  # groups written before all their items came
    for it in items(path, encoding):
        if isinstance(it, BadRow):
            yield it
            continue
        group = _group(it)
        if not group or sizes[group] <= 1:
            yield from _product([it], group, path)
            continue
        if group in written:
            yield BadRow(Where(path, it.line),
                         f"item {it.first('id')!r} of item group {group!r} comes after its "
                         f"group was written (more than {MAX_BUFFERED:,} items between its "
                         "first and last item; sort the feed by item_group_id); skipped")
            continue
        members = open_groups.setdefault(group, [])
        members.append(it)
        buffered += 1
        if len(members) >= sizes[group]:
            del open_groups[group]
            buffered -= len(members)
            yield from _product(members, group, path)
        while buffered > MAX_BUFFERED:
            oldest, members = next(iter(open_groups.items()))
            del open_groups[oldest]
            buffered -= len(members)
            written.add(oldest)
            yield from _product(members, oldest, path)
    for group, members in open_groups.items():  # the file changed between the two scans
        yield from _product(members, group, path)


def _availability(text: str) -> bool | None:
    return _AVAILABLE.get("_".join(text.lower().replace("-", " ").split()))


def _variant(it: Item, path: str) -> SourceVariant | BadRow:
    ident = " ".join(it.first("id").split())
    if not ident:
        return BadRow(Where(path, it.line), "the item has no id (g:id, the item's unique "
                                            "identifier such as 'TSHIRT-RED-M')")
    raw = it.first("price")
    price = parse_price(raw) if raw else None
    if raw and price is None:
        return BadRow(Where(path, it.line), f"item {ident!r}: price {raw!r} is not a price "
                                            "(e.g. 15.00 USD); skipped")
    sale = parse_price(it.first("sale_price"))
    compare = None
    if sale is not None and sale > 0 and (price is None or sale < price):
        price, compare = sale, price
    return SourceVariant(sku=ident, price_cents=price, compare_at_cents=compare,
                         available=_availability(it.first("availability")))


def _value(it: Item, name: str) -> str:
    return " ".join(it.first(name).split())


def _common_title(titles: list[str]) -> str:
    words = [t.split() for t in titles]
    common: list[str] = []
    for column in zip(*words, strict=False):
        if any(w != column[0] for w in column):
            break
        common.append(column[0])
    title = " ".join(common).rstrip(_TRIM)
    return title if len(title) >= 3 else titles[0]


def _product(items: list[Item], group: str, path: str) -> Iterator[SourceProduct | BadRow]:
    """One product of an item group (or a lone item), after the bad items' reports."""
    good: list[tuple[Item, SourceVariant]] = []
    for it in items:
        v = _variant(it, path)
        if isinstance(v, BadRow):
            yield v
        else:
            good.append((it, v))
    if not good:
        return
    first = good[0][0]
    key = group or good[0][1].sku
    titles = [t for it, _ in good if (t := _value(it, "title"))]
    if not titles:
        yield BadRow(Where(path, first.line),
                     f"item {key!r} has no title" if len(good) == 1 else
                     f"no item of item group {key!r} has a title")
        return
    dims = [(name, label) for name, label in DIMENSIONS
            if len({_value(it, name) for it, _ in good}) > 1]
    options: list[dict[str, str]] = [
        {label: _value(it, name) for name, label in dims} for it, _ in good]
    names = tuple(label for _, label in dims)
    if not dims and len(good) > 1:
        common = _common_title(titles) if len(titles) == len(good) else ""
        ends = [_value(it, "title")[len(common):].strip(_TRIM) if common else ""
                for it, _ in good]
        if not all(ends) or len(set(ends)) < len(ends):
            ends = [v.sku for _, v in good]
        options, names = [{"Variant": end} for end in ends], ("Variant",)
    variants: list[SourceVariant] = []
    for (it, v), opts in zip(good, options, strict=True):
        missing = [n for n, x in opts.items() if not x]
        if missing:
            yield BadRow(Where(path, it.line),
                         f"item {v.sku!r} has no {', '.join(missing).lower()} while the other "
                         f"items of group {key!r} differ in it; skipped")
            continue
        variants.append(SourceVariant(sku=v.sku, options=opts, price_cents=v.price_cents,
                                      compare_at_cents=v.compare_at_cents,
                                      available=v.available))
    if not variants:
        return
    attributes: dict[str, str] = {}
    for name, label in DIMENSIONS + _OTHER:
        if label not in names and (value := _value(first, name)):
            attributes[label] = value
    for name, value in first.details:
        attributes.setdefault(name, value)
    category: tuple[str, ...] = ()
    for it, _ in good:
        category = (taxonomy_path(it.first("google_product_category"))
                    or first_type(it.first("product_type")))
        if category:
            break
    yield SourceProduct(
        key=key, where=Where(path, first.line),
        title=_common_title(titles) if len(good) > 1 else titles[0],
        brand=next((b for it, _ in good if (b := _value(it, "brand"))), ""),
        description=next((d for it, _ in good
                          if (d := html_to_text(it.first("description")))), ""),
        category_path=category, attributes=attributes, option_names=names,
        variants=tuple(variants))
