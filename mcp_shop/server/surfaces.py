"""What differs between the tool surfaces a server can serve (``mcp_shop.tool_catalog``): the
instructions and description it announces, and the refusal of a session of another surface."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp.server.mcpserver.exceptions import ToolError

from mcp_shop import sessions
from mcp_shop.db import read_tx
from mcp_shop.errors import InvalidInput, ShopError
from mcp_shop.server.call_errors import ShopToolError
from mcp_shop.shop import Shop
from mcp_shop.sql import Sql, fetch_one
from mcp_shop.tool_catalog import Surface

if TYPE_CHECKING:
    from mcp_shop.server.app import ShopServer

__all__ = ["INSTRUCTIONS", "SURFACE_MEMORY", "TAU2_INSTRUCTIONS", "SurfaceGuard", "WrongSurface",
           "describe", "session_surface", "wrong_surface"]

INSTRUCTIONS = """\
An online shop. Call open_session first and pass the session_id it returns to every other tool \
(on a stdio connection a default session exists and session_id may be omitted). Find products \
with search_products, inspect them with get_product (carts, orders, returns and exchanges work \
by variant id such as 'V-000042-3'), show your picks to the shopper with present_products, and \
read the policies with search_policy. Money is in integer cents: 1999 means $19.99."""
TAU2_INSTRUCTIONS = """\
A retail customer-service desk with tau2-bench retail's tools, over one world of users, \
orders and products. Call open_session first and pass the session_id it returns to every other \
tool (on a stdio connection a default session exists and session_id may be omitted). Find the \
customer's user id with find_user_id_by_email or find_user_id_by_name_zip, then read their \
details, orders, products and items. Order ids look like '#W0123456', product and item ids are \
ten digits, amounts are dollars. The tools that cancel, modify, return or exchange change the \
order at once."""
_SURFACES: dict[Surface, tuple[str, str]] = {
    "native": (INSTRUCTIONS, "A seeded online shop for shopping agents"),
    "tau2-retail": (TAU2_INSTRUCTIONS, "tau2-bench retail's tools over a shop session"),
}
# most sessions whose surface a server remembers having checked (then it starts over)
SURFACE_MEMORY = 100_000
_SURFACE_OF = Sql("SELECT surface FROM shop_session WHERE id = ?")


def describe(surface: Surface) -> tuple[str, str]:
    """The instructions and the description a server of ``surface`` announces."""
    try:
        return _SURFACES[surface]
    except KeyError:
        raise ValueError(f"unknown surface {surface!r}: {' or '.join(_SURFACES)}") from None


def session_surface(shop: Shop, session_id: str) -> str | None:
    """The surface session ``session_id`` serves; None when the handle names no session (the
    tool itself then says what is wrong with it)."""
    try:
        sid = sessions.check_handle(session_id)
    except ShopError:
        return None
    with read_tx(shop.engine) as conn:
        row = fetch_one(conn, _SURFACE_OF, (sid,))
    return None if row is None else str(row[0])


def wrong_surface(surface: str, served: Surface) -> InvalidInput:
    """The error of a call naming a session of another surface than the server's."""
    if surface == "tau2-retail-template":
        return InvalidInput(
            "session_id names the template a tau2 world's sessions are copied from, which no "
            "tool may use: call open_session and pass the session_id it returns",
            session_surface=surface, server_surface=served)
    how = ("a server started with mcp-shop serve --surface tau2-retail"
           if surface == "tau2-retail" else "a server of the native tools (mcp-shop serve)")
    return InvalidInput(
        f"session_id names a {surface} session, and this server serves the {served} tools: "
        f"use that session on {how}, or call open_session here and pass the session_id it "
        "returns", session_surface=surface, server_surface=served)


class WrongSurface(ToolError):
    """A call refused because its session serves another surface (worded as the SDK words a
    tool's error; the shop error is its cause, so the trace keeps its code). ``template``: the
    session is a tau2 world's template, whose trace is not written either."""

    def __init__(self, tool: str, error: ShopError, *, template: bool) -> None:
        refused = ShopToolError(error)
        super().__init__(f"Error executing tool {tool}: {refused}")
        self.__cause__ = refused
        self.template = template


class SurfaceGuard:
    """Refuses calls naming a session of another surface than its server's; each session is
    read once (a session's surface never changes), up to ``SURFACE_MEMORY`` remembered, and
    not at all on a native server when its shop opened it (``Shop.opened_here``)."""

    def __init__(self, server: ShopServer, surface: Surface) -> None:
        self.server = server
        self.surface = surface
        self.checked: set[str] = set()

    async def check(self, tool: str, session_id: str | None) -> None:
        """Raise :class:`WrongSurface` when ``session_id`` names a session of another
        surface; a handle that names no session passes (the tool says what is wrong)."""
        if session_id is None or session_id in self.checked:
            return
        if self.surface == "native" and self.server.shop.opened_here(session_id):
            return  # a native session, or none: the read would let it pass either way
        surface = await self.server.run_db(session_surface, self.server.shop, session_id)
        if surface is None:
            return
        if surface != self.surface:
            raise WrongSurface(tool, wrong_surface(surface, self.surface),
                               template=surface == "tau2-retail-template")
        if len(self.checked) >= SURFACE_MEMORY:
            self.checked.clear()
        self.checked.add(session_id)
