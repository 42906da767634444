"""The tau2 retail environment of a run: the world in a database, the tau2 tool surface's
server, and what the episode does privileged (open a session, check the database, remove the
session).

    env = Tau2Env.open(world, "sqlite:///runs/tau2.db")   # imports the world once
    async with env.link(connect=None) as link: ...          # MCP in memory, or "direct"

The world's products become the database's catalog (``import_tau2_catalog``) and its users
and orders a template session (``install_tau2_world``), both only when the database does not
hold them yet; each episode copies the template (``open_tau2_session``). The agent reaches the
tools through the tau2 surface's MCP server (``surface="tau2-retail"``), in memory by default;
``"direct"`` calls the same server's tools in process without the protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from episodes.links import DirectLink, Link, McpLink, openai_tool
from mcp_shop import Shop
from mcp_shop.tau2.loader import Tau2Retail
from mcp_shop.tau2.replay import DbCheck
from mcp_shop.tool_catalog import Surface, hidden_tools

__all__ = ["SURFACE", "Backend", "Tau2Env", "agent_tools", "prepare_database"]

SURFACE: Surface = "tau2-retail"
HIDDEN = hidden_tools(SURFACE)


class Backend(Protocol):
    """What an episode needs of its environment (``Tau2Env``; tests may give another)."""

    world: Tau2Retail

    def link(self, connect: str | None = None) -> Link: ...

    def open_session(self) -> str: ...

    def db_check(self, session_id: str, task: Any) -> DbCheck: ...

    def trace(self, session_id: str) -> list[Any]: ...

    def close_session(self, session_id: str) -> None: ...


def prepare_database(url: str, world: Tau2Retail) -> tuple[Shop, str]:
    """The shop over ``url`` holding ``world`` (imported when missing) and the world's key.
    A database whose catalog is another one is refused (``InvalidState``): a tau2 world needs
    a database of its own."""
    from mcp_shop.db import make_engine
    from mcp_shop.tau2.install import import_tau2_world

    engine = make_engine(url)
    try:
        key = import_tau2_world(engine, world,
                                remedy="give a new --tau2-db, or leave it out").key
    except BaseException:
        engine.dispose()
        raise
    return Shop(engine, index_dir=None), key


@dataclass
class Tau2Env:
    """A prepared world: the shop, the world's key, its records and the tau2 server."""

    shop: Shop
    key: str
    world: Tau2Retail
    url: str
    _server: Any = None

    @classmethod
    def open(cls, world: Tau2Retail, url: str) -> Tau2Env:
        shop, key = prepare_database(url, world)
        return cls(shop=shop, key=key, world=world, url=url)

    def server(self) -> Any:
        """The tau2 surface's MCP server over the shop (built once)."""
        if self._server is None:
            from mcp_shop.server import build_server

            self._server = build_server(self.shop, surface=SURFACE, world=self.key,
                                        log_level="WARNING")
        return self._server

    def link(self, connect: str | None = None) -> Link:
        """The agent's way to the tools: an MCP client in memory (None) or ``"direct"``."""
        if connect == "direct":
            return _ServerDirect(self)
        if connect is not None:
            raise ValueError(f"a tau2 run reaches its tools in memory or --direct, not "
                             f"{connect!r}")
        return _ServerMcp(self)

    # -- privileged ---------------------------------------------------------------------------

    def open_session(self) -> str:
        from mcp_shop.tau2.session_world import open_tau2_session

        return open_tau2_session(self.shop.engine, self.key)

    def db_check(self, session_id: str, task: Any) -> DbCheck:
        """tau2's DB check: the session's state against the task's gold actions replayed on
        the world (both hashes, and the gold calls the tools refused)."""
        from mcp_shop.tau2.replay import db_check

        return db_check(self.shop.engine, session_id, task)

    def trace(self, session_id: str) -> list[Any]:
        """The server's trace records of the session's calls."""
        return list(self.shop.trace(session_id))

    def close_session(self, session_id: str) -> None:
        from mcp_shop.pruning import remove_session

        remove_session(self.shop.engine, session_id, missing_ok=True)


class _ServerMcp(McpLink):
    """An MCP client on the tau2 surface's in-memory server."""

    def __init__(self, env: Tau2Env) -> None:
        super().__init__(env.shop, None)
        self.env = env

    async def __aenter__(self) -> _ServerMcp:
        from mcp import Client

        self._cm = Client(self.env.server())
        self._client = await self._cm.__aenter__()
        return self


class _ServerDirect(DirectLink):
    """The tau2 surface server's tools called in process (``--direct``)."""

    def __init__(self, env: Tau2Env) -> None:
        super().__init__(env.shop)
        self.env = env

    async def __aenter__(self) -> _ServerDirect:
        self._server = self.env.server()
        return self


def agent_tools(listed: list[Any]) -> list[dict[str, Any]]:
    """The listed MCP tools an agent sees (OpenAI format, no ``session_id``, no hidden
    tool)."""
    return [openai_tool(t) for t in listed if t.name not in HIDDEN]
