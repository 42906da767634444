"""The Google Merchant Center feed reader: the hand-written TSV, RSS and Atom fixtures read
into the expected records (item groups as variants, options from what differs, sale prices,
availability, categories, product details, bad rows with their lines), imported through the
core on SQLite and PostgreSQL, XML safety, and seeded corruption that never crashes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect

import mcp_shop.importers.gmc as gmc
from mcp_shop.db import make_engine
from mcp_shop.importers import ImportFailed, import_catalog
from mcp_shop.importers.gmc_items import parse_details
from mcp_shop.importers.records import BadRow, SourceProduct, SourceVariant, Where
from tests.mcp_shop import import_db
from tests.mcp_shop.import_db import json_value, rows
from tests.mcp_shop.import_fuzz import check_records, corrupted_files

engine = import_db.engine  # the fixture: an empty database on each backend

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "import"
TSV = str(FIXTURES / "gmc_feed.tsv")
RSS = str(FIXTURES / "gmc_feed.xml")
ATOM = str(FIXTURES / "gmc_atom.xml")
V = SourceVariant
read = gmc.read

EXPECTED_TSV: list[SourceProduct | BadRow] = [
    SourceProduct(  # sale price 9.99 under the price 12.5; "2169" is only an id
        key="MUG-1", where=Where(TSV, 3), title="Stoneware Mug", brand="Clay & Co",
        description="Handmade stoneware & glaze", category_path=("Home", "Kitchen", "Mugs"),
        attributes={"Color": "Sand", "Capacity": "350 ml", "Dishwasher Safe": "yes"},
        variants=(V("MUG-1", {}, 999, 1250, available=False),)),
    SourceProduct(  # nothing but the titles differ: a "Variant" option
        key="CANDLE", where=Where(TSV, 6), title="Soy Candle", brand="Wick & Co",
        description="Burns for 40 hours.", category_path=("Home & Garden", "Decor", "Candles"),
        attributes={"Material": "Soy wax", "Burn Time": "40 hours"}, option_names=("Variant",),
        variants=(V("CANDLE-VAN", {"Variant": "Vanilla"}, 1800, available=True),
                  V("CANDLE-CED", {"Variant": "Cedar"}, 1800, available=True))),
    BadRow(Where(TSV, 8), "item 'BAD-PRICE': price 'free' is not a price (e.g. 15.00 USD); "
                          "skipped"),
    BadRow(Where(TSV, 9), "the item has no id (g:id, the item's unique identifier such as "
                          "'TSHIRT-RED-M')"),
    BadRow(Where(TSV, 10), "the row has 21 cells but the header has 20 (a tab inside a "
                           "value?); row skipped"),
    BadRow(Where(TSV, 11), "item 'TEE-BLUE-L' has no size while the other items of group "
                           "'TEE' differ in it; skipped"),
    SourceProduct(  # its items at lines 2, 4, 5 and 11: written when the last one came
        key="TEE", where=Where(TSV, 2), title="Organic Tee", brand="Fjord Basics",
        description="Soft organic cotton tee.",
        category_path=("Apparel & Accessories", "Clothing", "Shirts & Tops"),
        attributes={"Material": "Cotton", "Gender": "unisex", "Age Group": "adult",
                    "Fit": "Regular", "Neckline": "Crew"},
        option_names=("Color", "Size"),
        variants=(V("TEE-RED-M", {"Color": "Red", "Size": "M"}, 1500, available=True),
                  V("TEE-BLUE-M", {"Color": "Blue", "Size": "M"}, 1500, available=True),
                  V("TEE-RED-L", {"Color": "Red", "Size": "L"}, 1600, available=True))),
    SourceProduct(
        key="SCARF-1", where=Where(TSV, 12), title="Écharpe en laine – bleu",
        brand="Maison Lainé", description="Laine mérinos, 180 cm.",
        category_path=("Accessoires", "Écharpes"),
        attributes={"Color": "Bleu", "Pattern": "Rayé", "Gender": "female"},
        variants=(V("SCARF-1", {}, 3900, available=True),)),
    SourceProduct(key="SOCKS-1", where=Where(TSV, 13), title="Wool Socks",
                  description="Warm socks.", variants=(V("SOCKS-1", {}, 800),)),
]

EXPECTED_RSS: list[SourceProduct | BadRow] = [
    SourceProduct(  # g:title wins over the plain <title>; numeric category: product_type
        key="PACK-30", where=Where(RSS, 37), title="Daypack 30 l & Rain Cover",
        brand="Alpenstieg", description="Light daypack – 30 litres, 900 g.",
        category_path=("Bags", "Backpacks"), attributes={"Material": "Recycled polyester"},
        variants=(V("PACK-30", {}, 4900, 5900, available=False),)),
    SourceProduct(
        key="BOOT", where=Where(RSS, 7), title="Trail Boot Gore-Tex", brand="Alpenstieg",
        description="Waterproof hiking boot.\n- Vibram sole\n- Leather & mesh",
        category_path=("Apparel & Accessories", "Shoes"),
        attributes={"Color": "Black", "Gender": "male", "Waterproof": "yes",
                    "Weight": "650 g"},
        option_names=("Size",),
        variants=(V("BOOT-42", {"Size": "42"}, 8990, available=True),
                  V("BOOT-43", {"Size": "43"}, 8990, available=True))),  # preorder
    BadRow(Where(RSS, 59), "item 'FLASK-1': price 'n/a' is not a price (e.g. 15.00 USD); "
                           "skipped"),
    SourceProduct(key="MAP-1", where=Where(RSS, 64), title="Trail Map Bavaria",
                  variants=(V("MAP-1", {}, None, available=True),)),
]

EXPECTED_ATOM: list[SourceProduct | BadRow] = [
    SourceProduct(
        key="KNIFE-20", where=Where(ATOM, 4), title="Chef's Knife 20 cm", brand="Hanzo",
        description="Forged steel, 20 cm blade.",
        category_path=("Home & Garden", "Kitchen & Dining", "Kitchen Tools & Utensils",
                       "Kitchen Knives"),
        attributes={"Blade Length": "20 cm"}, variants=(V("KNIFE-20", {}, 7900,
                                                          available=True),)),
    SourceProduct(
        key="BOARD", where=Where(ATOM, 18), title="Cutting Board",
        attributes={"Material": "Oak"}, option_names=("Size",),
        variants=(V("BOARD-S", {"Size": "Small"}, 2500), V("BOARD-L", {"Size": "Large"}, 3500))),
]


@pytest.mark.parametrize(("path", "expected"), [
    (TSV, EXPECTED_TSV), (RSS, EXPECTED_RSS), (ATOM, EXPECTED_ATOM)], ids=["tsv", "rss", "atom"])
def test_fixture_reads_into_the_expected_records(path: str, expected: list) -> None:
    assert list(read(path)) == expected


def _write(tmp_path: Path, body: str, name: str = "feed.tsv") -> str:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return str(path)


def test_comma_separated_feed_with_prefixed_headers(tmp_path: Path) -> None:
    path = _write(tmp_path, "G:ID,G:Title,G:Price,G:Availability,Product Type\n"
                            "A-1,Kettle,29.00 USD,in stock,Kitchen > Kettles\n")
    assert list(read(path)) == [SourceProduct(
        key="A-1", where=Where(path, 2), title="Kettle", category_path=("Kitchen", "Kettles"),
        variants=(V("A-1", {}, 2900, available=True),))]


def test_header_without_id_is_one_bad_row(tmp_path: Path) -> None:
    path = _write(tmp_path, "\nsku\ttitle\nA\tB\n")
    (bad,) = read(path)
    assert isinstance(bad, BadRow) and bad.where == Where(path, 2)
    assert bad.reason.startswith("not a Merchant Center feed: the header ('sku\\ttitle') has "
                                 "no id column")


def test_group_without_differing_option_uses_ids_when_titles_match(tmp_path: Path) -> None:
    path = _write(tmp_path, "id\ttitle\tprice\titem_group_id\n"
                            "P-1\tPack of pens\t3.00 USD\tPENS\n"
                            "P-2\tPack of pens\t5.00 USD\tPENS\n")
    (p,) = read(path)
    assert isinstance(p, SourceProduct) and p.title == "Pack of pens"
    assert [v.options for v in p.variants] == [{"Variant": "P-1"}, {"Variant": "P-2"}]


def test_scattered_group_beyond_the_buffer_is_written_early(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gmc, "MAX_BUFFERED", 2)
    path = _write(tmp_path, "id\ttitle\tprice\titem_group_id\tsize\n"
                            "A-S\tCap S\t10\tA\tS\n"
                            "B-S\tHat S\t12\tB\tS\n"
                            "C-S\tBeanie S\t9\tC\tS\n"  # three open groups: A is written
                            "A-M\tCap M\t10\tA\tM\n"
                            "B-M\tHat M\t12\tB\tM\n"
                            "C-M\tBeanie M\t9\tC\tM\n")
    got = [(type(r).__name__, r.where.line) for r in read(path)]
    assert got == [("SourceProduct", 2), ("BadRow", 5), ("SourceProduct", 3),
                   ("SourceProduct", 4)]
    bad = [r for r in read(path) if isinstance(r, BadRow)][0]
    assert bad.reason.startswith("item 'A-M' of item group 'A' comes after its group was "
                                 "written (more than 2 items")


def test_product_details_in_tsv() -> None:
    assert parse_details("General:Material:Cotton, Fit:Regular,General:Care:Wash 30, tumble"
                         ",:nothing") == [("Material", "Cotton"), ("Fit", "Regular"),
                                          ("Care", "Wash 30, tumble")]


BOMB = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<rss xmlns:g="http://base.google.com/ns/1.0"><channel>
<item><g:id>X</g:id><g:title>&b;</g:title><g:price>1 USD</g:price></item>
</channel></rss>
"""


def test_doctype_and_entities_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, BOMB, "bomb.xml")
    (bad,) = read(path)
    assert isinstance(bad, BadRow) and bad.where == Where(path, 2)
    assert bad.reason.startswith("the feed has a DOCTYPE")


def test_wrong_root_and_broken_xml(tmp_path: Path) -> None:
    other = _write(tmp_path, "<?xml version='1.0'?>\n<products><item/></products>", "o.xml")
    (bad,) = read(other)
    assert isinstance(bad, BadRow) and "the root element is <products>" in bad.reason
    cut = Path(RSS).read_text(encoding="utf-8")
    broken = _write(tmp_path, cut[:cut.index("<g:id>BOOT-43")], "cut.xml")
    got = list(read(broken))
    # the cut feed holds one BOOT item only: a one-item group, written where it stands
    assert [(r.key, len(r.variants)) for r in got if isinstance(r, SourceProduct)] == [
        ("BOOT", 1), ("PACK-30", 1)]
    assert isinstance(got[-1], BadRow) and got[-1].where.line == 51
    assert got[-1].reason.startswith("not well-formed XML (no element found at line 51")
    assert got[-1].reason.endswith("the item starting at line 50 and the rest of the file "
                                   "are not read")


# --- through the import core, on both backends ------------------------------------------





def test_import_of_the_three_fixtures(engine: Engine) -> None:
    report = import_catalog(engine, "gmc", [TSV, RSS, ATOM], seed=2)
    assert (report.info.product_count, report.info.variant_count) == (9, 14)
    assert [str(b.where) for b in report.bad_rows] == [
        f"{TSV}:8", f"{TSV}:9", f"{TSV}:10", f"{TSV}:11", f"{RSS}:59", f"{RSS}:64"]
    assert report.bad_rows[-1].reason.startswith("product 'MAP-1' has no usable price")
    cats = {c["id"]: c for c in rows(engine, "SELECT * FROM category")}
    prods = {p["title"]: p for p in rows(engine, "SELECT * FROM product")}
    assert sorted(prods) == sorted([
        "Stoneware Mug", "Soy Candle", "Organic Tee", "Écharpe en laine – bleu", "Wool Socks",
        "Daypack 30 l & Rain Cover", "Trail Boot Gore-Tex", "Chef's Knife 20 cm",
        "Cutting Board"])
    paths = {t: cats[p["category_id"]]["path"] for t, p in prods.items()}
    assert paths["Organic Tee"] == "Apparel & Accessories > Clothing > Shirts & Tops"
    assert paths["Stoneware Mug"] == "Home > Kitchen > Mugs"
    assert paths["Wool Socks"] == paths["Cutting Board"] == "Other > Miscellaneous"
    tee = prods["Organic Tee"]
    assert json_value(tee["option_names"]) == ["Color", "Size"]
    assert json_value(tee["attributes"]) == {"material": "Cotton", "gender": "unisex",
                                     "age_group": "adult", "fit": "Regular", "neckline": "Crew"}
    assert (tee["brand"], tee["price_min_cents"], tee["price_max_cents"]) == (
        "Fjord Basics", 1500, 1600)
    variants = rows(engine, f"SELECT * FROM variant WHERE product_id = {tee['id']} "
                             "ORDER BY position")
    assert [(v["sku"], json_value(v["options"]), v["price_cents"]) for v in variants] == [
        ("TEE-RED-M", {"Color": "Red", "Size": "M"}, 1500),
        ("TEE-BLUE-M", {"Color": "Blue", "Size": "M"}, 1500),
        ("TEE-RED-L", {"Color": "Red", "Size": "L"}, 1600)]
    assert all(v["stock"] > 0 for v in variants)  # in stock / backorder: orderable
    mug = prods["Stoneware Mug"]
    assert (mug["price_min_cents"], bool(mug["in_stock"])) == (999, False)
    assert json_value(mug["attributes"]) == {"color": "Sand", "capacity": 350,
                                             "dishwasher_safe": True}
    boot = prods["Trail Boot Gore-Tex"]
    boot_attrs = json_value(boot["attributes"])
    assert boot_attrs["weight"] == 650 and boot_attrs["waterproof"]
    specs = {s["name"]: s for s in json_value(cats[boot["category_id"]]["attribute_specs"])}
    assert specs["weight"] == {"name": "weight", "label": "Weight", "type": "int", "unit": "g"}
    knife = prods["Chef's Knife 20 cm"]
    assert json_value(knife["attributes"]) == {"blade_length": 20}
    assert paths["Chef's Knife 20 cm"].endswith("Kitchen Tools & Utensils > Kitchen Knives")


# --- fuzz ---------------------------------------------------------------------------------


def test_corrupted_feeds_never_crash_the_reader(tmp_path: Path) -> None:
    for seed, path in corrupted_files([Path(TSV), Path(RSS), Path(ATOM)], tmp_path, 300):
        try:
            records = list(read(str(path)))
        except Exception as exc:  # noqa: BLE001 - the failure names the case
            raise AssertionError(f"case {seed} ({path}) raised {exc!r}") from exc
        check_records(records, str(path))


def test_corrupted_feeds_import_whole_or_not_at_all(tmp_path: Path) -> None:
    imported = 0
    for seed, path in corrupted_files([Path(TSV), Path(RSS), Path(ATOM)], tmp_path, 12):
        engine = make_engine(f"sqlite:///{tmp_path / f'case{seed}.db'}")
        try:
            report = import_catalog(engine, "gmc", [str(path)], seed=seed)
        except ImportFailed:
            if "product" in set(inspect(engine).get_table_names()):
                assert rows(engine, "SELECT count(*) AS n FROM product")[0]["n"] == 0
        else:
            imported += 1
            n = rows(engine, "SELECT count(*) AS n FROM product")[0]["n"]
            assert n == report.info.product_count >= 1
        engine.dispose()
    assert imported >= 1
