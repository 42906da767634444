"""Every family on a catalog unlike the generated one: the vocabulary read from the database,
option roles by name and values, which families a catalog supports, and tasks generated on the
foreign store (tests/episodes/foreign_catalog.py) that speak its words."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from episodes.families.support import family_support
from episodes.families.vocabulary import catalog_vocabulary, leaf_nouns, option_role
from episodes.generate import generate_task
from tests.episodes.foreign_catalog import build_foreign


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from mcp_shop.db import make_engine
    from mcp_shop.shop import Shop

    url = build_foreign(tmp_path_factory.mktemp("foreign") / "foreign.db")
    shop = Shop(make_engine(url), index_dir=None)
    yield shop
    shop.engine.dispose()


@pytest.mark.parametrize(("name", "values", "role"), [
    ("Größe", (), "size"), ("Taille", (), "size"), ("Size", (), "size"),
    ("Farbe", (), "color"), ("Colour", (), "color"), ("Couleur", (), "color"),
    ("Variante", ("S", "M", "XL"), "size"), ("Style", ("Rot", "Blau", "Schwarz"), "color"),
    ("Pack", ("1", "2", "4"), None), ("bag_size", (), None), ("width", ("W", "XW"), None),
])
def test_option_role(name: str, values: tuple[str, ...], role: str | None) -> None:
    assert option_role(name, values) == role


def test_leaf_nouns() -> None:
    assert leaf_nouns("Candles") == ("candles", "a candle", ("Candle", "Candles"))
    assert leaf_nouns("Shirts & Tops")[1] == "a shirt"
    assert leaf_nouns("Trousers")[1] == "trousers"
    assert leaf_nouns("Clothing")[1] == "a clothing item"


def test_foreign_vocabulary_and_support(foreign: Any) -> None:
    vocab = catalog_vocabulary(foreign.engine, foreign.catalog.fingerprint)
    shirts = vocab.leaf("apparel-accessories/clothing/shirts-tops")
    assert shirts.role_option("size") is not None and shirts.role_option("size").name == "Größe"
    assert shirts.role_option("color").name == "Farbe"
    assert shirts.role_option("size").values == ("S", "M", "L", "XL")
    candles = vocab.leaf("home-garden/decor/candles")
    burn = candles.attr("burn_time")
    assert burn is not None and burn.type == "int" and burn.unit == "hours"
    assert candles.option("Pack").role is None
    support = family_support(vocab)
    assert all(s.supported for s in support.values())
    assert any("no gift bundles" in n for n in support["bundle"].notes)


@pytest.mark.parametrize("family", ["discovery", "exchange", "bundle", "policy", "substitution"])
def test_foreign_tasks_use_its_words(foreign: Any, family: str) -> None:
    texts = " ".join(generate_task(foreign, family, d, s).opening
                     for d in (2, 6) for s in range(3))
    assert texts
    for word in ("headphones", "toy", "Electronics"):
        assert word not in texts


def _play(shop: Any, agent: Any, tasks: list[Any]) -> list[dict[str, Any]]:
    import anyio

    from episodes.controller import EpisodeController

    async def run() -> list[dict[str, Any]]:
        async with EpisodeController(shop) as controller:
            return list(await controller.run(agent, tasks, concurrency=4))

    return anyio.run(run)


def test_oracle_solves_every_family_on_the_foreign_store(foreign: Any) -> None:
    """The gold solution of every family, difficulties 0-10, seed 0, solves its task."""
    from episodes.agents import OracleAgent
    from episodes.generate import families

    tasks = [generate_task(foreign, f, d, 0) for f in families() for d in range(11)]
    records = _play(foreign, OracleAgent(), tasks)
    failed = [(r["task_id"], r["reward"]) for r in records if not r["success"]]
    assert len(records) == 12 * 11 and not failed


def test_heuristic_reads_the_foreign_category_words(foreign: Any) -> None:
    """On a catalog that is not the generated one the heuristic reads the category tree once
    and then searches by the store's own category."""
    from episodes.agents.heuristic import HeuristicAgent

    tasks = [generate_task(foreign, "discovery", 0, s) for s in range(4)]
    records = _play(foreign, HeuristicAgent(), tasks)
    by_store_category = 0
    for record in records:
        calls = [c["function"] for m in record["messages"] for c in m.get("tool_calls") or []]
        names = [c["name"] for c in calls]
        assert names.count("list_categories") == 1, record["task_id"]
        later = [c["arguments"] for c in calls[names.index("list_categories"):]
                 if c["name"] == "search_products"]
        by_store_category += any(f'"category": "{d}' in a for a in later
                                 for d in ("apparel-", "home-garden", "grocery-gourmet"))
    assert by_store_category >= 1
    assert all(r["success"] for r in records)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Three candles in one leaf: no similar product of another leaf, no options, no kits."""
    from mcp_shop.db import make_engine
    from mcp_shop.importers.core import import_catalog
    from mcp_shop.importers.records import SourceProduct, SourceVariant, Where
    from mcp_shop.shop import Shop

    path = tmp_path_factory.mktemp("tiny") / "tiny.db"
    src = path.with_name("tiny.src")
    src.write_text("tiny\n")
    records = [SourceProduct(key=f"c{i}", where=Where("tiny.src", i + 1), title=f"Glow Candle {i}",
                             brand="Glow", description="A candle.",
                             category_path=("Home & Garden", "Decor", "Candles"),
                             attributes={"Burn Time": f"{20 + 10 * i} hours"},
                             variants=(SourceVariant(f"C{i}", {}, 1500 + 500 * i,
                                                     stock=(3, 1, 0)[i]),))
               for i in range(3)]
    engine = make_engine(f"sqlite:///{path}")
    import_catalog(engine, lambda _: iter(records), [str(src)], seed=1)
    engine.dispose()
    shop = Shop(make_engine(f"sqlite:///{path}"), index_dir=None)
    yield shop
    shop.engine.dispose()


def test_a_catalog_says_what_it_cannot_support(tiny: Any) -> None:
    from episodes.families.support import shop_support, split_supported
    from episodes.generate import UnsupportedFamily

    support = shop_support(tiny)
    assert not support["exchange"].supported and "size or colour" in support["exchange"].reason
    assert not support["bundle"].supported and "no kits" in support["bundle"].reason
    assert support["cart"].difficulties == (0, 1, 2)  # one product with two units in stock
    assert "the catalog has 1" in support["cart"].reason
    assert support["discovery"].difficulties == tuple(range(21))
    with pytest.raises(UnsupportedFamily) as err:
        generate_task(tiny, "exchange", 0, 0)
    assert err.value.family == "exchange" and "size or colour" in err.value.reason
    with pytest.raises(UnsupportedFamily, match=r"difficulty 5; supported: 0, 1, 2"):
        generate_task(tiny, "cart", 5, 0)
    kept, notes = split_supported(tiny, [("cart", 1, 0), ("cart", 6, 0), ("exchange", 0, 0)])
    assert kept == [("cart", 1, 0)]
    assert notes[0].startswith("skipped cart at difficulty 6: ") and "exchange" in notes[1]
    with pytest.raises(ValueError, match="supports none"):
        split_supported(tiny, [("bundle", 3, 0)])


def test_the_vocabulary_reads_the_same_on_postgresql(foreign: Any, tmp_path: Any,
                                                    pg_reason: str | None) -> None:
    """The foreign store imported on PostgreSQL gives the vocabulary and support of SQLite."""
    from episodes.families.vocabulary import read_vocabulary
    from mcp_shop.db import read_tx
    from tests.conftest import engine_for
    from tests.episodes.foreign_catalog import import_foreign

    gen = engine_for("postgresql", tmp_path, pg_reason)
    engine = next(gen)
    try:
        import_foreign(engine, tmp_path)
        with read_tx(engine) as conn:
            pg = read_vocabulary(conn)
    finally:
        gen.close()
    sqlite = catalog_vocabulary(foreign.engine, foreign.catalog.fingerprint)
    assert pg.leaves == sqlite.leaves and pg.kits == sqlite.kits
    assert (pg.pickable, pg.payment_titles) == (sqlite.pickable, sqlite.payment_titles)
    from episodes.families import support

    assert support._support(pg) == support._support(sqlite)  # not the cache: same fingerprint
