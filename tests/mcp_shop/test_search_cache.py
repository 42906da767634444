"""The catalog-variant cache of session searches (``mcp_shop.search.session.CatalogVariants``):
however much it holds, a call reads only the products it does not hold yet, and answers every
product exactly as the catalog has it, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

import mcp_shop.search.session as search_session
from mcp_shop.db import read_tx
from mcp_shop.models import Variant
from mcp_shop.search.session import CatalogVariants


def _catalog(engine: Engine) -> dict[int, tuple[tuple[int, int, int], ...]]:
    """Product key -> (variant key, price, stock) of its variants, read with Core."""
    V = Variant.__table__  # type: ignore[attr-defined]  # noqa: N806
    out: dict[int, list[tuple[int, int, int]]] = {}
    with read_tx(engine) as conn:
        for pk, vid, price, stock in conn.execute(
                select(V.c.product_id, V.c.id, V.c.price_cents, V.c.stock).order_by(V.c.id)):
            out.setdefault(pk, []).append((vid, price, stock))
    return {pk: tuple(rows) for pk, rows in out.items()}


def test_a_full_cache_reads_only_the_products_it_lacks(
        catalog_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = _catalog(catalog_engine)
    pks = sorted(catalog)
    held, new = pks[:-3], pks[-3:]
    read: list[list[Any]] = []
    fetch_all = search_session.fetch_all

    def spy(conn: Any, sql: Any, params: Any = ()) -> Any:
        read.append(list(params))
        return fetch_all(conn, sql, params)

    cache = CatalogVariants()
    with read_tx(catalog_engine) as conn:
        warm = cache(conn, {rows[0][0] for pk, rows in catalog.items() if pk in held})
        assert warm == {pk: catalog[pk] for pk in held}
        monkeypatch.setattr(search_session, "fetch_all", spy)
        # held products by any of their variants, and three it has never read
        keys = {catalog[held[0]][-1][0], catalog[held[-1]][0][0],
                *(catalog[pk][0][0] for pk in new)}
        got = cache(conn, keys)
        assert read == [new]  # one query, for the missing products only
        assert got == {pk: catalog[pk] for pk in (held[0], held[-1], *new)}
        read.clear()
        assert cache(conn, keys) == got and read == []  # all held now: no query at all
