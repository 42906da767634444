"""A tau2 retail world as this shop's data.

Its product types and items become an imported catalog through the shop's own import
(:func:`mcp_shop.importers.core.import_catalog`): one product per product type, one variant
per item with the item id as the variant's SKU, the item's options, its price in cents, and
no stock when the item is unavailable. The tau2 ids are recovered from the catalog through
the SKUs (:func:`catalog_ids`), and the catalog reads back into tau2's records
(:func:`project_products`), which must give the products of the world unchanged.

Users and orders become a session's rows (:mod:`mcp_shop.tau2.session_world`); the whole
import is :func:`mcp_shop.tau2.install.import_tau2_world`.

:func:`db_hash` is tau2's database hash: SHA-256 over the world dumped to JSON with sorted
keys; the tau2-compatible DB verdict compares it between the episode's final state and the
gold replay's.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from mcp_shop.importers.core import ImportReport, import_catalog
from mcp_shop.importers.records import BadRow, SourceProduct, SourceVariant, Where
from mcp_shop.models import Product as CatalogProduct
from mcp_shop.models import Variant as CatalogVariant
from mcp_shop.tau2.loader import Problem, Tau2DataError, Tau2Retail
from mcp_shop.tau2.records import Product, RetailDB, Variant

__all__ = ["DEPARTMENT", "CatalogIds", "catalog_ids", "cents", "db_hash", "import_tau2_catalog",
           "project_products", "source_products"]

DEPARTMENT = "tau2 retail"
"""The department every product type is filed under (one leaf category per product type)."""


def cents(amount: float, where: str = "amount") -> int:
    """``amount`` dollars as whole cents; ``Tau2DataError`` when it is not a whole number of
    cents (tau2's amounts are; the shop keeps cents, so anything finer would be lost)."""
    scaled = amount * 100
    if not math.isfinite(scaled) or abs(scaled - round(scaled)) > 1e-6 * max(1.0, abs(scaled)):
        raise Tau2DataError(f"{where}: {amount!r} is not a whole number of cents",
                            where=where, amount=amount)
    return round(scaled)


def db_hash(db: RetailDB) -> str:
    """tau2's hash of a database: SHA-256 (hex) of its JSON dump with sorted keys."""
    text = json.dumps(db.model_dump(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def source_products(world: Tau2Retail) -> list[SourceProduct]:
    """The world's product types as import records (refusing what the import would alter:
    a product without items, items that differ in their option names, an empty option value,
    two items with the same options)."""
    file = str(world.domain_dir / "db.json")
    out, problems = [], []
    for n, (key, p) in enumerate(world.db.products.items(), 1):
        w = f"products[{key!r}]"
        items = list(p.variants.values())
        if not items:
            problems.append(Problem(w, "has no items", "at least one item per product"))
            continue
        names = tuple(items[0].options)
        seen: set[tuple[str, ...]] = set()
        variants = []
        for v in items:
            iw = f"{w}.variants[{v.item_id!r}].options"
            values = tuple(v.options.get(name, "") for name in names)
            if set(v.options) != set(names):
                problems.append(Problem(iw, f"name {sorted(v.options)}",
                                        f"the option names of the product's first item, "
                                        f"{sorted(names)}"))
            elif not all(x.strip() for x in values):
                problems.append(Problem(iw, "hold an empty value", "a value for every option"))
            elif values in seen:
                problems.append(Problem(iw, f"repeat {dict(v.options)}",
                                        "items of a product to differ in their options"))
            seen.add(values)
            variants.append(SourceVariant(
                sku=v.item_id, options=dict(v.options),
                price_cents=cents(v.price, f"{w}.variants[{v.item_id!r}].price"),
                available=v.available, stock=None if v.available else 0))
        out.append(SourceProduct(key=key, where=Where(file, n), title=p.name,
                                 category_path=(DEPARTMENT, p.name), option_names=names,
                                 variants=tuple(variants), final_sale=False))
    if problems:
        raise Tau2DataError(
            f"{file}: the products cannot be imported as they are: "
            + "; ".join(p.text() for p in problems[:5]),
            file=file, problems=[p.__dict__ for p in problems[:5]],
            problem_count=len(problems))
    return out


def import_tau2_catalog(engine: Engine, world: Tau2Retail, *, seed: int = 0,
                        replace: bool = False) -> ImportReport:
    """Write the world's products as the catalog of ``engine``'s database (the shop's import:
    one transaction, refused when a catalog exists unless ``replace``). ``strict``: a product
    the import would drop or change stops it."""
    records = source_products(world)

    def read(path: str) -> Iterator[SourceProduct | BadRow]:
        return iter(records)

    reader: Callable[[str], Iterator[SourceProduct | BadRow]] = read
    report = import_catalog(engine, reader, [str(world.domain_dir / "db.json")], seed=seed,
                            strict=True, replace=replace)
    with engine.connect() as conn:
        catalog_ids(conn, world)  # every item landed as a variant of its product
    return report


@dataclass(frozen=True)
class CatalogIds:
    """tau2 ids and the catalog's keys, both ways."""

    product_pk: dict[str, int]
    variant_pk: dict[str, int]
    product_of_pk: dict[int, str]
    item_of_pk: dict[int, str]

    @classmethod
    def of(cls, product_pk: dict[str, int], variant_pk: dict[str, int]) -> CatalogIds:
        return cls(product_pk, variant_pk, {v: k for k, v in product_pk.items()},
                   {v: k for k, v in variant_pk.items()})


def catalog_ids(conn: Connection, world: Tau2Retail) -> CatalogIds:
    """The catalog keys of the world's products and items (found by SKU = item id).

    Raises ``Tau2DataError`` when the catalog does not hold the world: an item without its
    variant, or the items of one product type spread over several products."""
    V = CatalogVariant.__table__  # type: ignore[attr-defined]  # noqa: N806
    by_sku = {sku: (vid, pid) for vid, pid, sku in conn.execute(
        select(V.c.id, V.c.product_id, V.c.sku))}
    product_pk: dict[str, int] = {}
    variant_pk: dict[str, int] = {}
    problems = []
    for key, p in world.db.products.items():
        pks = set()
        for item in p.variants:
            hit = by_sku.get(item)
            if hit is None:
                problems.append(Problem(f"products[{key!r}].variants[{item!r}]",
                                        "has no variant in the catalog",
                                        "a variant with this SKU"))
                continue
            variant_pk[item] = hit[0]
            pks.add(hit[1])
        if len(pks) > 1:
            problems.append(Problem(f"products[{key!r}]", f"is spread over products {pks}",
                                    "one catalog product per product type"))
        elif pks:
            product_pk[key] = pks.pop()
    if problems:
        raise Tau2DataError(
            "the catalog does not hold this tau2 world (import it with "
            f"import_tau2_catalog): {'; '.join(p.text() for p in problems[:5])}",
            problems=[p.__dict__ for p in problems[:5]], problem_count=len(problems))
    return CatalogIds.of(product_pk, variant_pk)


def project_products(conn: Connection, ids: CatalogIds) -> dict[str, Product]:
    """The catalog's products of the world back in tau2's layout (available = stock > 0)."""
    P = CatalogProduct.__table__  # type: ignore[attr-defined]  # noqa: N806
    V = CatalogVariant.__table__  # type: ignore[attr-defined]  # noqa: N806
    titles: dict[int, str] = dict(conn.execute(select(P.c.id, P.c.title).where(
        P.c.id.in_(list(ids.product_pk.values())))).all())
    variants: dict[int, dict[str, Variant]] = {pk: {} for pk in titles}
    rows = conn.execute(select(V.c.id, V.c.product_id, V.c.options, V.c.price_cents, V.c.stock)
                        .where(V.c.product_id.in_(list(titles))).order_by(V.c.id)).all()
    for vid, pid, options, price_cents, stock in rows:
        if isinstance(options, str):  # SQLite hands JSON back as text
            options = json.loads(options)
        item = ids.item_of_pk[vid]
        variants[pid][item] = Variant(item_id=item, options=options,
                                      available=stock > 0, price=price_cents / 100)
    out = {}
    for key, pk in ids.product_pk.items():
        out[key] = Product(name=titles[pk], product_id=key, variants=variants[pk])
    return out
