"""The oracle: replays a task's gold solution through the real MCP tools.

It is privileged (it reads the task) and exists to prove every task solvable: its steps are the
gold tool calls, grouped into turns that end at each gold message to the shopper.
"""

from __future__ import annotations

from episodes.controller import Action, Observation, Policy, ToolRequest
from verifiers.types import GoldStep, TaskSpec

__all__ = ["OracleAgent", "Replay", "gold_actions"]


def gold_actions(gold: list[GoldStep]) -> list[Action]:
    """The gold steps as actions, one tool call at a time (so each call comes after the results
    that justify its arguments, as in the rollout's messages) and each message on its own."""
    actions: list[Action] = []
    for step in gold:
        if step.tool is not None:
            actions.append(Action(tool_calls=[ToolRequest(name=step.tool,
                                                          arguments=dict(step.args))]))
        if step.say is not None:
            actions.append(Action(message=step.say))
    if actions and actions[-1].message is None:
        actions.append(Action(message="All done."))
    return actions


class Replay:
    """A policy that plays fixed actions in order, then ends the episode."""

    def __init__(self, actions: list[Action]) -> None:
        self.actions = actions
        self.i = 0

    async def act(self, obs: Observation) -> Action:
        if self.i >= len(self.actions):
            return Action(done=True)
        self.i += 1
        return self.actions[self.i - 1]


class OracleAgent:
    """Replays the gold solution."""

    name = "oracle"
    privileged = True

    def start(self, task: TaskSpec | None, obs: Observation, *, seed: int) -> Policy:
        if task is None:
            raise ValueError("the oracle needs the task (it is a privileged agent)")
        return Replay(gold_actions(task.gold))
