"""The full journey over stdio against ``mcp-shop serve`` in a subprocess, on 2026-07-28 and
legacy connections: once on the default session (session_id omitted), once on a session opened
through the tool. The clock moves and the trace is read through the Python API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from mcp_shop import Shop
from mcp_shop.server import admin
from tests.protocol.journey import assert_trace_matches, full_journey

Params = Callable[..., StdioServerParameters]


async def test_journey_on_the_default_session(stdio_params: Params, proto_shop: Shop,
                                              shop_url: str, mode: str, tmp_path: Path) -> None:
    sid = proto_shop.open_session(seed=21).session_id
    with open(tmp_path / "stderr.log", "w") as errlog:
        async with Client(stdio_client(stdio_params("--session", sid), errlog=errlog),
                          mode=mode) as client:
            assert (client.protocol_version == "2026-07-28") == (mode != "legacy")
            journey = await full_journey(
                client, session_id=None, open_session=False,
                advance_clock=lambda _, days: admin.advance_clock(shop_url, sid, days=days))
    assert_trace_matches(admin.read_trace(shop_url, sid), journey.calls)
    log = (tmp_path / "stderr.log").read_text()
    assert f"default session {sid} (resumed)" in log


async def test_journey_with_open_session(stdio_params: Params, shop_url: str, mode: str,
                                         tmp_path: Path) -> None:
    with open(tmp_path / "stderr.log", "w") as errlog:
        async with Client(stdio_client(stdio_params("--session-seed", "4"), errlog=errlog),
                          mode=mode) as client:
            assert (client.protocol_version == "2026-07-28") == (mode != "legacy")
            journey = await full_journey(
                client, session_id=None,
                advance_clock=lambda sid, days: admin.advance_clock(shop_url, sid, days=days))
    assert journey.session_id is not None
    assert_trace_matches(admin.read_trace(shop_url, journey.session_id), journey.calls)
    assert "default session" in (tmp_path / "stderr.log").read_text()
