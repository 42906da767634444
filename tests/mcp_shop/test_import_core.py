"""The import core over hand-written records, on SQLite and PostgreSQL: categories, products,
variants, typed attributes, synthesis, bad rows, one transaction, policies."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, inspect

from mcp_shop.catalog import build_catalog, load_catalog_info
from mcp_shop.errors import InvalidInput
from mcp_shop.importers import write
from mcp_shop.importers.core import BadRowStop, ImportFailed, import_catalog
from mcp_shop.importers.policy_config import (
    PolicyConfig,
    build_policies,
    load_policies,
    read_policy_config,
)
from mcp_shop.importers.records import BadRow, SourceProduct, SourceVariant, Where
from mcp_shop.importers.rows import encode
from mcp_shop.policies import DEFAULT_POLICIES
from mcp_shop.search import SearchQuery
from mcp_shop.shop import Shop
from tests.conftest import engine_for
from tests.mcp_shop import import_db
from tests.mcp_shop.import_db import json_value, rows

engine = import_db.engine  # the fixture: an empty database on each backend

V = SourceVariant


def _p(key: str, line: int, path: tuple[str, ...], attrs: dict[str, str],
       variants: tuple[SourceVariant, ...], **kw: Any) -> SourceProduct:
    return SourceProduct(key=key, where=Where("f.src", line), title=f"Title {key}",
                         brand="Acme", description=f"About {key}", category_path=path,
                         attributes=attrs, variants=variants, **kw)


SHIRTS = ("Apparel", "Shirts")
RECORDS: list[SourceProduct | BadRow] = [
    _p("tee-1", 1, SHIRTS, {"Material": "Cotton", "Organic": "yes", "Weight": "180 g"},
       (V("T1-RS", {"Farbe": "Rot", "Size": "S"}, 1999, stock=5),
        V("", {"Farbe": "Rot", "Size": "M"}, None),
        V("T1-BS", {"Farbe": "Blau", "Size": "S"}, 2499),
        V("T1-BS2", {"Farbe": "Blau", "Size": "S"}, 2599)),
       option_names=("Farbe", "Size")),
    _p("tee-2", 5, SHIRTS, {"Material": "Cotton", "Organic": "no", "Weight": "200 g"},
       (V("T2", {}, 1500, available=False),)),
    _p("tee-3", 6, SHIRTS, {"Material": "Linen", "Organic": "YES", "Weight": "210 g"},
       (V("T3", {}, 3000, available=True),)),
    _p("tee-4", 7, SHIRTS, {"material": "Cotton", "Organic": "true", "Weight": "190 g",
                            "Fit note": "Runs small"}, (V("T4", {}, 2000, stock=0),)),
    _p("jacket", 8, ("Apparel",), {}, (V("J", {}, 9900),)),
    _p("mystery", 9, (), {}, (V("M", {}, 500),), rating=4.5, rating_count=10,
       final_sale=True),
    _p("tee-1", 10, SHIRTS, {}, (V("X", {}, 100),)),
    _p("noprice", 11, SHIRTS, {}, (V("N", {}, None),)),
    BadRow(Where("f.src", 12), "Variant Price 'abc' is not a price"),
    _p("longsleeve", 13, (*SHIRTS, "Long sleeve"), {"Sleeve length": "65 cm"},
       (V("L", {}, 4500),)),
]


def reader_of(records: list[SourceProduct | BadRow]):  # noqa: ANN201
    """A reader yielding ``records`` whatever the path."""
    def read(path: str) -> Iterator[SourceProduct | BadRow]:
        yield from records
    return read


def fail_writing_at(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """Make pass 2 raise when it encodes its ``n``-th product (rows before it are written)."""
    calls = {"n": 0}

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == n:
            raise RuntimeError("disk on fire")
        return encode(*args, **kwargs)
    monkeypatch.setattr(write, "encode", failing)
    monkeypatch.setattr(write, "BATCH", 2)  # write every two products: a failure is mid-write



@pytest.fixture
def src(tmp_path: Path) -> str:
    path = tmp_path / "f.src"
    path.write_text("(records come from the test's reader)\n")
    return str(path)




def test_catalog_content(engine: Engine, src: str) -> None:
    report = import_catalog(engine, reader_of(RECORDS), [src], seed=3)
    info = report.info
    assert (info.source, info.product_count, info.variant_count, info.category_count) == (
        "imported", 7, 9, 7)
    expected = [
        ("f.src:1", "product 'tee-1': variant 4 repeats options Blau, S; dropped"),
        ("f.src:10", "product key 'tee-1' appears again (an earlier record has it)"),
        ("f.src:11", "product 'noprice' has no usable price (a positive amount"),
        ("f.src:12", "Variant Price 'abc' is not a price"),
    ]
    assert report.bad_count == 4
    assert [(str(b.where), b.reason[:len(e)]) for b, (_, e) in zip(
        report.bad_rows, expected, strict=True)] == expected
    cats = rows(engine, "SELECT * FROM category ORDER BY id")
    assert [(c["id"], c["slug"], c["parent_id"], c["department"], c["path"], bool(c["is_leaf"]),
             c["depth"], c["product_count"]) for c in cats] == [
        (1, "apparel", None, "Apparel", "Apparel", False, 0, 6),
        (2, "apparel/general-apparel", 1, "Apparel", "Apparel > General Apparel", True, 1, 1),
        (3, "apparel/shirts", 1, "Apparel", "Apparel > Shirts", False, 1, 5),
        (4, "apparel/shirts/general-shirts", 3, "Apparel",
         "Apparel > Shirts > General Shirts", True, 2, 4),
        (5, "apparel/shirts/long-sleeve", 3, "Apparel", "Apparel > Shirts > Long sleeve", True,
         2, 1),
        (6, "other", None, "Other", "Other", False, 0, 1),
        (7, "other/miscellaneous", 6, "Other", "Other > Miscellaneous", True, 1, 1),
    ]
    assert json_value(cats[3]["attribute_specs"]) == [
        {"name": "fit_note", "label": "Fit note", "type": "text"},
        {"name": "material", "label": "Material", "type": "enum", "values": ["Cotton", "Linen"]},
        {"name": "organic", "label": "Organic", "type": "bool"},
        {"name": "weight", "label": "Weight", "type": "int", "unit": "g"},
    ]
    assert json_value(cats[4]["attribute_specs"]) == [
        {"name": "sleeve_length", "label": "Sleeve length", "type": "int", "unit": "cm"}]
    assert json_value(cats[1]["attribute_specs"]) == []

    prods = {r["id"]: r for r in rows(engine, "SELECT * FROM product ORDER BY id")}
    assert [(p["title"], p["category_id"]) for p in prods.values()] == [
        ("Title tee-1", 4), ("Title tee-2", 4), ("Title tee-3", 4), ("Title tee-4", 4),
        ("Title jacket", 2), ("Title mystery", 7), ("Title longsleeve", 5)]
    p1 = prods[1]
    assert json_value(p1["attributes"]) == {"material": "Cotton", "organic": True, "weight": 180}
    assert json_value(p1["option_names"]) == ["Farbe", "Size"]
    assert (p1["brand"], p1["description"], p1["price_min_cents"], p1["price_max_cents"]) == (
        "Acme", "About tee-1", 1999, 2499)
    assert json_value(prods[4]["attributes"]) == {"material": "Cotton", "organic": True,
                                             "weight": 190, "fit_note": "Runs small"}
    assert json_value(prods[3]["attributes"])["organic"] is True
    assert json_value(prods[2]["attributes"])["organic"] is False
    assert (prods[6]["rating"], prods[6]["rating_count"], bool(prods[6]["final_sale"])) == (
        4.5, 10, True)
    assert not any(bool(prods[i]["final_sale"]) for i in (1, 2, 3, 4, 5, 7))
    assert 1.0 <= prods[1]["rating"] <= 5.0 and prods[1]["rating_count"] >= 1

    var = rows(engine, "SELECT * FROM variant ORDER BY id")
    v1 = [v for v in var if v["product_id"] == 1]
    assert [(v["id"], v["position"], v["sku"], json_value(v["options"]), v["price_cents"])
            for v in v1] == [
        (1001, 1, "T1-RS", {"Farbe": "Rot", "Size": "S"}, 1999),
        (1002, 2, "tee-1-2", {"Farbe": "Rot", "Size": "M"}, 1999),  # lowest price taken
        (1003, 3, "T1-BS", {"Farbe": "Blau", "Size": "S"}, 2499),
    ]
    assert v1[0]["stock"] == 5
    stock = {v["product_id"]: v["stock"] for v in var if v["product_id"] != 1}
    assert stock[2] == 0 and not prods[2]["in_stock"]  # available: false
    assert stock[3] > 0 and prods[3]["in_stock"]  # available: true
    assert stock[4] == 0  # given


def test_synthesis_depends_on_key_and_seed_not_row_order(tmp_path: Path, src: str) -> None:
    def imported(name: str, records: list, seed: int) -> dict[str, tuple]:
        engine = engine_for("sqlite", tmp_path / name, None)
        (tmp_path / name).mkdir()
        e = next(engine)
        report = import_catalog(e, reader_of(records), [src], seed=seed)
        got = {r["title"]: (r["rating"], r["rating_count"], r["stocks"]) for r in rows(
            e, "SELECT p.title, p.rating, p.rating_count, group_concat(v.stock) AS stocks "
            "FROM product p JOIN variant v ON v.product_id = p.id GROUP BY p.id")}
        got["fingerprint"] = (report.info.fingerprint,)
        e.dispose()
        return got

    a = imported("a", RECORDS, 3)
    b = imported("b", list(reversed(RECORDS)), 3)
    again = imported("c", RECORDS, 3)
    other = imported("d", RECORDS, 4)
    assert a == again  # deterministic, fingerprint included
    assert {k: v for k, v in a.items() if k not in ("fingerprint", "Title tee-1")} == {
        k: v for k, v in b.items() if k not in ("fingerprint", "Title tee-1")}
    assert a["fingerprint"] != b["fingerprint"]  # other product ids: another catalog
    assert a["fingerprint"] != other["fingerprint"]
    assert any(a[k] != other[k] for k in a if k.startswith("Title") and k != "Title mystery")
    assert a["Title mystery"][:2] == other["Title mystery"][:2] == (4.5, 10)  # given: kept


def _catalog_rows(engine: Engine) -> list[int]:
    """Rows in each catalog table (0 for a table not created: nothing was written)."""
    tables = set(inspect(engine).get_table_names())
    return [rows(engine, f"SELECT count(*) AS n FROM {t}")[0]["n"] if t in tables else 0
            for t in ("catalog_info", "category", "product", "variant", "catalog_policies")]


def test_failure_mid_import_leaves_no_catalog(engine: Engine, src: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    fail_writing_at(monkeypatch, 6)
    with pytest.raises(RuntimeError, match="disk on fire"):
        import_catalog(engine, reader_of(RECORDS), [src])
    assert _catalog_rows(engine) == [0, 0, 0, 0, 0]
    assert load_catalog_info(engine) is None


def test_failed_replace_keeps_the_old_catalog(engine: Engine, src: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    first = import_catalog(engine, reader_of(RECORDS), [src], seed=1).info
    before = _catalog_rows(engine)
    with monkeypatch.context() as m:
        fail_writing_at(m, 4)  # type: ignore[arg-type]
        with pytest.raises(RuntimeError):
            import_catalog(engine, reader_of(RECORDS[:5]), [src], replace=True)
    assert _catalog_rows(engine) == before
    assert load_catalog_info(engine) == first
    with pytest.raises(ImportFailed, match="already holds an imported catalog of 7 products"):
        import_catalog(engine, reader_of(RECORDS), [src])
    second = import_catalog(engine, reader_of(RECORDS[:5]), [src], replace=True).info
    assert second.product_count == 5 and second.fingerprint != first.fingerprint
    assert _catalog_rows(engine)[2] == 5


def test_strict_stops_at_the_first_bad_row(engine: Engine, src: str) -> None:
    with pytest.raises(BadRowStop, match=r"f\.src:1: product 'tee-1': variant 4 repeats"):
        import_catalog(engine, reader_of(RECORDS), [src], strict=True)
    assert _catalog_rows(engine) == [0, 0, 0, 0, 0]
    clean = [r for r in RECORDS[1:6] if isinstance(r, SourceProduct)]
    assert import_catalog(engine, reader_of(clean), [src], strict=True).info.product_count == 5


def test_nothing_usable_is_an_error(engine: Engine, src: str) -> None:
    with pytest.raises(ImportFailed, match="no usable product.*2 bad rows; first: f.src:11"):
        import_catalog(engine, reader_of(RECORDS[7:9]), [src])
    with pytest.raises(ImportFailed, match="is not a file"):
        import_catalog(engine, reader_of(RECORDS), [src + ".missing"])
    with pytest.raises(InvalidInput, match="unknown import format 'csv'; use one of: amazon"):
        import_catalog(engine, "csv", [src])


def test_policies_stored_and_used_by_the_shop(engine: Engine, src: str, tmp_path: Path) -> None:
    config = tmp_path / "policies.toml"
    config.write_text('[default]\nwindow_days = 20\n\n[departments."Apparel"]\nwindow_days = 60\n'
                      'restocking_fee_percent = 10\nfinal_sale_share = 1.0\n\n'
                      '[departments.other]\nreturnable = false\n')
    import_catalog(engine, reader_of(RECORDS), [src], policies=read_policy_config(config))
    policies = load_policies(engine)
    assert [(r.slug_prefix, r.label, r.returnable, r.window_days, r.restocking_fee_percent)
            for r in policies.return_rules] == [
        ("", "Most items", True, 20, 0), ("apparel", "Apparel", True, 60, 10),
        ("other", "Other", False, 0, 0)]
    assert policies.shipping_options == DEFAULT_POLICIES.shipping_options
    finals = {r["id"]: bool(r["final_sale"]) for r in rows(engine, "SELECT * FROM product")}
    assert all(finals[i] for i in (1, 2, 3, 4, 5, 7))  # share 1.0 in Apparel
    shop = Shop(engine)
    assert shop.policies == policies
    returns = next(s for s in shop.policies_text() if s.key == "returns").text
    assert "- Apparel: returnable within 60 days of delivery. A 10% restocking fee" in returns
    assert "- Other: final sale, cannot be returned or exchanged." in returns
    sid = shop.open_session(seed=1).session_id
    page = shop.search(sid, SearchQuery(text="tee", page_size=10))
    assert {h.title for h in page.hits} >= {"Title tee-1", "Title tee-3"}
    product = shop.get_product(sid, "P-000001")
    assert [v.options for v in product.variants][0] == {"Farbe": "Rot", "Size": "S"}


def test_policy_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text('{"default": {"window_days": 400}, "departments": {"X": {"colour": 1}}}')
    with pytest.raises(InvalidInput, match=r"default\.window_days: Input should be less than "
                       r"or equal to 365.*departments\.X\.colour: Extra inputs"):
        read_policy_config(bad)
    bad.write_text("{not json")
    with pytest.raises(InvalidInput, match="is not valid JSON"):
        read_policy_config(bad)
    with pytest.raises(InvalidInput, match="names a department 'Toys' that this catalog does "
                       "not have; its departments are: 'Apparel'"):
        build_policies(PolicyConfig.model_validate({"departments": {"Toys": {}}}),
                       [("apparel", "Apparel")])


def test_generated_catalogs_keep_the_default_policies(tmp_path: Path) -> None:
    gen = engine_for("sqlite", tmp_path, None)
    engine = next(gen)
    build_catalog(engine, seed=1, size=30)
    assert load_policies(engine) is DEFAULT_POLICIES
    with engine.begin() as conn:  # a database made before the table existed
        conn.exec_driver_sql("DROP TABLE catalog_policies")
    assert load_policies(engine) is DEFAULT_POLICIES
    assert Shop(engine).policies is DEFAULT_POLICIES
    gen.close()


_TEXT = st.text(max_size=12)  # any code point: NUL, lone surrogates, emoji, '>' ...
_VARIANT = st.builds(
    SourceVariant, sku=_TEXT,
    options=st.dictionaries(st.sampled_from(["Size", "Farbe", ""]), _TEXT, max_size=2),
    price_cents=st.one_of(st.none(), st.integers(-10, 10**13)),
    stock=st.one_of(st.none(), st.integers(-5, 10**9), st.booleans()),
    available=st.one_of(st.none(), st.booleans()))
_PRODUCT = st.builds(
    SourceProduct, key=st.sampled_from(["a", "b", "c", "", " "]) | _TEXT,
    where=st.just(Where("f.src", 1)), title=_TEXT, brand=_TEXT, description=_TEXT,
    category_path=st.lists(st.sampled_from(["A", "B", "A > B", "", "Ünï"]) | _TEXT,
                           max_size=8).map(tuple),
    attributes=st.dictionaries(_TEXT, st.sampled_from(["yes", "2 kg", "3", "x"]) | _TEXT,
                               max_size=4),
    option_names=st.lists(st.sampled_from(["Size", "Farbe"]), max_size=2).map(tuple),
    variants=st.lists(_VARIANT, max_size=4).map(tuple),
    rating=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    rating_count=st.one_of(st.none(), st.integers(-3, 10**12)),
    final_sale=st.one_of(st.none(), st.booleans()))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(_PRODUCT | st.builds(BadRow, st.just(Where("f.src", 2)), _TEXT),
                        max_size=6))
def test_any_records_give_a_whole_catalog_or_none(records: list, tmp_path: Path) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    src = folder / "f.src"
    src.write_text("x")
    gen = engine_for("sqlite", folder, None)
    engine = next(gen)
    try:
        report = import_catalog(engine, reader_of(records), [str(src)], seed=1)
    except ImportFailed:
        event("refused")
        assert _catalog_rows(engine) == [0, 0, 0, 0, 0]
    else:
        event("imported")
        info = report.info
        assert _catalog_rows(engine) == [1, info.category_count, info.product_count,
                                         info.variant_count, 1]
        Shop(engine).search(Shop(engine).open_session(seed=0).session_id,
                            SearchQuery(text="a", page_size=5))
    finally:
        gen.close()


def test_same_fingerprint_on_both_backends(tmp_path: Path, src: str,
                                           pg_reason: str | None) -> None:
    prints = []
    for backend in ("sqlite", "postgresql"):
        (tmp_path / backend).mkdir()
        gen = engine_for(backend, tmp_path / backend, pg_reason)
        engine = next(gen)
        prints.append(import_catalog(engine, reader_of(RECORDS), [src], seed=8).info.fingerprint)
        gen.close()
    assert prints[0] == prints[1]


def test_slug_and_leaf_name_collisions(engine: Engine, src: str) -> None:
    paths = [("A", "T-Shirts"), ("A", "T Shirts"), ("A",), ("A", "General A"), ("Ä",),
             ("A", "x" * 300)]
    records: list = [_p(f"k{i}", i, path, {}, (V("", {}, 100 + i),))
                     for i, path in enumerate(paths)]
    import_catalog(engine, reader_of(records), [src])
    cats = rows(engine, "SELECT slug, path, is_leaf, product_count FROM category ORDER BY id")
    assert [(c["slug"], c["path"], bool(c["is_leaf"]), c["product_count"]) for c in cats] == [
        ("a", "A", False, 5),
        ("a/general-a", "A > General A", True, 1),
        ("a/general-a-2", "A > General A (2)", True, 1),
        ("a/t-shirts", "A > T Shirts", True, 1),
        ("a/t-shirts-2", "A > T-Shirts", True, 1),
        ("a/" + "x" * 60, "A > " + "x" * 120, True, 1),
        ("a-2", "Ä", False, 1),
        ("a-2/general-a", "Ä > General Ä", True, 1),
    ]
    prods = rows(engine, "SELECT p.id, c.path FROM product p JOIN category c "
                         "ON c.id = p.category_id ORDER BY p.id")
    assert [p["path"] for p in prods] == [
        "A > T-Shirts", "A > T Shirts", "A > General A (2)", "A > General A", "Ä > General Ä",
        "A > " + "x" * 120]


def test_an_imported_catalog_is_opened_as_it_is(tmp_path: Path, src: str) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = next(engine_for("sqlite", tmp_path, None))
    info = import_catalog(engine, reader_of(RECORDS), [src], seed=2).info
    engine.dispose()
    shop = Shop.open(url, seed=5, size=123, index_dir=None)  # never regenerated over
    assert shop.catalog == info
    sid = shop.open_session(seed=4).session_id  # with its past orders, on these products
    orders = shop.list_orders(sid)
    assert orders and all(o.order_id.startswith("O-") for o in orders)


async def test_the_server_tells_the_imported_policies(tmp_path: Path, src: str) -> None:
    from mcp import Client

    from mcp_shop.server import build_server
    from tests.protocol.journey import Recorder

    config = PolicyConfig.model_validate(
        {"departments": {"Apparel": {"window_days": 45, "restocking_fee_percent": 5}}})
    engine = next(engine_for("sqlite", tmp_path, None))
    import_catalog(engine, reader_of(RECORDS), [src], policies=config)
    async with Client(build_server(Shop(engine))) as client:
        call = Recorder(client)
        call.session_id = (await call("open_session", seed=1))["session_id"]
        found = await call("search_policy", query="return window")
        facts = {(f["fact"], f["about"]): f["value"] for m in found["matches"]
                 for f in m["facts"]}
        assert facts[("return_window_days", "apparel")] == 45
        assert facts[("restocking_fee_percent", "apparel")] == 5
        assert facts[("return_window_days", "*")] == 30
        assert ("return_window_days", "electronics") not in facts  # the built-in rules: gone
        hits = await call("search_products", query="tee")
        assert {h["title"] for h in hits["hits"]} >= {"Title tee-1", "Title tee-2"}
    engine.dispose()
