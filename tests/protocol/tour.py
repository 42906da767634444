"""A tour that calls every tool of the server once or more with valid arguments, in a
realistic session, for the client-conformance tests (jsonschema in memory, the MCP Inspector
over stdio and HTTP).

The tour is a generator of ``(tool, arguments)`` steps that is sent each call's structured
result, so the same tour runs behind any client: :func:`run_tour` drives it with a callable
(sync), :func:`run_tour_async` with a coroutine function. It uses only tools (no Python API):
open a session, browse, fill and change the cart, apply and remove a code, check out and
cancel that order, read the history, return one delivered line and exchange another, read the
policies and state facts from the order. Returns and exchanges need a delivered order inside
its return window in the seeded history; :func:`tour_seed` finds a session seed that has one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any

from mcp_shop.ids import product_of

__all__ = ["NoTour", "Step", "run_tour", "run_tour_async", "tour", "tour_seed"]

Step = tuple[str, dict[str, Any]]
Tour = Generator[Step, Any, None]


class NoTour(LookupError):
    """The session's seeded history has no delivered line to return and another to exchange."""


def tour(seed: int) -> Tour:
    """Every tool with valid arguments, on a session opened with ``seed``."""
    opened = yield "open_session", {"seed": seed}
    sid = opened["session_id"]

    def step(tool: str, **args: Any) -> Step:
        return tool, {**args, "session_id": sid}

    # The history first, so that a seed without a return and an exchange to make fails early.
    history = yield step("list_orders")
    ret, exchange = yield from _return_and_exchange(step, history["orders"])

    customer = yield step("get_customer")
    card = next(m for m in customer["payment_methods"] if m["kind"] == "card")
    yield step("list_categories", depth=2)
    found = yield step("search_products", query="", in_stock_only=True, sort="rating",
                       page_size=10)
    first, second = (h["product_id"] for h in found["hits"][:2])
    product = yield step("get_product", product_id=first)
    yield step("find_similar", product_id=first, limit=3)
    yield step("compare_products", product_ids=[first, second])
    yield step("present_products", product_ids=[first, second],
               message="Two well-rated picks.")

    stocked = max(product["variants"], key=lambda v: v["stock"])
    assert stocked["stock"] >= 2, product
    yield step("add_to_cart", variant_id=stocked["variant_id"], quantity=1)
    yield step("update_cart_item", variant_id=stocked["variant_id"], quantity=2)
    extra = exchange[2]  # in stock: the variant the exchange will ship
    yield step("add_to_cart", variant_id=extra)
    cart = yield step("remove_from_cart", variant_id=extra)
    assert [line["variant_id"] for line in cart["lines"]] == [stocked["variant_id"]]
    cart = yield step("apply_discount_code", code="FREESHIP")
    assert cart["code"]["code"] == "FREESHIP"
    cart = yield step("remove_discount_code")
    assert cart["code"] is None
    yield step("view_cart")
    order = yield step("checkout", payment_method_id=card["payment_method_id"],
                       shipping_option="standard")
    assert order["status"] == "pending"
    cancelled = yield step("cancel_order", order_id=order["order_id"],
                           reason="no_longer_needed")
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"]

    (order_id, line), (_, swap, new_variant) = ret, exchange
    returned = yield step("request_return", order_id=order_id,
                          items=[{"variant_id": line["variant_id"], "quantity": 1}],
                          reason="changed_mind", refund_to="original")
    assert returned["status"]
    yield step("request_exchange", order_id=exchange[0], variant_id=swap["variant_id"],
               new_variant_id=new_variant, reason="wrong_size")
    done = yield step("get_order", order_id=order_id)
    parcel = done["shipments"][0]
    yield step("search_policy", query="return window")
    yield step("state_facts", facts=[
        {"fact": "order_status", "about": order["order_id"], "value": "cancelled"},
        {"fact": "delivered_on", "about": order_id, "value": parcel["delivered_at"]},
        {"fact": "carrier", "about": order_id, "value": parcel["carrier"]},
    ])


def _return_and_exchange(step: Callable[..., Step], orders: list[dict[str, Any]]
                         ) -> Generator[Step, Any, tuple[Any, Any]]:
    """``(order_id, line)`` to return one unit of and ``(order_id, line, new variant)`` to
    exchange, from the delivered orders' eligible lines (two different lines)."""
    lines = []
    for summary in orders:
        if summary["status"] != "delivered":
            continue
        eligibility = yield step("check_return_eligibility", order_id=summary["order_id"])
        lines += [(summary["order_id"], line) for line in eligibility["lines"]
                  if line["eligible"] and line["returnable_quantity"] >= 1]
        if len(lines) >= 2:
            break
    if len(lines) < 2:
        raise NoTour("no delivered orders with two returnable lines")
    for i, (order_id, line) in enumerate(lines[:2]):
        product = yield step("get_product", product_id=product_of(line["variant_id"]))
        spare = [v["variant_id"] for v in product["variants"]
                 if v["variant_id"] != line["variant_id"] and v["stock"] >= 1]
        if spare:
            return lines[1 - i], (order_id, line, spare[0])
    raise NoTour("no returnable line whose product has another variant in stock")


def run_tour(call: Callable[[str, dict[str, Any]], Any], seed: int) -> list[Step]:
    """Drive the tour with ``call(tool, arguments) -> structured result``; the calls made."""
    steps: list[Step] = []
    gen = tour(seed)
    result: Any = None
    try:
        while True:
            tool, args = gen.send(result)
            steps.append((tool, args))
            result = call(tool, args)
    except StopIteration:
        return steps


async def run_tour_async(call: Callable[[str, dict[str, Any]], Awaitable[Any]],
                         seed: int) -> list[Step]:
    """:func:`run_tour` with a coroutine function."""
    steps: list[Step] = []
    gen = tour(seed)
    result: Any = None
    try:
        while True:
            tool, args = gen.send(result)
            steps.append((tool, args))
            result = await call(tool, args)
    except StopIteration:
        return steps


async def tour_seed(call_factory: Callable[[], Any], seeds: range = range(40)) -> int:
    """The first session seed whose history allows the whole tour (a return and an
    exchange), trying each on a fresh session through ``call_factory()``'s call."""
    for seed in seeds:
        try:
            await run_tour_async(call_factory(), seed)
        except NoTour:
            continue
        return seed
    raise NoTour(f"no seed in {seeds} gives a session with a return and an exchange to make")
