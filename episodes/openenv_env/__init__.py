"""The shop's episodes as an OpenEnv environment (openenv-core; the ``openenv`` extra).

``ShopEnvironment`` is the server side (an openenv-core ``Environment`` over the server's
``EpisodeTable``); ``shop-episodes serve-env`` serves it (``episodes.http_env`` has the routes
and the protocol). ``ShopEnv`` is the client, openenv-core's ``EnvClient`` typed with
``ShopAction``, ``ShopObservation`` and ``ShopState``:

    from episodes.openenv_env import ShopAction, ShopEnv, ToolCall

    async with ShopEnv(base_url="http://127.0.0.1:8100") as env:
        result = await env.reset(family="purchase", difficulty=2, seed=1)
        print(result.observation.shopper_message)
        result = await env.step(ShopAction(tool_calls=[
            ToolCall(name="search_products", arguments={"query": "desk lamp"})]))
        result = await env.step(ShopAction(message="I found two lamps: ..."))
        ...
        if result.done:
            print(result.reward, result.observation.breakdown, result.observation.record)

Reset arguments: ``family`` + ``difficulty`` (+ ``seed``, default 0) for a generated task,
``task`` (a TaskSpec as a dict) or ``task_id`` (a task of the server's ``--tasks``); optional
``policy`` and ``trial`` name the rollout record.
"""

from __future__ import annotations

from episodes.openenv_env.client import ShopEnv, parse_result
from episodes.openenv_env.environment import ENV_NAME, ShopEnvironment
from episodes.openenv_env.models import (
    ShopAction,
    ShopObservation,
    ShopState,
    ToolCall,
    ToolOutcome,
)

__all__ = [
    "ENV_NAME",
    "ShopAction",
    "ShopEnv",
    "ShopEnvironment",
    "ShopObservation",
    "ShopState",
    "ToolCall",
    "ToolOutcome",
    "parse_result",
]
