"""The MCP server of the shop: every shop capability as MCP tools, resources and a prompt, over
stdio or Streamable HTTP, with per-session isolation and a server-side trace of every call.

    from mcp_shop import Shop
    from mcp_shop.server import build_server

    server = build_server(Shop.open("sqlite:///shop.db"))      # session_id required (HTTP)
    async with Client(server) as client: ...

    # tau2-bench retail's tools, over a database given a tau2 world (mcp-shop import-tau2)
    server = build_server(Shop.open("sqlite:///tau2.db"), surface="tau2-retail")
"""

from __future__ import annotations

from typing import Any

from mcp_shop.server.app import HANDLE_REQUIRED, ShopServer, ShopToolError, digest
from mcp_shop.shop import Shop
from mcp_shop.tool_catalog import Surface

__all__ = ["HANDLE_REQUIRED", "ShopServer", "ShopToolError", "build_server", "digest"]


def build_server(shop: Shop, *, surface: Surface = "native", world: str | None = None,
                 default_session: str | None = None, offload: bool | None = None,
                 **options: Any) -> ShopServer:
    """The shop's MCP server over ``shop`` with every tool of one surface registered (and, on
    the native surface, the resources and prompt).

    Args:
        shop: the shop to serve.
        surface: ``native`` (the shop's own tools) or ``tau2-retail`` (tau2-bench retail's
            tools over an installed tau2 world; see ``tools_tau2``).
        world: tau2-retail: the installed world whose sessions ``open_session`` opens (its key
            or a unique prefix; default: the only one installed).
        default_session: the session calls without ``session_id`` use (stdio); ``None`` makes
            ``session_id`` required on every stateful tool (HTTP).
        offload: run the blocking shop calls in worker threads (True) or on the event loop
            (False); None picks threads on PostgreSQL and the event loop on SQLite.
        **options: further ``ShopServer`` options (``db_threads``, ``trace_result_limit``,
            ``log_level``).
    """
    from mcp_shop.server import (
        http_app,
        resources,
        tools_cart,
        tools_catalog,
        tools_facts,
        tools_orders,
        tools_tau2,
    )

    server = ShopServer(shop, surface=surface, default_session=default_session,
                        offload=offload, **options)
    if surface == "tau2-retail":
        tools_tau2.register(server, world)
        server.compact_output_schemas()
        http_app.add_health_route(server)
        return server
    if world is not None:
        raise ValueError("world names a tau2 world: only for surface='tau2-retail'")
    tools_catalog.register(server)
    tools_cart.register(server)
    tools_orders.register(server)
    tools_facts.register(server)
    server.compact_output_schemas()
    resources.register(server)
    http_app.add_health_route(server)
    return server
