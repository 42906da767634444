"""Build a task's world in a fresh session, and apply scenario events as turns pass.

This is the environment's privileged side: it uses the shop's Python API directly (the agent
only ever reaches the shop through MCP).
"""

from __future__ import annotations

from mcp_shop import Shop
from verifiers.types import ScenarioEvent, World

__all__ = ["apply_event", "build_world"]


def build_world(shop: Shop, world: World) -> str:
    """Open a session set up as ``world`` describes and return its handle.

    Order: the seeded session (customer, codes, ``history_orders`` past orders), stock and price
    overrides, extra codes, the task's past orders (numbered after the seeded history), cart
    lines, then the clock moves by ``advance_hours``.
    """
    sid = shop.open_session(seed=world.session_seed, tier=world.tier,
                            history_orders=world.history_orders).session_id
    if world.stock or world.prices:
        shop.set_overrides(sid, stock=world.stock, prices=world.prices)
    for code in world.codes:
        rules = {k: v for k, v in code.items() if k != "code"}
        shop.add_discount_code(sid, code["code"], **rules)
    for past in world.past_orders:
        shop.add_past_order(sid, past["lines"], days_ago=float(past["days_ago"]),
                            shipping_option=past.get("shipping_option", "standard"),
                            payment_method_id=past.get("payment_method_id"))
    for variant, qty in world.cart.items():
        shop.add_to_cart(sid, variant, qty)
    if world.advance_hours:
        shop.advance_clock(sid, hours=world.advance_hours)
    return sid


def apply_event(shop: Shop, session_id: str, event: ScenarioEvent) -> None:
    """Other shoppers act: stock drains and prices move."""
    shop.set_overrides(session_id, stock=event.stock, prices=event.prices)
