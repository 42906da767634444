"""The tau2-retail surface over MCP (``build_server(shop, surface="tau2-retail")``, ``mcp-shop
serve --surface tau2-retail``) on the fixture world: the tool list, gold trajectories giving
the state the test reference of tau2's rules and the domain's replay give, bad input refused
cleanly (traced, nothing changed), sessions of the other surface refused on both surfaces,
isolation, fuzzing, and the transports (stdio, HTTP)."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from sqlalchemy import Engine

from mcp_shop import Shop, tool_catalog
from mcp_shop.db import make_engine
from mcp_shop.server import ShopServer, build_server
from mcp_shop.shop import default_index_dir
from mcp_shop.tau2.records import TOOL_PARAMS, WRITE_TOOLS
from mcp_shop.tau2.session_world import open_tau2_session
from mcp_shop.tau2.world import db_hash
from tests.protocol.journey import assert_trace_matches
from tests.protocol.tau2_support import (
    Tau2Calls,
    domain_replay,
    fixture_world,
    fuzz_tau2,
    install_fixture,
    projection,
    reference_state,
    rounded,
    run_tasks_at_once,
    state_hash,
    task_calls,
)

BIG = "x" * 1_000_000
WORLD = fixture_world()
TASKS = [t.id for t in WORLD.tasks]
LISTS = {"item_ids", "new_item_ids"}


@pytest.fixture(scope="module")
def tau2_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(url, world key) of a SQLite file holding the fixture world."""
    url = f"sqlite:///{tmp_path_factory.mktemp('tau2') / 'tau2.db'}"
    return url, install_fixture(url)


@pytest.fixture(scope="module")
def tau2_shop(tau2_db: tuple[str, str]) -> Shop:
    url, _ = tau2_db
    return Shop(make_engine(url), index_dir=default_index_dir(url))


@pytest.fixture(scope="module")
def tau2_server(tau2_shop: Shop) -> ShopServer:
    return build_server(tau2_shop, surface="tau2-retail", log_level="WARNING")


def _text(result: Any) -> str:
    """The text of a tool answer (an error's message)."""
    return str(getattr(result.content[0], "text", "")) if result.content else ""


def _open(shop: Shop, key: str) -> str:
    return open_tau2_session(shop.engine, key)


# -- the tool list ------------------------------------------------------------------------

async def test_the_tool_list_is_tau2s(tau2_server: ShopServer) -> None:
    async with Client(tau2_server) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
    assert set(listed) == set(TOOL_PARAMS) | {"open_session"}
    assert {t.name for t in tool_catalog.agent_tools("tau2-retail")} == set(TOOL_PARAMS)
    assert tool_catalog.hidden_tools("tau2-retail") == {"open_session"}
    assert tool_catalog.state_changing_tools("tau2-retail") == WRITE_TOOLS
    assert listed["open_session"].input_schema.get("properties", {}) == {}
    for name, params in TOOL_PARAMS.items():
        schema = listed[name].input_schema
        assert list(schema["properties"]) == [*params, "session_id"], name
        assert set(schema.get("required", [])) == set(params), name
        for p in params:
            prop = schema["properties"][p]
            if p in LISTS:
                assert prop["type"] == "array" and prop["items"]["type"] == "string", (name, p)
            elif p == "reason":
                assert sorted(prop["enum"]) == ["no longer needed", "ordered by mistake"]
            else:
                assert prop["type"] == "string", (name, p)
        annotations = listed[name].annotations
        assert annotations is not None and listed[name].description
        assert annotations.read_only_hint is (name not in WRITE_TOOLS
                                               and name != "transfer_to_human_agents"), name
        if name in WRITE_TOOLS:
            assert annotations.destructive_hint is True, name
    assert "find_user_id_by_email" in (tau2_server.instructions or "")


def test_the_native_catalogue_is_unchanged() -> None:
    native = {t.name for t in tool_catalog.TOOLS}
    assert tool_catalog.tools() == tool_catalog.TOOLS
    assert not native & set(TOOL_PARAMS)
    assert tool_catalog.HIDDEN_TOOLS == tool_catalog.hidden_tools("native") == {"open_session"}
    assert tool_catalog.tool("open_session").surface == "native"
    assert tool_catalog.tool("open_session", "tau2-retail").surface == "tau2-retail"
    with pytest.raises(KeyError, match="surface 'native'"):
        tool_catalog.tool("get_order_details")


# -- gold trajectories --------------------------------------------------------------------

@pytest.mark.parametrize("task_id", TASKS)
async def test_gold_trajectory_gives_the_replayed_state(tau2_server: ShopServer,
                                                        tau2_shop: Shop,
                                                        tau2_db: tuple[str, str],
                                                        task_id: str) -> None:
    calls = task_calls(WORLD, task_id)
    async with Client(tau2_server) as client:
        play = Tau2Calls(client)
        sid = await play.open()
        await play.play(calls)
    assert play.refused == [], "every gold call of the fixture succeeds"
    got = projection(tau2_shop.engine, sid)
    assert got == domain_replay(tau2_shop.engine, tau2_db[1], calls)
    assert rounded(got.model_dump()) == reference_state(WORLD, calls)
    if any(name in WRITE_TOOLS for name, _ in calls):
        assert db_hash(got) != db_hash(WORLD.db), "the gold changed the world"
    assert_trace_matches(tau2_shop.trace(sid)[1:], play.calls)  # after open_session's


# -- bad input ----------------------------------------------------------------------------

def _bad_cases() -> list[tuple[str, dict[str, Any], str]]:
    pending, delivered = "#W2875821", "#W4946920"
    user = "marisol_quintero_8759"
    address = dict(address1="1 Main St", address2="", city="Ely", state="MN", country="USA",
                   zip="55731")
    ret = dict(order_id=delivered, item_ids=["2535357063"], payment_method_id="gift_card_6864986")
    return [
        # missing, extra and wrongly typed arguments
        ("get_order_details", {}, "order_id: Field required"),
        ("cancel_pending_order", {"order_id": pending}, "reason: Field required"),
        ("get_order_details", {"order_id": pending, "orderid": 1}, "unknown argument(s) 'orderid'"),
        ("list_all_product_types", {"x": 1}, "unknown argument(s) 'x'"),
        ("get_order_details", {"order_id": 2875821}, "order_id"),
        ("get_order_details", {"order_id": None}, "order_id"),
        ("get_order_details", {"order_id": ["#W2875821"]}, "order_id"),
        ("return_delivered_order_items", {**ret, "item_ids": "2535357063"}, "item_ids"),
        ("return_delivered_order_items", {**ret, "item_ids": [2535357063]}, "item_ids.0"),
        ("modify_user_address", {"user_id": user, **address, "zip": 55731}, "zip"),
        ("cancel_pending_order", {"order_id": pending, "reason": "because"}, "reason"),
        # huge numbers, NUL bytes, oversized strings and lists
        ("get_order_details", {"order_id": 10**400}, "order_id"),
        ("calculate", {"expression": 10**400}, "expression"),
        ("find_user_id_by_email", {"email": "a\x00b@example.com"}, "email"),
        ("modify_user_address", {"user_id": user, **address, "address1": "1 Main\x00St"},
         "address1"),
        ("modify_pending_order_address", {"order_id": pending, **address, "city": "E\x00ly"},
         "city"),
        ("get_order_details", {"order_id": BIG}, "order_id"),
        ("get_user_details", {"user_id": BIG}, "user_id"),
        ("transfer_to_human_agents", {"summary": BIG}, "summary"),
        ("calculate", {"expression": BIG}, "expression"),
        ("modify_user_address", {"user_id": user, **address, "city": "y" * 201}, "city"),
        ("return_delivered_order_items", {**ret, "item_ids": ["2535357063"] * 101}, "item_ids"),
        ("return_delivered_order_items", {**ret, "item_ids": [BIG]}, "item_ids.0"),
        ("view_cart", {BIG: 1}, "Unknown tool"),
        # unknown tools (a native tool is not on this surface)
        ("delete_everything", {}, "Unknown tool"),
        ("view_cart", {}, "Unknown tool: view_cart"),
        ("get_order", {"order_id": "O-1"}, "Unknown tool"),
        # tau2's refusals: its messages, our codes
        ("get_order_details", {"order_id": "#W0000000"}, "tau2_order_not_found: Order not found"),
        ("get_order_details", {"order_id": "W2875821"}, "Order not found"),
        ("find_user_id_by_email", {"email": "nobody@example.com"}, "User not found"),
        ("get_item_details", {"item_id": "0000000000"}, "Item not found"),
        ("cancel_pending_order", {"order_id": delivered, "reason": "no longer needed"},
         "tau2_"),
        ("return_delivered_order_items", {**ret, "payment_method_id": "paypal_0000000"},
         "tau2_"),
        ("calculate", {"expression": "__import__('os')"}, "Invalid characters in expression"),
        ("calculate", {"expression": "1 / 0"}, "Invalid expression"),
    ]


async def test_bad_input_is_refused_traced_and_changes_nothing(
        tau2_server: ShopServer, tau2_shop: Shop, tau2_db: tuple[str, str]) -> None:
    sid = _open(tau2_shop, tau2_db[1])
    engine = tau2_shop.engine
    before = state_hash(engine, sid)
    async with Client(tau2_server) as client:
        for tool, args, expected in _bad_cases():
            traced = len(tau2_shop.trace(sid))
            result = await client.call_tool(tool, {**args, "session_id": sid})
            text = _text(result)
            assert result.is_error, (tool, str(args)[:200])
            assert expected in text, (tool, text[:300])
            assert len(text) < 2000, "error answers stay short, even for 1 MB inputs"
            assert state_hash(engine, sid) == before, (tool, str(args)[:200])
            trace = tau2_shop.trace(sid)
            assert len(trace) == traced + 1 and not trace[-1].ok, tool
            assert trace[-1].error_code not in (None, "internal_error", "tool_error"), (
                tool, trace[-1].error_code, text[:200])
            assert len(str(trace[-1].arguments)) < 5000, "huge arguments are clipped"
            follow = await client.call_tool("get_order_details",
                                            {"order_id": "#W2875821", "session_id": sid})
            assert not follow.is_error, "the server answers the next call normally"
    assert state_hash(engine, sid) == before


async def test_session_handles(tau2_server: ShopServer, tau2_shop: Shop,
                               tau2_db: tuple[str, str]) -> None:
    """Unknown, malformed and missing handles; a native session on the tau2 surface, a tau2
    session on the native surface and the world's template on either: refused, nothing
    changed."""
    engine: Engine = tau2_shop.engine
    tau2_sid = _open(tau2_shop, tau2_db[1])
    native_sid = tau2_shop.open_session(seed=3).session_id
    template = _template(tau2_shop, tau2_db[1])
    before = {s: tau2_shop.snapshot(s, include_trace=True) for s in (native_sid, template)}
    tau2_before = state_hash(engine, tau2_sid)
    args = {"order_id": "#W2875821", "reason": "no longer needed"}
    async with Client(tau2_server) as client:
        for handle, expected in [("abc", "session_id"), (BIG, "session_id"),
                                 ("A" * 32, "unknown session_id"), (None, "session_id is "
                                                                          "required"),
                                 (native_sid, "names a native session"),
                                 (template, "template")]:
            sent = dict(args) if handle is None else {**args, "session_id": handle}
            result = await client.call_tool("cancel_pending_order", sent)
            assert result.is_error and expected in _text(result), (
                handle and handle[:40], _text(result)[:300])
    native = build_server(tau2_shop, log_level="WARNING")
    async with Client(native) as client:
        for handle, expected in [(tau2_sid, "names a tau2-retail session"),
                                 (template, "template")]:
            result = await client.call_tool("get_customer", {"session_id": handle})
            text = _text(result)
            assert result.is_error and expected in text and "open_session" in text, text
    assert state_hash(engine, tau2_sid) == tau2_before
    assert tau2_shop.trace(native_sid)[-1].error_code == "invalid_input"
    before[native_sid].pop("trace_event")
    before[native_sid]["shop_session"][0].pop("trace_seq")
    assert tau2_shop.snapshot(native_sid) == before[native_sid]
    assert tau2_shop.snapshot(template, include_trace=True) == before[template], \
        "nothing is recorded in a template's trace"
    assert tau2_shop.trace(tau2_sid)[-1].error_code == "invalid_input"


def _template(shop: Shop, key: str) -> str:
    from sqlalchemy import select

    from mcp_shop.models.session import Tau2World

    T = Tau2World.__table__  # type: ignore[attr-defined]  # noqa: N806
    with shop.engine.connect() as conn:
        return str(conn.execute(select(T.c.template_session_id).where(T.c.key == key))
                   .scalar_one())


# -- isolation and fuzzing ----------------------------------------------------------------

async def test_two_sessions_do_not_see_each_others_writes(tau2_server: ShopServer,
                                                          tau2_shop: Shop) -> None:
    calls = task_calls(WORLD, "11")  # a cancellation and a new default address
    async with Client(tau2_server) as client:
        a, b = Tau2Calls(client), Tau2Calls(client)
        await a.open()
        await b.open()
        start = state_hash(tau2_shop.engine, str(b.session_id))
        await a.play(calls)
        order = await b("get_order_details", {"order_id": "#W9742551"})
        user = await b("get_user_details", {"user_id": "hana_kowalczyk_4946"})
    assert a.refused == [] and order["status"] == "pending"
    assert user["address"] == WORLD.db.users["hana_kowalczyk_4946"].address.model_dump()
    assert state_hash(tau2_shop.engine, str(b.session_id)) == start == db_hash(WORLD.db)
    assert rounded(projection(tau2_shop.engine, str(a.session_id)).model_dump()) == \
        reference_state(WORLD, calls)


async def test_concurrent_sessions_in_memory(tau2_server: ShopServer, tau2_shop: Shop) -> None:
    def connect(mode: str) -> Client:
        return Client(tau2_server, mode=mode)

    problems = await run_tasks_at_once(connect, tau2_shop, WORLD, sessions=28, concurrency=14)
    assert problems == []


async def test_fuzzed_calls(tau2_server: ShopServer, tau2_shop: Shop,
                            tau2_db: tuple[str, str]) -> None:
    """The native fuzz runner's checks on the tau2 tools."""
    async with Client(tau2_server) as client:
        total = await fuzz_tau2(client, tau2_shop, tau2_db[1], WORLD, blocks=2)
    assert total.faults == 0, "\n".join(total.examples)
    assert total.calls == 300 and total.accepted > 30 and total.rejected > 100
    assert len(total.tools) >= 15, total.tools
    assert any(code.startswith("tau2_") for code in total.codes), total.codes


async def test_the_direct_path_answers_as_a_client_gets(tau2_server: ShopServer) -> None:
    """``call_in_process`` (trainers in the same process) gives what a client gets."""
    opened = await tau2_server.call_in_process("open_session", None)
    sid = opened.structured_content["session_id"]  # type: ignore[index]
    async with Client(tau2_server) as client:
        cases: list[tuple[str, dict[str, Any]]] = [
            ("find_user_id_by_email", {"email": "priya.okonkwo986@example.com"}),
            ("list_all_product_types", {}),
            ("get_order_details", {"order_id": "#W6357742"}),
            ("calculate", {"expression": "2 / 0"}),
            ("get_user_details", {"user_id": 7})]
        for name, args in cases:
            direct = await tau2_server.call_in_process(name, {**args, "session_id": sid})
            remote = await client.call_tool(name, {**args, "session_id": sid})
            assert (direct.is_error, direct.structured_content) == (
                remote.is_error, remote.structured_content), name
            if remote.is_error:
                assert _text(direct) == _text(remote), name
