"""The full journey over an in-memory ``Client``, on 2026-07-28 and legacy connections, with an
explicit session (as over HTTP) and with a default session (as over stdio)."""

from __future__ import annotations

from mcp import Client

from mcp_shop import Shop
from mcp_shop.server import ShopServer, build_server
from tests.protocol.journey import assert_trace_matches, full_journey


async def test_journey_with_open_session(server: ShopServer, proto_shop: Shop, mode: str) -> None:
    async with Client(server, mode=mode) as client:
        assert (client.protocol_version == "2026-07-28") == (mode != "legacy")
        journey = await full_journey(
            client, session_id=None,
            advance_clock=lambda sid, days: proto_shop.advance_clock(sid, days=days))
    assert journey.session_id is not None
    assert_trace_matches(proto_shop.trace(journey.session_id), journey.calls)


async def test_journey_on_the_default_session(proto_shop: Shop, mode: str) -> None:
    sid = proto_shop.open_session(seed=9).session_id
    server = build_server(proto_shop, default_session=sid)
    async with Client(server, mode=mode) as client:
        journey = await full_journey(
            client, session_id=None, open_session=False,
            advance_clock=lambda _, days: proto_shop.advance_clock(sid, days=days))
    assert_trace_matches(proto_shop.trace(sid), journey.calls)


async def test_journey_with_worker_threads(proto_shop: Shop) -> None:
    """The same journey with shop calls in worker threads (the PostgreSQL default)."""
    server = build_server(proto_shop, offload=True)
    assert not build_server(proto_shop).offload, "SQLite runs shop calls on the event loop"
    async with Client(server) as client:
        journey = await full_journey(
            client, session_id=None,
            advance_clock=lambda sid, days: proto_shop.advance_clock(sid, days=days))
    assert_trace_matches(proto_shop.trace(journey.session_id or ""), journey.calls)
