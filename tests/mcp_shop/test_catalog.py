"""The synthetic catalog: determinism, realism of its distributions, and the bulk loader."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

import mcp_shop.catalog as catalog
from mcp_shop.catalog import (
    GENERATOR_VERSION,
    ProductRow,
    VariantRow,
    build_catalog,
    categories,
    ensure_catalog,
    generate_products,
    load_catalog_info,
)
from mcp_shop.catalog.generator import CHUNK_SIZE, MAX_VARIANTS
from mcp_shop.db import create_schema, make_engine
from mcp_shop.errors import InvalidInput, InvalidState
from mcp_shop.ids import variant_key
from mcp_shop.models.catalog import Category, Product, Variant

PG_URL = os.environ.get("MCP_SHOP_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SEED = 11
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
TYPES = {"bool": bool, "int": int, "float": float, "enum": str, "text": str}

Catalog = tuple[list[ProductRow], list[VariantRow]]


@pytest.fixture(scope="module")
def small() -> Catalog:
    return generate_products(SEED, 1, 2001)


@pytest.fixture(scope="module")
def big() -> Catalog:
    return generate_products(SEED, 1, 10_001)


@pytest.fixture(scope="module")
def cats() -> dict[int, Any]:
    return {c.id: c for c in categories()}


def _variants_by_product(variants: list[VariantRow]) -> dict[int, list[VariantRow]]:
    out: dict[int, list[VariantRow]] = defaultdict(list)
    for v in variants:
        out[v.product_id].append(v)
    return out


# --- the category tree --------------------------------------------------------------------


def test_tree_has_departments_groups_and_leaves(cats: dict[int, Any]) -> None:
    depts = [c for c in cats.values() if c.depth == 0]
    leaves = [c for c in cats.values() if c.is_leaf]
    assert len(depts) >= 8
    assert len(leaves) >= 40
    assert sorted(cats) == list(range(1, len(cats) + 1))
    assert len({c.slug for c in cats.values()}) == len(cats)
    for c in cats.values():
        if c.depth == 0:
            assert c.parent_id is None and c.path == c.name == c.department
        else:
            parent = cats[c.parent_id]
            assert parent.depth == c.depth - 1 and not parent.is_leaf
            assert c.path == f"{parent.path} > {c.name}"
            assert c.slug.startswith(parent.slug + "/")
        assert c.is_leaf == (c.depth == 2)
        assert bool(c.attribute_specs) == c.is_leaf


def test_attribute_specs_are_typed(cats: dict[int, Any]) -> None:
    for c in cats.values():
        names = [s["name"] for s in c.attribute_specs]
        assert len(names) == len(set(names)), c.slug
        for spec in c.attribute_specs:
            assert SNAKE.match(spec["name"]), spec
            assert spec["type"] in TYPES and spec["label"]
            if spec["type"] == "enum":
                assert spec["values"] and all(SNAKE.match(v) or v.isalnum() for v in
                                              spec["values"]), spec
                assert all(v == v.lower() for v in spec["values"])
            else:
                assert "values" not in spec


def test_brands_are_distinct_from_series_words() -> None:
    from mcp_shop.catalog.taxonomy import DEPARTMENTS
    from mcp_shop.catalog.vocab import SERIES

    brands = [b for d in DEPARTMENTS for b in d.brands]
    assert len(brands) == len(set(brands))
    assert len(SERIES) == len(set(SERIES)) == 4096
    assert not {b.lower() for b in brands} & {s.lower() for s in SERIES}


def test_required_categories(cats: dict[int, Any]) -> None:
    by_slug = {c.slug.rsplit("/", 1)[-1]: c for c in cats.values() if c.is_leaf}
    specs = {s["name"]: s for s in by_slug["headphones"].attribute_specs}
    assert specs["wireless"]["type"] == "bool"
    assert specs["noise_cancelling"]["type"] == "bool"
    assert specs["battery_hours"]["type"] == "int"
    assert "running-shoes" in by_slug
    toy_themes = [s for c in cats.values() if c.department == "Toys & Games" and c.is_leaf
                  for s in c.attribute_specs if s["name"] == "theme"]
    assert toy_themes and all("dinosaurs" in s["values"] for s in toy_themes)
    for c in cats.values():
        if c.department == "Toys & Games" and c.is_leaf:
            names = {s["name"] for s in c.attribute_specs}
            assert {"min_age", "max_age", "theme"} <= names


# --- determinism --------------------------------------------------------------------------


def test_same_seed_same_rows_other_seed_other_rows(small: Catalog) -> None:
    again = generate_products(SEED, 1, 2001)
    assert again == small
    other, _ = generate_products(SEED + 1, 1, 2001)
    assert [p.title for p in other] != [p.title for p in small[0]]


def test_rows_do_not_depend_on_the_process(small: Catalog) -> None:
    """Another interpreter with another string-hash seed generates the same rows."""
    code = ("import hashlib, sys; from mcp_shop.catalog import generate_products; "
            f"print(hashlib.sha256(repr(generate_products({SEED}, 1, 2001)).encode()).hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == hashlib.sha256(repr(small).encode()).hexdigest()


def test_catalog_is_a_prefix_of_a_bigger_one(big: Catalog) -> None:
    products, variants = generate_products(SEED, 1, 3001)
    assert products == big[0][:3000]
    assert variants == [v for v in big[1] if v.product_id <= 3000]
    # any slice, across a chunk boundary, is the same as in the whole catalog
    lo, hi = CHUNK_SIZE - 50, CHUNK_SIZE + 50
    part, _ = generate_products(SEED, lo, hi)
    assert part == big[0][lo - 1:hi - 1]


# --- products and variants ----------------------------------------------------------------


def test_attributes_match_their_category_spec(big: Catalog, cats: dict[int, Any]) -> None:
    for p in big[0]:
        specs = cats[p.category_id].attribute_specs
        assert cats[p.category_id].is_leaf
        assert list(p.attributes) == [s["name"] for s in specs]
        for spec in specs:
            value = p.attributes[spec["name"]]
            assert type(value) is TYPES[spec["type"]], (p.id, spec, value)
            if spec["type"] == "enum":
                assert value in spec["values"]


def test_attributes_are_coherent(big: Catalog, cats: dict[int, Any]) -> None:
    for p in big[0]:
        a = p.attributes
        if "wireless" in a and "battery_hours" in a and not a["wireless"]:
            assert a["battery_hours"] == 0
        if "min_age" in a:
            assert 0 <= a["min_age"] < a["max_age"]
        if cats[p.category_id].name == "Headphones" and a["wireless"]:
            assert a["battery_hours"] > 0


def test_variants_agree_with_their_product(big: Catalog) -> None:
    products, variants = big
    by_product = _variants_by_product(variants)
    assert set(by_product) == {p.id for p in products}
    for p in products:
        vs = by_product[p.id]
        assert 1 <= len(vs) <= MAX_VARIANTS
        assert [v.id for v in vs] == [variant_key(p.id, i) for i in range(1, len(vs) + 1)]
        assert [v.position for v in vs] == list(range(1, len(vs) + 1))
        if not p.option_names:
            assert len(vs) == 1 and vs[0].options == {}
        for v in vs:
            assert list(v.options) == p.option_names
            assert v.price_cents > 0 and v.stock >= 0
        assert len({tuple(v.options.values()) for v in vs}) == len(vs)
        assert p.price_min_cents == min(v.price_cents for v in vs)
        assert p.price_max_cents == max(v.price_cents for v in vs)
        assert p.in_stock == any(v.stock > 0 for v in vs)
    assert len({v.sku for v in variants}) == len(variants)


def test_stock_outs_and_low_stock(big: Catalog) -> None:
    products, variants = big[0][:5000], [v for v in big[1] if v.product_id <= 5000]
    stock = Counter("out" if v.stock == 0 else "low" if v.stock <= 3 else "ok" if v.stock >= 5
                    else "4" for v in variants)
    assert stock["out"] > 0.02 * len(variants)
    assert stock["low"] > 0.02 * len(variants)
    assert stock["ok"] > 0.7 * len(variants)
    assert max(v.stock for v in variants) <= 200
    sold_out = sum(not p.in_stock for p in products) / len(products)
    assert 0.01 < sold_out < 0.08


def test_brand_popularity_is_skewed(big: Catalog, cats: dict[int, Any]) -> None:
    per_leaf: dict[int, Counter[str]] = defaultdict(Counter)
    for p in big[0]:
        per_leaf[p.category_id][p.brand] += 1
    leaf, counts = max(per_leaf.items(), key=lambda kv: sum(kv[1].values()))
    ranked = sorted(counts.values(), reverse=True)
    assert ranked[0] >= 4 * statistics.median(ranked), (cats[leaf].name, ranked)


def test_ratings_and_rating_counts_are_plausible(big: Catalog) -> None:
    ratings = [p.rating for p in big[0]]
    counts = [p.rating_count for p in big[0]]
    assert all(1.0 <= r <= 5.0 and round(r, 1) == r for r in ratings)
    assert 4.0 <= statistics.median(ratings) <= 4.6
    assert sum(3.8 <= r <= 4.8 for r in ratings) > 0.6 * len(ratings)
    assert sum(r < 3.0 for r in ratings) > 0.01 * len(ratings)
    assert min(counts) >= 1
    assert sum(c < 50 for c in counts) > 0.4 * len(counts)
    assert max(counts) > 10_000


def test_prices_look_like_a_shop(big: Catalog, cats: dict[int, Any]) -> None:
    per_leaf: dict[str, list[int]] = defaultdict(list)
    for p in big[0]:
        per_leaf[cats[p.category_id].name].append(p.price_min_cents)
    medians = {name: statistics.median(v) / 100 for name, v in per_leaf.items()}
    assert 50 <= medians["Headphones"] <= 130
    assert 600 <= medians["Laptops"] <= 1400
    assert 7 <= medians["Socks"] <= 25
    assert medians["Pasta"] < 10
    endings = Counter(p.price_min_cents % 100 for p in big[0])
    assert set(endings) <= {99, 49, 29, 79, 95}


def test_titles_are_unique_and_descriptions_sized(big: Catalog) -> None:
    products = big[0]
    pairs = Counter((p.brand, p.title) for p in products)
    assert max(pairs.values()) == 1
    assert all(p.title.startswith(p.brand + " ") for p in products)
    lengths = [len(p.description) for p in products]
    assert max(lengths) <= 300 and min(lengths) >= 100
    assert 150 <= statistics.mean(lengths) <= 260
    final_sale = sum(p.final_sale for p in products) / len(products)
    assert 0.01 < final_sale < 0.035


def test_dinosaur_toys_exist(small: Catalog, cats: dict[int, Any]) -> None:
    dinos = [p for p in small[0] if p.attributes.get("theme") == "dinosaurs"]
    assert dinos
    assert all(cats[p.category_id].department == "Toys & Games" for p in dinos)
    assert any(cats[p.category_id].name == "Headphones" for p in small[0])
    assert any(cats[p.category_id].name == "Running Shoes" for p in small[0])


def test_every_leaf_is_used_by_the_first_products(cats: dict[int, Any]) -> None:
    leaves = {c.id for c in cats.values() if c.is_leaf}
    products, _ = generate_products(SEED, 1, len(leaves) + 1)
    assert {p.category_id for p in products} == leaves


def test_brand_and_two_title_words_find_the_product(big: Catalog, cats: dict[int, Any]
                                                    ) -> None:
    tantivy = pytest.importorskip("tantivy")
    import random

    builder = tantivy.SchemaBuilder()
    for field in ("title", "brand", "category", "attributes", "description"):
        builder.add_text_field(field)
    builder.add_integer_field("pid", stored=True, indexed=True)
    index = tantivy.Index(builder.build())
    writer = index.writer()
    for p in big[0]:
        attrs = " ".join(f"{k} {v}" for k, v in p.attributes.items()).replace("_", " ")
        writer.add_document(tantivy.Document(
            title=p.title, brand=p.brand, category=cats[p.category_id].path, attributes=attrs,
            description=p.description, pid=p.id))
    writer.commit()
    index.reload()
    searcher = index.searcher()
    rng = random.Random(5)
    found = 0
    for p in rng.sample(big[0], 200):
        words = rng.sample([w for w in p.title.split() if w != p.brand], 2)
        text = re.sub(r"[^A-Za-z0-9 ]", " ", " ".join([p.brand, *words]))
        query = index.parse_query(text, ["title", "brand", "category", "attributes",
                                         "description"])
        hits = searcher.search(query, 5).hits
        found += p.id in {searcher.doc(addr)["pid"][0] for _, addr in hits}
    assert found >= 190


# --- the loader ---------------------------------------------------------------------------


@pytest.fixture
def sqlite_engine(tmp_path: Any) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine() -> Engine:
    schema = f"t_{secrets.token_hex(6)}"
    try:
        engine = make_engine(PG_URL, schema=schema)
    except OperationalError:
        pytest.skip("PostgreSQL is not reachable")
    yield engine
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    engine.dispose()


def _db_rows(engine: Engine, model: Any) -> list[dict[str, Any]]:
    table = model.__table__
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(table.c.id)).mappings()]


def _check_loaded(engine: Engine, seed: int, size: int) -> None:
    products, variants = generate_products(seed, 1, size + 1)
    assert _db_rows(engine, Product) == [p._asdict() for p in products]
    assert _db_rows(engine, Variant) == [v._asdict() for v in variants]
    db_cats = _db_rows(engine, Category)
    assert [c["slug"] for c in db_cats] == [c.slug for c in categories()]
    per_leaf = Counter(p.category_id for p in products)
    by_id = {c["id"]: c for c in db_cats}
    for c in db_cats:
        if c["is_leaf"]:
            assert c["product_count"] == per_leaf[c["id"]]
        else:
            kids = [k["product_count"] for k in db_cats if k["parent_id"] == c["id"]]
            assert c["product_count"] == sum(kids)
        assert c["attribute_specs"] == next(x for x in categories()
                                            if x.id == c["id"]).attribute_specs
    assert sum(by_id[c.id]["product_count"] for c in categories() if c.depth == 0) == size
    info = load_catalog_info(engine)
    assert info is not None
    assert (info.source, info.seed, info.size, info.generator_version) == (
        "generated", seed, size, GENERATOR_VERSION)
    assert (info.product_count, info.variant_count, info.category_count) == (
        size, len(variants), len(db_cats))
    assert info.fingerprint == catalog.catalog_fingerprint(seed, size)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql",
                                                            marks=pytest.mark.postgres)])
def test_loaded_database_equals_generated_rows(backend: str, request: Any) -> None:
    engine = request.getfixturevalue(f"{'sqlite' if backend == 'sqlite' else 'pg'}_engine")
    assert load_catalog_info(engine) is None
    seen: list[tuple[int, int]] = []
    info = build_catalog(engine, seed=SEED, size=2000,
                         progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 2000) and seen[-1] == (2000, 2000)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    _check_loaded(engine, SEED, 2000)
    assert ensure_catalog(engine, seed=SEED, size=2000) == info
    with pytest.raises(InvalidState, match="already holds"):
        build_catalog(engine, seed=SEED, size=2000)
    with pytest.raises(InvalidState, match=r"seed=11, size=2000.*seed=12, size=2000"):
        ensure_catalog(engine, seed=SEED + 1, size=2000)
    with pytest.raises(InvalidState, match="size=999"):
        ensure_catalog(engine, seed=SEED, size=999)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql",
                                                            marks=pytest.mark.postgres)])
def test_concurrent_ensure_catalog_builds_once(backend: str, request: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    engine = request.getfixturevalue(f"{'sqlite' if backend == 'sqlite' else 'pg'}_engine")
    with ThreadPoolExecutor(3) as pool:
        infos = list(pool.map(lambda _: ensure_catalog(engine, seed=4, size=700), range(3)))
    assert infos[0] == infos[1] == infos[2]
    assert len(_db_rows(engine, Product)) == 700


def test_worker_processes_give_the_same_catalog(sqlite_engine: Engine, tmp_path: Any) -> None:
    size = 2 * CHUNK_SIZE + 100
    build_catalog(sqlite_engine, seed=3, size=size, workers=2)
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    ensure_catalog(other, seed=3, size=size)  # in process: small enough
    for model in (Product, Variant, Category):
        assert _db_rows(sqlite_engine, model) == _db_rows(other, model)
    other.dispose()


@pytest.mark.parametrize("seed, size", [(-1, 10), (1.5, 10), ("1", 10), (True, 10), (1, 0),
                                        (1, 5_000_001), (1, 10.0)])
def test_bad_seed_or_size_is_invalid_input(sqlite_engine: Engine, seed: Any, size: Any) -> None:
    with pytest.raises(InvalidInput):
        build_catalog(sqlite_engine, seed=seed, size=size)
    with pytest.raises(InvalidInput):
        ensure_catalog(sqlite_engine, seed=seed, size=size)


def test_failed_build_leaves_nothing_behind(sqlite_engine: Engine) -> None:
    def boom(done: int, total: int) -> None:
        if done:
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        build_catalog(sqlite_engine, seed=1, size=50, progress=boom)
    assert load_catalog_info(sqlite_engine) is None
    assert _db_rows(sqlite_engine, Product) == []
    assert _journal_mode(sqlite_engine) == "wal"
    info = ensure_catalog(sqlite_engine, seed=1, size=50)
    assert info.product_count == 50
    assert _journal_mode(sqlite_engine) == "wal"


def test_load_goes_through_the_log_when_others_hold_the_database(sqlite_engine: Engine) -> None:
    create_schema(sqlite_engine)
    with sqlite_engine.connect() as other:  # a reader pins WAL mode: the load uses the log
        assert other.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
        build_catalog(sqlite_engine, seed=2, size=300)
    assert _journal_mode(sqlite_engine) == "wal"
    _check_loaded(sqlite_engine, 2, 300)


def _journal_mode(engine: Engine) -> str:
    with engine.connect() as conn:
        return conn.exec_driver_sql("PRAGMA journal_mode").scalar()


def test_public_api_is_exported() -> None:
    assert catalog.__all__ == sorted(catalog.__all__)
    for name in ("GENERATOR_VERSION", "build_catalog", "ensure_catalog", "load_catalog_info",
                 "generate_products", "categories"):
        assert name in catalog.__all__
    assert all(hasattr(catalog, name) for name in catalog.__all__)
