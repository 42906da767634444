"""Small builders of hand-made verifier inputs: product facts, states, trace entries, messages
and tasks."""

from __future__ import annotations

import json
from typing import Any

from verifiers.types import (
    CartLine,
    Difficulty,
    GoldStep,
    Intent,
    Limits,
    Message,
    OrderLineState,
    OrderState,
    PaymentState,
    ProductFacts,
    ShopState,
    TaskSpec,
    ToolCall,
    TraceEntry,
    VariantFacts,
    World,
)


def product(pk: int, *, brand: str = "Sonix", slug: str = "electronics/audio/headphones",
            rating: float = 4.5, attributes: dict[str, Any] | None = None,
            variants: list[tuple[dict[str, str], int, int]] | None = None) -> ProductFacts:
    """Facts of product ``pk`` with variants given as (options, price_cents, stock)."""
    pid = f"P-{pk:06d}"
    specs = variants if variants is not None else [({"color": "black"}, 9000, 5)]
    return ProductFacts(
        product_id=pid, title=f"{brand} thing {pk}", brand=brand, category_slug=slug,
        attributes=attributes if attributes is not None else {"noise_cancelling": True},
        rating=rating,
        variants=[VariantFacts(variant_id=f"V-{pk:06d}-{i + 1}", options=o, price_cents=p,
                               stock=s) for i, (o, p, s) in enumerate(specs)])


def catalog(*facts: ProductFacts) -> dict[str, ProductFacts]:
    return {f.product_id: f for f in facts}


def cart_line(vid: str, qty: int = 1, price: int = 0) -> CartLine:
    return CartLine(variant_id=vid, product_id="P-" + vid.split("-")[1], quantity=qty,
                    unit_price_cents=price)


def order(number: int, lines: list[tuple[str, int, int]], *, status: str = "pending",
          code: str | None = None, shipping: str = "standard",
          payments: list[tuple[str, str, int]] | None = None) -> OrderState:
    """An order with lines (variant, qty, unit price) and charges (method id, kind, cents)."""
    subtotal = sum(q * p for _, q, p in lines)
    return OrderState(
        order_id=f"O-{number}", status=status, code=code, shipping_option=shipping,
        lines=[OrderLineState(line_no=i + 1, variant_id=v, product_id="P-" + v.split("-")[1],
                              quantity=q, unit_price_cents=p)
               for i, (v, q, p) in enumerate(lines)],
        subtotal_cents=subtotal, discount_cents=0, shipping_cents=0, total_cents=subtotal,
        payments=[PaymentState(payment_method_id=m, kind=k, amount_cents=c,
                               reason="order payment", direction="charge")
                  for m, k, c in (payments or [("PM-1", "card", subtotal)])])


def state(**kw: Any) -> ShopState:
    base: dict[str, Any] = {"clock": "2026-03-02T09:00:00", "cart": [], "cart_code": None,
                            "orders": [], "returns": [], "exchanges": []}
    base.update(kw)
    return ShopState(**base)


def call(tool: str, args: dict[str, Any] | None = None, *, turn: int = 1, ok: bool = True,
         result: Any = None, seq: int = 0) -> TraceEntry:
    return TraceEntry(seq=seq, tool=tool, arguments=args or {}, ok=ok, result=result, turn=turn,
                      error_code=None if ok else "invalid_input")


def presented(pids: list[str], *, turn: int = 1, seq: int = 0) -> TraceEntry:
    return call("present_products", {"product_ids": pids}, turn=turn, seq=seq,
                result={"message": None, "presented": [
                    {"product_id": p, "title": "", "brand": "", "category": "",
                     "price_cents": 1, "rating": 4.0, "in_stock": True} for p in pids]})


def told(*facts: tuple[str, str | None, Any], turn: int = 1, seq: int = 0) -> TraceEntry:
    """A ``state_facts`` call telling (fact, about, value) triples, as the shop records it."""
    stated = [{"fact": f, "about": a, "value": v} for f, a, v in facts]
    return call("state_facts", {"facts": stated}, turn=turn, seq=seq, result={"stated": stated})


def user(text: str) -> Message:
    return Message(role="user", content=text)


def say(text: str) -> Message:
    return Message(role="assistant", content=text)


def tool_call(name: str, args: dict[str, Any], call_id: str = "c1") -> Message:
    return Message(role="assistant", tool_calls=[ToolCall(
        id=call_id, function={"name": name, "arguments": json.dumps(args)})])


def tool_result(content: Any, call_id: str = "c1") -> Message:
    return Message(role="tool", tool_call_id=call_id, content=json.dumps(content))


def task(*intents: Intent, gold: list[GoldStep] | None = None, max_turns: int = 10,
         max_tool_calls: int = 20, family: str = "discovery") -> TaskSpec:
    return TaskSpec(
        task_id="t-1", family=family, difficulty=3, seed=1,  # type: ignore[arg-type]
        params=Difficulty(level=3, constraints=2, omitted_share=0, typo_rate=0,
                          changes_of_mind=0, distractors=0, out_of_stock_rate=0,
                          history_depth=0, policy_branching=0, budget_tightness=0,
                          stock_volatility=0, max_turns=max_turns,
                          max_tool_calls=max_tool_calls, patience=3),
        world=World(session_seed=1), intents=list(intents), opening="Hi",
        gold=gold if gold is not None else [GoldStep(tool="search_products"),
                                            GoldStep(tool="present_products"),
                                            GoldStep(say="Here you go")],
        limits=Limits(max_turns=max_turns, max_tool_calls=max_tool_calls))
