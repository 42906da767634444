"""MCP tool annotations derived from the tool catalogue (``mcp_shop.tool_catalog``): the one
place where a catalogue entry becomes the ``ToolAnnotations`` clients see in ``tools/list``."""

from __future__ import annotations

from mcp.types import ToolAnnotations

from mcp_shop import tool_catalog
from mcp_shop.tool_catalog import Surface

__all__ = ["annotations_for"]


def annotations_for(name: str, surface: Surface = "native") -> ToolAnnotations:
    """The annotations of catalogue tool ``name`` of ``surface``; ``KeyError`` for a tool not
    declared there (every tool the server offers must be)."""
    hints = tool_catalog.tool(name, surface).hints
    if hints.read_only:
        return ToolAnnotations(read_only_hint=True, open_world_hint=hints.open_world)
    return ToolAnnotations(read_only_hint=False, destructive_hint=hints.destructive,
                           idempotent_hint=hints.idempotent, open_world_hint=hints.open_world)
