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
