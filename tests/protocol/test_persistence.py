"""Persistence: a session on a file database continues after its server process is killed and
restarted; on PostgreSQL two server processes serve one session alternately (and at once)."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

from mcp import Client

from mcp_shop.server import admin
from tests.conftest import TEST_SEED, TEST_SIZE
from tests.protocol.journey import Recorder, assert_trace_matches, returnable
from tests.protocol.procs import ServerProcess


async def _session(url: str, mode: str, session_id: str | None = None) -> Recorder:
    return Recorder(Client(url, mode=mode), session_id)


async def _stocked(call: Recorder, count: int) -> list[str]:
    """Variants with stock, of distinct returnable products, found through the tools."""
    page = await call("search_products", query="", in_stock_only=True, sort="rating",
                      page_size=30)
    out = []
    for hit in page["hits"]:
        product = await call("get_product", product_id=hit["product_id"])
        stocked = [v["variant_id"] for v in product["variants"] if v["stock"] >= 3]
        if stocked and returnable(product):
            out.append(stocked[0])
        if len(out) == count:
            return out
    raise LookupError("not enough stocked variants")


async def test_session_survives_kill_and_restart(shop_url: str, tmp_path: Path) -> None:
    args = ["--db", shop_url, "--seed", str(TEST_SEED), "--size", str(TEST_SIZE)]
    first = ServerProcess(args, log=tmp_path / "first.log").start()
    calls: list[tuple[str, dict[str, Any], Any]] = []
    try:
        async with Client(first.mcp_url) as client:
            call = Recorder(client)
            call.session_id = (await call("open_session", seed=77))["session_id"]
            v1, v2 = await _stocked(call, 2)
            await call("add_to_cart", variant_id=v1, quantity=2)
            calls += call.calls
        sid = call.session_id
    finally:
        first.kill()  # SIGKILL: no shutdown, no flush
    second = ServerProcess(args, log=tmp_path / "second.log").start()
    try:
        async with Client(second.mcp_url, mode="legacy") as client:
            call = Recorder(client, sid)
            cart = await call("view_cart")
            assert [(x["variant_id"], x["quantity"]) for x in cart["lines"]] == [(v1, 2)]
            await call("add_to_cart", variant_id=v2, quantity=1)
            customer = await call("get_customer")
            order = await call("checkout", payment_method_id=customer["payment_methods"][0][
                "payment_method_id"], shipping_option="express")
            assert {x["variant_id"] for x in order["lines"]} == {v1, v2}
            calls += call.calls
    finally:
        second.stop()
    assert_trace_matches(admin.read_trace(shop_url, sid), calls)


def _health(proc: ServerProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"{proc.base}/health", timeout=5) as response:
        return dict(json.loads(response.read()))


async def test_two_processes_serve_one_session(pg_shop: tuple[str, str, Path],
                                               tmp_path: Path) -> None:
    url, schema, index_dir = pg_shop
    args = ["--db", url, "--schema", schema, "--index-dir", str(index_dir),
            "--seed", str(TEST_SEED), "--size", str(TEST_SIZE)]
    procs = [ServerProcess(args, log=tmp_path / f"pg{i}.log").start() for i in range(2)]
    try:
        assert all(_health(p)["backend"] == "postgresql" for p in procs)
        calls: list[tuple[str, dict[str, Any], Any]] = []
        sid: str | None = None
        step = 0

        async def on_next(tool: str, **args: Any) -> Any:
            """One call on the next process in turn, over a fresh connection."""
            nonlocal step, sid
            proc = procs[step % 2]
            mode = "legacy" if step % 3 == 2 else "2026-07-28"
            step += 1
            async with Client(proc.mcp_url, mode=mode) as client:
                call = Recorder(client, sid)
                result = await call(tool, **args)
            calls.extend(call.calls)
            return result

        sid = (await on_next("open_session", seed=8))["session_id"]
        page = await on_next("search_products", query="", in_stock_only=True, page_size=30)
        variants = []
        for hit in page["hits"]:
            product = await on_next("get_product", product_id=hit["product_id"])
            variants += [v["variant_id"] for v in product["variants"] if v["stock"] >= 3][:1]
            if len(variants) == 3:
                break
        await on_next("add_to_cart", variant_id=variants[0], quantity=1)
        cart = await on_next("add_to_cart", variant_id=variants[1], quantity=2)
        assert [x["variant_id"] for x in cart["lines"]] == variants[:2]
        await on_next("update_cart_item", variant_id=variants[0], quantity=3)

        # Both processes at once on the same session: the session lock serialises them.
        async def add(i: int) -> Any:
            async with Client(procs[i].mcp_url) as client:
                return await Recorder(client, sid)("add_to_cart", variant_id=variants[2],
                                                   quantity=1)

        await asyncio.gather(add(0), add(1))
        cart = await on_next("view_cart")
        assert {x["variant_id"]: x["quantity"] for x in cart["lines"]} == {
            variants[0]: 3, variants[1]: 2, variants[2]: 2}
        customer = await on_next("get_customer")
        order = await on_next("checkout", payment_method_id=customer["payment_methods"][0][
            "payment_method_id"])
        history = await on_next("list_orders")
        assert history["orders"][0]["order_id"] == order["order_id"]
        assert (await on_next("get_order", order_id=order["order_id"]))["status"] == "pending"

        trace = admin.read_trace(url, sid, schema=schema)
        concurrent = [t for t in trace if t.tool == "add_to_cart"
                      and t.arguments["variant_id"] == variants[2]]
        assert len(concurrent) == 2 and all(t.ok for t in concurrent)
        assert_trace_matches([t for t in trace if t not in concurrent], calls)
    finally:
        for p in procs:
            p.stop()
