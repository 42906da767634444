"""Isolation under load: many sessions shop at once, and every answer each one gets is checked
against that session's own calls; a read that shows anything else (another session's cart
line or quantity, order, customer, discount use or trace record) is counted as a cross-session
read.

Each session has its own seed (so its own customer), its own random cart over a shared pool of
variants (so two sessions often hold the same variant in different quantities), applies a
discount code half the time and checks out half the time. After the run, each session's trace
must list exactly its own calls, and its stock levels must reflect only its own order.
Used by ``bench/isolation.py`` and ``tests/protocol/test_reliability.py``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcp import Client

from mcp_shop import Shop
from mcp_shop.ids import product_of
from tests.protocol.journey import Recorder, assert_trace_matches


@dataclass
class IsolationStats:
    sessions: int = 0
    calls: int = 0
    reads_checked: int = 0
    cross_session_reads: int = 0
    trace_mismatches: int = 0
    state_mismatches: int = 0
    failed_sessions: int = 0  # a session whose calls raised (transport) or were refused
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def faults(self) -> int:
        return (self.cross_session_reads + self.trace_mismatches + self.state_mismatches
                + self.failed_sessions)

    def note(self, what: str) -> None:
        if len(self.problems) < 20:
            self.problems.append(what)


@dataclass
class Own:
    """What one session did, to compare its reads with."""

    session_id: str = ""
    seed: int = 0
    customer: dict[str, Any] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    cart: dict[str, int] = field(default_factory=dict)
    code: str | None = None
    order: str | None = None
    stock_before: dict[str, int] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any], Any]] = field(default_factory=list)


def _lines(cart: dict[str, Any]) -> dict[str, int]:
    return {line["variant_id"]: line["quantity"] for line in cart["lines"]}


async def session(connect: Callable[..., Client], shop: Shop, i: int, variants: list[str],
                  stats: IsolationStats) -> Own | None:
    """Session ``i``: shop and check every read against what this session did (its starting
    stock is read in process, not through a tool)."""
    rng = random.Random(i)
    own = Own()

    def check(ok: bool, what: str) -> None:
        stats.reads_checked += 1
        if not ok:
            stats.cross_session_reads += 1
            stats.note(f"session {i} ({own.session_id}): {what}")

    try:
        async with connect(mode="legacy" if i % 3 == 0 else "2026-07-28") as client:
            call = Recorder(client)
            own.seed = 10_000 + i
            own.session_id = (await call("open_session", seed=own.seed))["session_id"]
            call.session_id = own.session_id
            own.customer = await call("get_customer")
            own.history = [o["order_id"] for o in (await call("list_orders"))["orders"]]
            picked = rng.sample(variants, rng.randint(1, 3))
            for v in picked:
                product = shop.get_product(own.session_id, product_of(v))
                own.stock_before[v] = next(x.stock for x in product.variants
                                           if x.variant_id == v)
            for v in picked:
                q = rng.randint(1, 4)
                own.cart[v] = own.cart.get(v, 0) + q
                cart = await call("add_to_cart", variant_id=v, quantity=q)
                check(_lines(cart) == own.cart, f"cart {_lines(cart)} != own {own.cart}")
            if rng.random() < 0.5:
                own.code = "FREESHIP"
                cart = await call("apply_discount_code", code=own.code)
                check(cart["code"] is not None and cart["code"]["code"] == own.code,
                      f"code {cart['code']} != own {own.code}")
            await asyncio.sleep(0)  # let other sessions interleave
            cart = await call("view_cart")
            check(_lines(cart) == own.cart, f"cart {_lines(cart)} != own {own.cart}")
            check((cart["code"] or {}).get("code") == own.code, f"code {cart['code']}")
            if i % 2 == 0:
                order = await call("checkout", payment_method_id=next(
                    m["payment_method_id"] for m in own.customer["payment_methods"]
                    if m["kind"] == "card"))
                own.order = order["order_id"]
                check(_lines(order) == own.cart, f"order lines {_lines(order)} != {own.cart}")
                check(order["discount_code"] == own.code, f"order code {order['discount_code']}")
            listed = [o["order_id"] for o in (await call("list_orders"))["orders"]]
            mine = own.history + ([own.order] if own.order else [])
            check(sorted(listed) == sorted(mine), f"orders {listed} != own {mine}")
            again = await call("get_customer")
            check(again == own.customer, "customer changed between reads")
            own.calls = call.calls
    except Exception as exc:  # noqa: BLE001 - counted, with the reason
        stats.failed_sessions += 1
        stats.note(f"session {i}: {type(exc).__name__}: {str(exc)[:200]}")
        return None
    return own


def verify(shop: Shop, owns: list[Own], stats: IsolationStats) -> None:
    """Each session's trace is exactly its calls; its stock reflects only its own order; the
    customer it read is the one its own seed opens (customer ids are per session, so two
    sessions may show the same id: the whole record is compared with a twin's)."""
    for own in owns:
        twin = shop.open_session(seed=own.seed).session_id
        if shop.get_customer(twin).model_dump(mode="json") != own.customer:
            stats.cross_session_reads += 1
            stats.note(f"{own.session_id}: read a customer its seed does not open")
        try:
            assert_trace_matches(shop.trace(own.session_id), own.calls)
        except AssertionError as exc:
            stats.trace_mismatches += 1
            stats.note(f"{own.session_id}: trace: {str(exc)[:200]}")
        for v, before in own.stock_before.items():
            product = shop.get_product(own.session_id, product_of(v))
            now = next(x.stock for x in product.variants if x.variant_id == v)
            sold = own.cart.get(v, 0) if own.order else 0
            if now != before - sold:
                stats.state_mismatches += 1
                stats.note(f"{own.session_id}: stock of {v} {now} != {before} - {sold}")


async def run_sessions(connect: Callable[..., Client], shop: Shop, *, sessions: int,
                       concurrency: int, variants: list[str], first: int = 0) -> IsolationStats:
    """``sessions`` sessions, ``concurrency`` at a time, then :func:`verify`; ``connect(mode=)``
    opens a client."""
    stats = IsolationStats()
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> Own | None:
        async with gate:
            return await session(connect, shop, i, variants, stats)

    started = time.perf_counter()
    owns = [o for o in await asyncio.gather(*(one(first + i) for i in range(sessions)))
            if o is not None]
    stats.seconds = time.perf_counter() - started
    stats.sessions = len(owns)
    stats.calls = sum(len(o.calls) for o in owns)
    if len({o.session_id for o in owns}) != len(owns):
        stats.state_mismatches += 1
        stats.note("two sessions got the same handle")
    verify(shop, owns, stats)
    return stats
