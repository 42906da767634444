"""What the tau2 tool modules share: the error a refused call raises."""

from __future__ import annotations

from typing import Any

from mcp_shop.errors import ShopError

__all__ = ["Tau2ToolError", "fail"]


class Tau2ToolError(ShopError):
    """A tau2 tool call refused: ``code`` names the kind (``tau2_order_not_found``, ...), the
    message is tau2's own text for it, ``context`` holds the ids involved. Nothing was
    written."""

    code = "tau2_tool_error"

    def __init__(self, code: str, message: str, **context: Any) -> None:
        super().__init__(message, **context)
        self.code = code


def fail(code: str, message: str, **context: Any) -> Tau2ToolError:
    """The error to raise (``raise fail(...)``): code ``tau2_<code>``, tau2's message."""
    return Tau2ToolError(f"tau2_{code}", message, **context)
