"""Build a task's world in a fresh session, and apply scenario events as turns pass.

This is the environment's privileged side: it uses the shop's Python API directly (the agent
only ever reaches the shop through MCP).
"""

from __future__ import annotations

from mcp_shop import Shop
from mcp_shop.errors import InvalidInput
from verifiers.types import ScenarioEvent, World

__all__ = ["apply_event", "build_world"]


def build_world(shop: Shop, world: World) -> str:
    """Open a session set up as ``world`` describes and return its handle.

    Order: the seeded session (customer, codes, ``history_orders`` past orders), stock and price
    overrides, extra codes, the task's past orders (numbered after the seeded history), cart
    lines, then the clock moves by ``advance_hours``.
    """
    _check(world)
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


def _check(world: World) -> None:
    """The parts of a world that are free-form dicts, checked before anything is created."""
    for i, code in enumerate(world.codes):
        if not isinstance(code.get("code"), str):
            raise InvalidInput(f"world.codes[{i}] needs a 'code' (text), e.g. {{'code': "
                               "'FLASH15', 'kind': 'percent', 'value': 15}")
    for i, past in enumerate(world.past_orders):
        lines, days = past.get("lines"), past.get("days_ago")
        if not isinstance(lines, dict) or not lines or not all(
                isinstance(k, str) and isinstance(v, int) and v > 0 for k, v in lines.items()):
            raise InvalidInput(f"world.past_orders[{i}].lines must map variant ids to "
                               "quantities >= 1, e.g. {'V-000042-1': 1}")
        if isinstance(days, bool) or not isinstance(days, int | float) or not 0 <= days <= 3650:
            raise InvalidInput(f"world.past_orders[{i}].days_ago must be a number of days "
                               f"from 0 to 3650, got {days!r}")


def apply_event(shop: Shop, session_id: str, event: ScenarioEvent) -> None:
    """Other shoppers act: stock drains and prices move."""
    shop.set_overrides(session_id, stock=event.stock, prices=event.prices)
