"""The shop as a Gymnasium environment with text observations and text actions.

    import gymnasium as gym
    import episodes.gym_env  # registers "McpShop-v0"

    env = gym.make("McpShop-v0", families=["purchase"], difficulties=[2])
    obs, info = env.reset(seed=7)            # obs: JSON text with the shopper's opening
    obs, reward, terminated, truncated, info = env.step(
        '{"tool": "search_products", "arguments": {"query": "olive oil"}}')
    obs, reward, terminated, truncated, info = env.step("Here is what I found ...")

An action is one of:

* a JSON object ``{"tool": NAME, "arguments": {...}}``: one tool call (``"name"`` may stand for
  ``"tool"``; ``arguments`` may be a JSON string, as in OpenAI tool calls);
* a JSON object ``{"tool_calls": [{"name": ..., "arguments": {...}}, ...], "message": ...,
  "done": ...}``: a whole ``episodes.controller.Action``; ``{"message": "..."}`` and
  ``{"done": true}`` (give up) are short forms of it;
* any other text: a message to the shopper (text starting with ``{`` must be a JSON action).

An action that cannot be read is not played: the observation and ``info["error"]`` say what
is wrong, the reward is 0 and the episode goes on. An action after the episode's end is not
played either: the observation says so (``done`` true, ``error``), the reward is 0. Steps of
one environment from several threads are serialised.

An observation is a JSON object (ASCII, non-ASCII characters escaped) with
``shopper_message`` (the shopper's new message, or null), ``tool_results`` (name, arguments,
ok, content), ``turn``, ``done`` and, after an unreadable action, ``error``. ``info`` carries
``task_id``, ``family``, ``difficulty`` and (on reset) ``tools``, the tool schemas; at the end
``success``, ``stop_reason`` and ``breakdown``, the controller's reward breakdown.

Which shop: the ``shop`` argument, else the ``MCP_SHOP_*`` environment variables (see
``episodes.sync``). ``connect="direct"`` calls the tools in process without the MCP protocol
(same results, errors, validation and records as the default in-memory MCP server, faster).
Which task on ``reset(seed=...)``: ``options={"task": TaskSpec or its dict/JSON}``, else one of
the ``tasks`` given to the constructor, else a task generated for ``options``' or a random
``family``, ``difficulty`` and ``task_seed`` (drawn from the seeded generator, so the same seed
gives the same task).
"""

from __future__ import annotations

import copy
import string
import sys
from collections.abc import Sequence
from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium import spaces

from episodes.controller import Episode, Observation, RewardMode, StepResult
from episodes.sync import (
    EpisodeOver,
    HeldRuntime,
    ShopSettings,
    SyncController,
    shared_controller,
)
from episodes.text_io import (
    MIN_OBSERVATION_LENGTH,
    ActionError,
    parse_action,
    render_observation,
)
from mcp_shop import Shop
from verifiers.types import TaskSpec

__all__ = ["ENV_ID", "MIN_OBSERVATION_LENGTH", "ActionError", "ShopEnv", "TextEnv",
           "parse_action"]

ENV_ID = "McpShop-v0"
DEFAULT_DIFFICULTIES = tuple(range(0, 6))
OBSERVATION_MAX_LENGTH = 200_000
ACTION_MAX_LENGTH = 8_192
# JSON with ensure_ascii only ever holds printable ASCII; actions may use any printable ASCII.
TEXT_CHARSET = string.printable

class TextEnv(gym.Env[str, str]):
    """What the text doors share (``ShopEnv`` here, the tau2 retail env in
    ``episodes.tau2.gym_env``): text spaces, reading actions (``parse_action``), steps through
    a ``HeldRuntime``, observations as JSON text cut to the space, the "episode over" answer,
    rendering and closing. A subclass sets ``_runtime`` and ``_episode`` (in ``reset``) and
    says what ``info`` always carries (``_base_info``)."""

    metadata: dict[str, Any] = {"render_modes": ["ansi", "human"], "render_fps": 1}
    _user_label = "Shopper"  # who the user is in the rendered transcript
    _runtime: HeldRuntime

    def __init__(self, *, render_mode: str | None = None,
                 max_observation_length: int = OBSERVATION_MAX_LENGTH,
                 max_action_length: int = ACTION_MAX_LENGTH) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r}: choose one of "
                             f"{', '.join(self.metadata['render_modes'])}")
        if (isinstance(max_observation_length, bool) or not isinstance(max_observation_length, int)
                or max_observation_length < MIN_OBSERVATION_LENGTH):
            raise ValueError(f"max_observation_length={max_observation_length!r}: it must be "
                             f"an integer of at least {MIN_OBSERVATION_LENGTH}")
        if (isinstance(max_action_length, bool) or not isinstance(max_action_length, int)
                or max_action_length < 1):
            raise ValueError(f"max_action_length={max_action_length!r}: it must be a positive "
                             "integer")
        self.render_mode = render_mode
        self.observation_space = spaces.Text(max_observation_length, min_length=1,
                                             charset=TEXT_CHARSET)
        self.action_space = spaces.Text(max_action_length, min_length=1, charset=TEXT_CHARSET)
        self._max_obs = max_observation_length
        self._episode: Any = None

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The agent's tools in OpenAI function format, as the server lists them (a copy)."""
        return copy.deepcopy(self._runtime.tools)

    # -- the Gymnasium API ------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        task = self._pick_task(options or {})
        self._release()
        self._episode, first = self._runtime.start(task, policy="gym")
        info = self._base_info()
        info["tools"] = self.tools
        return self._render_obs(first), info

    def step(self, action: str) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        if self._episode is None:
            raise RuntimeError("call reset() before step()")
        if self._episode.done:
            return self._over()
        try:
            parsed = parse_action(action)
        except ActionError as exc:
            obs = Observation(shopper_message=None, turn=self._episode.turn,
                              tool_calls=len(self._episode.calls))
            info = self._base_info()
            info.update(turn=self._episode.turn, tool_calls=len(self._episode.calls),
                        error=str(exc))
            return self._render_obs(obs, error=str(exc)), 0.0, False, False, info
        try:
            result: StepResult = self._runtime.step(self._episode, parsed)
        except EpisodeOver:  # another thread's step ended the episode meanwhile
            return self._over()
        info = self._base_info()
        info.update(copy.deepcopy(result.info))
        self._end_info(info)
        return (self._render_obs(result.observation), float(result.reward),
                bool(result.terminated), bool(result.truncated), info)

    def render(self) -> str | None:  # type: ignore[override]
        """The conversation so far as text ("ansi"), or printed ("human")."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='ansi' "
                            "or 'human' to the constructor")
            return None
        text = self._transcript()
        if self.render_mode == "human":
            print(text, file=sys.stdout)
            return None
        return text

    def close(self) -> None:
        """Drop the current episode and remove its session (unless the controller keeps
        sessions; the shared connection stays open for other environments and closes at
        exit)."""
        self._release()
        self._episode = None

    # -- what subclasses say ----------------------------------------------------------------

    def _release(self) -> None:
        """The episode being replaced or dropped leaves the database (``release``)."""
        if self._episode is not None:
            self._runtime.release(self._episode)

    def _pick_task(self, options: dict[str, Any]) -> Any:
        """The task ``reset`` starts, from its ``options`` and the seeded generator."""
        raise NotImplementedError

    def _base_info(self) -> dict[str, Any]:
        """What every step's ``info`` carries (the task's identity)."""
        raise NotImplementedError

    def _end_flags(self) -> tuple[bool, bool]:
        """(terminated, truncated) of the ended episode."""
        return bool(self._episode.terminated), bool(self._episode.truncated)

    def _end_info(self, info: dict[str, Any]) -> None:
        """Add to a played step's ``info`` (at the end, say) what the door adds."""

    # -- helpers ----------------------------------------------------------------------------

    def _over(self) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        """The step result of an action after the episode's end: nothing is played, the
        observation and ``info["error"]`` say so, the reward is 0."""
        episode = self._episode
        assert episode is not None
        message = "the episode is over: call reset()"
        obs = Observation(shopper_message=None, turn=episode.turn,
                          tool_calls=len(episode.calls), done=True)
        info = self._base_info()
        info.update(turn=episode.turn, tool_calls=len(episode.calls), error=message)
        return (self._render_obs(obs, error=message), 0.0, *self._end_flags(), info)

    def _render_obs(self, obs: Observation, *, error: str | None = None) -> str:
        """The observation as ASCII JSON within ``max_observation_length``
        (``episodes.text_io.render_observation``)."""
        return render_observation(obs, self._max_obs, error=error)

    def _transcript(self) -> str:
        if self._episode is None:
            return ""
        lines = []
        for m in self._episode.messages:
            if m.role == "tool":
                lines.append(f"[tool {m.name}] {m.content}")
            elif m.tool_calls:
                lines.extend(f"[call] {c.function.get('name')}({c.function.get('arguments')})"
                             for c in m.tool_calls)
            else:
                who = self._user_label if m.role == "user" else "Agent"
                lines.append(f"{who}: {m.content}")
        return "\n".join(lines)


class ShopEnv(TextEnv):
    """One shopping episode per reset; text in, text out (see the module docstring)."""

    def __init__(self, shop: Shop | None = None, *, tasks: Sequence[TaskSpec] | None = None,
                 families: Sequence[str] | None = None,
                 difficulties: Sequence[int] = DEFAULT_DIFFICULTIES,
                 connect: str | tuple[str, ...] | None = None,
                 reward_mode: RewardMode | None = None, settings: ShopSettings | None = None,
                 render_mode: str | None = None,
                 max_observation_length: int = OBSERVATION_MAX_LENGTH,
                 max_action_length: int = ACTION_MAX_LENGTH) -> None:
        """``tasks``: a fixed pool to draw from; else tasks are generated for ``families``
        (default all) and ``difficulties`` (default 0-5). ``shop``, ``connect``,
        ``reward_mode``, ``settings``: which shop and how (default: the ``MCP_SHOP_*``
        environment variables; ``connect="direct"``: the tools in process, no MCP protocol)."""
        super().__init__(render_mode=render_mode, max_observation_length=max_observation_length,
                         max_action_length=max_action_length)
        from episodes.generate import families as known_families

        self._runtime: SyncController = shared_controller(
            shop, connect=connect, reward_mode=reward_mode, settings=settings)
        self.tasks: list[TaskSpec] = list(tasks or [])
        known = known_families()
        self.families: list[str] = list(families) if families else list(known)
        bad = [f for f in self.families if f not in known]
        if bad:
            raise ValueError(f"unknown family {bad[0]!r}; families are {', '.join(known)}")
        self.difficulties: list[int] = list(difficulties)
        if not self.difficulties:
            raise ValueError("difficulties must not be empty")
        self._episode: Episode | None = None

    @property
    def shop(self) -> Shop:
        return self._runtime.shop

    @property
    def episode(self) -> Episode | None:
        """The controller's episode being played (for its messages, record and breakdown)."""
        return self._episode

    def _pick_task(self, options: dict[str, Any]) -> TaskSpec:
        unknown = sorted(set(options) - {"task", "family", "difficulty", "task_seed"})
        if unknown:
            raise ValueError(f"unknown reset option(s) {', '.join(map(repr, unknown))}: "
                             "expected 'task', 'family', 'difficulty' or 'task_seed'")
        spec = options.get("task")
        if spec is not None:
            if isinstance(spec, TaskSpec):
                return spec
            if isinstance(spec, str | bytes):
                return TaskSpec.model_validate_json(spec)
            return TaskSpec.model_validate(spec)
        rng = self.np_random
        if self.tasks and not ({"family", "difficulty", "task_seed"} & set(options)):
            return self.tasks[int(rng.integers(len(self.tasks)))]
        family = options.get("family") or self.families[int(rng.integers(len(self.families)))]
        difficulty = options.get("difficulty")
        if difficulty is None:
            difficulty = self.difficulties[int(rng.integers(len(self.difficulties)))]
        task_seed = options.get("task_seed")
        if task_seed is None:
            task_seed = int(rng.integers(2**31 - 1))
        from episodes.generate import generate_task

        return generate_task(self.shop, str(family), int(difficulty), int(task_seed))

    def _base_info(self) -> dict[str, Any]:
        assert self._episode is not None
        task = self._episode.task
        return {"task_id": task.task_id, "family": task.family, "difficulty": task.difficulty}


if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="episodes.gym_env:ShopEnv")
