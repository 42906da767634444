"""The shop env in OpenEnv's environment layout: the client and its wire types (the code lives
in the mcp-shop project, ``episodes.openenv_env``; this package only names it)."""

from __future__ import annotations

from .client import ShopEnv
from .models import ShopAction, ShopObservation, ShopState, ToolCall, ToolOutcome

__all__ = ["ShopAction", "ShopEnv", "ShopObservation", "ShopState", "ToolCall", "ToolOutcome"]
