"""The taskset: which episodes of the env server to play, and how one is scored.

A task is the body of one ``POST /reset`` (a generated family/difficulty/seed, a server
``task_id`` or a whole task). Its setup starts the episode on the server and keeps the episode
id, the tools and the shopper's opening in the rollout's :class:`ShopState`; its reward is the
server's final reward, and the server's breakdown is recorded as metrics (never summed).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import verifiers.v1 as vf
from pydantic import Field

from mcp_shop_prime import client
from mcp_shop_prime.toolset import ShopState, ShopToolset

__all__ = ["FAMILIES", "SYSTEM_PROMPT", "ShopData", "ShopTask", "ShopTaskConfig",
           "ShopTaskset", "ShopTasksetConfig"]

FAMILIES = ["discovery", "substitution", "cart", "purchase", "return", "exchange",
            "order_status", "cancel", "policy", "bundle", "price_compare", "multi"]

SYSTEM_PROMPT = (
    "You are the shopping assistant of an online shop, talking with a customer. Use the tools "
    "to look things up and to act; never invent product, variant, order or payment ids, prices "
    "or policies: take them from tool results. Show the products you recommend with "
    "present_products; state each fact you tell about an order or a policy with state_facts. "
    "Before a checkout, a cancellation, a return or an exchange, say what you will do, naming "
    "every term (items, payment methods, shipping, address, refund route, reason), and ask a "
    "question starting with \"Shall I\"; act only after the customer says yes, exactly on the "
    "terms agreed. Your text replies go to the customer; an empty reply ends the conversation. "
    "Prices are in integer cents."
)


class ShopTaskConfig(vf.TaskConfig):
    """How tasks reach the env server (``--env.taskset.task.*``)."""

    base_url: str = "http://127.0.0.1:8100"
    """Where ``shop-episodes serve-env`` answers."""
    timeout: float = Field(120.0, gt=0)
    """Seconds per HTTP request to the env server."""
    policy: str = "prime"
    """The policy name the server writes into the episode's rollout record."""
    keep_record: bool = False
    """Copy the server's rollout record of each episode into ``trace.info['mcp_shop_record']``."""
    close: bool = True
    """``POST /close`` each episode once it is scored (the server forgets it)."""


class ShopData(vf.TaskData):
    reset: dict[str, Any]
    """The ``POST /reset`` body: ``{"family", "difficulty", "seed"}``, ``{"task_id"}`` or
    ``{"task": {...}}``."""


class ShopTask(vf.Task[ShopData, ShopState, ShopTaskConfig]):
    """One episode on the env server: started in ``setup``, scored by the server."""

    async def setup(self, trace: vf.Trace, runtime: vf.Runtime) -> None:
        cfg = self.config
        body = {"policy": cfg.policy, **self.data.reset}
        started = await client.reset(cfg.base_url, body, timeout=cfg.timeout)
        if not started.shopper_message:
            raise client.ShopEnvError("POST /reset", 200, "the answer has no shopper message")
        state = trace.state
        state.base_url = cfg.base_url
        state.timeout = cfg.timeout
        state.episode_id = started.episode_id
        state.tools = started.tools
        state.opening = started.shopper_message
        trace.info["mcp_shop_episode_id"] = started.episode_id

    async def finalize(self, trace: vf.Trace, runtime: vf.Runtime) -> None:
        """The episode must be over before scoring: end it if the run stopped first."""
        state = trace.state
        if state.episode_id and not state.done:
            state.absorb(await client.step(state.base_url, state.episode_id, {"done": True},
                                           timeout=state.timeout))
        if state.episode_id and self.config.keep_record:
            trace.info["mcp_shop_record"] = await client.record(
                state.base_url, state.episode_id, timeout=state.timeout)
        if state.episode_id and self.config.close:
            await client.close(state.base_url, state.episode_id, timeout=state.timeout)

    @vf.reward(weight=1.0)
    async def shop_reward(self, trace: vf.Trace) -> float:
        """The env server's final reward for the episode."""
        if trace.state.reward is None:
            raise ValueError(f"episode {trace.state.episode_id!r} ended without a reward")
        return float(trace.state.reward)

    @vf.metric
    async def shop_breakdown(self, trace: vf.Trace) -> dict[str, float]:
        """The server's verdict: success, each component's value, the turns and tool calls."""
        state = trace.state
        out = {"success": float(bool(state.success)), "turns": float(state.turn),
               "tool_calls": float(state.tool_calls)}
        for component in (state.breakdown or {}).get("components", []):
            out[f"component_{component['name']}"] = float(component["value"])
        trace.info["mcp_shop"] = {"episode_id": state.episode_id, "reward": state.reward,
                                  "success": state.success, "stop_reason": state.stop_reason,
                                  "breakdown": state.breakdown}
        return out


class ShopTasksetConfig(vf.TasksetConfig):
    """Which episodes to play (``--env.taskset.*``): ``resets`` if given, else ``task_ids``,
    else every family x difficulty x seed, seed-major (``-n`` then takes every family once
    before any repeats)."""

    families: list[str] = Field(default_factory=lambda: list(FAMILIES))
    difficulties: list[int] = Field(default_factory=lambda: [1])
    num_seeds: int = Field(10, ge=1)
    """Seeds 0 .. num_seeds-1 of each family and difficulty."""
    task_ids: list[str] = Field(default_factory=list)
    """Tasks of the server's ``--tasks`` file, by id."""
    resets: list[dict[str, Any]] = Field(default_factory=list)
    """Explicit ``POST /reset`` bodies."""
    system_prompt_text: str = SYSTEM_PROMPT
    """The assistant's instructions."""
    tools: vf.SharedToolsetConfig = vf.SharedToolsetConfig()
    task: ShopTaskConfig = ShopTaskConfig()


def _name(reset: dict[str, Any]) -> str:
    if "task_id" in reset:
        return str(reset["task_id"])
    if "task" in reset:
        return str(reset["task"].get("task_id", "task"))
    return f"{reset.get('family')}-d{reset.get('difficulty')}-s{reset.get('seed', 0)}"


class ShopTaskset(vf.Taskset[ShopTask, ShopTasksetConfig]):
    """The env server's episodes as tasks; the server's tools through one shared toolset."""

    @classmethod
    def toolsets(cls, config: ShopTasksetConfig) -> list[vf.Toolset]:
        return [ShopToolset(config.tools)]

    def resets(self) -> list[dict[str, Any]]:
        cfg = self.config
        if cfg.resets:
            return [dict(r) for r in cfg.resets]
        if cfg.task_ids:
            return [{"task_id": t} for t in cfg.task_ids]
        grid = itertools.product(range(cfg.num_seeds), cfg.difficulties, cfg.families)
        return [{"family": f, "difficulty": d, "seed": s} for s, d, f in grid]

    def load(self) -> Iterator[ShopTask]:
        for reset in self.resets():
            yield ShopTask(ShopData(name=_name(reset), prompt=None, reset=reset,
                                    system_prompt=self.config.system_prompt_text),
                           self.config.task)
