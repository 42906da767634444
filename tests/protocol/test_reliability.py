"""The reliability suite, short: fuzzed calls of every tool, a kill -9 during checkouts and
concurrent sessions, on SQLite and PostgreSQL, each asserting the zeros the benchmarks print
(``bench/fuzz_tools.py``, ``bench/crash_loop.py``, ``bench/isolation.py`` run the long versions).
The checks themselves are shown to catch planted faults."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_shop import Shop
from mcp_shop.server import build_server
from tests.conftest import TEST_SEED, TEST_SIZE
from tests.protocol.crash_runner import crash_cycles, stocked_variants, verify
from tests.protocol.fuzz_runner import fuzz, make_world, run_calls
from tests.protocol.isolation_runner import run_sessions
from tests.protocol.procs import ServerProcess
from tests.protocol.raw_http import RawResult, Text

FUZZ_CALLS = 250


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest) -> tuple[Shop, list[str]]:
    """The test catalog's shop on each backend and the ``mcp-shop serve`` arguments for it."""
    common = ["--seed", str(TEST_SEED), "--size", str(TEST_SIZE)]
    if request.param == "sqlite":
        return request.getfixturevalue("proto_shop"), ["--db",
                                                       request.getfixturevalue("shop_url"),
                                                       *common]
    url, schema, index_dir = request.getfixturevalue("pg_shop")
    shop = _pg_shops.get(schema) or Shop.open(url, seed=TEST_SEED, size=TEST_SIZE,
                                              schema=schema, index_dir=index_dir)
    _pg_shops[schema] = shop
    return shop, ["--db", url, "--schema", schema, "--index-dir", str(index_dir), *common]


_pg_shops: dict[str, Shop] = {}


def _zero(stats: Any) -> None:
    """No fault (with the first examples of any, to read)."""
    assert stats.faults == 0, "\n".join(getattr(stats, "examples", None) or stats.problems)


async def test_fuzzed_calls_of_every_tool(served: tuple[Shop, list[str]]) -> None:
    shop, _ = served
    async with Client(build_server(shop, log_level="CRITICAL")) as client:
        stats = await fuzz(client, shop, calls=FUZZ_CALLS, block=200, seed=7)
    _zero(stats)
    assert stats.calls == FUZZ_CALLS
    assert stats.rejected > FUZZ_CALLS / 2 and stats.accepted > FUZZ_CALLS / 10
    assert len(stats.tools) >= 20, "nearly every tool is called in a short run"
    assert stats.addressed > FUZZ_CALLS / 2


@dataclass
class Planted:
    """A stand-in client whose answers carry a planted fault (the real server has none)."""

    shop: Shop
    fault: str

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> RawResult:
        sid = arguments["session_id"]
        if self.fault == "changed":  # refused, yet the cart changed
            self.shop.add_to_cart(sid, arguments["variant_id"], 1)
            self.shop.record_call(sid, tool=name, arguments={}, ok=False,
                                  error_code="out_of_stock", error_message="none left")
            return RawResult(True, [Text(f"Error executing tool {name}: out_of_stock: x")])
        if self.fault == "crashed":
            self.shop.record_call(sid, tool=name, arguments={}, ok=False,
                                  error_code="internal_error", error_message="boom")
            return RawResult(True, [Text(f"Error executing tool {name}")])
        return RawResult(False, [Text("{}")], {})  # answered, never recorded


async def test_fuzz_checks_catch_planted_faults(proto_shop: Shop) -> None:
    """A rejected call that changed state, a crash and a call left out of the trace are each
    counted (so the zeros above mean something)."""
    found = []
    for n, (fault, tool) in enumerate([("changed", "add_to_cart"), ("crashed", "list_orders"),
                                       ("unrecorded", "view_cart")]):
        pools, other = make_world(proto_shop, 99 + n)  # a fresh session for each
        args = {"session_id": pools.handle, "variant_id": pools.variants[0]}
        found.append(await run_calls(Planted(proto_shop, fault), proto_shop, [(tool, args)],
                                     pools, other))
    changed, crashed, unrecorded = found
    assert (changed.rejected_changed_state, changed.faults) == (1, 1), changed.examples
    assert (crashed.internal_errors, crashed.faults) == (1, 1), crashed.examples
    # missing from the trace: counted per call and in the block's order check
    assert (unrecorded.unrecorded, unrecorded.misordered_blocks, unrecorded.faults) == (1, 1, 2)


async def test_kill_during_checkouts_loses_nothing(served: tuple[Shop, list[str]],
                                                   tmp_path: Path) -> None:
    shop, args = served
    variants = stocked_variants(shop)
    with ServerProcess(args, log=tmp_path / "server.log") as server:
        seen, stats = await crash_cycles(server, cycles=1, shoppers=4, variants=variants,
                                         seed=5, warm=3, max_up=0.5)
    verify(shop, seen, variants, stats)
    _zero(stats)
    assert stats.cycles == 1 and stats.checkouts_acknowledged >= 3
    assert stats.orders_found >= stats.checkouts_acknowledged


async def test_crash_checks_catch_a_lost_order(proto_shop: Shop) -> None:
    """An acknowledged checkout whose order is gone, and a cart emptied without an order, are
    counted."""
    from tests.protocol.crash_runner import CrashStats, Shopper

    variants = stocked_variants(proto_shop)
    sid = proto_shop.open_session(seed=3).session_id
    history = {o.order_id for o in proto_shop.list_orders(sid)}
    proto_shop.add_to_cart(sid, variants[0], 1)
    lost = Shopper(session_id=sid, seed=3, history=history, cart={variants[0]: 1},
                   order={"order_id": "O-999", "total_cents": 1})
    stats = verify(proto_shop, [lost], variants, CrashStats())
    assert (stats.lost_orders, stats.faults) == (1, 1), stats.problems
    other = proto_shop.open_session(seed=4).session_id
    emptied = Shopper(session_id=other, seed=4, history=None, cart={variants[1]: 2})
    stats = verify(proto_shop, [emptied], variants, CrashStats())
    assert (stats.partial_orders, stats.faults) == (1, 1), stats.problems


async def test_concurrent_sessions_read_only_their_own(served: tuple[Shop, list[str]]) -> None:
    shop, _ = served
    server = build_server(shop, log_level="WARNING")
    stats = await run_sessions(partial(Client, server), shop, sessions=30,
                               concurrency=15, variants=stocked_variants(shop, 12))
    _zero(stats)
    assert stats.sessions == 30 and stats.reads_checked >= 30 * 5



async def test_unknown_tool_error_stays_short(proto_shop: Shop) -> None:
    """Found by the fuzzer: an unknown tool's 100,000-character name was repeated whole in the
    error answer; it is quoted shortly, like every other input (the trace was bounded)."""
    sid = proto_shop.open_session(seed=61).session_id
    async with Client(build_server(proto_shop, log_level="CRITICAL")) as client:
        result = await client.call_tool("x" * 100_000, {"session_id": sid})
        plain = await client.call_tool("delete_everything", {"session_id": sid})
    text = result.content[0].text
    assert result.is_error and text.startswith("Unknown tool: 'xxx") and len(text) < 300, \
        len(text)
    assert "(100000 characters)" in text
    assert plain.content[0].text == "Unknown tool: delete_everything"
    assert [t.error_code for t in proto_shop.trace(sid)] == ["unknown_tool", "unknown_tool"]
