"""Build a task's world in a session, preview it without leaving a session behind, and apply
scenario events as turns pass.

This is the environment's privileged side: it uses the shop's Python API directly (the agent
only ever reaches the shop through MCP). ``build_world`` is the one way a ``World`` becomes a
session: the controller calls it for an episode, and ``sandbox`` calls it inside a unit of work
that is always rolled back, so a generator can look at its world (and act on it) while the
number of sessions in the database stays what it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

from mcp_shop import Shop
from mcp_shop.db import unit_tx
from mcp_shop.errors import InvalidInput
from mcp_shop.views import ProductView
from verifiers.types import ProductFacts, ScenarioEvent, VariantFacts, World

__all__ = ["apply_event", "build_world", "product_facts", "sandbox"]


def build_world(shop: Shop, world: World) -> str:
    """Open a session set up as ``world`` describes and return its handle.

    Order: the seeded session (customer, codes, ``history_orders`` past orders), stock and price
    overrides, extra codes, the task's past orders (numbered after the seeded history), cart
    lines, then the clock moves by ``advance_hours``. All of it is one unit of work: a world
    that cannot be built leaves no session behind (and one commit costs less than many).
    """
    _check(world)
    with unit_tx(shop.engine):
        return _build(shop, world)


def _build(shop: Shop, world: World) -> str:
    """``build_world``'s steps, in the unit of work open on ``shop.engine``."""
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


class _Discard(Exception):
    """Raised at the end of a sandbox so that its unit of work rolls back."""


@contextmanager
def sandbox(shop: Shop, world: World) -> Iterator[tuple[Connection, str]]:
    """``world`` built by ``build_world`` into a new session inside one unit of work that is
    always rolled back, whatever happens inside.

    Yields the unit's connection and the session id: ``shop`` methods called inside join the
    unit (``mcp_shop.db.unit_tx``), and so do the shop's module functions given the connection.
    A shop error caught inside must end the use of the sandbox (on PostgreSQL a failed
    statement aborts the transaction); nothing of it is ever committed.
    """
    try:
        with unit_tx(shop.engine) as conn:
            _check(world)
            yield conn, _build(shop, world)
            raise _Discard
    except _Discard:
        pass


def product_facts(view: ProductView, world: World | None = None) -> ProductFacts:
    """What the verifiers know of a product: ``view``'s values, with ``world``'s stock and
    price overrides applied when one is given (a catalog-level view under a task's world).

    The controller builds the facts it judges from session views (overrides already applied);
    generators build theirs from catalog views and the world they plan.
    """
    stock = world.stock if world is not None else {}
    prices = world.prices if world is not None else {}
    return ProductFacts(
        product_id=view.product_id, title=view.title, brand=view.brand,
        category_slug=view.category_slug, attributes=dict(view.attributes), rating=view.rating,
        variants=[VariantFacts(variant_id=v.variant_id, options=dict(v.options),
                               price_cents=prices.get(v.variant_id, v.price_cents),
                               stock=stock.get(v.variant_id, v.stock))
                  for v in view.variants])


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
