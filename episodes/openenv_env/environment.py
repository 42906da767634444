"""``ShopEnvironment``: the shop's episodes as an openenv-core ``Environment``. Instances are
cheap views over the server's one ``EpisodeTable`` (one per WebSocket session, one per plain
HTTP request), so every door reaches the same episodes, limits and records."""

from __future__ import annotations

import asyncio
from typing import Any

from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import EnvironmentMetadata

from episodes.controller import Episode, StepResult
from episodes.http_env.protocol import EnvError
from episodes.http_env.sessions import EpisodeTable, task_summary
from episodes.openenv_env.models import ShopAction, ShopObservation, ShopState, ToolOutcome

__all__ = ["ENV_NAME", "ShopEnvironment"]

ENV_NAME = "shop_env"  # OpenEnv names: ShopEnv, ShopAction, ShopObservation
_DESCRIPTION = ("A verifiable e-commerce environment: an agent serves a simulated shopper "
                "(purchases, returns, exchanges, cancellations, ...) through the shop's MCP "
                "tools; the reward is checked against the shop's final state.")


class ShopEnvironment(Environment[ShopAction, ShopObservation, ShopState]):
    """One client's view of the episode table.

    ``reset`` starts an episode (``family``/``difficulty``/``seed``, ``task`` or ``task_id``,
    see ``ResetBody``) and remembers its id; ``step`` runs an action in that episode (or in
    ``episode_id`` when given, as on plain HTTP). ``close`` (the WebSocket session ended) drops
    the episode if it is still running.
    """

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, table: EpisodeTable, episode_id: str | None = None, *,
                 reset_as: str = "reset") -> None:
        super().__init__()
        self.table = table
        self.episode_id = episode_id
        self.reset_as = reset_as  # how error texts name a reset: "POST /reset" on plain HTTP
        self._owned = False  # started here: released when this view closes

    # -- reset and step (async: the controller runs on the server's event loop) -------------

    async def reset_async(self, seed: int | None = None, episode_id: str | None = None,
                          **kwargs: Any) -> ShopObservation:
        body: dict[str, Any] = dict(kwargs)
        if seed is not None:
            body["seed"] = seed
        if episode_id is not None:
            body["episode_id"] = episode_id
        return await self.start(body)

    async def start(self, body: dict[str, Any]) -> ShopObservation:
        """Start the episode a reset body names (``ResetBody``: 422 naming what is wrong). It
        replaces the episode this view started before, which is dropped (if still running)
        only once the new one has started: a refused reset leaves it running."""
        previous = self.episode_id if self._owned else None
        started = await self.table.reset(body, self.reset_as, replaces=previous)
        self.episode_id, self._owned = started.episode_id, True
        episode, obs = started.episode, started.observation
        return ShopObservation(
            episode_id=started.episode_id, shopper_message=obs.shopper_message, turn=obs.turn,
            tool_calls=obs.tool_calls, tools=obs.tools, task=task_summary(episode.task),
            limits=episode.task.limits.model_dump(), reward_mode=self.table.controller.reward_mode,
            session_id=episode.session_id if self.table.expose_session else None,
            done=False, reward=None)

    async def step_async(self, action: ShopAction, timeout_s: float | None = None,
                         episode_id: str | None = None, **kwargs: Any) -> ShopObservation:
        target = episode_id or self.episode_id
        if target is None:
            raise EnvError(409, "step before reset: reset an episode first (its observation "
                           "carries the episode_id that plain-HTTP steps name)")
        act = self.table.action([(c.name, c.arguments) for c in action.tool_calls],
                                action.message, action.done)
        stepped = await self.table.step(target, act, self.reset_as)
        return observation(target, stepped.episode, stepped.result)

    def reset(self, seed: int | None = None, episode_id: str | None = None,
              **kwargs: Any) -> ShopObservation:
        raise NotImplementedError("ShopEnvironment is async: use reset_async (the OpenEnv "
                                  "server does)")

    def step(self, action: ShopAction, timeout_s: float | None = None,
             **kwargs: Any) -> ShopObservation:
        raise NotImplementedError("ShopEnvironment is async: use step_async (the OpenEnv "
                                  "server does)")

    # -- state, metadata, close ---------------------------------------------------------------

    @property
    def state(self) -> ShopState:
        if self.episode_id is None:
            return ShopState()
        return state_of(self.episode_id, self.table, self.reset_as)

    def get_metadata(self) -> EnvironmentMetadata:
        from episodes.controller import ENV_VERSION

        return EnvironmentMetadata(name=ENV_NAME, description=_DESCRIPTION,
                                   version=ENV_VERSION.rsplit("/", 1)[-1])

    def close(self) -> None:
        """Called by openenv-core when a WebSocket session ends (from a worker thread)."""
        if not self._owned or self.episode_id is None:
            return
        loop = self.table.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop:
            self._release()
        else:
            loop.call_soon_threadsafe(self._release)

    def _release(self) -> None:
        if self._owned and self.episode_id is not None:
            self.table.release(self.episode_id)
        self._owned = False


def observation(episode_id: str, episode: Episode, result: StepResult) -> ShopObservation:
    """A step's result as the observation reset and step answer."""
    obs = result.observation
    out = ShopObservation(
        episode_id=episode_id, shopper_message=obs.shopper_message,
        tool_results=[ToolOutcome(**r.model_dump()) for r in obs.tool_results], turn=obs.turn,
        tool_calls=obs.tool_calls, terminated=result.terminated, truncated=result.truncated,
        done=result.done, reward=result.reward)
    if result.done and episode.breakdown is not None:
        out.stop_reason = episode.stop_reason
        out.success = episode.breakdown.success
        out.breakdown = episode.breakdown.model_dump(mode="json")
        out.record = episode.record()
    return out


def state_of(episode_id: str | None, table: EpisodeTable,
             reset_as: str = "POST /reset") -> ShopState:
    """The ``ShopState`` of the table's episode ``episode_id`` (422 without one, 404 unknown)."""
    episode = table.episode(episode_id, reset_as=reset_as)
    assert episode_id is not None
    state = ShopState(
        episode_id=episode_id, step_count=table.steps(episode_id), task=task_summary(episode.task),
        turn=episode.turn, tool_calls=len(episode.calls), done=episode.done,
        terminated=episode.terminated, truncated=episode.truncated,
        stop_reason=episode.stop_reason or None,
        messages=[m.model_dump(mode="json", exclude_none=True) for m in episode.messages])
    if episode.breakdown is not None:
        state.reward, state.success = episode.breakdown.reward, episode.breakdown.success
    return state
