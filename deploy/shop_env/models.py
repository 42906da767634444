"""The shop env's OpenEnv wire types (``episodes.openenv_env.models``)."""

from __future__ import annotations

from episodes.openenv_env.models import (
    ShopAction,
    ShopObservation,
    ShopState,
    ToolCall,
    ToolOutcome,
)

__all__ = ["ShopAction", "ShopObservation", "ShopState", "ToolCall", "ToolOutcome"]
