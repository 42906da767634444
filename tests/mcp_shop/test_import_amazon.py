"""The Amazon item metadata reader and its import on SQLite and PostgreSQL, over a messy
fixture written here; and a fuzz test: corrupted files never crash the import and never leave
a partial catalog."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect

from mcp_shop.importers.amazon import read
from mcp_shop.importers.core import ImportFailed, import_catalog
from mcp_shop.importers.records import BadRow, SourceProduct
from tests.conftest import engine_for
from tests.mcp_shop import import_db
from tests.mcp_shop.import_db import json_value, rows

engine = import_db.engine  # the fixture: an empty database on each backend

CATS = ["Electronics", "Headphones", "Over-Ear"]
ITEMS: list[Any] = [
    {"parent_asin": "B0HEAD1", "title": "Sony WH-1000XM4 Wireless Headphones",
     "main_category": "All Electronics", "categories": CATS, "store": "Sony",
     "features": ["Touch <i>controls</i>"],
     "description": ["<p>Industry-leading <b>noise</b> cancelling&hellip;</p>",
                     "Up to 30&nbsp;hours."],
     "details": {"Brand": "Sony", "Battery Life": "30 hours", "Bluetooth": "Yes",
                 "Color": "Black", "Best Sellers Rank": {"Electronics": 12}},
     "price": "$348.00", "average_rating": 4.6, "rating_number": 1200,
     "images": [{"large": "https://example.com/1.jpg"}], "videos": [], "bought_together": None},
    {"parent_asin": "B0HEAD2", "title": "Bose QuietComfort 45", "categories": CATS,
     "store": None, "details": {"Manufacturer": "Bose", "Battery Life": "24 hours",
                                "Bluetooth": "No", "Color": "White"},
     "price": 279, "average_rating": None, "rating_number": None},
    {"parent_asin": "B0HEAD3", "title": "Anker Soundcore", "categories": CATS,
     "details": {"Brand": "Anker", "Battery Life": "40 hours"}, "price": "None"},
    {"parent_asin": "B0MUG", "title": "Tasse «Café» ☕ 350 ml", "categories": [],
     "main_category": "Home & Kitchen", "price": "12.99", "store": "Maison",
     "details": {"Capacity": "350 ml", "Dishwasher safe": "true"}},
    "",
    [1, 2],
    {"parent_asin": "B0NOTITLE", "title": "", "price": 5},
    "not json at all",
    {"parent_asin": "B0BOOK", "title": "A Novel", "categories": ["Books"], "price": 9.5,
     "store": "Penguin", "details": {"Language": "English", "Pages": "320"},
     "average_rating": 4.0, "rating_number": 0},
]
TRUNCATED = '{"parent_asin": "B0TRUNC", "title": "Cut'


def write_fixture(path: Path) -> Path:
    lines = [x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in ITEMS]
    path.write_text("\n".join(lines) + "\n" + TRUNCATED, encoding="utf-8")
    return path





def test_reader_records(tmp_path: Path) -> None:
    path = str(write_fixture(tmp_path / "meta.jsonl"))
    recs = list(read(path))
    bad = [(r.where.line, r.reason[:30]) for r in recs if isinstance(r, BadRow)]
    assert bad == [(6, "a JSON list, not an object; ea"), (7, "item 'B0NOTITLE' has no title "),
                   (8, "not a JSON object (Expecting v"), (10, "not a JSON object (Unterminate")]
    items = {r.key: r for r in recs if isinstance(r, SourceProduct)}
    assert list(items) == ["B0HEAD1", "B0HEAD2", "B0HEAD3", "B0MUG", "B0BOOK"]
    head = items["B0HEAD1"]
    assert head.where.line == 1 and head.brand == "Sony" and head.category_path == tuple(CATS)
    assert head.description == ("Industry-leading noise cancelling\u2026\nUp to 30 hours.\n"
                                "- Touch controls")
    assert head.attributes == {"Battery Life": "30 hours", "Bluetooth": "Yes", "Color": "Black"}
    assert (head.rating, head.rating_count, head.variants[0].price_cents) == (4.6, 1200, 34800)
    assert items["B0HEAD2"].brand == "Bose" and items["B0HEAD2"].rating is None
    assert items["B0HEAD3"].variants[0].price_cents is None
    assert items["B0MUG"].category_path == ("Home & Kitchen",)


def test_import(engine: Engine, tmp_path: Path) -> None:
    path = str(write_fixture(tmp_path / "meta.jsonl"))
    report = import_catalog(engine, "amazon", [path], seed=5)
    assert (report.info.product_count, report.info.variant_count,
            report.info.category_count, report.bad_count) == (4, 4, 7, 5)
    assert [r.where.line for r in report.bad_rows] == [3, 6, 7, 8, 10]
    assert report.bad_rows[0].reason.startswith("product 'B0HEAD3' has no usable price")
    cats = rows(engine, "SELECT id, slug, path, is_leaf, product_count, attribute_specs "
                        "FROM category ORDER BY id")
    assert [(c["slug"], c["path"], bool(c["is_leaf"]), c["product_count"]) for c in cats] == [
        ("books", "Books", False, 1),
        ("books/general-books", "Books > General Books", True, 1),
        ("electronics", "Electronics", False, 2),
        ("electronics/headphones", "Electronics > Headphones", False, 2),
        ("electronics/headphones/over-ear", "Electronics > Headphones > Over-Ear", True, 2),
        ("home-kitchen", "Home & Kitchen", False, 1),
        ("home-kitchen/general-home-kitchen", "Home & Kitchen > General Home & Kitchen", True, 1),
    ]
    assert json_value(cats[4]["attribute_specs"]) == [
        {"name": "battery_life", "label": "Battery Life", "type": "int", "unit": "hours"},
        {"name": "bluetooth", "label": "Bluetooth", "type": "bool"},
        {"name": "color", "label": "Color", "type": "text"},  # two values, none repeated
    ]
    assert json_value(cats[6]["attribute_specs"]) == [
        {"name": "capacity", "label": "Capacity", "type": "int", "unit": "ml"},
        {"name": "dishwasher_safe", "label": "Dishwasher safe", "type": "bool"},
    ]
    prods = rows(engine, "SELECT p.*, v.sku, v.options, v.price_cents, v.stock FROM product p "
                         "JOIN variant v ON v.product_id = p.id ORDER BY p.id")
    assert [(p["id"], p["title"], p["brand"], p["category_id"], p["price_min_cents"], p["sku"],
             json_value(p["options"]), json_value(p["option_names"])) for p in prods] == [
        (1, "Sony WH-1000XM4 Wireless Headphones", "Sony", 5, 34800, "B0HEAD1", {}, []),
        (2, "Bose QuietComfort 45", "Bose", 5, 27900, "B0HEAD2", {}, []),
        (3, "Tasse «Café» ☕ 350 ml", "Maison", 7, 1299, "B0MUG", {}, []),
        (4, "A Novel", "Penguin", 2, 950, "B0BOOK", {}, []),
    ]
    assert [json_value(p["attributes"]) for p in prods] == [
        {"battery_life": 30, "bluetooth": True, "color": "Black"},
        {"battery_life": 24, "bluetooth": False, "color": "White"},
        {"capacity": 350, "dishwasher_safe": True},
        {"language": "English", "pages": 320},
    ]
    assert (prods[0]["rating"], prods[0]["rating_count"]) == (4.6, 1200)
    assert (prods[3]["rating"], prods[3]["rating_count"]) == (4.0, 0)
    assert 1.0 <= prods[1]["rating"] <= 5.0 and prods[1]["rating_count"] >= 1  # synthesised
    assert all(p["price_cents"] == p["price_min_cents"] == p["price_max_cents"] for p in prods)
    assert prods[0]["description"].startswith("Industry-leading noise cancelling")


def test_gzip_gives_the_same_catalog(tmp_path: Path) -> None:
    plain = write_fixture(tmp_path / "meta.jsonl")
    packed = tmp_path / "meta.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    prints = []
    for name, path in (("a", plain), ("b", packed)):
        (tmp_path / name).mkdir()
        gen = engine_for("sqlite", tmp_path / name, None)
        prints.append(import_catalog(next(gen), "amazon", [str(path)], seed=2).info.fingerprint)
        gen.close()
    assert prints[0] == prints[1]


def _corrupt(data: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:  # truncated anywhere
        return data[:rng.randrange(len(data))]
    if kind == 1:  # random byte flips
        out = bytearray(data)
        for _ in range(rng.randrange(1, 40)):
            out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)
    if kind == 2:  # garbage lines in between
        lines = data.split(b"\n")
        for _ in range(rng.randrange(1, 6)):
            lines.insert(rng.randrange(len(lines) + 1), rng.randbytes(rng.randrange(1, 80)))
        return b"\n".join(lines)
    if kind == 3:  # a gzip file cut short or damaged
        packed = bytearray(gzip.compress(data))
        if rng.random() < 0.5:
            return bytes(packed[:rng.randrange(10, len(packed))])
        packed[rng.randrange(10, len(packed))] ^= 0xFF
        return bytes(packed)
    # wrong types in the fields
    objs = [json.loads(x) for x in data.decode().splitlines()[:4] if x.startswith("{")]
    for obj in objs:
        for key in rng.sample(sorted(obj), k=min(3, len(obj))):
            obj[key] = rng.choice([None, 1e308, -1, [], {}, "", "x" * 300, True, [None]])
    return "\n".join(json.dumps(o) for o in objs).encode()


def _state(engine: Engine) -> tuple[int, int, int]:
    if not inspect(engine).has_table("catalog_info"):
        return (0, 0, 0)
    got = rows(engine, "SELECT (SELECT count(*) FROM catalog_info) AS i, "
                       "(SELECT count(*) FROM product) AS p, (SELECT count(*) FROM variant) AS v")
    return (got[0]["i"], got[0]["p"], got[0]["v"])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_fuzz_never_crashes_or_leaves_a_partial_catalog(backend: str, tmp_path: Path,
                                                        pg_reason: str | None) -> None:
    data = write_fixture(tmp_path / "meta.jsonl").read_bytes()
    rng = random.Random(20261205)
    outcomes = {"imported": 0, "refused": 0}
    cases = 40 if backend == "sqlite" else 12
    for case in range(cases):
        folder = tmp_path / f"case{case}"
        folder.mkdir()
        path = folder / ("meta.jsonl.gz" if case % 7 == 0 else "meta.jsonl")
        path.write_bytes(_corrupt(data, rng))
        gen = engine_for(backend, folder, pg_reason)
        engine = next(gen)
        try:
            report = import_catalog(engine, "amazon", [str(path)], seed=case,
                                    strict=case % 5 == 0)
        except ImportFailed:
            outcomes["refused"] += 1
            assert _state(engine) == (0, 0, 0), f"case {case}: partial catalog after a failure"
        else:
            outcomes["imported"] += 1
            info = report.info
            assert _state(engine) == (1, info.product_count, info.variant_count), f"case {case}"
            assert info.product_count >= 1
        finally:
            gen.close()
    assert outcomes["imported"] > 0 and outcomes["refused"] > 0, outcomes


def test_child_process_and_workers_give_the_same_catalog(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_shop.importers import write

    monkeypatch.setattr(write, "BATCH", 1)  # a batch per product: several go to each worker
    path = str(write_fixture(tmp_path / "meta.jsonl"))
    got = []
    for name, child, workers in (("here", False, 0), ("child", True, 2)):
        (tmp_path / name).mkdir()
        gen = engine_for("sqlite", tmp_path / name, None)
        engine = next(gen)
        report = import_catalog(engine, "amazon", [path, path], seed=9, child=child,
                                workers=workers)
        got.append((report.info.fingerprint, report.bad_count,
                    [(str(b.where), b.reason) for b in report.bad_rows]))
        with pytest.raises(ImportFailed, match=r"meta\.jsonl:3: product 'B0HEAD3' has no"):
            import_catalog(engine, "amazon", [path], strict=True, replace=True, child=child)
        gen.close()
    assert got[0] == got[1]
    assert got[0][1] == 5 + 9  # the second copy repeats every key: 4 more bad rows


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mcp_shop.cli import main

    path = str(write_fixture(tmp_path / "meta.jsonl"))
    db = f"sqlite:///{tmp_path / 'shop.db'}"
    report = tmp_path / "bad.tsv"
    assert main(["import", "--format", "amazon", path, "--db", db, "--seed", "4",
                 "--bad-rows", str(report)]) == 0
    out = capsys.readouterr()
    assert "Imported 4 products, 4 variants, 7 categories from 1 file(s)" in out.out
    assert "5 bad row(s) skipped (all in" in out.out
    assert f"{path}:3: product 'B0HEAD3' has no usable price" in out.out
    assert (tmp_path / "shop.db.search").is_dir()  # the search index was built
    lines = report.read_text().splitlines()
    assert lines[0] == "file\tline\treason" and len(lines) == 6
    assert lines[1].startswith(f"{path}\t3\tproduct 'B0HEAD3' has no usable price")

    def error(argv: list[str], code: int) -> str:
        assert main(argv) == code
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
        assert len(err) == 1
        return err[0]

    assert "already holds an imported catalog of 4 products" in error(
        ["import", "--format", "amazon", path, "--db", db], 2)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert "bad row at " + path + ":3" in error(
        ["import", "--format", "amazon", path, "--db", other, "--strict"], 1)
    assert "is not a file" in error(
        ["import", "--format", "amazon", path + ".nope", "--db", other], 2)
    policies = tmp_path / "p.toml"
    policies.write_text("[default]\nwindow_days = -1\n")
    assert "default.window_days: Input should be greater than or equal to 0" in error(
        ["import", "--format", "amazon", path, "--db", other, "--policies", str(policies)], 2)
    assert main(["import", "--format", "amazon", path, "--db", db, "--replace",
                 "--no-index"]) == 0
    assert "Imported 4 products" in capsys.readouterr().out
