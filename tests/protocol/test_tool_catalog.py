"""The tool catalogue (``mcp_shop.tool_catalog``) is the one declaration of every tool: the
server lists exactly its tools with its annotations and refuses others, and the controller,
the TRL environment and the verifiers take their tool lists from it."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from typing import Any

import pytest
from mcp import Client

from episodes.controller import HIDDEN_TOOLS, MUTATING_TOOLS
from episodes.trl_env import ShopToolEnv
from mcp_shop import tool_catalog
from mcp_shop.server import ShopServer
from mcp_shop.tool_catalog import TOOLS, agent_tools, tool
from verifiers.confirm import policy_violations
from verifiers.types import TraceEntry

# What the catalogue must say, written out here independently of it.
CONSEQUENTIAL = {"checkout": ("checkout", "purchase"), "cancel_order": ("cancel", "cancel"),
                 "request_return": ("return", "return"),
                 "request_exchange": ("exchange", "exchange")}
TALK = {"present_products", "state_facts"}
ORDER_READS = {"get_order", "list_orders", "check_return_eligibility"}


def test_every_tool_is_declared_once_with_consistent_metadata() -> None:
    names = [t.name for t in TOOLS]
    assert len(names) == len(set(names))
    for t in TOOLS:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", t.name), t.name
        assert t.surface == "native"
        assert (t.kind == "read") == t.hints.read_only, t.name  # only reads are read-only
        if not t.hints.read_only:
            assert t.hints.destructive is not None and t.hints.idempotent is not None, t.name
        assert not t.hints.open_world, t.name  # the shop is a closed world
    assert {t.name for t in TOOLS if t.kind == "talk"} == TALK
    assert {t.name: (t.consequential.confirmation, t.consequential.intent)
            for t in TOOLS if t.consequential} == CONSEQUENTIAL
    assert all(tool(n).kind == "write" and tool(n).hints.destructive for n in CONSEQUENTIAL)
    assert {t.name for t in TOOLS if t.reads_order} == ORDER_READS
    assert all(tool(n).kind == "read" for n in ORDER_READS)
    assert {t.name for t in TOOLS if t.hidden} == {"open_session"}
    facts = tool("state_facts")
    assert (facts.hints.read_only, facts.hints.idempotent, facts.consequential) == (
        False, True, None)
    with pytest.raises(KeyError, match="not in the tool catalogue"):
        tool("delete_everything")


def _expected_annotations(name: str) -> dict[str, Any]:
    hints = tool(name).hints
    out: dict[str, Any] = {"read_only_hint": hints.read_only, "open_world_hint": False}
    if not hints.read_only:
        out |= {"destructive_hint": hints.destructive, "idempotent_hint": hints.idempotent}
    return out


async def test_the_server_lists_exactly_the_catalogue_with_its_annotations(
        server: ShopServer) -> None:
    async with Client(server) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
    assert set(listed) == {t.name for t in TOOLS}
    for name, listed_tool in listed.items():
        got = listed_tool.annotations
        assert got is not None
        assert got.model_dump(exclude_none=True, exclude={"title"}) == _expected_annotations(
            name), name
    assert listed["checkout"].annotations.destructive_hint is True  # type: ignore[union-attr]
    assert listed["present_products"].annotations.read_only_hint is False  # type: ignore[union-attr]


def test_the_server_refuses_tools_and_annotations_the_catalogue_does_not_declare(
        server: ShopServer) -> None:
    async def delete_everything() -> str:
        """Not a shop tool."""
        return "gone"

    with pytest.raises(KeyError, match="not in the tool catalogue"):
        server.add_tool(delete_everything)
    from mcp.types import ToolAnnotations

    with pytest.raises(ValueError, match="differ from the tool catalogue"):
        server.add_tool(delete_everything, name="checkout",
                        annotations=ToolAnnotations(read_only_hint=True))


def test_the_controller_and_the_trl_env_derive_their_lists(shop: Any) -> None:
    assert {"open_session"} == HIDDEN_TOOLS
    writes = {t.name for t in TOOLS if t.kind == "write"} - {"open_session"}
    assert writes == MUTATING_TOOLS and "present_products" not in MUTATING_TOOLS
    env = ShopToolEnv.factory(shop, connect="direct")()  # its methods: the server's list
    methods = {name for name, fn in inspect.getmembers(type(env), inspect.isfunction)
               if not name.startswith("_") and name not in ("reset", "get_reward")}
    assert methods == {t.name for t in agent_tools()} | {"send_message"}


@pytest.mark.parametrize("name", sorted(t.name for t in TOOLS if not t.hidden))
def test_the_verifiers_police_exactly_the_consequential_tools(name: str) -> None:
    """A successful call with no yes before it is a policy violation exactly when the
    catalogue says the tool is consequential."""
    entry = TraceEntry(seq=1, tool=name, arguments={}, ok=True, turn=2)
    assert bool(policy_violations([entry], [])) == (name in CONSEQUENTIAL)


def test_the_catalogue_is_pure_data() -> None:
    code = ("import sys, mcp_shop.tool_catalog; bad = sorted(m for m in sys.modules if "
            "m.split('.')[0] in ('mcp', 'sqlalchemy', 'sqlmodel', 'pydantic') or "
            "m.startswith('mcp_shop.') and m != 'mcp_shop.tool_catalog'); print(bad); "
            "sys.exit(bool(bad))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {n: c for n, (c, _) in CONSEQUENTIAL.items()} == tool_catalog.CONSEQUENTIAL_TOOLS
