"""The tool catalogue: every tool of the shop declared once, as plain data.

Each tool has a name, the surface it belongs to, its kind (``read``: looks state up;
``write``: changes the shop; ``talk``: speaks to the shopper), whether it is consequential
(needs the shopper's yes first, and which intent kind it serves), whether it reads an order,
whether agents may see it, and its MCP annotation hints. Everything else derives from this
table: the MCP server's tool annotations (``mcp_shop.server``), the episode controller's hidden
and state-changing tools, the TRL, Gym and HTTP environments, and the verifiers' consequential
calls and order reads.

This module is pure data: it imports neither ``mcp`` nor the database, so ``verifiers`` (which
imports nothing else of ``mcp_shop``) may import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CONSEQUENTIAL_TOOLS",
    "HIDDEN_TOOLS",
    "INTENT_OF_CONFIRMATION",
    "ORDER_READ_TOOLS",
    "STATE_CHANGING_TOOLS",
    "TOOLS",
    "ConfirmationKind",
    "Consequence",
    "Hints",
    "IntentKind",
    "Kind",
    "Surface",
    "ToolSpec",
    "agent_tools",
    "tool",
]

Kind = Literal["read", "write", "talk"]
Surface = Literal["native"]
IntentKind = Literal["purchase", "cancel", "return", "exchange"]
ConfirmationKind = Literal["checkout", "cancel", "return", "exchange"]


@dataclass(frozen=True)
class Hints:
    """MCP tool annotation hints (the ``ToolAnnotations`` a client sees in ``tools/list``)."""

    read_only: bool
    destructive: bool | None = None  # only meaningful when not read_only
    idempotent: bool | None = None
    open_world: bool = False


@dataclass(frozen=True)
class Consequence:
    """What a consequential tool needs: the kind of yes the shopper gives to it (a
    ``Confirmation.kind``) and the kind of intent it carries out."""

    confirmation: ConfirmationKind
    intent: IntentKind


@dataclass(frozen=True)
class ToolSpec:
    """One tool, declared once."""

    name: str
    kind: Kind
    hints: Hints
    surface: Surface = "native"
    consequential: Consequence | None = None  # needs the shopper's yes first
    reads_order: bool = False  # looks an order up (what an answer about an order rests on)
    hidden: bool = False  # never shown to agents (the episode opens the session itself)


_READ = Hints(read_only=True)
_ADD = Hints(read_only=False, destructive=False, idempotent=False)
_SET = Hints(read_only=False, destructive=True, idempotent=True)
_TALK = Hints(read_only=False, destructive=False, idempotent=True)
_FINAL = Hints(read_only=False, destructive=True, idempotent=False)

TOOLS: tuple[ToolSpec, ...] = (
    # catalog
    ToolSpec("open_session", "write", _ADD, hidden=True),
    ToolSpec("search_products", "read", _READ),
    ToolSpec("get_product", "read", _READ),
    ToolSpec("list_categories", "read", _READ),
    ToolSpec("find_similar", "read", _READ),
    ToolSpec("compare_products", "read", _READ),
    ToolSpec("present_products", "talk", _TALK),
    ToolSpec("state_facts", "talk", _TALK),
    # cart and checkout
    ToolSpec("view_cart", "read", _READ),
    ToolSpec("add_to_cart", "write", _ADD),
    ToolSpec("update_cart_item", "write", _SET),
    ToolSpec("remove_from_cart", "write", _SET),
    ToolSpec("apply_discount_code", "write", Hints(read_only=False, destructive=False,
                                                   idempotent=True)),
    ToolSpec("remove_discount_code", "write", _SET),
    ToolSpec("get_customer", "read", _READ),
    ToolSpec("checkout", "write", _FINAL, 
             consequential=Consequence("checkout", "purchase")),
    # orders, returns and policies
    ToolSpec("list_orders", "read", _READ, reads_order=True),
    ToolSpec("get_order", "read", _READ, reads_order=True),
    ToolSpec("cancel_order", "write", _FINAL, 
             consequential=Consequence("cancel", "cancel")),
    ToolSpec("check_return_eligibility", "read", _READ, reads_order=True),
    ToolSpec("request_return", "write", _FINAL, 
             consequential=Consequence("return", "return")),
    ToolSpec("request_exchange", "write", _FINAL, 
             consequential=Consequence("exchange", "exchange")),
    ToolSpec("search_policy", "read", _READ),
)

_BY_NAME = {t.name: t for t in TOOLS}


def tool(name: str) -> ToolSpec:
    """The declaration of tool ``name``; ``KeyError`` for a tool the catalogue lacks."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not in the tool catalogue (mcp_shop/tool_catalog.py)"
                       ) from None


def agent_tools() -> tuple[ToolSpec, ...]:
    """The tools agents see, in catalogue order."""
    return tuple(t for t in TOOLS if not t.hidden)


HIDDEN_TOOLS: frozenset[str] = frozenset(t.name for t in TOOLS if t.hidden)
# Tools whose successful call may change the session's state (cart, orders, codes, ...).
STATE_CHANGING_TOOLS: frozenset[str] = frozenset(
    t.name for t in TOOLS if t.kind == "write" and not t.hidden)
# Consequential tools and the kind of yes each needs (checkout -> "checkout", cancel_order ->
# "cancel", ...), and the intent kind each confirmation kind carries out ("checkout" ->
# "purchase", ...).
CONSEQUENTIAL_TOOLS: dict[str, ConfirmationKind] = {
    t.name: t.consequential.confirmation for t in TOOLS if t.consequential is not None}
INTENT_OF_CONFIRMATION: dict[ConfirmationKind, IntentKind] = {
    t.consequential.confirmation: t.consequential.intent
    for t in TOOLS if t.consequential is not None}
ORDER_READ_TOOLS: tuple[str, ...] = tuple(t.name for t in TOOLS if t.reads_order)
