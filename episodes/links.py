"""How the episode controller reaches the shop's tools: an MCP client (in memory, the URL of a
running HTTP server, or a stdio command), or the in-process server's tool machinery called
directly ("direct", for trainers in the same process).

    link = make_link(shop, connect)         # None, "direct", "http(s)://...", or a command
    async with link:
        tools = await link.list_tools()
        ok, content = await link.call("search_products", {"session_id": sid, "query": "mug"})

Both give the same results, errors, argument validation and trace records: the direct link
(``ShopServer.call_in_process``) goes through the same traced entry point as an MCP request's
``ShopServer.call_tool``, without the JSON-RPC client, session and dispatch around it.
"""

from __future__ import annotations

import json
import sys
import weakref
from collections.abc import Sequence
from typing import Any, Protocol

from mcp_shop import Shop

__all__ = ["DIRECT", "Connect", "DirectLink", "Link", "McpLink", "make_link", "openai_tool",
           "server_for"]

DIRECT = "direct"
Connect = str | Sequence[str] | None


class Link(Protocol):
    """An open way to the shop's tools."""

    async def __aenter__(self) -> Link: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def list_tools(self) -> list[Any]:
        """The tools as MCP ``Tool`` models."""
        ...

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[bool, Any]:
        """Call a tool: (True, structured result or text) or (False, the error text)."""
        ...


def make_link(shop: Shop, connect: Connect) -> Link:
    """The link ``connect`` names: ``"direct"`` for the in-process tools, else an MCP client
    (``None``: an in-memory server over ``shop``; a URL; a stdio command)."""
    if connect == DIRECT:
        return DirectLink(shop)
    return McpLink(shop, connect)


def _outcome(result: Any) -> tuple[bool, Any]:
    """(ok, content) of a ``CallToolResult``: the structured result when there is one, else the
    text; an error's text."""
    if result.is_error:
        text = " ".join(getattr(c, "text", "") for c in result.content) or "tool error"
        return False, text
    if result.structured_content is not None:
        return True, result.structured_content
    return True, " ".join(getattr(c, "text", "") for c in result.content)


class McpLink:
    """An MCP client connection to the shop (in memory, HTTP URL or stdio command)."""

    def __init__(self, shop: Shop, target: str | Sequence[str] | None) -> None:
        self.shop = shop
        self.target = target
        self._client: Any = None
        self._cm: Any = None

    async def __aenter__(self) -> McpLink:
        from mcp import Client

        if self.target is None:
            self._cm = Client(server_for(self.shop))
        elif isinstance(self.target, str):
            self._cm = Client(self.target)
        else:
            from mcp import StdioServerParameters
            from mcp.client.stdio import stdio_client

            cmd = list(self.target)
            self._cm = Client(stdio_client(StdioServerParameters(command=cmd[0], args=cmd[1:]),
                                           errlog=_server_errlog()))
        self._client = await self._cm.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._cm.__aexit__(*exc)

    async def list_tools(self) -> list[Any]:
        return list((await self._client.list_tools()).tools)

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[bool, Any]:
        try:
            result = await self._client.call_tool(name, arguments)
        except Exception as exc:  # a transport-level failure is the call's failure
            return False, f"the call failed: {exc}"
        return _outcome(result)


class DirectLink:
    """The in-process server's tools called without the protocol (``connect="direct"``).

    What differs from an in-memory MCP client: no JSON-RPC request, dispatch or result
    re-validation (the client checks each structured result against the tool's output schema
    again; the server has already built it from that schema's model), and a structured result
    is not dumped and rendered as text a second time. Results, errors,
    argument validation and trace records are the MCP path's (tests/episodes/test_direct.py).
    """

    def __init__(self, shop: Shop) -> None:
        self.shop = shop
        self._server: Any = None

    async def __aenter__(self) -> DirectLink:
        self._server = server_for(self.shop)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server = None

    async def list_tools(self) -> list[Any]:
        return list(await self._server.list_tools())

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[bool, Any]:
        try:
            result = await self._server.call_in_process(name, arguments)
        except Exception as exc:  # what a client raises is the call's failure, as over MCP
            return False, f"the call failed: {exc}"
        return _outcome(result)


def _server_errlog() -> Any:
    """Where a stdio server's stderr goes: our stderr now (not the one ``mcp`` saw when it was
    imported), or the process's real one when ours has no file descriptor (pytest's capsys, a
    notebook, a redirect)."""
    try:
        sys.stderr.fileno()
        return sys.stderr
    except (AttributeError, OSError, ValueError):
        return sys.__stderr__


_SERVERS: weakref.WeakKeyDictionary[Shop, Any] = weakref.WeakKeyDictionary()


def server_for(shop: Shop) -> Any:
    """One in-process MCP server per shop, built once (building one takes ~70 ms) and shared by
    every controller and connection on that shop, in memory or direct."""
    server = _SERVERS.get(shop)
    if server is None:
        from mcp_shop.server import build_server

        server = _SERVERS[shop] = build_server(shop, log_level="WARNING")
    return server


def openai_tool(tool: Any) -> dict[str, Any]:
    """An MCP tool in OpenAI function format, without ``session_id`` (the episode adds it)."""
    schema = json.loads(json.dumps(tool.input_schema))
    props = schema.get("properties", {})
    props.pop("session_id", None)
    if "required" in schema:
        schema["required"] = [r for r in schema["required"] if r != "session_id"]
    return {"type": "function", "function": {
        "name": tool.name, "description": tool.description or "", "parameters": schema}}
