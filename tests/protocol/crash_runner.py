"""Crash loops: shoppers check out concurrently over HTTP while the server is killed with
SIGKILL at a random moment and restarted, cycle after cycle; then every session is compared
with what its client saw.

- a lost order: a checkout the client saw succeed whose order is missing or differs;
- a partial order: an order without lines or payments, whose totals or lines do not add up,
  that does not hold exactly the cart the client filled, or a session whose cart, stock or
  discount use disagrees with its orders (a cart emptied without an order, stock taken for no
  order, a code marked used by no order), or with two orders from one checkout;
- a lost trace record: a call the client saw answered missing from the session's trace.

A call in flight when the server died may have committed or not: both outcomes are accepted,
nothing in between. Used by ``bench/crash_loop.py`` and ``tests/protocol/test_reliability.py``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mcp import Client

from mcp_shop import Shop
from mcp_shop.ids import product_of
from mcp_shop.search import SearchQuery
from tests.protocol.procs import ServerProcess


class ToolRefused(Exception):
    """A tool answered with an error (out of stock, say): the shopper starts a new session."""


@dataclass
class Shopper:
    """What one session's client saw."""

    session_id: str | None = None
    seed: int = 0
    history: set[str] | None = None  # order ids before the session's own (None: not seen)
    cart: dict[str, int] = field(default_factory=dict)  # as the last answered call left it
    acknowledged: list[str] = field(default_factory=list)  # tools of the answered calls
    in_flight: tuple[str, dict[str, Any]] | None = None  # the call the crash cut off
    order: dict[str, Any] | None = None  # the checkout's answer


@dataclass
class CrashStats:
    cycles: int = 0
    sessions: int = 0
    checkouts_acknowledged: int = 0
    checkouts_in_flight: int = 0  # cut off by a kill: either outcome is fine
    in_flight_committed: int = 0
    orders_found: int = 0
    lost_orders: int = 0
    partial_orders: int = 0
    lost_trace_records: int = 0
    corrupt_database: int = 0  # SQLite's integrity check failed
    restart_seconds: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def faults(self) -> int:
        return (self.lost_orders + self.partial_orders + self.lost_trace_records
                + self.corrupt_database)

    def note(self, what: str) -> None:
        if len(self.problems) < 20:
            self.problems.append(what)


def stocked_variants(shop: Shop, count: int = 12) -> list[str]:
    """Variants of distinct products with plenty of stock."""
    sid = shop.open_session(seed=0).session_id
    page = shop.search(sid, SearchQuery(in_stock_only=True, sort="popularity", page_size=50))
    out = []
    for hit in page.hits:
        product = shop.get_product(sid, hit.product_id)
        out += [v.variant_id for v in product.variants if v.stock >= 30][:1]
        if len(out) == count:
            return out
    raise LookupError("too few stocked variants in the catalog")


async def _call(client: Client, s: Shopper, tool: str, **args: Any) -> Any:
    if s.session_id is not None:
        args["session_id"] = s.session_id
    s.in_flight = (tool, args)
    result = await client.call_tool(tool, args)
    s.in_flight = None
    s.acknowledged.append(tool)
    if result.is_error:
        raise ToolRefused(f"{tool}: {getattr(result.content[0], 'text', '')}")
    return result.structured_content


async def shop_once(url: str, rng: random.Random, variants: list[str], s: Shopper) -> None:
    """One session: open, fill a cart (maybe with a code), check out."""
    async with Client(url, mode="legacy" if rng.random() < 0.3 else "2026-07-28") as client:
        s.seed = rng.randrange(2**31)
        s.session_id = (await _call(client, s, "open_session", seed=s.seed))["session_id"]
        s.acknowledged = ["open_session"]
        s.history = {o["order_id"] for o in (await _call(client, s, "list_orders"))["orders"]}
        for v in rng.sample(variants, rng.randint(1, 3)):
            cart = await _call(client, s, "add_to_cart", variant_id=v,
                               quantity=rng.randint(1, 3))
            s.cart = {line["variant_id"]: line["quantity"] for line in cart["lines"]}
        if rng.random() < 0.3:
            await _call(client, s, "apply_discount_code", code="FREESHIP")
        s.order = await _call(client, s, "checkout", payment_method_id="PM-1",
                              shipping_option=rng.choice(["standard", "express", "next_day"]))


async def _shopper_loop(url: str, rng: random.Random, variants: list[str],
                        out: list[Shopper]) -> None:
    while True:
        s = Shopper()
        out.append(s)
        try:
            await shop_once(url, rng, variants, s)
        except ToolRefused:
            continue
        except Exception:  # noqa: BLE001 - the server was killed under this session
            return


async def crash_cycles(server: ServerProcess, *, cycles: int, shoppers: int, variants: list[str],
                       seed: int = 0, warm: int = 4, max_up: float = 1.5,
                       ) -> tuple[list[Shopper], CrashStats]:
    """``cycles`` times: ``shoppers`` concurrent shopping loops; once ``warm`` checkouts of the
    cycle are answered, SIGKILL after a random 0..``max_up`` seconds; restart. The server is
    running when this returns."""
    rng = random.Random(seed)
    seen: list[Shopper] = []
    stats = CrashStats()
    for cycle in range(cycles):
        first = len(seen)
        tasks = [asyncio.create_task(_shopper_loop(server.mcp_url,
                                                   random.Random(rng.random()), variants, seen))
                 for _ in range(shoppers)]
        deadline = time.monotonic() + 60
        while sum(s.order is not None for s in seen[first:]) < warm \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(rng.uniform(0, max_up))
        server.kill()
        await asyncio.wait(tasks, timeout=60)
        for t in tasks:
            t.cancel()
        started = time.perf_counter()
        server.start()
        stats.restart_seconds.append(time.perf_counter() - started)
        stats.cycles = cycle + 1
    return seen, stats


def _stock(shop: Shop, sid: str, variant: str) -> int:
    product = shop.get_product(sid, product_of(variant))
    return next(v.stock for v in product.variants if v.variant_id == variant)


def verify(shop: Shop, seen: list[Shopper], variants: list[str], stats: CrashStats) -> CrashStats:
    """Compare every session with what its client saw (see the module docstring)."""
    if shop.engine.dialect.name == "sqlite":
        with shop.engine.connect() as conn:
            check = conn.exec_driver_sql("PRAGMA integrity_check").scalar()
        if check != "ok":
            stats.corrupt_database += 1
            stats.note(f"integrity_check: {check}")
    fresh = shop.open_session(seed=1).session_id
    base = {v: _stock(shop, fresh, v) for v in variants}
    for s in seen:
        if s.session_id is None:
            continue  # open_session itself was cut off: no handle to look at
        stats.sessions += 1
        sid = s.session_id
        cut = s.in_flight[0] if s.in_flight else None
        history = s.history
        if history is None:  # the same seed opens the same history
            twin = shop.open_session(seed=s.seed).session_id
            history = {o.order_id for o in shop.list_orders(twin)}
        orders = [shop.get_order(sid, o.order_id) for o in shop.list_orders(sid)
                  if o.order_id not in history]
        stats.orders_found += len(orders)
        if s.order is not None:
            stats.checkouts_acknowledged += 1
            if not orders or orders[0].order_id != s.order["order_id"] \
                    or orders[0].total_cents != s.order["total_cents"]:
                stats.lost_orders += 1
                stats.note(f"{sid}: acknowledged order {s.order['order_id']} not found")
        elif cut == "checkout":
            stats.checkouts_in_flight += 1
            stats.in_flight_committed += bool(orders)
        if len(orders) > (1 if (s.order is not None or cut == "checkout") else 0):
            stats.partial_orders += 1
            stats.note(f"{sid}: {len(orders)} orders from {'one' if s.order else 'no'} checkout")
            continue
        ordered: Counter[str] = Counter()
        for order in orders:
            ordered.update({line.variant_id: line.quantity for line in order.lines})
            charged = sum(p.amount_cents for p in order.payments if p.kind == "charge")
            subtotal = sum(line.unit_price_cents * line.quantity for line in order.lines)
            if not order.lines or charged != order.total_cents or subtotal != \
                    order.subtotal_cents or order.total_cents != order.subtotal_cents - \
                    order.discount_cents + order.shipping_cents or dict(ordered) != s.cart:
                stats.partial_orders += 1
                stats.note(f"{sid}: order {order.order_id} does not add up: {order}")
        cart = {line.variant_id: line.quantity for line in shop.view_cart(sid).lines}
        if orders and cart:
            stats.partial_orders += 1
            stats.note(f"{sid}: cart {cart} left after order")
        if not orders and cart != s.cart and not (cut == "add_to_cart" and s.in_flight and
                                                  cart == _plus(s.cart, s.in_flight[1])):
            stats.partial_orders += 1
            stats.note(f"{sid}: cart {cart} emptied or changed without an order "
                       f"(client saw {s.cart}, cut off {cut})")
        for v in variants:
            if _stock(shop, sid, v) != base[v] - ordered.get(v, 0):
                stats.partial_orders += 1
                stats.note(f"{sid}: stock of {v} is not base - ordered")
                break
        used = {r["code"] for r in shop.snapshot(sid)["discount_code"] if r["used"]}
        if used - {o.discount_code for o in orders}:
            stats.partial_orders += 1
            stats.note(f"{sid}: codes {used} used by no order")
        traced = [t.tool for t in shop.trace(sid)]
        if traced[:len(s.acknowledged)] != s.acknowledged or \
                len(traced) > len(s.acknowledged) + (1 if cut else 0):
            stats.lost_trace_records += 1
            stats.note(f"{sid}: trace {traced} vs answered calls {s.acknowledged}")
    return stats


def _plus(cart: dict[str, int], args: dict[str, Any]) -> dict[str, int]:
    out = dict(cart)
    out[args["variant_id"]] = out.get(args["variant_id"], 0) + args.get("quantity", 1)
    return out
