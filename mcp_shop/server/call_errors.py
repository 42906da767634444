"""The errors of a tool call as the shop's server reports them: the tool errors it raises
(a shop domain error, arguments that do not match the input schema), the message naming each
rejected argument, and the error code and message a failed call's trace record keeps."""

from __future__ import annotations

from typing import Any

import anyio
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from pydantic import ValidationError

from mcp_shop.errors import ShopError, shown
from mcp_shop.server.number_errors import explain_number

__all__ = ["InvalidArguments", "ShopToolError", "classify", "invalid_arguments", "short"]


class ShopToolError(ToolError):
    """A shop domain error surfaced as a tool error; keeps the domain error as its cause."""

    def __init__(self, error: ShopError) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error


class InvalidArguments(ToolError):
    """Arguments that do not match the tool's input schema (named in the message)."""


def invalid_arguments(tool: str, error: ValidationError,
                       schema: dict[str, Any] | None = None) -> str:
    """A short message naming each rejected argument, what was wrong and what was given
    (for a number too large or not finite, the range the tool's input ``schema`` allows)."""
    problems = []
    for e in error.errors(include_url=False)[:10]:
        where = ".".join(str(p) for p in e["loc"]) or "arguments"
        given = "" if e["type"] == "missing" else f" (got {short(e.get('input'))})"
        msg = explain_number(schema or {}, tuple(e["loc"]), e["type"], e.get("input"))
        problems.append(f"{where}: {msg or e['msg']}{given}")
    return f"Error executing tool {tool}: invalid arguments: " + "; ".join(problems)


def short(value: Any) -> str:
    return shown(value)  # bounded work, whatever the size of the value


def classify(tool: str, exc: BaseException) -> tuple[str, str]:
    """Error code and message of a failed call, as recorded in the trace."""
    cause = exc.__cause__
    if isinstance(cause, ShopToolError):
        return cause.error.code, cause.error.message
    text = str(exc).removeprefix(f"Error executing tool {tool}: ")
    if isinstance(exc, InvalidArguments):
        return "invalid_arguments", text.removeprefix("invalid arguments: ")
    if isinstance(exc, UnexpectedToolError):
        return "internal_error", text
    if isinstance(exc, ToolError):
        return ("unknown_tool" if text.startswith("Unknown tool") else "tool_error"), text
    if isinstance(exc, anyio.get_cancelled_exc_class()):
        return "cancelled", "the call was cancelled before its result was returned"
    return "internal_error", type(exc).__name__
