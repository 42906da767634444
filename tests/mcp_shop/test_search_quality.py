"""Search quality: a query of a product's brand plus two other words of its title finds the
product in the top 5, for at least 95% of 200 random products of a 10,000-product catalog."""

from __future__ import annotations

import random
import re

import pytest
from sqlalchemy import select

from mcp_shop import Shop
from mcp_shop.catalog import build_catalog
from mcp_shop.ids import product_id
from mcp_shop.models import Product
from mcp_shop.search import SearchQuery
from tests.conftest import engine_for


@pytest.fixture(scope="module")
def big_shop(backend, tmp_path_factory, pg_reason):
    gen = engine_for(backend, tmp_path_factory.mktemp(f"quality-{backend}"), pg_reason)
    engine = next(gen)
    build_catalog(engine, seed=5, size=10_000)
    yield Shop(engine, index_dir=None)
    gen.close()


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.lower())


def test_brand_plus_two_title_words_finds_the_product(big_shop):
    rng = random.Random(2024)
    pks = rng.sample(range(1, 10_001), 200)
    P = Product.__table__  # noqa: N806
    with big_shop.engine.connect() as conn:
        rows = conn.execute(select(P.c.id, P.c.title, P.c.brand).where(P.c.id.in_(pks))
                            .order_by(P.c.id)).all()
    sid = big_shop.open_session(seed=0).session_id
    misses = []
    for pk, title, brand in rows:
        brand_words = set(_words(brand))
        candidates = sorted({w for w in _words(title) if w not in brand_words})
        words = rng.sample(candidates, min(2, len(candidates)))
        query = f"{brand} {' '.join(words)}"
        hits = big_shop.search(sid, SearchQuery(text=query, page_size=5)).hits
        if product_id(pk) not in [h.product_id for h in hits]:
            misses.append((query, title))
    found = 1 - len(misses) / len(rows)
    assert len(rows) == 200
    print(f"top-5 recall: {found:.1%}")
    assert found >= 0.95, f"found {found:.1%}; misses: {misses[:10]}"
