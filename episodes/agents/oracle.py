"""The oracle: replays a task's gold solution through the real MCP tools.

It is privileged (it reads the task) and exists to prove every task solvable: its steps are the
gold tool calls, grouped into turns that end at each gold message to the shopper.
"""

from __future__ import annotations

from verifiers.types import GoldStep, TaskSpec

from episodes.controller import Action, Observation, Policy, ToolRequest

__all__ = ["OracleAgent", "gold_actions"]


def gold_actions(gold: list[GoldStep]) -> list[Action]:
    """The gold steps as actions: tool calls up to and including the next message."""
    actions: list[Action] = []
    pending: list[ToolRequest] = []
    for step in gold:
        if step.tool is not None:
            pending.append(ToolRequest(name=step.tool, arguments=dict(step.args)))
        if step.say is not None:
            actions.append(Action(tool_calls=pending, message=step.say))
            pending = []
    if pending:
        actions.append(Action(tool_calls=pending, message="All done."))
    return actions


class _Replay:
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
        return _Replay(gold_actions(task.gold))
