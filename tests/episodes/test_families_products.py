"""The product and cart families (discovery, price_compare, substitution, bundle, cart, purchase):
every difficulty generates a valid, deterministic task whose gold solution uses real tools,
matches what the shopper accepts under the world's overrides, and replays successfully.

The gold is replayed twice: through the MCP server on a session set up here from the task's
world (so these tests do not depend on the controller), and, where the controller exists, by
the oracle agent with the real shopper and verifiers.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client

from episodes.families.phrases import item_label, money, option_phrase
from episodes.generate import generate_task
from mcp_shop import Shop
from mcp_shop.ids import product_of
from mcp_shop.server import build_server
from mcp_shop.views import ProductView
from verifiers.types import Intent, ItemGoal, ProductMatch, TaskSpec, World

FAMILIES = ("discovery", "price_compare", "substitution", "bundle", "cart", "purchase")
DIFFICULTIES = tuple(range(11))
SEEDS = (0, 5)
CASES = [(f, d, s) for f in FAMILIES for d in DIFFICULTIES for s in SEEDS]
LIVE_CASES = [(f, d, SEEDS[d % len(SEEDS)]) for f in FAMILIES for d in DIFFICULTIES]
"""Replays run a live session each: one seed per family and difficulty."""


@pytest.fixture(scope="module")
def tool_params(ep_shop: Shop) -> dict[str, tuple[set[str], set[str]]]:
    """Every MCP tool: (its argument names, the required ones), session_id left out."""

    async def listing() -> dict[str, tuple[set[str], set[str]]]:
        async with Client(build_server(ep_shop)) as client:
            tools = (await client.list_tools()).tools
        out = {}
        for tool in tools:
            schema = tool.input_schema
            names = set(schema.get("properties", {})) - {"session_id"}
            required = set(schema.get("required", [])) - {"session_id"}
            out[tool.name] = (names, required)
        return out

    return anyio.run(listing)


_TASKS: dict[tuple[str, int, int], TaskSpec] = {}


def _task(shop: Shop, family: str, difficulty: int, seed: int) -> TaskSpec:
    key = (family, difficulty, seed)
    if key not in _TASKS:
        _TASKS[key] = generate_task(shop, family, difficulty, seed)
    return _TASKS[key]


# -- an independent reading of docs/tasks.md "Product matching" ------------------------------


def _why_not(view: ProductView, m: ProductMatch, world: World,
             variant_id: str | None = None) -> str | None:
    """Why ``view`` (with the chosen variant) fails ``m`` under the world, or None."""
    prices = {v.variant_id: world.prices.get(v.variant_id, v.price_cents) for v in view.variants}
    stock = {v.variant_id: world.stock.get(v.variant_id, v.stock) for v in view.variants}
    if m.category and not view.category_slug.startswith(m.category):
        return f"category {view.category_slug}"
    if m.brand and m.brand.lower() != view.brand.lower():
        return f"brand {view.brand}"
    if m.product_ids is not None and view.product_id not in m.product_ids:
        return "not one of the products"
    if view.product_id in m.exclude_product_ids:
        return "excluded"
    if m.min_rating is not None and view.rating < m.min_rating:
        return f"rating {view.rating}"
    for name, value in m.attributes.items():
        if view.attributes.get(name) != value:
            return f"{name}={view.attributes.get(name)!r}"
    for name, low in m.attributes_at_least.items():
        if not view.attributes.get(name, 0) >= low:
            return f"{name} below {low}"
    for name, high in m.attributes_at_most.items():
        if not isinstance(view.attributes.get(name), int | float) or view.attributes[name] > high:
            return f"{name} above {high}"
    in_stock = [v for v in view.variants if stock[v.variant_id] > 0]
    if variant_id is not None:
        chosen = next(v for v in view.variants if v.variant_id == variant_id)
        if m.in_stock and stock[variant_id] <= 0:
            return "chosen variant out of stock"
        if m.max_price_cents is not None and prices[variant_id] > m.max_price_cents:
            return f"variant price {prices[variant_id]} > {m.max_price_cents}"
        for k, val in m.options.items():
            if chosen.options.get(k, "").lower() != val.lower():
                return f"option {k}={chosen.options.get(k)}"
        return None
    if m.in_stock and not in_stock:
        return "out of stock"
    optioned = [v for v in in_stock if all(v.options.get(k, "").lower() == val.lower()
                                           for k, val in m.options.items())]
    if m.options and not optioned:
        return "no in-stock variant with the options"
    # with options, the price is that of the cheapest in-stock variant having them
    if m.max_price_cents is not None and min(prices[v.variant_id] for v in optioned) > \
            m.max_price_cents:
        return "over budget"
    return None


def _final(intent: Intent) -> tuple[ProductMatch | None, list[ItemGoal]]:
    """The acceptance criteria and items once the change of mind (if any) took effect."""
    change = intent.change
    accept = change.accept if change is not None and change.accept is not None else intent.accept
    items = change.items if change is not None and change.items else intent.items
    return accept, items


def _gold_calls(task: TaskSpec, tool: str) -> list[dict[str, Any]]:
    return [s.args for s in task.gold if s.tool == tool]


# -- generation ------------------------------------------------------------------------------


@pytest.mark.parametrize(("family", "difficulty", "seed"), CASES)
def test_task_is_valid_and_deterministic(ep_shop: Shop, family: str, difficulty: int,
                                         seed: int) -> None:
    task = _task(ep_shop, family, difficulty, seed)
    again = generate_task(ep_shop, family, difficulty, seed)
    assert again.model_dump_json() == task.model_dump_json()
    assert TaskSpec.model_validate(task.model_dump(mode="json")) == task
    assert task.family == family and task.difficulty == difficulty and task.description
    assert len(task.intents) == 1 and task.intents[0].kind == family
    assert task.gold and task.gold[-1].say, "the gold ends by telling the shopper"


@pytest.mark.parametrize(("family", "difficulty", "seed"), CASES)
def test_gold_uses_real_tools(ep_shop: Shop, tool_params: dict[str, tuple[set[str], set[str]]],
                              family: str, difficulty: int, seed: int) -> None:
    task = _task(ep_shop, family, difficulty, seed)
    for step in task.gold:
        assert (step.tool is None) != (step.say is None), step
        if step.tool is None:
            continue
        assert step.tool in tool_params, step.tool
        names, required = tool_params[step.tool]
        assert set(step.args) <= names, (step.tool, set(step.args) - names)
        assert required <= set(step.args), (step.tool, required - set(step.args))


@pytest.mark.parametrize(("family", "difficulty", "seed"), CASES)
def test_opening_states_only_opening_slots(ep_shop: Shop, family: str, difficulty: int,
                                           seed: int) -> None:
    task = _task(ep_shop, family, difficulty, seed)
    intent = task.intents[0]
    opening = task.opening.lower()
    assert intent.request.lower() in opening
    for slot in intent.slots:
        if slot.in_opening:
            assert slot.phrase.lower() in opening, (slot, task.opening)
        else:
            assert slot.phrase.lower() not in opening, (slot, task.opening)
    if family in ("discovery", "price_compare", "bundle"):
        assert intent.slots[0].in_opening
    if intent.change is not None:
        assert intent.change.at_turn == 1
        assert task.gold[0].say, "the gold lets the change of mind arrive before it acts"


@pytest.mark.parametrize(("family", "difficulty", "seed"), CASES)
def test_gold_matches_under_the_world(ep_shop: Shop, family: str, difficulty: int,
                                      seed: int) -> None:
    """Catalog values with the world's overrides: the gold satisfies the final criteria."""
    task = _task(ep_shop, family, difficulty, seed)
    world, intent = task.world, task.intents[0]
    accept, items = _final(intent)
    sid = ep_shop.open_session(seed=world.session_seed, history_orders=0).session_id

    def view(pid: str) -> ProductView:
        return ep_shop.get_product(sid, pid)

    drained = {v for e in task.scenario for v in (*e.stock, *e.prices)}
    if family in ("discovery", "price_compare"):
        assert accept is not None
        (shown,) = _gold_calls(task, "present_products")
        assert 1 <= len(shown["product_ids"]) <= 5
        pid = shown["product_ids"][0]
        assert _why_not(view(pid), accept, world) is None
        assert not drained & {v.variant_id for v in view(pid).variants}
        if family == "price_compare":
            ref = accept.exclude_product_ids[0]
            assert accept.max_price_cents is not None
            assert accept.max_price_cents < view(ref).price_cents
        return
    adds = _gold_calls(task, "add_to_cart") + _gold_calls(task, "update_cart_item")
    lines = {a["variant_id"]: a["quantity"] for a in adds}
    assert not drained & set(lines), "events never touch the gold variants"
    if family == "substitution":
        assert accept is not None and len(lines) == 1
        ((vid, qty),) = lines.items()
        assert qty == items[0].quantity
        assert _why_not(view(product_of(vid)), accept, world, vid) is None
        wanted = view(accept.exclude_product_ids[0])
        assert all(world.stock.get(v.variant_id) == 0 for v in wanted.variants)
        return
    assert len(lines) == len(items)
    for item in items:
        hits = [vid for vid, q in lines.items() if q == item.quantity
                and _why_not(view(product_of(vid)), item.match, world, vid) is None]
        assert hits, item
    cost = sum(world.prices.get(vid, next(v.price_cents for v in view(product_of(vid)).variants
                                          if v.variant_id == vid)) * q
               for vid, q in lines.items())
    if family == "bundle":
        assert intent.budget_cents is not None and cost <= intent.budget_cents
    if family in ("cart", "purchase"):
        assert intent.exact_cart or family == "purchase"
        for vid in world.cart:
            assert world.stock.get(vid, 1) > 0, "a cart line of the world must be in stock"


# -- replay through the MCP server -----------------------------------------------------------


def _open_world(shop: Shop, world: World) -> str:
    """A session set up as the world describes (docs/tasks.md "The world")."""
    sid = shop.open_session(seed=world.session_seed, tier=world.tier,
                            history_orders=world.history_orders).session_id
    for vid, n in world.stock.items():
        shop.set_stock(sid, vid, n)
    for vid, cents in world.prices.items():
        shop.set_price(sid, vid, cents)
    for code in world.codes:
        shop.add_discount_code(sid, code["code"], **{k: v for k, v in code.items()
                                                     if k != "code"})
    for past in world.past_orders:
        shop.add_past_order(sid, past["lines"], days_ago=float(past["days_ago"]),
                            shipping_option=past.get("shipping_option", "standard"))
    for vid, qty in world.cart.items():
        shop.add_to_cart(sid, vid, qty)
    if world.advance_hours:
        shop.advance_clock(sid, hours=world.advance_hours)
    return sid


async def _replay(shop: Shop, task: TaskSpec, sid: str) -> list[tuple[str, dict[str, Any]]]:
    """Run the gold's tool calls over MCP, applying scenario events after each message."""
    done: list[tuple[str, dict[str, Any]]] = []
    turn = 0
    async with Client(build_server(shop)) as client:
        for step in task.gold:
            if step.tool is not None:
                result = await client.call_tool(step.tool, {**step.args, "session_id": sid})
                assert not result.is_error, (step.tool, step.args, result.content[0].text)
                done.append((step.tool, step.args))
            if step.say is not None:
                turn += 1
                for event in task.scenario:
                    if event.turn == turn:
                        for vid, n in event.stock.items():
                            shop.set_stock(sid, vid, n)
                        for vid, cents in event.prices.items():
                            shop.set_price(sid, vid, cents)
    return done


@pytest.mark.parametrize(("family", "difficulty", "seed"), LIVE_CASES)
async def test_gold_replays(ep_shop: Shop, family: str, difficulty: int, seed: int) -> None:
    """The gold succeeds on a live session: the outcome meets the final criteria."""
    task = _task(ep_shop, family, difficulty, seed)
    intent = task.intents[0]
    accept, items = _final(intent)
    sid = _open_world(ep_shop, task.world)
    orders_before = len(ep_shop.list_orders(sid))
    calls = await _replay(ep_shop, task, sid)
    live = World(session_seed=task.world.session_seed)  # session views are already effective
    cart = ep_shop.view_cart(sid)
    if family in ("discovery", "price_compare"):
        assert accept is not None
        shown = [a for t, a in calls if t == "present_products"][-1]["product_ids"]
        assert _why_not(ep_shop.get_product(sid, shown[0]), accept, live) is None
        assert not cart.lines
        return
    if family == "purchase":
        orders = ep_shop.list_orders(sid)
        assert len(orders) == orders_before + 1
        order = ep_shop.get_order(sid, orders[0].order_id)
        got = {ln.variant_id: ln.quantity for ln in order.lines}
        assert len(got) == len(items)
        for item in items:
            assert any(q == item.quantity and _why_not(ep_shop.get_product(
                sid, product_of(vid)), item.match, live, vid) in (None, "chosen variant out "
                "of stock") for vid, q in got.items()), item
        assert order.shipping_option == (intent.shipping_option or "standard")
        if intent.code:
            assert order.discount_code == intent.code
        if intent.payment_kind:
            kinds = {_kind(ep_shop, sid, p.payment_method_id) for p in order.payments}
            assert intent.payment_kind in kinds
        return
    lines = {ln.variant_id: ln.quantity for ln in cart.lines}
    if family == "substitution":
        assert accept is not None and len(lines) == 1
        ((vid, qty),) = lines.items()
        assert qty == items[0].quantity
        assert _why_not(ep_shop.get_product(sid, product_of(vid)), accept, live, vid) is None
        return
    assert len(lines) == len(items), "exactly the wanted lines"
    for item in items:
        assert any(q == item.quantity and _why_not(ep_shop.get_product(
            sid, product_of(vid)), item.match, live, vid) is None
            for vid, q in lines.items()), item
    if family == "bundle":
        assert intent.budget_cents is not None and cart.subtotal_cents <= intent.budget_cents


def _kind(shop: Shop, sid: str, method_id: str) -> str:
    return next(m.kind for m in shop.get_customer(sid).payment_methods
                if m.payment_method_id == method_id)


@pytest.mark.parametrize(("family", "difficulty", "seed"), LIVE_CASES)
async def test_oracle_succeeds(ep_shop: Shop, family: str, difficulty: int, seed: int) -> None:
    """The oracle agent, with the real shopper and verifiers, solves the task."""
    controller = pytest.importorskip("episodes.controller")
    oracle = pytest.importorskip("episodes.agents.oracle")
    task = _task(ep_shop, family, difficulty, seed)
    async with controller.EpisodeController(ep_shop) as ctl:
        record = await ctl.run_episode(oracle.OracleAgent(), task)
    assert record["success"], (record["stop_reason"], record["reward_components"])


# -- wording ---------------------------------------------------------------------------------


def test_wording_is_parseable() -> None:
    assert money(12000) == "$120" and money(12345) == "$123.45" and money(123456) == "$1234.56"
    assert option_phrase("color", "blue") == "in blue"
    assert option_phrase("size", "10") == "size 10"
    assert item_label("Sonix Airwave Headphones", {"color": "black"}, 2) == \
        "2 of the Sonix Airwave Headphones in black"
    assert item_label("Trailo Boots", {"color": "tan", "size": "9"}) == \
        "the Trailo Boots size 9, in tan"
