"""The shop as a TRL environment: ``GRPOTrainer(environment_factory=ShopToolEnv)``.

TRL builds one instance per rollout with no arguments, calls ``reset(**row)`` with a dataset
row (its return value, the shopper's opening message, is appended to the row's last user
message), exposes every public method of the instance's class as a tool (schemas from the
type hints and the Google-style docstrings), and scores the rollout with ``get_reward()``:

    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer
    from episodes.trl_env import ShopToolEnv, trl_rows

    dataset = Dataset.from_list(trl_rows(tasks))       # or `shop-episodes tasks --format trl`
    trainer = GRPOTrainer(model=..., args=GRPOConfig(...), train_dataset=dataset,
                          environment_factory=ShopToolEnv)

The tools are the shop's MCP tools (without the session handle, which the episode adds) and
``send_message``, the only way to talk to the shopper; each runs one step of an episode of the
``EpisodeController``, so rewards are the controller's. The tool methods are made from the
tool list the MCP server gives (``episodes.tool_methods``): an instance is of a subclass with
one method per listed tool, whose names, parameters, required parameters, types, enums and
descriptions are the server's, so the schemas TRL builds from them say what the server says.

Which shop: the ``MCP_SHOP_*`` environment variables (``episodes.sync``), or
``ShopToolEnv.factory(shop)`` in code; ``ShopToolEnv.factory(shop, connect="direct")`` calls
the tools in process without the MCP protocol (same results, errors, validation and records as
the in-memory MCP server, faster).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterable
from typing import Any, Self, cast

from episodes.controller import Action, Episode, RewardMode, StepResult, ToolRequest
from episodes.sync import (
    EpisodeOver,
    HeldRuntime,
    ShopSettings,
    SyncController,
    shared_controller,
)
from episodes.tool_methods import with_tools
from mcp_shop import Shop
from verifiers.types import Breakdown, TaskSpec

__all__ = ["SYSTEM_PROMPT", "EpisodeToolEnv", "ShopToolEnv", "task_from_row", "trl_rows"]

SYSTEM_PROMPT = (
    "You are the shopping assistant of an online shop. A customer writes to you. Use the tools "
    "to look things up and to act, and talk to the customer only with send_message, which "
    "returns their reply; the conversation ends when they are satisfied. Never invent product, "
    "variant, order or payment ids, prices or policies: take them from tool results. Show the "
    "products you recommend with present_products. Before a checkout, a cancellation, a return "
    "or an exchange, say what you will do, naming every term you will use (items, payment "
    "methods, shipping, address, refund route, reason), and ask a question starting with "
    "\"Shall I\"; act only after the customer says yes, exactly on the terms agreed. Prices "
    "are in integer cents."
)

_OVER = "Error: the episode is over (the conversation has ended); no more tools can be used."


def trl_rows(tasks: Iterable[TaskSpec], *, system_prompt: str | None = SYSTEM_PROMPT,
             include_task: bool = True) -> list[dict[str, Any]]:
    """Dataset rows for ``GRPOTrainer`` with ``environment_factory=ShopToolEnv``, one per task.

    ``prompt`` is the conversation before the shopper speaks (a system message, then an empty
    user message that TRL fills with what ``reset`` returns: the shopper's opening message).
    ``task_id``, ``family``, ``difficulty`` and ``seed`` identify the task; ``task`` (unless
    ``include_task`` is false) is the whole ``TaskSpec`` as JSON, so that ``reset`` needs no
    generator and hand-written tasks work too. Without it, ``reset`` regenerates the task from
    (family, difficulty, seed) on the configured catalog. Every row has the same columns, so
    ``datasets.Dataset.from_list(rows)`` takes them.
    """
    rows = []
    for task in tasks:
        prompt = [{"role": "user", "content": ""}]
        if system_prompt:
            prompt.insert(0, {"role": "system", "content": system_prompt})
        row: dict[str, Any] = {"prompt": prompt, "task_id": task.task_id,
                               "family": task.family, "difficulty": task.difficulty,
                               "seed": task.seed}
        if include_task:
            row["task"] = task.model_dump_json()
        rows.append(row)
    return rows


def task_from_row(shop: Shop, row: dict[str, Any]) -> TaskSpec:
    """The task a dataset row names: its ``task`` JSON, else generated from its ``family``,
    ``difficulty`` and ``seed`` (checked against its ``task_id``, if any)."""
    spec = row.get("task")
    if spec:
        task = (TaskSpec.model_validate_json(spec) if isinstance(spec, str | bytes)
                else TaskSpec.model_validate(spec))
    else:
        missing = [k for k in ("family", "difficulty", "seed") if row.get(k) is None]
        if missing:
            raise ValueError(f"the row has no 'task' and no {', '.join(missing)}: cannot tell "
                             "which task to play (rows come from trl_rows or `shop-episodes "
                             "tasks --format trl`)")
        from episodes.generate import generate_task

        task = generate_task(shop, str(row["family"]), int(row["difficulty"]),
                             int(row["seed"]))
        wanted = row.get("task_id")
        if wanted and wanted != task.task_id:
            raise ValueError(f"the row's task_id {wanted!r} is not the generated task "
                             f"{task.task_id!r}: keep the task JSON in the rows")
    made_on = task.catalog.get("fingerprint")
    if made_on and made_on != shop.catalog.fingerprint:
        raise ValueError(f"task {task.task_id} was generated on another catalog "
                         f"({str(made_on)[:12]}) than this shop's "
                         f"({shop.catalog.fingerprint[:12]}); set MCP_SHOP_DB, "
                         "MCP_SHOP_CATALOG_SEED and MCP_SHOP_CATALOG_SIZE to the catalog the "
                         "tasks were made on")
    return task


class EpisodeToolEnv:
    """What the TRL doors share (``ShopToolEnv`` here, ``Tau2ToolEnv`` in
    ``episodes.tau2.trl_env``): tool calls and messages as steps of the episode through a
    ``HeldRuntime``, their results as text (``Error: ...`` for a refused call or after the
    end), and ``get_reward``. A subclass says which runtime its constructor's arguments name
    (``_shared_runtime``: its tool list gives the instance's tool methods), sets ``_runtime``,
    ``_episode`` and ``_last``, and says what the ended episode's reward is (``_reward``)."""

    _runtime: HeldRuntime
    _episode: Any
    _last: StepResult | None

    def __new__(cls, *args: Any, **options: Any) -> Self:
        """An instance of ``cls`` with a method per tool the runtime of these arguments lists
        (a subclass made once per tool list, ``episodes.tool_methods.with_tools``)."""
        tools = cls._shared_runtime(*args, **options).tools
        return cast(Self, object.__new__(with_tools(cls, tools)))

    @classmethod
    def _shared_runtime(cls, *args: Any, **options: Any) -> HeldRuntime:
        """The process's runtime for the constructor's arguments (each door says which)."""
        raise NotImplementedError

    def get_reward(self) -> float:
        """The episode's reward; an episode still running is ended first (as if the agent
        stopped), so every rollout is scored."""
        episode = self._require()
        if not episode.done:
            with contextlib.suppress(EpisodeOver):  # another thread ended it meanwhile
                self._last = self._runtime.step(episode, Action(done=True))
        return self._reward(episode)

    @property
    def task(self) -> Any:
        """The task being played (None before the first reset)."""
        return self._episode.task if self._episode is not None else None

    @property
    def done(self) -> bool:
        """Whether the episode has ended."""
        return self._episode is not None and self._episode.done

    @property
    def info(self) -> dict[str, Any]:
        """The last step's info (turn, tool calls; at the end success, stop reason and the
        verdict), as the episode reports it."""
        return dict(self._last.info) if self._last is not None else {}

    # -- plumbing (private: TRL exposes every public method as a tool) ----------------------

    def _start(self, task: Any) -> str:
        """Start an episode of ``task`` in place of the current one (whose session leaves
        the database); the user's opening message."""
        self._release()
        self._episode, obs = self._runtime.start(task, policy="trl")
        self._last = None
        return obs.shopper_message or ""

    def _release(self) -> None:
        """The current episode's session leaves the database (the runtime's ``release``)."""
        if self._episode is not None:
            self._runtime.release(self._episode)

    def _reward(self, episode: Any) -> float:
        """The ended episode's reward."""
        raise NotImplementedError

    def _require(self) -> Any:
        if self._episode is None:
            raise RuntimeError("no episode: call reset() first")
        return self._episode

    def _tool(self, name: str, **arguments: Any) -> str:
        """Call one tool as one step of the episode; the result as JSON text, or an
        ``Error: ...`` text. Arguments left at None are not sent (the tool's default
        applies)."""
        episode = self._require()
        if episode.done:
            return _OVER
        args = {k: v for k, v in arguments.items() if v is not None}
        try:
            self._last = step = self._runtime.step(
                episode, Action(tool_calls=[ToolRequest(name=name, arguments=args)]))
        except EpisodeOver:  # ended by a call from another thread meanwhile
            return _OVER
        if not step.observation.tool_results:
            return ("Error: the tool-call budget is exhausted; the episode is over "
                    f"({step.info.get('stop_reason', 'stopped')}).")
        result = step.observation.tool_results[0]
        if not result.ok:
            return f"Error: {result.content}"
        if isinstance(result.content, str):
            return result.content
        return json.dumps(result.content, ensure_ascii=False, separators=(",", ":"))

    # -- talking to the shopper -------------------------------------------------------------

    def send_message(self, text: str) -> str:
        """Send a message to the customer and return their reply. This is the only way to talk
        to the customer: ask questions, propose products or actions, confirm what was done.

        Args:
            text: The message to the customer.
        """
        episode = self._require()
        if episode.done:
            return _OVER
        try:
            self._last = step = self._runtime.step(episode, Action(message=text))
        except EpisodeOver:  # ended by a call from another thread meanwhile
            return _OVER
        reply = step.observation.shopper_message or ""
        if step.done:
            reply += "\n[The conversation is over.]"
        return reply


class ShopToolEnv(EpisodeToolEnv):
    """One shopping episode at a time, driven through tool methods (TRL's environment
    contract). Built with no arguments, it uses the shop the ``MCP_SHOP_*`` environment
    variables name; ``ShopToolEnv.factory(shop)`` binds an explicit one. An instance is of a
    subclass holding one method per tool the shop's MCP server lists (made once per tool
    list, ``episodes.tool_methods``)."""

    def __init__(self, *, shop: Shop | None = None, connect: str | tuple[str, ...] | None = None,
                 reward_mode: RewardMode | None = None,
                 settings: ShopSettings | None = None) -> None:
        """Every argument is optional (TRL passes none): ``shop`` (default: from
        ``settings``, default the environment), ``connect`` (an MCP server URL or stdio
        command; default in memory; ``"direct"``: the in-process tools without the MCP
        protocol, same results and records, faster) and ``reward_mode`` (sparse, shaped or
        dense)."""
        self._runtime: SyncController = self._shared_runtime(
            shop=shop, connect=connect, reward_mode=reward_mode, settings=settings)
        self._episode: Episode | None = None
        self._last: StepResult | None = None

    @classmethod
    def _shared_runtime(cls, *, shop: Shop | None = None,
                        connect: str | tuple[str, ...] | None = None,
                        reward_mode: RewardMode | None = None,
                        settings: ShopSettings | None = None) -> SyncController:
        return shared_controller(shop, connect=connect, reward_mode=reward_mode,
                                 settings=settings)

    @classmethod
    def factory(cls, shop: Shop | None = None, *, connect: str | tuple[str, ...] | None = None,
                reward_mode: RewardMode | None = None,
                settings: ShopSettings | None = None) -> Callable[[], ShopToolEnv]:
        """A zero-argument callable making environments bound to these settings (for
        ``environment_factory=``)."""
        return functools.partial(cls, shop=shop, connect=connect, reward_mode=reward_mode,
                                 settings=settings)

    # -- the episode ------------------------------------------------------------------------

    def reset(self, **row: Any) -> str:
        """Start the episode a dataset row names (see ``trl_rows``; other columns, such as
        ``prompt``, are ignored) and return the shopper's opening message."""
        return self._start(task_from_row(self._runtime.shop, row))

    @property
    def breakdown(self) -> Breakdown | None:
        """The verdict (success, reward components with reasons, reward) once the episode has
        ended; None before."""
        return self._episode.breakdown if self._episode is not None else None

    @property
    def record(self) -> dict[str, Any]:
        """The rollout record (the same JSONL line as ``shop-episodes run``) of the ended
        episode."""
        return self._require().record()

    # -- plumbing (private: TRL exposes every public method as a tool) ----------------------

    def _reward(self, episode: Episode) -> float:
        assert episode.breakdown is not None
        return episode.breakdown.reward

    def _require(self) -> Episode:
        episode: Episode = super()._require()
        return episode

