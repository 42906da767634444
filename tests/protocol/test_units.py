"""A call and its trace record are one unit of work: they commit together, in commit order,
on both backends; and the hot-path SQL on the driver connection behaves as SQLAlchemy's did."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from mcp import Client
from sqlalchemy import Engine

from mcp_shop import Shop
from mcp_shop.db import read_tx, unit_tx, write_tx
from mcp_shop.server import app as server_app
from mcp_shop.server import build_server
from mcp_shop.sql import Sql, fetch_all, fetch_one, run
from tests.mcp_shop.helpers import find_variants

CONCURRENT = 24


def _lines(shop: Shop, sid: str) -> dict[str, int]:
    return {line.variant_id: line.quantity for line in shop.view_cart(sid).lines}


async def test_concurrent_calls_on_one_session_are_numbered_in_commit_order(shop: Shop) -> None:
    """Many add_to_cart calls at once on one session, in worker threads: the k-th record
    in the trace is the call whose change committed k-th, so the item counts its results
    show climb one by one."""
    server = build_server(shop, offload=True, db_threads=8)
    sid = shop.open_session(seed=41).session_id
    variants = find_variants(shop, sid, min_stock=CONCURRENT, count=3)
    async with Client(server) as client:
        results = await asyncio.gather(*[
            client.call_tool("add_to_cart", {"session_id": sid, "variant_id": variants[i % 3],
                                             "quantity": 1})
            for i in range(CONCURRENT)])
    assert [r.content[0].text for r in results if r.is_error] == []  # type: ignore[union-attr]
    trace = [r for r in shop.trace(sid) if r.tool == "add_to_cart"]
    assert len(trace) == CONCURRENT
    assert [rec.result["item_count"] for rec in trace] == list(range(1, CONCURRENT + 1))
    assert _lines(shop, sid) == {v: CONCURRENT // 3 for v in variants}


async def test_a_call_whose_record_fails_changes_nothing(
        shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the trace record cannot be written, the call's change is rolled back with it: the
    client gets a tool error, the cart is as before, and the next call works."""
    server = build_server(shop)
    sid = shop.open_session(seed=42).session_id
    variant = find_variants(shop, sid, min_stock=2)[0]
    before = shop.snapshot(sid)

    def broken(*_: Any, **__: Any) -> int:
        raise RuntimeError("disk full")

    async with Client(server) as client:
        with monkeypatch.context() as m:
            m.setattr(server_app, "record_call", broken)
            failed = await client.call_tool("add_to_cart", {"session_id": sid,
                                                            "variant_id": variant})
        assert failed.is_error
        assert shop.snapshot(sid) == before
        ok = await client.call_tool("add_to_cart", {"session_id": sid, "variant_id": variant})
    assert not ok.is_error
    assert _lines(shop, sid) == {variant: 1}
    tail = [(r.tool, r.ok, r.error_code) for r in shop.trace(sid)]
    assert tail == [("add_to_cart", False, "internal_error"), ("add_to_cart", True, None)]


async def test_the_result_sent_is_the_result_recorded(shop: Shop) -> None:
    """The structured content, its JSON text and the trace record are the same value."""
    import json

    server = build_server(shop)
    sid = shop.open_session(seed=43).session_id
    variant = find_variants(shop, sid)[0]
    async with Client(server) as client:
        result = await client.call_tool("add_to_cart", {"session_id": sid, "variant_id": variant,
                                                        "quantity": 1})
    record = shop.trace(sid)[-1]
    assert json.loads(result.content[0].text) == result.structured_content  # type: ignore[union-attr]
    assert record.result == result.structured_content
    assert record.result_digest == server_app.digest(result.structured_content)[1]
    assert result.structured_content == shop.view_cart(sid).model_dump(mode="json")


def _count(engine: Engine, sid: str) -> int:
    with read_tx(engine) as conn:
        return int(fetch_one(conn, Sql("SELECT count(*) FROM trace_event WHERE session_id = ?"),
                             (sid,))[0])


def test_transactions_inside_a_unit_join_it(shop: Shop) -> None:
    """Reads and writes inside ``unit_tx`` see its uncommitted changes and commit with it;
    an error anywhere in it rolls all of it back."""
    sid = shop.open_session(seed=44).session_id
    variant = find_variants(shop, sid, min_stock=5)[0]
    with unit_tx(shop.engine) as conn:
        shop.add_to_cart(sid, variant, 2)            # a write_tx, joined
        assert _lines(shop, sid) == {variant: 2}     # a read_tx, joined: sees the change
        with write_tx(shop.engine) as inner:
            assert inner is conn
    assert _lines(shop, sid) == {variant: 2}

    with pytest.raises(LookupError), unit_tx(shop.engine):
        shop.update_cart_item(sid, variant, 5)
        shop.record_call(sid, tool="x", arguments={}, ok=True, latency_ms=0.0)
        raise LookupError("late failure")
    assert _lines(shop, sid) == {variant: 2}
    assert _count(shop.engine, sid) == 0


def test_units_do_not_nest(shop: Shop) -> None:
    with unit_tx(shop.engine), pytest.raises(RuntimeError, match="already open"), \
            unit_tx(shop.engine):
        pass


def test_driver_rows_read_by_position_and_name(shop: Shop) -> None:
    sid = shop.open_session(seed=45).session_id
    sql = Sql("SELECT id AS session_id, seed, clock FROM shop_session WHERE id = ?")
    with read_tx(shop.engine) as conn:
        row = fetch_one(conn, sql, (sid,))
        assert row is not None
        assert row.session_id == row[0] == sid
        assert row.seed == 45
        got_sid, seed, _ = row
        assert (got_sid, seed) == (sid, 45)
        assert fetch_one(conn, sql, ("S-none",)) is None
        assert fetch_all(conn, sql, ("S-none",)) == []
        result = run(conn, sql, (sid,))
        assert result.keys() == ["session_id", "seed", "clock"]
        with pytest.raises(ValueError, match="exactly one row"):
            run(conn, sql, ("S-none",)).scalar_one()
    with write_tx(shop.engine) as conn:
        changed = run(conn, Sql("UPDATE shop_session SET trace_seq = trace_seq WHERE id = ?"),
                      (sid,))
        assert changed.rowcount == 1
        assert changed.all() == []
