"""mcp-shop as a Prime Intellect ``verifiers`` environment: the model plays the shop assistant
of ``shop-episodes serve-env`` (reached over HTTP) and is scored by the server's reward.

    vf-eval mcp-shop-prime --env.taskset.task.base-url http://127.0.0.1:8100 -n 12

The library finds the taskset (and this package's env) through ``__all__``;
:func:`load_environment` builds the same env in Python.
"""

from __future__ import annotations

from typing import Any

import verifiers.v1 as vf

from mcp_shop_prime.env import ShopEnv, ShopEnvConfig
from mcp_shop_prime.taskset import ShopTaskset

__all__ = ["ShopEnv", "ShopTaskset", "load_environment"]

TASKSET_ID = "mcp-shop-prime"


def load_environment(**taskset: Any) -> vf.Env:
    """The environment, with ``taskset`` as the taskset's config fields (``families``,
    ``difficulties``, ``num_seeds``, ``task_ids``, ``resets``, ``task={"base_url": ...}``)."""
    return vf.load_environment(ShopEnvConfig(taskset={"id": TASKSET_ID, **taskset}))
