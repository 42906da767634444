"""What an agent and an episode exchange, step by step: the agent's ``Action`` (tool calls, a
message to the user, or done), the ``Observation`` it gets back, a step's ``StepResult``, and
the ``Agent`` / ``Policy`` protocols every agent implements. Shared by the shop's episodes
(``episodes.controller``), tau2's (``episodes.tau2.episode``) and the doors built on them."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, Field

from verifiers.types import TaskSpec

__all__ = ["Action", "Agent", "Observation", "Policy", "StepResult", "ToolRequest",
           "ToolResult", "start_policy"]


class ToolRequest(BaseModel):
    """A tool the agent wants called (without ``session_id``: the controller adds it)."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Action(BaseModel):
    """What an agent does in one step: tool calls, then optionally a message to the shopper
    (which ends its turn), or ``done`` to end the episode."""

    tool_calls: list[ToolRequest] = Field(default_factory=list)
    message: str | None = None
    done: bool = False


class ToolResult(BaseModel):
    name: str
    arguments: dict[str, Any]
    ok: bool
    content: Any = Field(description="the structured result, or the error text")


class Observation(BaseModel):
    """What the agent sees after a reset or a step."""

    shopper_message: str | None = Field(description="the shopper's new message, if the turn "
                                        "ended")
    tool_results: list[ToolResult] = Field(default_factory=list)
    turn: int = Field(description="agent messages sent so far")
    tool_calls: int = 0
    tools: list[dict[str, Any]] = Field(default_factory=list, description="the tools (OpenAI "
                                        "function format, no session_id); set on reset")
    done: bool = False


@dataclass
class StepResult:
    observation: Observation
    reward: float
    terminated: bool
    truncated: bool
    info: dict[str, Any]

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated


class Policy(Protocol):
    """One agent's behaviour in one episode."""

    async def act(self, obs: Observation) -> Action: ...


class Agent(Protocol):
    """Makes a policy per episode. ``privileged`` agents (the oracle) are given the task.

    ``seed`` is the episode's: a function of the task and the trial number. An agent whose
    ``start`` also takes ``trial`` (0 for the first play of a task) is told it as well (the
    heuristic plays its fixed behaviour on trial 0 and varies on later trials)."""

    name: str
    privileged: bool

    def start(self, task: TaskSpec | None, obs: Observation, *, seed: int) -> Policy: ...


def start_policy(agent: Agent, task: TaskSpec, obs: Observation, *, seed: int,
                 trial: int = 0) -> Policy:
    """``agent``'s policy for one episode: the task given only to privileged agents, and
    ``trial`` only to agents whose ``start`` takes it."""
    shown = task if agent.privileged else None
    if "trial" in inspect.signature(agent.start).parameters:
        return agent.start(shown, obs, seed=seed, trial=trial)  # type: ignore[call-arg]
    return agent.start(shown, obs, seed=seed)
