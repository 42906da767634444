"""The tool catalogue: every tool of the shop declared once, as plain data.

The shop serves two tool surfaces: ``native`` (the shop's own tools, :data:`TOOLS`) and
``tau2-retail`` (tau2-bench retail's sixteen tools and the hidden ``open_session``,
:data:`TAU2_RETAIL_TOOLS`; see docs/tau2-retail.md section 5). A server serves one surface.
Each tool has a name (unique within its surface), the surface it belongs to, its kind
(``read``: looks state up; ``write``: changes the shop; ``talk``: speaks to the shopper),
whether it is consequential (needs the shopper's yes first, and which intent kind it serves),
whether it reads an order, whether agents may see it, and its MCP annotation hints.
Everything else derives from this table: the MCP server's tool annotations
(``mcp_shop.server``), the episode controller's hidden and state-changing tools, the TRL, Gym
and HTTP environments, and the verifiers' consequential calls and order reads. The
module-level tables (``HIDDEN_TOOLS``, ``CONSEQUENTIAL_TOOLS``, ...) describe the native
surface; the functions take a ``surface``.

This module is pure data: it imports neither ``mcp`` nor the database, so ``verifiers`` (which
imports nothing else of ``mcp_shop``) may import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CATALOGUE",
    "CONSEQUENTIAL_TOOLS",
    "HIDDEN_TOOLS",
    "INTENT_OF_CONFIRMATION",
    "ORDER_READ_TOOLS",
    "STATE_CHANGING_TOOLS",
    "SURFACES",
    "TAU2_RETAIL_TOOLS",
    "TOOLS",
    "ConfirmationKind",
    "Consequence",
    "Hints",
    "IntentKind",
    "Kind",
    "Surface",
    "ToolSpec",
    "agent_tools",
    "hidden_tools",
    "state_changing_tools",
    "tool",
    "tools",
]

Kind = Literal["read", "write", "talk"]
Surface = Literal["native", "tau2-retail"]
SURFACES: tuple[Surface, ...] = ("native", "tau2-retail")
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

# The native surface.
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

_T2: Surface = "tau2-retail"

# tau2-bench retail's tools (names and parameters: mcp_shop.tau2.records.TOOL_PARAMS), with the
# session opener of this shop. tau2's writes need the user's explicit yes under tau2's policy;
# they carry no ``Consequence`` here because its confirmation and intent kinds are the native
# verifiers' (the tau2 verdict is tau2's own, mcp_shop.tau2.verdict).
TAU2_RETAIL_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec("open_session", "write", _ADD, surface=_T2, hidden=True),
    # look-ups
    ToolSpec("find_user_id_by_email", "read", _READ, surface=_T2),
    ToolSpec("find_user_id_by_name_zip", "read", _READ, surface=_T2),
    ToolSpec("get_user_details", "read", _READ, surface=_T2),
    ToolSpec("get_order_details", "read", _READ, surface=_T2, reads_order=True),
    ToolSpec("get_product_details", "read", _READ, surface=_T2),
    ToolSpec("get_item_details", "read", _READ, surface=_T2),
    ToolSpec("list_all_product_types", "read", _READ, surface=_T2),
    # changes to orders and users
    ToolSpec("cancel_pending_order", "write", _FINAL, surface=_T2),
    ToolSpec("modify_pending_order_address", "write", _SET, surface=_T2),
    ToolSpec("modify_pending_order_items", "write", _FINAL, surface=_T2),
    ToolSpec("modify_pending_order_payment", "write", _FINAL, surface=_T2),
    ToolSpec("modify_user_address", "write", _SET, surface=_T2),
    ToolSpec("exchange_delivered_order_items", "write", _FINAL, surface=_T2),
    ToolSpec("return_delivered_order_items", "write", _FINAL, surface=_T2),
    # neither: arithmetic, and handing the conversation to a person
    ToolSpec("calculate", "read", _READ, surface=_T2),
    ToolSpec("transfer_to_human_agents", "talk", _TALK, surface=_T2),
)

CATALOGUE: dict[Surface, tuple[ToolSpec, ...]] = {"native": TOOLS, _T2: TAU2_RETAIL_TOOLS}
"""Every surface's tools, in catalogue order."""

_BY_NAME = {(s, t.name): t for s, specs in CATALOGUE.items() for t in specs}


def tools(surface: Surface = "native") -> tuple[ToolSpec, ...]:
    """The tools of ``surface`` (hidden ones included), in catalogue order; ``KeyError`` for
    an unknown surface."""
    try:
        return CATALOGUE[surface]
    except KeyError:
        raise KeyError(f"{surface!r} is not a tool surface; surfaces: {', '.join(SURFACES)}"
                       ) from None


def tool(name: str, surface: Surface = "native") -> ToolSpec:
    """The declaration of tool ``name`` of ``surface``; ``KeyError`` for a tool the
    catalogue lacks."""
    try:
        return _BY_NAME[(surface, name)]
    except KeyError:
        raise KeyError(f"{name!r} is not in the tool catalogue of surface {surface!r} "
                       "(mcp_shop/tool_catalog.py)") from None


def agent_tools(surface: Surface = "native") -> tuple[ToolSpec, ...]:
    """The tools agents see, in catalogue order."""
    return tuple(t for t in tools(surface) if not t.hidden)


def hidden_tools(surface: Surface = "native") -> frozenset[str]:
    """Tools never shown to agents (the episode opens the session itself)."""
    return frozenset(t.name for t in tools(surface) if t.hidden)


def state_changing_tools(surface: Surface = "native") -> frozenset[str]:
    """Tools whose successful call may change the session's state."""
    return frozenset(t.name for t in tools(surface) if t.kind == "write" and not t.hidden)


# The native surface's tables (what the episode controller, the environments and the
# verifiers import).
HIDDEN_TOOLS: frozenset[str] = hidden_tools("native")
# Tools whose successful call may change the session's state (cart, orders, codes, ...).
STATE_CHANGING_TOOLS: frozenset[str] = state_changing_tools("native")
# Consequential tools and the kind of yes each needs (checkout -> "checkout", cancel_order ->
# "cancel", ...), and the intent kind each confirmation kind carries out ("checkout" ->
# "purchase", ...).
CONSEQUENTIAL_TOOLS: dict[str, ConfirmationKind] = {
    t.name: t.consequential.confirmation for t in TOOLS if t.consequential is not None}
INTENT_OF_CONFIRMATION: dict[ConfirmationKind, IntentKind] = {
    t.consequential.confirmation: t.consequential.intent
    for t in TOOLS if t.consequential is not None}
ORDER_READ_TOOLS: tuple[str, ...] = tuple(t.name for t in TOOLS if t.reads_order)
