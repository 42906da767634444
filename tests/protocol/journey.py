"""The full shopping journey every transport runs, and the check that the server's trace lists
every call of it, in order, with the very results the client received."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcp import Client

from mcp_shop.policies import DEFAULT_POLICIES
from mcp_shop.server import digest
from mcp_shop.trace import TraceRecord


class ToolFailed(AssertionError):
    """A call that was expected to succeed returned a tool error."""


@dataclass
class Recorder:
    """Calls tools on one session and remembers each call and its structured result."""

    client: Client
    session_id: str | None = None
    calls: list[tuple[str, dict[str, Any], Any]] = field(default_factory=list)

    async def __call__(self, tool: str, **args: Any) -> Any:
        sent = dict(args)
        if self.session_id is not None:
            sent["session_id"] = self.session_id
        result = await self.client.call_tool(tool, sent)
        if result.is_error:
            raise ToolFailed(f"{tool}({args}): {result.content[0].text}")
        self.calls.append((tool, args, result.structured_content))
        return result.structured_content


def returnable(product: dict[str, Any]) -> bool:
    """Whether the shop's policy lets this product be returned or exchanged."""
    rule = DEFAULT_POLICIES.return_rule(product["category_slug"])
    return rule.returnable and not product["final_sale"]


@dataclass
class Journey:
    """What a journey did: its session, its calls and the order it placed."""

    session_id: str | None
    calls: list[tuple[str, dict[str, Any], Any]]
    order_id: str


async def full_journey(client: Client, *, session_id: str | None,
                       advance_clock: Callable[[str | None, float], Any],
                       open_session: bool = True) -> Journey:
    """Search, product details, add to cart, apply a code, checkout, the clock to delivery,
    return one line and exchange another.

    Args:
        client: a connected client.
        session_id: the session to use (None with ``open_session``: open one through the tool;
            None without: rely on the connection's default session).
        advance_clock: ``(session_id, days)``, through the Python API, not a tool.
        open_session: start with the open_session tool.
    """
    call = Recorder(client, session_id)
    if open_session:
        opened = await call("open_session", seed=5)
        call.session_id = opened["session_id"]
    browse = await call("search_products", query="", in_stock_only=True, sort="popularity",
                        page_size=50)
    assert browse["total"] > 0
    swap = keep = None
    for hit in browse["hits"]:
        product = await call("get_product", product_id=hit["product_id"])
        stocked = [v for v in product["variants"] if v["stock"] >= 2]
        if not returnable(product) or not stocked:
            continue
        if swap is None and len(stocked) >= 2:
            swap = (product, stocked)
        elif keep is None:
            keep = (product, stocked)
        if swap and keep:
            break
    assert swap and keep, "the test catalog should have returnable, stocked products"
    found = await call("search_products", query=swap[0]["title"], page_size=20)
    assert swap[0]["product_id"] in [h["product_id"] for h in found["hits"]]

    first, second = swap[1][0]["variant_id"], swap[1][1]["variant_id"]
    other = keep[1][0]["variant_id"]
    await call("add_to_cart", variant_id=first, quantity=1)
    cart = await call("add_to_cart", variant_id=other, quantity=2)
    assert [line["variant_id"] for line in cart["lines"]] == [first, other]
    cart = await call("apply_discount_code", code="FREESHIP")
    assert cart["code"]["applies"]
    customer = await call("get_customer")
    card = next(m for m in customer["payment_methods"] if m["kind"] == "card")
    order = await call("checkout", payment_method_id=card["payment_method_id"],
                       shipping_option="standard")
    assert order["status"] == "pending"
    assert order["shipping_cents"] == 0

    advance_clock(call.session_id, 6)
    order = await call("get_order", order_id=order["order_id"])
    assert order["status"] == "delivered"
    eligibility = await call("check_return_eligibility", order_id=order["order_id"])
    assert all(line["eligible"] for line in eligibility["lines"])
    ret = await call("request_return", order_id=order["order_id"],
                     items=[{"variant_id": other, "quantity": 1}], reason="changed_mind")
    assert ret["refund_cents"] > 0
    exchange = await call("request_exchange", order_id=order["order_id"], variant_id=first,
                          new_variant_id=second, reason="wrong_size")
    assert exchange["to_variant_id"] == second
    final = await call("get_order", order_id=order["order_id"])
    assert len(final["returns"]) == 1 and len(final["exchanges"]) == 1
    return Journey(call.session_id, call.calls, order["order_id"])


def assert_trace_matches(trace: list[TraceRecord],
                         calls: list[tuple[str, dict[str, Any], Any]]) -> None:
    """The trace lists exactly these calls, in order, each accepted, with its arguments
    (minus session_id) and the digest of the very result the client received."""
    assert [t.tool for t in trace] == [c[0] for c in calls]
    seqs = [t.seq for t in trace]
    assert seqs == sorted(set(seqs)), "trace records are in call order"
    for record, (tool, args, result) in zip(trace, calls, strict=True):
        assert record.ok, (tool, record.error_message)
        assert record.arguments == args, tool
        assert "session_id" not in record.arguments
        assert record.result_digest == digest(result)[1], tool
        assert record.result == result, tool
        assert record.latency_ms > 0
