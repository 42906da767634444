"""Search: text matching, filters, sorts, per-session overrides (checked exactly against a
brute-force reference), similar products, the category tree and hostile input, on both backends."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import Engine, func, select

import mcp_shop.search as search_pkg
from mcp_shop.db import create_schema, make_engine, read_tx, write_tx
from mcp_shop.errors import InvalidInput, NotFound
from mcp_shop.ids import product_id
from mcp_shop.models import Category, Product, Variant
from mcp_shop.search import SearchIndex, SearchQuery, search
from mcp_shop.search.index import (
    INDEX_VERSION,
    rating_milli,
)
from mcp_shop.search.query import CatalogVariants, effective_values
from mcp_shop.search.similar import category_tree, similar
from mcp_shop.search.words import text_query, tokenize, word_forms
from tests.conftest import engine_for
from tests.mcp_shop.search_fixtures import add_session, build_catalog, set_overrides

SID, OTHER = "s-" + "a" * 30, "s-" + "b" * 30
N_PRODUCTS = 240


@dataclass
class World:
    """A catalog on one backend, its index and a Python snapshot for reference answers."""

    engine: Engine
    index: SearchIndex
    products: dict[int, Any]
    variants: dict[int, list[Any]]
    categories: dict[int, Any]


@pytest.fixture(scope="module")
def world(backend: str, tmp_path_factory: pytest.TempPathFactory, pg_reason: str | None):
    """The hand-made catalog on ``backend`` (both backends, see tests/conftest.py)."""
    gen = engine_for(backend, tmp_path_factory.mktemp(f"search-{backend}"), pg_reason)
    engine = next(gen)
    try:
        create_schema(engine)
        build_catalog(engine, N_PRODUCTS, seed=7)
        with write_tx(engine) as conn:
            add_session(conn, SID)
            add_session(conn, OTHER)
        with read_tx(engine) as conn:
            products = {r.id: r for r in conn.execute(select(Product.__table__))}
            variants: dict[int, list[Any]] = {}
            for v in conn.execute(select(Variant.__table__).order_by(Variant.id)):
                variants.setdefault(v.product_id, []).append(v)
            categories = {r.id: r for r in conn.execute(select(Category.__table__))}
        yield World(engine, SearchIndex.open_or_build(engine, None), products, variants, categories)
    finally:
        gen.close()


def run(world: World, session: str | None = None, **kw: Any):
    with read_tx(world.engine) as conn:
        return search(conn, world.index, SearchQuery(**kw), session)


def ids(page) -> list[str]:
    return [h.product_id for h in page.hits]


# -- the reference ---------------------------------------------------------------------------


def _subtree(world: World, cid: int) -> set[int]:
    out, frontier = {cid}, [cid]
    while frontier:
        cur = frontier.pop()
        kids = [c.id for c in world.categories.values() if c.parent_id == cur]
        out.update(kids)
        frontier.extend(kids)
    return out


def _effective(world: World, prices: dict[int, int], stock: dict[int, int]):
    return {pk: (min(prices.get(v.id, v.price_cents) for v in vs),
                 any(stock.get(v.id, v.stock) > 0 for v in vs))
            for pk, vs in world.variants.items()}


def _attr_ok(value: Any, wanted: Any) -> bool:
    if value is None:
        return False
    if isinstance(wanted, bool):
        return value is wanted
    if isinstance(wanted, (int, float)):
        return not isinstance(value, (bool, str)) and float(value) == float(wanted)
    return str(value).lower() == wanted.lower()


def reference(world: World, q: SearchQuery, prices: dict[int, int], stock: dict[int, int],
              ranking: list[int] | None = None):
    """(total, match_mode, [(product id, price, in stock, score)]) computed by brute force;
    ``ranking``, if given, receives every matching product key in order.

    Only the BM25 scores of the text alone come from the engine; matching sets, filters with
    effective values, the fallback, sorting and paging are all recomputed here.
    """
    eff = _effective(world, prices, stock)
    cat = None
    if q.category is not None:
        cat = next(c for c in world.categories.values() if c.slug == q.category)
    scope = _subtree(world, cat.id) if cat else set(world.categories)

    def passes(p: Any) -> bool:
        price, stocked = eff[p.id]
        return all((
            p.category_id in scope,
            q.brand is None or p.brand.lower() == q.brand.strip().lower(),
            q.min_price_cents is None or price >= q.min_price_cents,
            q.max_price_cents is None or price <= q.max_price_cents,
            q.min_rating is None or p.rating >= q.min_rating,
            stocked or not q.in_stock_only,
            all(_attr_ok(p.attributes.get(k), v) for k, v in q.attributes.items()),
            all(isinstance(p.attributes.get(k), (int, float))
                and not isinstance(p.attributes.get(k), bool) and p.attributes[k] >= v
                for k, v in q.attributes_at_least.items()),
        ))

    words = tokenize(world.index, q.text)
    mode, scores = "all", None
    if q.text.strip():
        if not words:
            return 0, "all", []
        scores = engine_scores(world, words, "all")
        matched = [p for pk, p in world.products.items() if pk in scores and passes(p)]
        if not matched and len(words) > 1:
            mode, scores = "any", engine_scores(world, words, "any")
            matched = [p for pk, p in world.products.items() if pk in scores and passes(p)]
    else:
        matched = [p for p in world.products.values() if passes(p)]
    sort = "popularity" if q.sort == "relevance" and scores is None else q.sort
    count = lambda p: min(p.rating_count, (1 << 26) - 1)  # noqa: E731
    keys = {
        "relevance": lambda p: (-scores[p.id], p.id),  # type: ignore[index]
        "price_asc": lambda p: (eff[p.id][0], p.id),
        "price_desc": lambda p: (-eff[p.id][0], p.id),
        "rating": lambda p: (-rating_milli(p.rating), -count(p), p.id),
        "popularity": lambda p: (-count(p), -rating_milli(p.rating), p.id),
    }
    matched.sort(key=keys[sort])
    if ranking is not None:
        ranking.extend(p.id for p in matched)
    start = (q.page - 1) * q.page_size
    rows = [(product_id(p.id), eff[p.id][0], eff[p.id][1],
             None if sort != "relevance" else round(scores[p.id], 4))  # type: ignore[index]
            for p in matched[start:start + q.page_size]]
    return len(matched), mode, rows


def engine_scores(world: World, words: list[Any], mode: str) -> dict[int, float]:
    searcher = world.index.searcher
    hits = searcher.search(text_query(world.index, words, mode), limit=N_PRODUCTS).hits
    pks = searcher.fast_field_values("pk", [a for _, a in hits])
    return {pk: score for (score, _), pk in zip(hits, pks, strict=True)}  # type: ignore[misc]


def observed(page) -> tuple[int, str, list[tuple[str, int, bool, float | None]]]:
    return page.total, page.match_mode, [
        (h.product_id, h.price_cents, h.in_stock, h.score) for h in page.hits]


# -- text ------------------------------------------------------------------------------------


def _reference_match(world: World, pk: int, words: list[Any]) -> bool:
    """Whether every word occurs in some field, by re-analysing the product's text."""
    p, stem = world.products[pk], world.index.analyzer.analyze
    cat = world.categories[p.category_id]
    tag_text = [p.brand, cat.path.replace(">", " ")]
    for name, value in p.attributes.items():
        spec = next(s for s in cat.attribute_specs if s["name"] == name)
        if value is True:
            tag_text.append(spec["label"])
        elif isinstance(value, str):
            tag_text.append(value)
        elif not isinstance(value, bool):
            tag_text.append(f"{value:g} {spec.get('unit', '')}")
    stems = set(stem(p.title)) | set(stem(" ".join(tag_text)))
    plain = set(world.index.plain_analyzer.analyze(p.description))
    return all(w.stem in stems or set(w.forms) & plain for w in words)


@pytest.mark.parametrize("text", [
    "headphones", "headphone", "HEADPHONES!!", "wireless headphones", "noise cancelling",
    "dinosaurs", "dinosaur building sets", "sonix", "kōto", "caffè uno espresso", "great sound",
    "running shoe", "audio", "8 h", "x100", "travel gift",
])
def test_text_matching_follows_the_words(world: World, text: str) -> None:
    words = tokenize(world.index, text)
    scores = engine_scores(world, words, "all")
    expected = {pk for pk in world.products if _reference_match(world, pk, words)}
    assert set(scores) == expected
    page = run(world, text=text, page_size=50)
    assert page.match_mode == "all" and page.total == len(expected)


def test_stemming_and_plural_forms(world: World) -> None:
    assert run(world, text="headphone").total == run(world, text="Headphones").total > 0
    assert word_forms("battery") == ("battery", "batteries")
    assert word_forms("shoes") == ("shoes", "shoe")


def test_relevance_orders_by_score_then_key(world: World) -> None:
    page = run(world, text="wireless headphones", page_size=50)
    keys = [(-h.score, h.product_id) for h in page.hits]
    assert keys == sorted(keys) and page.hits[0].score > 0


def test_any_word_fallback(world: World) -> None:
    page = run(world, text="sonix dinosaurs")
    assert page.match_mode == "any" and page.total > 0
    assert run(world, text="sonix headphones").match_mode == "all"
    assert run(world, text="zzzqqq").total == 0


def test_browse_is_popularity(world: World) -> None:
    assert ids(run(world, page_size=20)) == ids(run(world, sort="popularity", page_size=20))
    assert run(world).total == N_PRODUCTS


# -- filters ---------------------------------------------------------------------------------


def test_filters(world: World) -> None:
    audio = run(world, category="electronics/audio", page_size=50)
    parts = [run(world, category=f"electronics/audio/{leaf}").total
             for leaf in ("headphones", "speakers")]
    assert audio.total == sum(parts) == run(world, category="Electronics").total
    assert run(world, category="Electronics > Audio > Headphones").total == parts[0]
    assert run(world, category="headphones").total == parts[0]
    assert all(h.category.startswith("Electronics > Audio") for h in audio.hits)
    assert run(world, brand="sonix").total == run(world, brand="  SONIX ").total > 0
    cheap = run(world, max_price_cents=3000, min_price_cents=1000, page_size=50)
    assert cheap.total and all(1000 <= h.price_cents <= 3000 for h in cheap.hits)
    assert all(h.rating >= 4.5 for h in run(world, min_rating=4.5, page_size=50).hits)
    stocked = run(world, in_stock_only=True, page_size=50)
    assert 0 < stocked.total < N_PRODUCTS and all(h.in_stock for h in stocked.hits)


def test_attribute_filters(world: World) -> None:
    def count(**attrs: Any) -> int:
        return sum(all(_attr_ok(p.attributes.get(k), v) for k, v in attrs.items())
                   for p in world.products.values())

    assert run(world, attributes={"noise_cancelling": True}).total == count(noise_cancelling=True)
    assert run(world, attributes={"noise_cancelling": "yes"}).total == count(noise_cancelling=True)
    assert run(world, attributes={"theme": "Dinosaurs"}).total == count(theme="dinosaurs") > 0
    assert run(world, attributes={"battery_hours": 30}).total == count(battery_hours=30) > 0
    assert run(world, attributes={"type": "french press"}).total == count(type="french press")
    at_least = run(world, attributes_at_least={"battery_hours": 40}, page_size=50)
    assert at_least.total == sum(
        p.attributes.get("battery_hours", -1) >= 40 for p in world.products.values())


@pytest.mark.parametrize("kw, fragment", [
    ({"category": "electronics/audio/headphone"}, "electronics/audio/headphones"),
    ({"category": "audio/headphones"}, "electronics/audio/headphones"),
    ({"category": "x" * 5000}, "valid slugs"),
    ({"attributes": {"colour": "red"}}, "color"),
    ({"category": "toys", "attributes": {"wireless": True}}, "theme"),
    ({"attributes": {"theme": "robots"}}, "dinosaurs"),
    ({"attributes": {"wireless": "maybe"}}, "true or false"),
    ({"attributes": {"battery_hours": "lots"}}, "a number"),
    ({"attributes_at_least": {"theme": 3}}, "battery_hours"),
    ({"min_price_cents": 500, "max_price_cents": 100}, "above"),
    ({"page": 1000, "page_size": 50}, "too deep"),
])
def test_invalid_input_says_what_is_valid(world: World, kw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidInput) as err:
        run(world, **kw)
    assert fragment in err.value.message and len(err.value.message) < 2000


def test_model_rejects_out_of_range_values() -> None:
    for kw in ({"page": 0}, {"page_size": 51}, {"min_rating": 6}, {"min_price_cents": -1},
               {"sort": "cheapest"}, {"attributes_at_least": {"x": float("nan")}}, {"bogus": 1}):
        with pytest.raises(ValidationError):
            SearchQuery(**kw)


NASTY = [
    "", "   ", '"', '"""', "'", "*", "?", "headphones*", "NEAR", "NEAR/3", "-", "--",
    "-headphones", "AND", "OR", "NOT", "a AND b OR NOT c", "title:headphones", "pk:1", "(((",
    ")))", "[1 TO 5]", "{*}", "\\", "~2", "^3", "headphones^100", "'; DROP TABLE product; --",
    "1; DELETE FROM variant", "🎧", "🎧 headphones 🎧", "\x00", "\x00headphones\x00",
    "\u202etxet", "ｈｅａｄｐｈｏｎｅｓ", "ß" * 50,
    "a" * 39, "a" * 40, "a" * 10_000, "headphones " * 100, "x" * 1_000_000, "\u200b\u200b",
    "<script>alert(1)</script>", "%s %d {0}", "$(rm -rf /)", "ñandú", "日本語のヘッドホン",
]


@pytest.mark.parametrize("text", NASTY, ids=lambda t: repr(t[:20]))
def test_hostile_text_is_just_words(world: World, text: str) -> None:
    page = run(world, text=text, session=SID, category="electronics", in_stock_only=True)
    assert page.total >= len(page.hits) >= 0
    if not text.strip():
        assert page.total == run(world, category="electronics", in_stock_only=True).total
    with read_tx(world.engine) as conn:
        assert conn.execute(select(func.count()).select_from(Product)).scalar() == N_PRODUCTS


@pytest.mark.parametrize("brand", ["'; DROP TABLE product; --", "*", "x" * 100_000, "🎧", "\x00"])
def test_hostile_filter_values(world: World, brand: str) -> None:
    assert run(world, brand=brand).total == 0
    with pytest.raises(InvalidInput):
        run(world, category=brand)
    with pytest.raises(InvalidInput):
        run(world, attributes={brand: True})


# -- per-session overrides -------------------------------------------------------------------


def test_overrides_change_price_stock_and_order(world: World) -> None:
    first = run(world, sort="price_asc", page_size=3)
    cheapest = int(first.hits[0].product_id[2:])
    vs = world.variants[cheapest]
    with write_tx(world.engine) as conn:
        set_overrides(conn, SID, prices={v.id: 999_999 for v in vs}, stock={v.id: 0 for v in vs})
    try:
        mine = run(world, SID, sort="price_asc", page_size=3)
        assert mine.hits[0].product_id != first.hits[0].product_id
        top = run(world, SID, sort="price_desc", page_size=1).hits[0]
        assert (top.product_id, top.price_cents, top.in_stock) == (product_id(cheapest), 999_999,
                                                                    False)
        assert run(world, SID, in_stock_only=True).total == run(world, in_stock_only=True).total - (
            1 if first.hits[0].in_stock else 0)
        assert observed(run(world, OTHER, sort="price_asc", page_size=3)) == observed(first)
    finally:
        with write_tx(world.engine) as conn:
            set_overrides(conn, SID)


def _queries(world_slugs: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    words = ["headphones", "headphone", "wireless", "noise", "cancelling", "sonix", "pulse",
             "dinosaurs", "space", "coffee", "espresso", "maker", "running", "shoes", "great",
             "sound", "travel", "pro", "ultra", "x100", "zzz", "kōto", "audio", "set", "8", "black"]
    attrs = st.sampled_from([{}] * 6 + [{"noise_cancelling": True}, {"theme": "space"},
                                        {"waterproof": False}, {"battery_hours": 30}])
    return st.fixed_dictionaries({
        "text": st.lists(st.sampled_from(words), max_size=3).map(" ".join),
        "category": st.sampled_from([None, None, None, *world_slugs]),
        "brand": st.sampled_from([None] * 6 + ["Sonix", "pulse", "Blockly", "nobody"]),
        "min_price_cents": st.sampled_from([None] * 3 + [0, 1500, 3000, 5000]),
        "max_price_cents": st.sampled_from([None] * 3 + [4000, 6000, 9000, 15_000]),
        "min_rating": st.sampled_from([None, None, None, 1.0, 2.5, 3.0, 4.5]),
        "in_stock_only": st.booleans(),
        "attributes": attrs,
        "attributes_at_least": st.sampled_from([{}] * 4 + [{"battery_hours": 20}]),
        "sort": st.sampled_from(["relevance"] * 4 + ["price_asc", "price_desc", "rating",
                                                      "popularity"]),
        "page": st.integers(1, 4), "page_size": st.integers(1, 12),
    })


SLUGS = ["electronics", "electronics/audio", "electronics/audio/headphones", "toys",
         "toys/building-sets", "home/kitchen/coffee-makers", "clothing/running-shoes"]


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_search_with_overrides_equals_brute_force(world: World, data: st.DataObject) -> None:
    """Hits, order, totals and pages are those of an index built with the session's values.

    Overrides are drawn mostly on products near the query's page in the catalog's own ranking,
    where they move products in and out of the page, the filters and the total.
    """
    kw = data.draw(_queries(SLUGS), label="query")
    if kw["min_price_cents"] is not None and kw["max_price_cents"] is not None:
        kw["min_price_cents"], kw["max_price_cents"] = sorted(
            (kw["min_price_cents"], kw["max_price_cents"]))
    query = SearchQuery(**kw)
    ranking: list[int] = []
    reference(world, query, {}, {}, ranking)
    near = ranking[: query.page * query.page_size + 3]
    pool = [v.id for pk in near for v in world.variants[pk]] or [world.variants[1][0].id]
    every = [v.id for vs in world.variants.values() for v in vs]
    variant = st.sampled_from(pool) | st.sampled_from(every)
    prices = data.draw(st.dictionaries(variant, st.integers(99, 15_000), max_size=12),
                       label="prices")
    stock = data.draw(st.dictionaries(variant, st.integers(0, 3), max_size=12), label="stock")
    with write_tx(world.engine) as conn:
        set_overrides(conn, SID, prices=prices, stock=stock)
    try:
        try:
            got = observed(run(world, SID, **kw))
        except InvalidInput:
            scope = world.index.attribute_specs(
                world.index.by_slug[kw["category"]].id if kw["category"] else None)
            assert any(k not in scope for k in [*kw["attributes"], *kw["attributes_at_least"]])
            return
        assert got == reference(world, query, prices, stock)
        touched = {product_id(v // 1000) for v in [*prices, *stock]}
        event(f"mode={got[1]} hits={'some' if got[2] else 'none'}")
        event(f"overridden product on the page: {bool(touched & {h[0] for h in got[2]})}")
        scores = [h[3] for h in got[2] if h[3] is not None]
        event(f"tied scores on the page: {len(scores) != len(set(scores))}")
    finally:
        with write_tx(world.engine) as conn:
            set_overrides(conn, SID)


def test_effective_values_with_foreign_variant_keys(tmp_path: Path) -> None:
    """Variant keys not made by ``variant_key`` still find their product."""
    engine = make_engine("sqlite:///" + str(tmp_path / "k.db"))
    create_schema(engine)
    with write_tx(engine) as conn:
        add_session(conn, SID)
        conn.execute(Variant.__table__.insert(), [  # type: ignore[attr-defined]
            {"id": vid, "product_id": 7, "position": i, "sku": "x", "options": {},
             "price_cents": 500 + i, "stock": 0}
            for i, vid in enumerate((11, 12, 13), start=1)])
        set_overrides(conn, SID, prices={12: 100}, stock={13: 4})
    with read_tx(engine) as conn:
        assert effective_values(conn, SID) == {7: (100, True)}
        assert effective_values(conn, OTHER) == {}


def test_catalog_variant_cache_survives_eviction(world: World) -> None:
    cache = CatalogVariants(limit=2)
    a, b, c = (world.variants[pk][0].id for pk in (1, 2, 3))
    with read_tx(world.engine) as conn:
        for keys in ({a}, {a, b}, {b, c}, {a, c}, {a, b, c}, {c}):
            got = cache(conn, keys)
            assert set(got) == {k // 1000 for k in keys}
            for pk, rows in got.items():
                assert rows == tuple((v.id, v.price_cents, v.stock) for v in world.variants[pk])


def test_session_values_without_overrides_equal_catalog(world: World) -> None:
    for kw in ({"text": "headphones"}, {"sort": "price_desc"}, {"in_stock_only": True}):
        assert observed(run(world, SID, **kw)) == observed(run(world, None, **kw)) == (
            reference(world, SearchQuery(**kw), {}, {}))


# -- similar and categories ------------------------------------------------------------------


def test_similar(world: World) -> None:
    pk = next(pk for pk, p in world.products.items() if p.category_id == 3)
    with read_tx(world.engine) as conn:
        hits = similar(conn, world.index, pk, None, in_stock_only=False, limit=50)
        again = similar(conn, world.index, pk, None, in_stock_only=False, limit=50)
    assert hits == again and 0 < len(hits) <= 50
    assert product_id(pk) not in ids_of(hits)
    assert all(h.category == "Electronics > Audio > Headphones" for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    with read_tx(world.engine) as conn:
        with pytest.raises(NotFound):
            similar(conn, world.index, 10_000_000, None)
        with pytest.raises(InvalidInput):
            similar(conn, world.index, pk, None, limit=0)


def ids_of(hits) -> list[str]:
    return [h.product_id for h in hits]


def test_similar_uses_session_prices_and_stock(world: World) -> None:
    pk = next(pk for pk, p in world.products.items() if p.category_id == 6)
    with read_tx(world.engine) as conn:
        before = similar(conn, world.index, pk, SID, cheaper_than_cents=4000, limit=50)
    assert before and all(h.price_cents < 4000 and h.in_stock for h in before)
    target = int(before[0].product_id[2:])
    other = next(p for p, q in world.products.items()
                 if q.category_id == 6 and p != pk and q.price_min_cents >= 4000)
    with write_tx(world.engine) as conn:
        set_overrides(conn, SID, prices={world.variants[other][0].id: 100},
                      stock={v.id: 0 for v in world.variants[target]}
                      | {world.variants[other][0].id: 5})
    try:
        with read_tx(world.engine) as conn:
            after = ids_of(similar(conn, world.index, pk, SID, cheaper_than_cents=4000, limit=50))
        assert product_id(target) not in after and product_id(other) in after
    finally:
        with write_tx(world.engine) as conn:
            set_overrides(conn, SID)


def test_category_tree_counts(world: World) -> None:
    with read_tx(world.engine) as conn:
        from_index, from_db = category_tree(conn, world.index), category_tree(conn)
    assert from_index == from_db
    assert [n.slug for n in from_db] == ["electronics", "toys", "home", "clothing"]
    assert sum(n.product_count for n in from_db) == N_PRODUCTS
    kitchen = from_db[2].children[0]
    assert kitchen.slug == "home/kitchen"
    assert kitchen.children[0].slug == "home/kitchen/coffee-makers"


# -- the index itself ------------------------------------------------------------------------


def test_index_is_one_segment_in_key_order(world: World) -> None:
    index = world.index
    assert index.pk_ordered and index.num_docs == N_PRODUCTS
    hits = index.searcher.search(search_pkg.index.tantivy.Query.all_query(), limit=N_PRODUCTS).hits
    pks = index.searcher.fast_field_values("pk", [a for _, a in hits])
    assert pks == sorted(world.products)


def test_index_directory_is_built_once_and_shared(world: World, tmp_path: Path) -> None:
    built: list[SearchIndex] = []
    threads = [threading.Thread(target=lambda: built.append(
        SearchIndex.open_or_build(world.engine, tmp_path))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 3
    with read_tx(world.engine) as conn:
        fingerprint = conn.execute(select(search_pkg.index.CatalogInfo.fingerprint)).scalar()
    home = tmp_path / fingerprint
    meta = json.loads((home / "search_meta.json").read_text())
    assert meta["version"] == INDEX_VERSION and meta["product_count"] == N_PRODUCTS
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == [fingerprint]
    stamp = (home / "search_meta.json").stat().st_mtime_ns
    reopened = SearchIndex.open_or_build(world.engine, tmp_path)
    assert (home / "search_meta.json").stat().st_mtime_ns == stamp
    with read_tx(world.engine) as conn:
        for kw in ({"text": "wireless headphones"}, {"sort": "rating", "category": "toys"}):
            q = SearchQuery(**kw)
            assert search(conn, reopened, q) == search(conn, world.index, q)
    for stale in ({"version": -1}, {"probe": "another catalog, same fingerprint"}):
        (home / "search_meta.json").write_text(json.dumps({**meta, **stale}))
        rebuilt = SearchIndex.open_or_build(world.engine, tmp_path)
        assert rebuilt.num_docs == N_PRODUCTS
        assert json.loads((home / "search_meta.json").read_text()) == meta | {
            "build_seconds": json.loads((home / "search_meta.json").read_text())["build_seconds"]}


def test_concurrent_searches_share_one_index(world: World) -> None:
    queries = [{"text": "headphones"}, {"category": "toys", "sort": "price_asc"},
               {"text": "wireless sound", "in_stock_only": True}, {"sort": "rating", "page": 2}]
    expected = [observed(run(world, SID, **kw)) for kw in queries]
    results: list[list[Any]] = []

    def worker() -> None:
        results.append([observed(run(world, SID, **kw)) for kw in queries * 5])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected * 5] * 4


def test_public_api_is_exported() -> None:
    assert sorted(search_pkg.__all__) == search_pkg.__all__
    for name in search_pkg.__all__:
        assert getattr(search_pkg, name) is not None
