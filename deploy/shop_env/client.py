"""``ShopEnv``, the shop env's OpenEnv client (``episodes.openenv_env.client``), with the action
and observation types beside it, where OpenEnv's discovery (``AutoEnv``, ``AutoAction``) looks
for all three."""

from __future__ import annotations

from episodes.openenv_env.client import ShopEnv, parse_result
from episodes.openenv_env.models import ShopAction, ShopObservation, ShopState

__all__ = ["ShopAction", "ShopEnv", "ShopObservation", "ShopState", "parse_result"]
