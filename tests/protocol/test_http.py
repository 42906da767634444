"""Streamable HTTP against ``mcp-shop serve --http`` (uvicorn on 127.0.0.1, ephemeral port): the
full journey on 2026-07-28 and legacy connections, ``/health``, a required session_id, and
DNS-rebinding protection with configurable allowed hosts."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
from mcp import Client

from mcp_shop import Shop
from mcp_shop.server import HANDLE_REQUIRED, admin
from tests.conftest import TEST_SEED, TEST_SIZE
from tests.protocol.journey import assert_trace_matches, full_journey
from tests.protocol.procs import ServerProcess


async def test_journey(http_server: ServerProcess, shop_url: str, mode: str) -> None:
    async with Client(http_server.mcp_url, mode=mode) as client:
        assert (client.protocol_version == "2026-07-28") == (mode != "legacy")
        journey = await full_journey(
            client, session_id=None,
            advance_clock=lambda sid, days: admin.advance_clock(shop_url, sid, days=days))
    assert journey.session_id is not None
    assert_trace_matches(admin.read_trace(shop_url, journey.session_id), journey.calls)


async def test_bad_inputs_over_the_wire(http_server: ServerProcess, shop_url: str,
                                        proto_shop: Shop, mode: str) -> None:
    """Over real HTTP: missing and unknown handles, a 1 MB string, FTS syntax, wrong types,
    unknown ids; state unchanged and the next call answered."""
    async with Client(http_server.mcp_url, mode=mode) as client:
        result = await client.call_tool("view_cart", {})
        assert result.is_error and HANDLE_REQUIRED in result.content[0].text
        listing = await client.call_tool("list_orders", {"session_id": "x" * 30})
        assert listing.is_error and "unknown session_id" in listing.content[0].text
        sid = (await client.call_tool("open_session", {})).structured_content["session_id"]
        before = proto_shop.snapshot(sid)
        for tool, args, expected in [
            ("search_products", {"query": "x" * 1_000_000}, "query"),
            ("apply_discount_code", {"code": "y" * 1_000_000}, "code"),
            ("add_to_cart", {"variant_id": "V-000001-1", "quantity": "two"}, "quantity"),
            ("add_to_cart", {"variant_id": "V-999999-1"}, "not_found"),
            ("get_order", {"order_id": "O-424242"}, "not_found"),
        ]:
            bad = await client.call_tool(tool, {**args, "session_id": sid})
            assert bad.is_error and expected in bad.content[0].text, (tool, bad)
            assert len(bad.content[0].text) < 2000
        for query in ["'; DROP TABLE product; --", 'title:"x" AND (', "*"]:
            ok = await client.call_tool("search_products", {"query": query, "session_id": sid})
            assert not ok.is_error
        assert proto_shop.snapshot(sid) == before
        cart = await client.call_tool("view_cart", {"session_id": sid})
        assert not cart.is_error and cart.structured_content["lines"] == []
    trace = admin.read_trace(shop_url, sid)
    assert [t.ok for t in trace] == [True] + [False] * 5 + [True] * 4



def _post(url: str, host: str | None = None, origin: str | None = None,
          raw: bytes | None = None) -> int:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"}}}
    body = raw if raw is not None else json.dumps(initialize).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
    if host:
        request.add_unredirected_header("Host", host)
    if origin:
        request.add_header("Origin", origin)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_health_and_dns_rebinding(http_server: ServerProcess) -> None:
    with urllib.request.urlopen(f"{http_server.base}/health", timeout=5) as response:
        health = json.loads(response.read())
    assert health["status"] == "ok" and health["products"] == TEST_SIZE
    assert _post(http_server.mcp_url) == 200
    assert _post(http_server.mcp_url, host="evil.example.com") == 421
    assert _post(http_server.mcp_url, origin="http://evil.example.com") == 403
    for garbage in [b"not json", b"{", b"[]", b'{"jsonrpc": "2.0", "method": 5}', b"\xff" * 100]:
        assert 400 <= _post(http_server.mcp_url, raw=garbage) < 500
    assert _post(http_server.mcp_url) == 200, "the server answers normally afterwards"


def test_allowed_hosts_are_configurable(shop_url: str, tmp_path: Path) -> None:
    with ServerProcess(["--db", shop_url, "--seed", str(TEST_SEED), "--size", str(TEST_SIZE),
                        "--allowed-host", "shop.test", "--allowed-host", "api.shop.test:*",
                        "--allowed-origin", "https://app.shop.test"],
                       log=tmp_path / "http.log") as proc:
        assert _post(proc.mcp_url, host="shop.test") == 200
        assert _post(proc.mcp_url, host="api.shop.test:8443") == 200
        assert _post(proc.mcp_url, host="shop.test:8443") == 421
        assert _post(proc.mcp_url, host="other.test") == 421
        assert _post(proc.mcp_url, origin="https://app.shop.test") == 200
        assert _post(proc.mcp_url, origin="https://other.test") == 403


def test_idle_connections_outlive_the_clients_keep_alive(http_server: ServerProcess) -> None:
    """D6: the SDK's HTTP client reuses an idle connection for up to 5 s (its pool's
    keep-alive expiry); the server must keep it open longer, so that a client that sends its
    next request on it late (both sides busy under load) is answered instead of finding the
    connection closed under it (``ReadError``). uvicorn's default closed it at 5 s too."""
    expiry = httpx2.Limits().keepalive_expiry
    assert expiry is not None
    address = urlsplit(http_server.base)
    conn = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    try:
        for wait in (0.0, expiry + 1.0):
            time.sleep(wait)  # the same socket, idle past the client's own expiry
            conn.request("GET", "/health")
            response = conn.getresponse()
            assert response.status == 200 and json.loads(response.read())["status"] == "ok"
        assert conn.sock is not None, "one connection served both requests"
    finally:
        conn.close()
