"""A small "foreign" store for the task families: names, attributes and options unlike the
generated catalog's, imported through the import core (``mcp_shop.importers.core``).

Departments "Apparel & Accessories" (shirts and trousers with options "Farbe" and "Größe",
a final-sale share), "Home & Garden" (candles with a burn time in hours, vases with no options,
mugs in colours; a 15% restocking fee and a 12-month warranty) and "Grocery & Gourmet" (coffee
by pack, not returnable). No themed products with an age range, so no gift bundles.
Deterministic: the same file every time.

Run as a script to write it: ``python -m tests.episodes.foreign_catalog /tmp/foreign.db``.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine

from mcp_shop.db import make_engine
from mcp_shop.importers.core import import_catalog
from mcp_shop.importers.policy_config import DepartmentPolicy, PolicyConfig
from mcp_shop.importers.records import BadRow, SourceProduct, SourceVariant, Where

__all__ = ["FOREIGN_POLICIES", "build_foreign", "foreign_products", "import_foreign"]

APPAREL = ("Apparel & Accessories", "Clothing")
HOME = ("Home & Garden", "Decor")
KITCHEN = ("Home & Garden", "Kitchen & Dining")
GROCERY = ("Grocery & Gourmet", "Beverages")
BRANDS = ("Nordhaus", "Lumière", "Kaffeewerk", "Tallow & Wick", "Fjordline", "Casa Viva")

FOREIGN_POLICIES = PolicyConfig(departments={
    "Apparel & Accessories": DepartmentPolicy(window_days=45, final_sale_share=0.1),
    "Home & Garden": DepartmentPolicy(window_days=30, restocking_fee_percent=15,
                                      warranty_months=12),
    "Grocery & Gourmet": DepartmentPolicy(returnable=False),
})


def _shirts(rng: random.Random, n: int) -> Iterator[SourceProduct]:
    colours, sizes = ("Rot", "Blau", "Schwarz", "Weiß", "Grün"), ("S", "M", "L", "XL")
    for i in range(n):
        mat = rng.choice(("Cotton", "Linen", "Merino", "Polyester"))
        brand = rng.choice(BRANDS[:2] + BRANDS[4:])
        picked = rng.sample(colours, rng.randint(1, 3))
        run = sizes[rng.randint(0, 1):rng.randint(3, 4)]
        base = rng.randint(19, 59) * 100 + 99
        variants = tuple(SourceVariant(f"SH{i}-{c[:2]}-{s}", {"Farbe": c, "Größe": s},
                                       base + (300 if s == "XL" else 0),
                                       stock=rng.choice((0, 2, 5, 9, 14)))
                         for c in picked for s in run)
        yield SourceProduct(
            key=f"shirt-{i}", where=Where("foreign.src", 1 + i),
            title=f"{brand} {mat} {rng.choice(('Crew', 'Oxford', 'Henley', 'Polo'))} Shirt {i}",
            brand=brand, description=f"A {mat.lower()} shirt.",
            category_path=(*APPAREL, "Shirts & Tops"),
            attributes={"Material": mat, "Organic": rng.choice(("yes", "no")),
                        "Sleeve": rng.choice(("Short", "Long"))},
            option_names=("Farbe", "Größe"), variants=variants)


def _trousers(rng: random.Random, n: int) -> Iterator[SourceProduct]:
    for i in range(n):
        brand = rng.choice(BRANDS[:2] + BRANDS[4:])
        sizes = [str(w) for w in range(28, 40, 2)][rng.randint(0, 2):rng.randint(4, 6)]
        base = rng.randint(39, 99) * 100
        yield SourceProduct(
            key=f"trousers-{i}", where=Where("foreign.src", 100 + i),
            title=f"{brand} {rng.choice(('Chino', 'Cargo', 'Linen'))} Trousers {i}",
            brand=brand, description="Trousers.", category_path=(*APPAREL, "Trousers"),
            attributes={"Material": rng.choice(("Cotton", "Linen", "Wool")),
                        "Fit": rng.choice(("Slim", "Regular", "Relaxed"))},
            option_names=("Größe",),
            variants=tuple(SourceVariant(f"TR{i}-{s}", {"Größe": s}, base,
                                         stock=rng.choice((0, 3, 7, 12))) for s in sizes))


def _candles(rng: random.Random, n: int) -> Iterator[SourceProduct]:
    for i in range(n):
        brand = rng.choice(BRANDS[1:4])
        hours = rng.choice((20, 30, 40, 50, 60, 80))
        scent = rng.choice(("Lavender", "Vanilla", "Cedar", "Fig", "Sea Salt"))
        yield SourceProduct(
            key=f"candle-{i}", where=Where("foreign.src", 200 + i),
            title=f"{brand} {scent} Candle {i}", brand=brand, description="A candle.",
            category_path=(*HOME, "Candles"),
            attributes={"Burn Time": f"{hours} hours", "Scent": scent,
                        "Wax": rng.choice(("Soy", "Beeswax", "Paraffin"))},
            option_names=("Pack",) if i % 3 == 0 else (),
            variants=(tuple(SourceVariant(f"CA{i}-{p}", {"Pack": p}, (rng.randint(9, 39) + 6 * k)
                                          * 100 + 50, stock=rng.choice((0, 4, 10)))
                            for k, p in enumerate(("1", "3")))
                      if i % 3 == 0 else
                      (SourceVariant(f"CA{i}", {}, rng.randint(9, 45) * 100 + 50,
                                     stock=rng.choice((0, 6, 11, 20))),)))


def _vases(rng: random.Random, n: int) -> Iterator[SourceProduct]:
    for i in range(n):
        brand = rng.choice(BRANDS[1:5])
        yield SourceProduct(
            key=f"vase-{i}", where=Where("foreign.src", 300 + i),
            title=f"{brand} {rng.choice(('Stoneware', 'Glass', 'Ceramic'))} Vase {i}",
            brand=brand, description="A vase.", category_path=(*HOME, "Vases"),
            attributes={"Height": f"{rng.choice((15, 20, 25, 30, 40))} cm",
                        "Handmade": rng.choice(("yes", "no"))},
            variants=(SourceVariant(f"VA{i}", {}, rng.randint(15, 90) * 100,
                                    stock=rng.choice((0, 3, 8, 15))),))


def _mugs(rng: random.Random, n: int) -> Iterator[SourceProduct]:
    colours = ("Cream", "Navy", "Olive", "Charcoal")
    for i in range(n):
        brand = rng.choice(BRANDS[3:])
        yield SourceProduct(
            key=f"mug-{i}", where=Where("foreign.src", 400 + i),
            title=f"{brand} Stoneware Mug {i}", brand=brand, description="A mug.",
            category_path=(*KITCHEN, "Mugs"),
            attributes={"Capacity": f"{rng.choice((250, 300, 350, 400))} ml",
                        "Dishwasher Safe": rng.choice(("yes", "no"))},
            option_names=("Colour",),
            variants=tuple(SourceVariant(f"MU{i}-{c}", {"Colour": c}, rng.randint(8, 24) * 100,
                                         stock=rng.choice((0, 5, 9)))
                           for c in rng.sample(colours, rng.randint(2, 4))))


def _coffee(rng: random.Random, n: int) -> Iterator[SourceProduct]:
    for i in range(n):
        yield SourceProduct(
            key=f"coffee-{i}", where=Where("foreign.src", 500 + i),
            title=f"Kaffeewerk {rng.choice(('Espresso', 'Filter', 'Crema'))} Beans {i}",
            brand="Kaffeewerk", description="Coffee beans.",
            category_path=(*GROCERY, "Coffee Beans"),
            attributes={"Roast": rng.choice(("Light", "Medium", "Dark")),
                        "Weight": f"{rng.choice((250, 500, 1000))} g"},
            variants=(SourceVariant(f"CO{i}", {}, rng.randint(8, 30) * 100,
                                    stock=rng.choice((0, 10, 30))),))


_PLAIN = (  # (path, noun, option name or '', option values, attribute -> choices)
    ((*APPAREL, "Jackets & Coats"), "Jacket", "Größe", ("S", "M", "L", "XL"),
     {"Material": ("Wool", "Down", "Cotton"), "Waterproof": ("yes", "no")}),
    ((*APPAREL, "Scarves"), "Scarf", "Farbe", ("Rot", "Grau", "Blau", "Beige"),
     {"Material": ("Wool", "Cashmere", "Silk")}),
    ((*HOME, "Cushions"), "Cushion", "Colour", ("Ochre", "Sage", "Ivory", "Rust"),
     {"Filling": ("Feather", "Foam", "Fibre"), "Width": ("40 cm", "45 cm", "50 cm")}),
    ((*HOME, "Picture Frames"), "Frame", "", (),
     {"Frame Material": ("Oak", "Aluminium", "Walnut"), "Photo Size": ("10 cm", "13 cm")}),
    ((*KITCHEN, "Teapots"), "Teapot", "", (),
     {"Capacity": ("600 ml", "900 ml", "1200 ml"), "Material": ("Cast Iron", "Glass")}),
    ((*KITCHEN, "Chopping Boards"), "Board", "", (),
     {"Wood": ("Oak", "Bamboo", "Acacia"), "Length": ("30 cm", "40 cm", "50 cm")}),
    ((*GROCERY, "Loose Tea"), "Tea", "Pack", ("100 g", "250 g"),
     {"Tea Type": ("Green", "Black", "Oolong"), "Organic": ("yes", "no")}),
    ((*GROCERY, "Chocolate"), "Chocolate Bar", "", (),
     {"Cocoa": ("55 %", "70 %", "85 %"), "Vegan": ("yes", "no")}),
)


def _plain(rng: random.Random, n: int) -> Iterator[SourceProduct]:
    for k, (path, noun, option, values, attrs) in enumerate(_PLAIN):
        for i in range(n):
            brand = rng.choice(BRANDS)
            base = rng.randint(9, 80) * 100 + 99
            picked = rng.sample(values, rng.randint(2, len(values))) if option else []
            variants = (tuple(SourceVariant(f"X{k}-{i}-{j}", {option: v}, base,
                                            stock=rng.choice((0, 4, 9, 13)))
                              for j, v in enumerate(picked))
                        or (SourceVariant(f"X{k}-{i}", {}, base, stock=rng.choice((0, 5, 12))),))
            yield SourceProduct(
                key=f"{noun.lower().replace(' ', '-')}-{i}", where=Where("foreign.src",
                                                                         1000 + 100 * k + i),
                title=f"{brand} {rng.choice(('Classic', 'Nordic', 'Studio', 'Atelier'))} "
                      f"{noun} {i}", brand=brand, description=f"A {noun.lower()}.",
                category_path=path, attributes={a: rng.choice(c) for a, c in attrs.items()},
                option_names=(option,) if option else (), variants=variants)


def foreign_products() -> list[SourceProduct | BadRow]:
    """The store's products, in file order."""
    rng = random.Random("foreign-store")
    return [*_shirts(rng, 24), *_trousers(rng, 14), *_candles(rng, 24), *_vases(rng, 14),
            *_mugs(rng, 14), *_coffee(rng, 12), *_plain(rng, 12)]


def import_foreign(engine: Engine, folder: Path) -> None:
    """Import the foreign store into the empty database of ``engine``."""
    records = foreign_products()

    def read(_: str) -> Iterator[SourceProduct | BadRow]:
        yield from records

    src = folder / "foreign.src"  # the import wants a file; the reader ignores it
    src.write_text("foreign store\n")
    import_catalog(engine, read, [str(src)], seed=5, policies=FOREIGN_POLICIES)


def build_foreign(path: Path) -> str:
    """Import the foreign store into a new SQLite file at ``path``; its database URL."""
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        import_foreign(engine, path.parent)
    finally:
        engine.dispose()
    return url


if __name__ == "__main__":
    print(build_foreign(Path(sys.argv[1])))
