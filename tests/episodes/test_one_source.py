"""One source for product matching, for building worlds and for variant-to-product ids.

- The generators judge products with the verifiers' matcher: over 2,000+ generated tasks (every
  family, difficulties 0-10), every product a generator judged, and every product it planted or
  picked (gold, distractors, stock-outs, flash-sale targets), is judged the same by the
  generator-side adapter (catalog view + the world's overrides) and by
  ``verifiers.match.match_product`` over facts read from a real session built from the world,
  the way the controller reads them.
- Generating tasks leaves the number of sessions in the database unchanged.
- ``mcp_shop.ids.product_of`` and ``verifiers.state.product_of`` agree on every id format.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from episodes.families import cart as fam_cart
from episodes.families import matching
from episodes.generate import families, generate_task
from episodes.world import build_world, sandbox
from mcp_shop import Shop
from mcp_shop.db import read_tx
from mcp_shop.errors import InvalidInput
from mcp_shop.ids import parse_product_id, product_id, product_of, variant_id, variant_key
from mcp_shop.products import get_product
from mcp_shop.views import ProductView, VariantView
from verifiers.match import match_product
from verifiers.state import product_of as verifier_product_of
from verifiers.types import ProductFacts, ProductMatch, TaskSpec, VariantFacts, World

SEEDS = range(16)
"""12 families x 11 difficulties x 16 seeds = 2,112 tasks."""


def _sessions(shop: Shop) -> int:
    with shop.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM shop_session")).scalar_one())


def _session_facts(view: ProductView) -> ProductFacts:
    """Facts of a session's product view, field by field as the controller reads them."""
    return ProductFacts(
        product_id=view.product_id, title=view.title, brand=view.brand,
        category_slug=view.category_slug, attributes=view.attributes, rating=view.rating,
        variants=[VariantFacts(variant_id=v.variant_id, options=v.options,
                               price_cents=v.price_cents, stock=v.stock)
                  for v in view.variants])


@dataclass
class Judged:
    """One judgement a generator made: the product, criteria, world then, chosen variant and
    what the adapter said."""

    view: ProductView
    match: ProductMatch
    world: World
    variant: VariantView | None
    reason: str | None


@dataclass
class Generated:
    tasks: list[TaskSpec]
    judged: list[Judged]
    sessions_before: int
    sessions_after: int
    seconds: float


@pytest.fixture(scope="module")
def generated(ep_shop: Shop) -> Generated:
    """Every family at difficulties 0-10 over ``SEEDS``, recording the generators' product
    judgements, with the session count before and after."""
    judged: list[Judged] = []
    original = matching.why_not

    def recording(view: ProductView, m: ProductMatch, world: World,
                  variant: VariantView | None = None) -> str | None:
        reason = original(view, m, world, variant)
        judged.append(Judged(view, m.model_copy(deep=True), world.model_copy(deep=True),
                             variant, reason))
        return reason

    before = _sessions(ep_shop)
    start = time.perf_counter()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(matching, "why_not", recording)  # matches() looks it up at call time
        mp.setattr(fam_cart, "why_not", recording)
        tasks = [generate_task(ep_shop, f, d, s) for f in families() for d in range(11)
                 for s in SEEDS]
    seconds = time.perf_counter() - start
    return Generated(tasks, judged, before, _sessions(ep_shop), seconds)


def test_generation_leaves_no_session(generated: Generated) -> None:
    assert len(generated.tasks) >= 1000
    assert {t.family for t in generated.tasks} == set(families())
    assert generated.sessions_after == generated.sessions_before


def _session_views(shop: Shop, world: World, pids: set[str]) -> dict[str, ProductView]:
    """The products as a session built from ``world`` shows them (rolled back after)."""
    with sandbox(shop, world) as (_, sid):
        return {pid: shop.get_product(sid, pid) for pid in sorted(pids)}


def test_generators_judged_as_the_verifiers_do(ep_shop: Shop, generated: Generated) -> None:
    """Every judgement a generator made holds on the session the world becomes."""
    assert len(generated.judged) >= 1000
    by_world: dict[str, list[Judged]] = defaultdict(list)
    for j in generated.judged:
        by_world[j.world.model_dump_json()].append(j)
    for group in by_world.values():
        views = _session_views(ep_shop, group[0].world, {j.view.product_id for j in group})
        for j in group:
            seen = _session_facts(views[j.view.product_id])
            want = match_product(j.match, seen, variant_id=j.variant.variant_id
                                 if j.variant is not None else None)
            assert j.reason == want, (j.view.product_id, j.match, j.variant)
    assert any(j.reason is not None for j in generated.judged), "some draws were rejected"


def _criteria(task: TaskSpec) -> list[tuple[ProductMatch, bool]]:
    """Every distinct product criterion of the task's intents, before and after a change of
    mind, and whether it judges a chosen variant (a cart or order line) or a presentation."""
    out: dict[str, tuple[ProductMatch, bool]] = {}
    for intent in task.intents:
        lines = intent.kind != "discovery" and intent.kind != "price_compare"
        for m in (intent.accept, intent.change.accept if intent.change else None):
            if m is not None:
                out.setdefault(m.model_dump_json(), (m, lines))
        changed = (intent.change.items or []) if intent.change else []
        for item in (*intent.items, *changed):
            out.setdefault(item.match.model_dump_json(), (item.match, True))
    return list(out.values())


def _candidates(task: TaskSpec) -> tuple[set[str], set[str]]:
    """Products the generator planted or picked (gold products, products with overridden
    stock or prices: distractors and stock-outs, flash-sale targets, cart lines), and the
    variants it named or touched."""
    ids: set[str] = set()
    for step in task.gold:
        for key in ("product_id", "variant_id"):
            if isinstance(step.args.get(key), str):
                ids.add(step.args[key])
        ids.update(step.args.get("product_ids") or [])
    ids.update(task.world.stock, task.world.prices, task.world.cart)
    for event in task.scenario:
        ids.update(event.stock, event.prices)
    return ({product_of(i) if i.startswith("V-") else i for i in ids},
            {i for i in ids if i.startswith("V-")})


def test_planted_candidates_judged_as_the_verifiers_do(ep_shop: Shop,
                                                       generated: Generated) -> None:
    """Each task's gold, distractors and stock-outs: the adapter's facts are the session's,
    and against each of the task's criteria, presented and with each variant the task names or
    touches chosen, the adapter and the verifiers say the same."""
    catalog: dict[str, ProductView] = {}
    judged = 0
    for task in generated.tasks:
        criteria = _criteria(task)
        if not criteria:
            continue
        pids, touched = _candidates(task)
        views = _session_views(ep_shop, task.world, pids)
        for pid in sorted(pids):
            if pid not in catalog:
                with read_tx(ep_shop.engine) as conn:
                    catalog[pid] = get_product(conn, None, parse_product_id(pid))
            seen = _session_facts(views[pid])
            assert matching.facts(catalog[pid], task.world) == seen, (task.task_id, pid)
            chosen = [v for v in catalog[pid].variants if v.variant_id in touched]
            for m, lines in criteria:
                for variant in (None, *chosen) if lines else (None,):
                    vid = variant.variant_id if variant is not None else None
                    ours = matching.why_not(catalog[pid], m, task.world, variant)
                    assert ours == match_product(m, seen, variant_id=vid), (task.task_id, pid,
                                                                            m, vid)
                    judged += 1
    assert judged >= 10_000


# -- edge cases, judged by hand from docs/tasks.md "Product matching" ------------------------


def _variant(n: int, color: str, price: int, stock: int) -> VariantView:
    return VariantView(variant_id=f"V-000077-{n}", sku=f"SKU-77-{n}", options={"color": color},
                       price_cents=price, stock=stock,
                       stock_status="in_stock" if stock > 3 else
                       "low_stock" if stock > 0 else "out_of_stock")


def _jacket(*variants: VariantView, **attributes: Any) -> ProductView:
    return ProductView(
        product_id="P-000077", title="Trailo Rain Jacket", brand="Trailo",
        category="Jackets", category_slug="clothing/outerwear/jackets", description="",
        attributes=attributes, rating=4.4, rating_count=12, final_sale=False,
        option_names=["color"], variants=list(variants),
        price_cents=min(v.price_cents for v in variants),
        in_stock=any(v.stock > 0 for v in variants))


def _facts(view: ProductView, world: World) -> ProductFacts:
    """The facts a session built from ``world`` would show, written out independently."""
    return ProductFacts(
        product_id=view.product_id, title=view.title, brand=view.brand,
        category_slug=view.category_slug, attributes=view.attributes, rating=view.rating,
        variants=[VariantFacts(variant_id=v.variant_id, options=v.options,
                               price_cents=world.prices.get(v.variant_id, v.price_cents),
                               stock=world.stock.get(v.variant_id, v.stock))
                  for v in view.variants])


BLUE, RED = _variant(1, "blue", 5000, 4), _variant(2, "red", 1000, 9)
CASES: list[tuple[str, ProductView, ProductMatch, World, VariantView | None, bool]] = [
    # a cheap red variant does not make the blue one affordable
    ("blue $50, red $10, $20 budget, blue wanted", _jacket(BLUE, RED),
     ProductMatch(max_price_cents=2000, options={"color": "blue"}), World(session_seed=1),
     None, False),
    ("the same without options: shown at $10", _jacket(BLUE, RED),
     ProductMatch(max_price_cents=2000), World(session_seed=1), None, True),
    ("red wanted: $10 is in budget", _jacket(BLUE, RED),
     ProductMatch(max_price_cents=2000, options={"color": "red"}), World(session_seed=1),
     None, True),
    ("blue repriced to $15 by the world", _jacket(BLUE, RED),
     ProductMatch(max_price_cents=2000, options={"color": "BLUE"}),
     World(session_seed=1, prices={"V-000077-1": 1500}), None, True),
    ("blue sold out by the world", _jacket(BLUE, RED),
     ProductMatch(options={"color": "blue"}), World(session_seed=1, stock={"V-000077-1": 0}),
     None, False),
    ("blue sold out, but stock not required", _jacket(BLUE, RED),
     ProductMatch(options={"color": "blue"}, in_stock=False),
     World(session_seed=1, stock={"V-000077-1": 0}), None, True),
    ("cheap red sold out: shown at the blue price", _jacket(BLUE, RED),
     ProductMatch(max_price_cents=2000), World(session_seed=1, stock={"V-000077-2": 0}),
     None, False),
    ("chosen red variant, blue wanted", _jacket(BLUE, RED),
     ProductMatch(options={"color": "blue"}), World(session_seed=1), RED, False),
    ("chosen blue variant over budget", _jacket(BLUE, RED),
     ProductMatch(max_price_cents=2000), World(session_seed=1), BLUE, False),
    ("chosen blue variant repriced into budget", _jacket(BLUE, RED),
     ProductMatch(max_price_cents=2000), World(session_seed=1, prices={"V-000077-1": 1999}),
     BLUE, True),
    ("chosen variant sold out by the world", _jacket(BLUE, RED), ProductMatch(),
     World(session_seed=1, stock={"V-000077-2": 0}), RED, False),
    ("everything sold out", _jacket(BLUE, RED), ProductMatch(),
     World(session_seed=1, stock={"V-000077-1": 0, "V-000077-2": 0}), None, False),
    ("suitable for an 8-year-old: min_age 10 is too old", _jacket(BLUE, RED, min_age=10),
     ProductMatch(attributes_at_most={"min_age": 8}), World(session_seed=1), None, False),
    ("min_age 6 is fine", _jacket(BLUE, RED, min_age=6),
     ProductMatch(attributes_at_most={"min_age": 8}), World(session_seed=1), None, True),
    ("a flag must be true, not 1", _jacket(BLUE, RED, waterproof=1),
     ProductMatch(attributes={"waterproof": True}), World(session_seed=1), None, False),
    ("excluded product", _jacket(BLUE, RED),
     ProductMatch(exclude_product_ids=["P-000077"]), World(session_seed=1), None, False),
]


@pytest.mark.parametrize(("name", "view", "m", "world", "variant", "ok"), CASES,
                         ids=[c[0] for c in CASES])
def test_edge_cases_judged_the_same(name: str, view: ProductView, m: ProductMatch, world: World,
                                    variant: VariantView | None, ok: bool) -> None:
    vid = variant.variant_id if variant is not None else None
    theirs = match_product(m, _facts(view, world), variant_id=vid)
    assert matching.why_not(view, m, world, variant) == theirs
    assert matching.matches(view, m, world, variant) is ok
    assert (theirs is None) is ok, theirs


def test_blue_over_budget_says_so() -> None:
    m = ProductMatch(max_price_cents=2000, options={"color": "blue"})
    assert matching.why_not(_jacket(BLUE, RED), m, World(session_seed=1)) == \
        "price $50.00 is over the $20.00 budget"


# -- worlds ---------------------------------------------------------------------------------


def test_sandbox_rolls_back_even_when_the_body_fails(ep_shop: Shop) -> None:
    before = _sessions(ep_shop)
    world = World(session_seed=5, history_orders=2, codes=[{"code": "TRY10", "kind": "percent",
                                                           "value": 10}])
    with sandbox(ep_shop, world) as (conn, sid):
        inside = conn.execute(text("SELECT count(*) FROM shop_session")).scalar_one()
        assert inside == before + 1
        assert [o.order_id for o in ep_shop.list_orders(sid)] == ["O-1002", "O-1001"]
    with pytest.raises(KeyError), sandbox(ep_shop, world):
        raise KeyError("boom")
    assert _sessions(ep_shop) == before


def test_sandbox_shows_the_world_the_episode_gets(ep_shop: Shop, generated: Generated) -> None:
    """A sandboxed world and a real one (as the controller builds it) show the same cart,
    orders and product stock."""
    task = next(t for t in generated.tasks if t.family == "cart" and t.world.cart
                and t.world.stock)
    pids = {product_of(v) for v in (*task.world.stock, *task.world.cart)}
    with sandbox(ep_shop, task.world) as (_, sid):
        boxed = (ep_shop.view_cart(sid), ep_shop.list_orders(sid),
                 {p: ep_shop.get_product(sid, p) for p in pids})
    sid = build_world(ep_shop, task.world)
    real = (ep_shop.view_cart(sid), ep_shop.list_orders(sid),
            {p: ep_shop.get_product(sid, p) for p in pids})
    assert boxed == real


# -- ids ------------------------------------------------------------------------------------


VALID = ["V-000042-3", "V-000001-1", "V-999999-999", "V-123456789-12", "V-42-3", " V-000042-3 ",
         variant_id(variant_key(7, 1)), variant_id(variant_key(1_000_000, 2))]
INVALID = ["V-000042-0", "P-000042", "V-000042", "V-abc-1", "", "V-0000000042-1", "V-1-1000",
           "v-000042-3", "V-000042-3-1", "O-1001", "V--1"]


@pytest.mark.parametrize("vid", VALID)
def test_product_of_agrees_on_variant_ids(vid: str) -> None:
    pk = int(vid.strip().split("-")[1])
    assert product_of(vid) == verifier_product_of(vid) == product_id(pk)


@pytest.mark.parametrize("text_", INVALID)
def test_product_of_agrees_on_what_is_not_a_variant_id(text_: str) -> None:
    with pytest.raises(InvalidInput):
        product_of(text_)
    assert verifier_product_of(text_) == ""


def test_product_of_inverts_the_variant_key() -> None:
    for pk in (1, 9, 42, 999_999, 1_000_000, 123_456_789):
        for position in (1, 2, 17, 999):
            vid = variant_id(variant_key(pk, position))
            assert product_of(vid) == verifier_product_of(vid) == product_id(pk)
