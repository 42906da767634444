"""tau2 retail's sixteen agent tools over a shop session holding a tau2 world.

One entry point, :func:`call_tau2_tool`, serves the MCP surface (``mcp-shop serve --surface
tau2-retail``) and the gold replay of the DB check (:mod:`mcp_shop.tau2.replay`) alike; the
table :data:`TAU2_TOOLS` names each tool's function. The tools read and write the session's
shop rows (orders, lines, payments, payment methods, addresses); their results are tau2's JSON
(a user, order, product or item as its record dumped, a user id as a string, the product list
as name -> product id sorted by name, the calculator's result rounded to two places as a
string, "Transfer successful").

Rules and messages are tau2's tool rules (docs/tau2-retail.md section 5). A refused call raises
:class:`Tau2ToolError`: a shop error whose ``code`` names the kind of failure
(``tau2_order_not_found``, ``tau2_order_not_pending``, ...) and whose message is tau2's text,
so an agent reads what tau2 would answer and the trace keeps the code. Every tool checks
everything before it writes, so a refused call changes nothing (callers run each call in a
transaction as well).

Two behaviours differ from tau2's floats on purpose or by construction (docs section 8):

- **Money in cents.** The shop keeps integer cents where tau2 keeps float dollars. A change of
  items records its price difference as tau2 computes it, summed over the pairs in the order
  given, but in cents, so where tau2 stores an unrounded float (``51.580000000000005``) the
  projection gives ``51.58``. Both sides of the DB check go through the same projection.
- **The last new item.** tau2's change of items sets every changed unit's price and options
  from the *last* new item of the call. The surface reproduces it, so that the DB verdict is
  tau2's whatever order the agent lists the pairs in.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection

from mcp_shop.errors import InvalidState, NotFound, shown
from mcp_shop.models import ShopSession
from mcp_shop.sql import Sql, fetch_one
from mcp_shop.tau2 import tools_read as r
from mcp_shop.tau2 import tools_write as w
from mcp_shop.tau2.records import READ_TOOLS, TOOL_PARAMS, WRITE_TOOLS
from mcp_shop.tau2.session_world import SURFACE
from mcp_shop.tau2.tools_common import Tau2ToolError, fail

__all__ = [
    "LIST_PARAMS",
    "TAU2_TOOLS",
    "Tau2ToolError",
    "calculate",
    "call_tau2_tool",
    "check_arguments",
    "transfer_to_human_agents",
]


LIST_PARAMS = frozenset({"item_ids", "new_item_ids"})
"""Parameters that take a list of item ids; every other parameter takes a string."""

_MAX_TEXT = 10_000  # longer strings are refused: no tau2 id, address or summary comes close


def check_arguments(name: Any, arguments: Any) -> dict[str, Any]:
    """``arguments`` for tool ``name`` when they are what it takes (exactly its parameters, a
    string each, a list of strings for item ids); ``Tau2ToolError`` saying what is wrong and
    what is valid otherwise."""
    if not isinstance(name, str) or name not in TOOL_PARAMS:
        raise fail("unknown_tool", f"Tool {shown(name)} not found; the tools are: "
                   f"{', '.join(TOOL_PARAMS)}", tool=shown(name))
    params = TOOL_PARAMS[name]
    if not isinstance(arguments, Mapping):
        raise fail("invalid_arguments", f"{name} takes an object of arguments "
                   f"{list(params)}, not {shown(arguments)}", tool=name)
    missing = [p for p in params if p not in arguments]
    extra = sorted(shown(k) for k in arguments if k not in params)
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unknown {', '.join(extra)}"] if extra else [])
        raise fail("invalid_arguments", f"{name} takes exactly {list(params)}: "
                   f"{'; '.join(parts)}", tool=name, missing=missing, unknown=extra)
    for p in params:
        value = arguments[p]
        if p in LIST_PARAMS:
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value) and (
                len(value) <= 1000)
            want = "a list of item ids (strings, at most 1000)"
        else:
            ok = isinstance(value, str) and len(value) <= _MAX_TEXT
            want = f"a string of at most {_MAX_TEXT} characters"
        if not ok:
            raise fail("invalid_arguments", f"{name}: {p} must be {want}, not {shown(value)}",
                       tool=name, argument=p)
    return {p: arguments[p] for p in params}


# --- calculate and transfer: no database -----------------------------------------------------

_CALC_CHARS = frozenset("0123456789+-*/(). ")
_MAX_EXPRESSION = 1000
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow}


def _value(node: ast.AST) -> int | float:
    """The value of an arithmetic expression as Python evaluates it (tau2 evaluates the text
    as Python), without evaluating anything but numbers and + - * / // ** and signs."""
    if isinstance(node, ast.Expression):
        return _value(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        inner = _value(node.operand)
        return -inner if isinstance(node.op, ast.USub) else +inner
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 10**12):
            raise ValueError("a power too large to compute: exponents up to 64 of numbers "
                             "up to 10**12")
        if isinstance(left, int) and isinstance(right, int) and max(
                abs(left), abs(right)).bit_length() > 4000:
            raise ValueError("a number too large to compute")
        return _BINARY[type(node.op)](left, right)  # type: ignore[no-any-return]
    raise ValueError("only numbers, + - * / and parentheses are allowed")


def calculate(expression: str) -> str:
    """tau2's calculator: the value of an arithmetic expression over numbers with + - * / and
    parentheses, rounded to two places, as a string ('7.5', '12.0')."""
    if not all(c in _CALC_CHARS for c in expression):
        raise fail("invalid_expression", "Invalid characters in expression",
                   expression=shown(expression))
    if len(expression) > _MAX_EXPRESSION:
        raise fail("invalid_expression", f"Invalid expression: longer than "
                   f"{_MAX_EXPRESSION} characters", length=len(expression))
    try:
        return str(round(float(_value(ast.parse(expression.strip(), mode="eval"))), 2))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, RecursionError,
            MemoryError) as exc:
        reason = "division by zero" if isinstance(exc, ZeroDivisionError) else (
            "not a valid arithmetic expression" if isinstance(exc, SyntaxError) else str(exc)
            or type(exc).__name__)
        raise fail("invalid_expression", f"Invalid expression: {reason}",
                   expression=shown(expression)) from None


def transfer_to_human_agents(summary: str) -> str:
    """tau2's hand-over: nothing changes; the answer is fixed."""
    return "Transfer successful"


# --- the table and the entry point -----------------------------------------------------------

ToolFn = Callable[..., Any]


def _no_db(fn: Callable[..., Any]) -> ToolFn:
    def run(conn: Connection, session_id: str, **arguments: Any) -> Any:
        return fn(**arguments)
    run.__name__ = run.__qualname__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run


TAU2_TOOLS: dict[str, ToolFn] = {
    "find_user_id_by_email": r.find_user_id_by_email,
    "find_user_id_by_name_zip": r.find_user_id_by_name_zip,
    "get_user_details": r.get_user_details,
    "get_order_details": r.get_order_details,
    "get_product_details": r.get_product_details,
    "get_item_details": r.get_item_details,
    "list_all_product_types": r.list_all_product_types,
    "cancel_pending_order": w.cancel_pending_order,
    "modify_pending_order_address": w.modify_pending_order_address,
    "modify_pending_order_items": w.modify_pending_order_items,
    "modify_pending_order_payment": w.modify_pending_order_payment,
    "modify_user_address": w.modify_user_address,
    "exchange_delivered_order_items": w.exchange_delivered_order_items,
    "return_delivered_order_items": w.return_delivered_order_items,
    "calculate": _no_db(calculate),
    "transfer_to_human_agents": _no_db(transfer_to_human_agents),
}
"""Each tool's function ``fn(conn, session_id, **arguments)``, by tau2's name."""
assert set(TAU2_TOOLS) == set(TOOL_PARAMS) == READ_TOOLS | WRITE_TOOLS


_SURFACE = Sql(f"SELECT surface FROM {ShopSession.__tablename__} WHERE id = ?")


def _require_tau2_session(conn: Connection, session_id: str) -> None:
    """NotFound for an unknown session; InvalidState for a session that is not a tau2 retail
    episode's (a native session, or the template every tau2 session is copied from, which must
    never change)."""
    row = fetch_one(conn, _SURFACE, (session_id,))
    if row is None:
        raise NotFound("unknown session_id: open a tau2 retail session first",
                       session_id=shown(session_id))
    if row[0] != SURFACE:
        raise InvalidState(f"session is a {row[0]} session, not a {SURFACE} one: tau2's tools "
                           "serve only tau2 retail episode sessions", surface=row[0])


def call_tau2_tool(conn: Connection, session_id: str, name: str,
                   arguments: Mapping[str, Any]) -> Any:
    """Run tau2 tool ``name`` with ``arguments`` on session ``session_id`` over ``conn`` (the
    caller's transaction). Returns tau2's result; raises :class:`Tau2ToolError` (nothing
    written) for an unknown tool, arguments it does not take, or a call its rules refuse, and
    the shop's NotFound / InvalidState for a session that is unknown or not a tau2 one."""
    args = check_arguments(name, arguments)
    _require_tau2_session(conn, session_id)
    return TAU2_TOOLS[name](conn, session_id, **args)
