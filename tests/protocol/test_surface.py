"""The MCP surface as a client sees it: the DESIGN tool table with schemas and annotations, the
catalog tools beyond the journey (categories, similar, compare, present, cancel, policies),
resources and the prompt."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from mcp_shop import Shop
from mcp_shop.server import ShopServer, build_server
from tests.protocol.journey import Recorder

DESIGN_TOOLS = {
    "open_session", "search_products", "get_product", "list_categories", "find_similar",
    "compare_products", "present_products", "view_cart", "add_to_cart", "update_cart_item",
    "remove_from_cart", "apply_discount_code", "remove_discount_code", "get_customer",
    "checkout", "list_orders", "get_order", "cancel_order", "check_return_eligibility",
    "request_return", "request_exchange", "search_policy", "state_facts",
}
WRITES = {"open_session", "present_products", "state_facts", "add_to_cart", "update_cart_item",
          "remove_from_cart", "apply_discount_code", "remove_discount_code", "checkout",
          "cancel_order", "request_return", "request_exchange"}
DESTRUCTIVE = {"update_cart_item", "remove_from_cart", "remove_discount_code", "checkout",
               "cancel_order", "request_return", "request_exchange"}


async def test_tool_table(server: ShopServer, mode: str) -> None:
    async with Client(server, mode=mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == DESIGN_TOOLS
    for name, tool in tools.items():
        assert tool.description and len(tool.description) > 60, name
        assert tool.output_schema and tool.output_schema["type"] == "object", name
        a = tool.annotations
        assert a is not None and a.read_only_hint == (name not in WRITES), name
        if name in WRITES:
            assert a.destructive_hint == (name in DESTRUCTIVE), name
        props = tool.input_schema["properties"]
        assert ("session_id" in props) == (name != "open_session"), name
        assert "session_id" not in tool.input_schema.get("required", []), name
        for arg, spec in props.items():
            assert "description" in spec or "$ref" in spec or "anyOf" in spec, (name, arg)
    quantity = tools["add_to_cart"].input_schema["properties"]["quantity"]
    assert (quantity["minimum"], quantity["maximum"]) == (1, 10)
    sort = tools["search_products"].input_schema["properties"]["sort"]
    assert sort["enum"] == ["relevance", "price_asc", "price_desc", "rating", "popularity"]
    reason = tools["request_return"].input_schema["properties"]["reason"]
    assert "changed_mind" in reason["enum"]


async def _session(client: Client) -> Recorder:
    call = Recorder(client)
    call.session_id = (await call("open_session", seed=3))["session_id"]
    return call


async def test_catalog_tools(server: ShopServer, proto_shop: Shop) -> None:
    async with Client(server) as client:
        call = await _session(client)
        tree = await call("list_categories", depth=1)
        departments = tree["categories"]
        assert departments and all(d["children"] == [] for d in departments)
        sub = await call("list_categories", parent=departments[0]["slug"], depth=2)
        assert sum(c["product_count"] for c in sub["categories"]) == departments[0][
            "product_count"]
        leaf = sub["categories"][0]
        while not leaf["is_leaf"]:
            leaf = leaf["children"][0] if leaf["children"] else (
                await call("list_categories", parent=leaf["slug"], depth=1))["categories"][0]
        page = await call("search_products", category=leaf["slug"], sort="price_desc")
        assert page["total"] > 0
        prices = [h["price_cents"] for h in page["hits"]]
        assert prices == sorted(prices, reverse=True)
        first = page["hits"][0]["product_id"]
        similar = await call("find_similar", product_id=first, cheaper=True, in_stock_only=False)
        assert all(h["price_cents"] < page["hits"][0]["price_cents"] for h in similar["hits"])
        ids = [h["product_id"] for h in page["hits"][:3]]
        comparison = await call("compare_products", product_ids=ids)
        assert [p["product_id"] for p in comparison["products"]] == ids
        assert all(set(row["values"]) == set(ids) for row in comparison["attributes"])
        shown = await call("present_products", product_ids=ids[:2], message="two picks")
        assert [p["product_id"] for p in shown["presented"]] == ids[:2]
        bad = await client.call_tool("present_products", {"product_ids": [ids[0], "P-999999"],
                                                          "session_id": call.session_id})
        assert bad.is_error and "P-999999" in bad.content[0].text
    trace = proto_shop.trace(call.session_id or "")
    presented = [t for t in trace if t.tool == "present_products"]
    assert presented[0].ok and presented[0].arguments["product_ids"] == ids[:2]
    assert not presented[1].ok and presented[1].error_code == "not_found"


async def test_cancel_and_codes(server: ShopServer) -> None:
    async with Client(server) as client:
        call = await _session(client)
        page = await call("search_products", in_stock_only=True, sort="rating", page_size=5)
        product = await call("get_product", product_id=page["hits"][0]["product_id"])
        variant = next(v for v in product["variants"] if v["stock"] > 0)["variant_id"]
        await call("add_to_cart", variant_id=variant, quantity=1)
        await call("apply_discount_code", code="freeship")
        again = await client.call_tool("apply_discount_code", {"code": "SAVE20",
                                                               "session_id": call.session_id})
        assert again.is_error and "invalid_code" in again.content[0].text
        cart = await call("remove_discount_code")
        assert cart["code"] is None
        order = await call("checkout", payment_method_id="PM-1", shipping_option="next_day")
        cancelled = await call("cancel_order", order_id=order["order_id"],
                               reason="ordered_by_mistake")
        assert cancelled["status"] == "cancelled"
        twice = await client.call_tool("cancel_order", {"order_id": order["order_id"],
                                                        "reason": "other",
                                                        "session_id": call.session_id})
        assert twice.is_error and "invalid_state" in twice.content[0].text


@pytest.mark.parametrize(("query", "key"), [
    ("how long do I have to return electronics", "returns"),
    ("express shipping cost", "shipping"),
    ("cancel my order", "cancellation"),
    ("warranty for a kettle", "warranty"),
    ("gift card pays part", "payment"),
])
async def test_search_policy(server: ShopServer, query: str, key: str) -> None:
    async with Client(server) as client:
        call = await _session(client)
        found = await call("search_policy", query=query)
    assert found["matches"][0]["key"] == key
    assert "returns" in found["sections"]


async def test_resources_and_prompt(proto_shop: Shop, mode: str) -> None:
    for server in (build_server(proto_shop),
                   build_server(proto_shop, default_session=proto_shop.open_session().session_id)):
        async with Client(server, mode=mode) as client:
            listed = {str(r.uri) for r in (await client.list_resources()).resources}
            assert {"shop://policies", "shop://categories"} <= listed
            templates = (await client.list_resource_templates()).resource_templates
            assert [t.uri_template for t in templates] == ["shop://products/{product_id}"]
            policies = (await client.read_resource("shop://policies")).contents[0]
            assert policies.mime_type == "text/markdown" and "## Returns" in policies.text
            categories = (await client.read_resource("shop://categories")).contents[0]
            assert '"slug"' in categories.text
            product = (await client.read_resource("shop://products/P-000001")).contents[0]
            assert '"product_id": "P-000001"' in product.text
            with pytest.raises(MCPError):
                await client.read_resource("shop://products/P-999999")
            prompt = await client.get_prompt("shopping_assistant", {"shopper_name": "Ann"})
            text: Any = prompt.messages[0].content
            assert "session_id" in text.text and "Ann" in text.text
            assert "Returns and refunds" in text.text
            required = "open_session once" in text.text
            assert required == (server.default_session is None)
