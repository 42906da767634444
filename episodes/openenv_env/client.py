"""``ShopEnv``: the typed OpenEnv client of the shop env (openenv-core's ``EnvClient``, which
holds one WebSocket session per client: ``reset``, ``step``, ``state``).

    async with ShopEnv(base_url="http://127.0.0.1:8100") as env:
        result = await env.reset(family="purchase", difficulty=2, seed=1)
        result = await env.step(ShopAction(tool_calls=[
            ToolCall(name="search_products", arguments={"query": "desk lamp"})]))
        ...
        result.observation.record  # the rollout record, once result.done

``ShopEnv(...).sync()`` gives openenv-core's synchronous wrapper.
"""

from __future__ import annotations

from typing import Any

from openenv.core import EnvClient
from openenv.core.client_types import StepResult

from episodes.openenv_env.models import ShopAction, ShopObservation, ShopState

__all__ = ["ShopEnv", "parse_result"]


def parse_result(payload: dict[str, Any]) -> StepResult[ShopObservation]:
    """A reset or step answer (``{"observation", "reward", "done"}``, over WebSocket or plain
    HTTP) as a ``StepResult``."""
    obs = ShopObservation.model_validate({**payload.get("observation", {}),
                                          "reward": payload.get("reward"),
                                          "done": payload.get("done", False)})
    return StepResult(observation=obs, reward=obs.reward, done=obs.done)


class ShopEnv(EnvClient[ShopAction, ShopObservation, ShopState]):
    """The shop env's OpenEnv client (a WebSocket session; ``http://`` URLs are converted)."""

    def _step_payload(self, action: ShopAction) -> dict[str, Any]:
        return action.model_dump(mode="json", exclude={"metadata"})

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[ShopObservation]:
        return parse_result(payload)

    def _parse_state(self, payload: dict[str, Any]) -> ShopState:
        return ShopState.model_validate(payload)
