"""The Shopify product CSV reader: the hand-written fixtures read into the expected records
(continuation rows, options, prices, stock, taxonomy, tags and metafields, bad rows with their
lines), imported through the core on SQLite and PostgreSQL, small cases one at a time, and
seeded corruption that never crashes the reader or leaves a partial catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect

from mcp_shop.db import make_engine
from mcp_shop.importers import ImportFailed, import_catalog
from mcp_shop.importers.records import BadRow, SourceProduct, SourceVariant, Where
from mcp_shop.importers.shopify import read
from mcp_shop.importers.taxonomy import first_type, taxonomy_path
from tests.mcp_shop import import_db
from tests.mcp_shop.import_db import json_value, rows
from tests.mcp_shop.import_fuzz import check_records, corrupted_files

engine = import_db.engine  # the fixture: an empty database on each backend

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "import"
MAIN = str(FIXTURES / "shopify_products.csv")
OLD = str(FIXTURES / "shopify_old_cp1252.csv")
HEADER = ("Handle,Title,Body (HTML),Vendor,Product Category,Type,Tags,Option1 Name,"
          "Option1 Value,Option2 Name,Option2 Value,Variant SKU,Variant Inventory Tracker,"
          "Variant Inventory Qty,Variant Inventory Policy,Variant Price,"
          "Variant Compare At Price,Gift Card,Status\n")
V = SourceVariant


def _w(line: int, path: str = MAIN) -> Where:
    return Where(path, line)


EXPECTED_MAIN: list[SourceProduct | BadRow] = [
    SourceProduct(
        key="linen-shirt", where=_w(2), title="Linen Shirt – Relaxed Fit", brand="Nordic Threads",
        description="Breathable linen & cotton.\n- Relaxed fit\n- Machine wash at 30°C",
        category_path=("Apparel & Accessories", "Clothing", "Shirts & Tops"),
        attributes={"Material": "Linen", "Fit": "Relaxed", "Sleeve Length": "Long",
                    "Weight": "220 g"},
        option_names=("Size", "Color"),
        variants=(V("LS-S-WHT", {"Size": "S", "Color": "White"}, 4900, 5900, stock=5),
                  V("LS-M-WHT", {"Size": "M", "Color": "White"}, 4900, 5900, stock=0),
                  V("LS-L-BLU", {"Size": "L", "Color": "Blue"}, 5250, stock=0))),
    SourceProduct(
        key="duftkerze-winterwald", where=_w(10), title="Duftkerze „Winterwald“",
        brand="Kerzenwerk Böhm", description="Brenndauer: 40 Stunden – handgegossen.",
        category_path=("Home & Garden", "Decor", "Candles"),
        attributes={"Material": "Sojawachs, Baumwolldocht", "Duft": "Tanne, Harz",
                    "Brenndauer": "40 Stunden", "Weight": "300 g"},
        option_names=("Farbe", "Größe"),
        variants=(V("DK-ROT-K", {"Farbe": "Rot", "Größe": "Klein"}, 1250),  # not tracked
                  V("DK-GRN-G", {"Farbe": "Grün", "Größe": "Groß"}, 1990))),
    SourceProduct(
        key="gift-card", where=_w(12), title="Gift Card", brand="Nordic Threads",
        description="A gift card for the whole shop.", category_path=("Gift Cards",),
        variants=(V("", {}, 2500),), final_sale=True),
    BadRow(_w(13), "Variant Price 'abc' is not a price (e.g. 19.99 or 1,299.00); this variant "
                   "row is skipped"),
    SourceProduct(
        key="ceramic-mug", where=_w(13), title="Ceramic Mug", brand="Clay & Co",
        description="Stoneware mug, 350 ml.",  # &#8239; (narrow no-break space): a space
        category_path=("Home & Garden", "Kitchen & Dining", "Tableware", "Drinkware", "Mugs"),
        attributes={"Capacity": "350 ml", "Dishwasher Safe": "yes"}, option_names=("Color",),
        variants=(V("MUG-SLATE", {"Color": "Slate"}, 1800, None, stock=12),)),  # 15.00 < 18.00
    SourceProduct(key="mystery-box", where=_w(15), title="Mystery Box", variants=(V(),)),
    SourceProduct(
        key="espresso-machine", where=_w(18), title="Espresso Machine Café Pro 15 bar",
        brand="Barista Works", description="Café at home\n15 bar pump, 1.8 l tank.",
        category_path=("Home & Garden", "Kitchen & Dining", "Kitchen Appliances",
                       "Coffee Makers & Espresso Machines"),
        attributes={"Pressure": "15 bar", "Water Tank": "1.8 l", "Weight": "5200 g"},
        variants=(V("ESP-PRO", {}, 129900, 149900, stock=3),)),
    BadRow(_w(19), "duplicate handle 'linen-shirt', first at line 2: a handle's rows must be "
                   "together; these rows are skipped"),
    BadRow(_w(21), "the first row of handle 'orphan-variant' has no Title (the first row of a "
                   "handle carries the product's fields); its rows are skipped"),
    BadRow(_w(23), "no Option1 Value for option 'Size' of handle 'travel-bottle'; every variant "
                   "row needs one"),
    SourceProduct(
        key="travel-bottle", where=_w(22), title="Travel Bottle", brand="Hydro Peak",
        description="Keeps drinks cold for 24 hours.",
        category_path=("Sports & Outdoors", "Bottles"),  # only a taxonomy id: Type instead
        attributes={"Capacity": "750 ml"}, option_names=("Size",),
        variants=(V("TB-750", {"Size": "750 ml"}, 2400),)),
    BadRow(_w(25), "the row has 39 cells but the header has 37 (a comma in an unquoted "
                   "value?); row skipped"),
    SourceProduct(
        key="wool-socks", where=_w(24), title="Wool Socks", brand="Nordic Threads",
        description="Merino/nylon",
        category_path=("Apparel & Accessories", "Clothing", "Underwear & Socks", "Socks"),
        attributes={"Material": "Merino wool", "Weight": "90 g"},
        variants=(V("WS-1", {}, 1400),)),
]

EXPECTED_OLD: list[SourceProduct | BadRow] = [
    SourceProduct(
        key="tasse-creme", where=_w(2, OLD), title="Café Crème Tasse", brand="Porzellan Müller",
        description="Die “klassische” Tasse – 250 ml, spülmaschinenfest.",
        category_path=("Home & Garden", "Kitchen & Dining", "Tableware", "Drinkware", "Mugs"),
        attributes={"Material": "Porzellan", "Füllmenge": "250 ml", "Weight": "310 g"},
        option_names=("Farbe", "Größe", "Pack"),
        variants=(V("TC-W-N-1", {"Farbe": "Weiß", "Größe": "Normal", "Pack": "1er"}, 990),
                  V("TC-W-N-2", {"Farbe": "Weiß", "Größe": "Normal", "Pack": "2er"}, 1790,
                    1980),
                  V("TC-S-G-1", {"Farbe": "Schwarz", "Größe": "Groß", "Pack": "1er"}, 1190))),
    SourceProduct(
        key="kinder-muetze", where=_w(5, OLD), title="Kindermütze „Fuchs“", brand="Wollwerk",
        description="Warm & weich", category_path=("Mützen",),
        attributes={"Gender": "Unisex", "Age Group": "Kids"}, variants=(V("KM-1", {}, 1450),)),
]


def test_fixture_reads_into_the_expected_records() -> None:
    assert list(read(MAIN)) == EXPECTED_MAIN


def test_older_cp1252_export_without_category_inventory_or_status() -> None:
    assert list(read(OLD)) == EXPECTED_OLD


def _csv(tmp_path: Path, body: str, *, header: str = HEADER, encoding: str = "utf-8",
         name: str = "p.csv") -> str:
    path = tmp_path / name
    path.write_bytes((header + body).encode(encoding))
    return str(path)


def test_draft_and_archived_are_skipped_without_a_report(tmp_path: Path) -> None:
    path = _csv(tmp_path, "a,Lamp,,,,,,Title,Default Title,,,A1,,,,10,,,draft\n"
                          "a,,,,,,,,,,,,,,,,,,\n"
                          "b,Poster,,,,,,Title,Default Title,,,B1,,,,5,,,archived\n"
                          "c,Mug,,,,,,Title,Default Title,,,C1,,,,7,,,Active\n")
    assert [(r.key, r.where.line) for r in read(path)] == [("c", 5)]  # type: ignore[union-attr]


def test_stock_only_when_tracked_and_continue_policy_stays_orderable(tmp_path: Path) -> None:
    path = _csv(tmp_path, "a,Mug,,,,,,Size,S,,,A1,shopify,4,deny,10,,,active\n"
                          "a,,,,,,,,M,,,A2,shopify,0,continue,10,,,\n"
                          "a,,,,,,,,L,,,A3,,9,deny,10,,,\n"
                          "a,,,,,,,,XL,,,A4,shopify,lots,deny,10,,,\n")
    (p,) = read(path)
    assert isinstance(p, SourceProduct)
    assert [(v.stock, v.available) for v in p.variants] == [
        (4, None), (None, True), (None, None), (None, None)]


def test_header_problems_are_one_bad_row_at_the_top(tmp_path: Path) -> None:
    not_shopify = _csv(tmp_path, "1,2\n", header="sku,name\n", name="a.csv")
    (bad,) = read(not_shopify)
    assert isinstance(bad, BadRow) and bad.where == Where(not_shopify, 1)
    assert bad.reason.startswith("not a Shopify product CSV: the header ('sku,name'...) has "
                                 "no Handle and Title columns")
    empty = _csv(tmp_path, "", header="\n\n", name="b.csv")
    (bad,) = read(empty)
    assert isinstance(bad, BadRow) and bad.reason.startswith("the file is empty")


def test_a_shifted_first_row_takes_its_continuation_rows_with_it(tmp_path: Path) -> None:
    path = _csv(tmp_path, "a,Mug,,,,,,Size,S,,,A1,,,,10,,,active,spill\n"
                          "a,,,,,,,,M,,,A2,,,,12,,,\n"
                          "b,Cup,,,,,,Title,Default Title,,,B1,,,,5\n")  # a short row
    got = list(read(path))
    assert [type(r).__name__ for r in got] == ["BadRow", "SourceProduct"]
    assert got[0].where.line == 2 and "20 cells but the header has 19" in got[0].reason  # type: ignore
    assert isinstance(got[1], SourceProduct) and got[1].variants == (V("B1", {}, 500),)


def test_metafield_columns_name_attributes_and_variant_metafields_are_ignored(
        tmp_path: Path) -> None:
    header = ("Handle,Title,Variant Price,Fabric (product.metafields.custom.fabric),"
              "(product.metafields.custom.care-guide),Lining (variant.metafields.custom.x)\n")
    path = _csv(tmp_path, 'a,Coat,120,"[""Wool"", ""Cashmere""]",Dry clean,Silk\n',
                header=header)
    (p,) = read(path)
    assert isinstance(p, SourceProduct)
    assert p.attributes == {"Fabric": "Wool, Cashmere", "Care guide": "Dry clean"}
    assert p.category_path == () and p.option_names == ()


def test_semicolon_separated_resave(tmp_path: Path) -> None:
    path = _csv(tmp_path, "\nbecher;Becher;Steingut;12,50;Farbe;Blau\n"
                          "becher;;;13,50;;Grün\n",
                header="\nHandle;Title;Body (HTML);Variant Price;Option1 Name;Option1 Value\n",
                encoding="cp1252")
    assert list(read(path)) == [SourceProduct(
        key="becher", where=Where(path, 4), title="Becher", description="Steingut",
        option_names=("Farbe",), variants=(V("", {"Farbe": "Blau"}, 1250),
                                           V("", {"Farbe": "Grün"}, 1350)))]


@pytest.mark.parametrize(("raw", "path"), [
    ("aa-1-13-8 Apparel & Accessories > Clothing > Shirts & Tops",
     ("Apparel & Accessories", "Clothing", "Shirts & Tops")),
    ("Apparel & Accessories > Clothing (aa-1-13)", ("Apparel & Accessories", "Clothing")),
    ("gid://shopify/TaxonomyCategory/aa-1 Apparel & Accessories > Clothing",
     ("Apparel & Accessories", "Clothing")),
    ("Home & Garden>Decor", ("Home & Garden", "Decor")),
    ("1604 - Apparel & Accessories > Clothing", ("Apparel & Accessories", "Clothing")),
    ("aa-1-13-8", ()), ("gid://shopify/TaxonomyCategory/hg-11", ()), ("1604", ()), ("", ()),
    ("Toys & Games", ("Toys & Games",)),
], ids=["id-first", "id-last", "gid", "no-spaces", "google-id", "bare-id", "bare-gid",
        "numeric", "empty", "one-level"])
def test_taxonomy_paths(raw: str, path: tuple[str, ...]) -> None:
    assert taxonomy_path(raw) == path


@pytest.mark.parametrize(("raw", "path"), [
    ("Home > Candles, Gifts > For Her", ("Home", "Candles")),
    ("Toys > Dolls, Playsets & Toy Figures", ("Toys", "Dolls, Playsets & Toy Figures")),
    ("Candles, Gifts", ("Candles, Gifts",)),
    ("Candles, Home > Decor", ("Candles",)),
])
def test_first_product_type(raw: str, path: tuple[str, ...]) -> None:
    assert first_type(raw) == path


# --- through the import core, on both backends ------------------------------------------





def test_import_of_both_fixtures(engine: Engine) -> None:
    report = import_catalog(engine, "shopify", [MAIN, OLD], seed=5)
    assert (report.info.product_count, report.info.variant_count) == (9, 14)
    assert [(str(b.where), b.reason.split(" (")[0].split(";")[0]) for b in report.bad_rows] == [
        (f"{MAIN}:13", "Variant Price 'abc' is not a price"),
        (f"{MAIN}:15", "product 'mystery-box' has no usable price"),
        (f"{MAIN}:19", "duplicate handle 'linen-shirt', first at line 2: a handle's rows must "
                       "be together"),
        (f"{MAIN}:21", "the first row of handle 'orphan-variant' has no Title"),
        (f"{MAIN}:23", "no Option1 Value for option 'Size' of handle 'travel-bottle'"),
        (f"{MAIN}:25", "the row has 39 cells but the header has 37"),
    ]
    cats = {c["id"]: c for c in rows(engine, "SELECT * FROM category")}
    prods = {p["title"]: p for p in rows(engine, "SELECT * FROM product")}
    assert sorted(prods) == sorted([
        "Linen Shirt – Relaxed Fit", "Duftkerze „Winterwald“", "Gift Card", "Ceramic Mug",
        "Espresso Machine Café Pro 15 bar", "Travel Bottle", "Wool Socks", "Café Crème Tasse",
        "Kindermütze „Fuchs“"])
    paths = {t: cats[p["category_id"]]["path"] for t, p in prods.items()}
    assert paths["Linen Shirt – Relaxed Fit"] == "Apparel & Accessories > Clothing > Shirts & Tops"
    assert paths["Duftkerze „Winterwald“"] == "Home & Garden > Decor > Candles"
    assert paths["Ceramic Mug"] == paths["Café Crème Tasse"] == (
        "Home & Garden > Kitchen & Dining > Tableware > Drinkware > Mugs")
    assert paths["Gift Card"] == "Gift Cards > General Gift Cards"  # a department only
    assert paths["Travel Bottle"] == "Sports & Outdoors > Bottles"
    mugs = cats[prods["Ceramic Mug"]["category_id"]]
    specs = {s["name"]: s for s in json_value(mugs["attribute_specs"])}
    assert specs["capacity"]["type"] == "int" and specs["capacity"]["unit"] == "ml"
    assert specs["material"]["label"] == "Material"

    shirt = prods["Linen Shirt – Relaxed Fit"]
    assert json_value(shirt["option_names"]) == ["Size", "Color"]
    assert json_value(shirt["attributes"]) == {"material": "Linen", "fit": "Relaxed",
                                       "sleeve_length": "Long", "weight": 220}
    assert (shirt["brand"], shirt["price_min_cents"], shirt["price_max_cents"]) == (
        "Nordic Threads", 4900, 5250)
    assert shirt["description"].startswith("Breathable linen & cotton.\n- Relaxed fit")
    variants = rows(engine, f"SELECT * FROM variant WHERE product_id = {shirt['id']} "
                    "ORDER BY position")
    assert [(v["sku"], json_value(v["options"]), v["price_cents"], v["stock"])
            for v in variants] == [
        ("LS-S-WHT", {"Size": "S", "Color": "White"}, 4900, 5),
        ("LS-M-WHT", {"Size": "M", "Color": "White"}, 4900, 0),
        ("LS-L-BLU", {"Size": "L", "Color": "Blue"}, 5250, 0)]
    tasse = prods["Café Crème Tasse"]
    assert json_value(tasse["option_names"]) == ["Farbe", "Größe", "Pack"]
    assert (tasse["price_min_cents"], tasse["price_max_cents"]) == (990, 1790)
    mug_attrs = json_value(prods["Ceramic Mug"]["attributes"])
    assert mug_attrs["capacity"] == 350 and mug_attrs["dishwasher_safe"] is True
    gift = prods["Gift Card"]
    assert bool(gift["final_sale"])
    assert json_value(gift["option_names"]) == []
    espresso = prods["Espresso Machine Café Pro 15 bar"]
    espresso_attrs = json_value(espresso["attributes"])
    assert (espresso["price_min_cents"], espresso_attrs["pressure"]) == (129900, 15)


def test_strict_stops_at_the_first_bad_row_and_writes_nothing(engine: Engine) -> None:
    with pytest.raises(ImportFailed, match="shopify_products.csv:13: Variant Price 'abc'"):
        import_catalog(engine, "shopify", [MAIN], strict=True)
    tables = set(inspect(engine).get_table_names())
    assert "product" not in tables or rows(engine, "SELECT count(*) AS n FROM product")[0][
        "n"] == 0


# --- fuzz ---------------------------------------------------------------------------------


def test_corrupted_files_never_crash_the_reader(tmp_path: Path) -> None:
    sources = [Path(MAIN), Path(OLD)]
    for seed, path in corrupted_files(sources, tmp_path, 240):
        try:
            records = list(read(str(path)))
        except Exception as exc:  # noqa: BLE001 - the failure names the case
            raise AssertionError(f"case {seed} ({path}) raised {exc!r}") from exc
        check_records(records, str(path))


def test_corrupted_files_import_whole_or_not_at_all(tmp_path: Path) -> None:
    sources = [Path(MAIN), Path(OLD)]
    outcomes = {"imported": 0, "failed": 0}
    for seed, path in corrupted_files(sources, tmp_path, 12):
        engine = make_engine(f"sqlite:///{tmp_path / f'case{seed}.db'}")
        try:
            report = import_catalog(engine, "shopify", [str(path)], seed=seed)
        except ImportFailed:
            outcomes["failed"] += 1
            tables = set(inspect(engine).get_table_names())
            if "product" in tables:
                assert rows(engine, "SELECT count(*) AS n FROM product")[0]["n"] == 0
        else:
            outcomes["imported"] += 1
            n = rows(engine, "SELECT count(*) AS n FROM product")[0]["n"]
            assert n == report.info.product_count >= 1
        engine.dispose()
    assert outcomes["imported"] >= 1
