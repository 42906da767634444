"""A generator's look at its task's world before the task is returned: the world is built in a
sandbox (``episodes.world.sandbox``), what the generator checks is read, the gold solution's
consequential call may run once, and everything is rolled back.

The order families use it to check an order's status and its lines' return eligibility and to
quote the real outcome of a return or exchange in the gold messages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from episodes.world import sandbox
from mcp_shop import Shop, orders, products, returns, sessions
from mcp_shop.customers import get_customer
from mcp_shop.errors import ShopError
from mcp_shop.ids import FIRST_ORDER_NUMBER, parse_order_id, parse_product_id
from mcp_shop.views import CustomerView, LineEligibility, OrderView, ProductView
from verifiers.types import World

__all__ = ["FIRST_ORDER_NUMBER", "Action", "Built", "preview_world"]


Action = Callable[[Connection, str], Any]
"""Something to do in the sandboxed session: ``(connection, session_id) -> outcome``."""


@dataclass
class Built:
    """What a sandboxed world showed: the orders asked about, their eligibility, the customer,
    product views with session stock, and the outcome of the action run on it."""

    clock: datetime
    orders: dict[str, OrderView]
    eligibility: dict[str, list[LineEligibility]]
    customer: CustomerView
    products: dict[str, ProductView] = field(default_factory=dict)
    history: list[OrderView] = field(default_factory=list)
    outcome: Any = None
    failure: str | None = None


def preview_world(shop: Shop, world: World, order_ids: Sequence[str] = (), *,
                  product_ids: Sequence[str] = (), action: Action | None = None,
                  history: bool = False) -> Built:
    """Build ``world`` in a sandbox, read what a generator checks, run ``action`` (a shop error
    is kept as ``failure``) and roll everything back."""
    with sandbox(shop, world) as (conn, sid):
        row = sessions.read_session(conn, sid)
        seen = {o: orders.get_order(conn, sid, parse_order_id(o)) for o in order_ids}
        elig = {o: returns.check_return_eligibility(conn, row, parse_order_id(o))
                for o in order_ids}
        built = Built(clock=row.clock, orders=seen, eligibility=elig,
                      customer=get_customer(conn, row))
        for pid in product_ids:
            built.products[pid] = products.get_product(conn, sid, parse_product_id(pid))
        if history:
            built.history = [orders.get_order(conn, sid, FIRST_ORDER_NUMBER + i)
                             for i in range(world.history_orders)]
        if action is not None:
            try:
                built.outcome = action(conn, sid)
            except ShopError as exc:
                built.failure = f"{type(exc).__name__}: {exc}"
    return built
