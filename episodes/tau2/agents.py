"""Agents of tau2 retail episodes: the oracle, two deliberately wrong variants of it, and the
LLM agent told tau2's policy.

The oracle is privileged (it is given the :class:`~episodes.tau2.tasks.Tau2Task`): it replays
the task's gold actions through the tau2 tools, one call at a time, asking the user "Shall
I ...?" before each write (so the user's yes precedes it), and then says every
``communicate_info`` string in one message, which ends the conversation. Its variants exist to
show that the verdict notices: ``oracle-skip-write`` leaves out the last gold write,
``oracle-silent`` never says the information to communicate.

The LLM agent is :class:`episodes.agents.llm.LLMAgent` with the world's ``policy.md`` as its
system prompt; it sees the tools the tau2 surface lists.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from episodes.agents.oracle import Replay
from episodes.controller import Action, Observation, Policy, ToolRequest
from episodes.tau2.tasks import Tau2Task
from mcp_shop.tau2.records import WRITE_TOOLS, Task

__all__ = ["TAU2_AGENTS", "OracleMode", "Tau2Oracle", "make_tau2_agent", "oracle_actions"]

OracleMode = Literal["gold", "skip-write", "silent"]


def _closing(task: Task, mode: OracleMode) -> str:
    crit = task.evaluation_criteria
    info = list(crit.communicate_info or []) if crit is not None else []
    if mode == "silent" or not info:
        return "All done."
    return "Done. " + " ".join(f"{s}." for s in info)


def oracle_actions(task: Task, mode: OracleMode = "gold") -> list[Action]:
    """The oracle's actions on ``task`` (see the module)."""
    gold = task.gold_actions()
    writes = [k for k, a in enumerate(gold) if a.name in WRITE_TOOLS]
    skipped = writes[-1] if mode == "skip-write" and writes else None
    actions: list[Action] = []
    for k, a in enumerate(gold):
        if k == skipped:
            continue
        if a.name in WRITE_TOOLS:
            actions.append(Action(message=f"Shall I call {a.name} with "
                                  f"{json.dumps(a.arguments, sort_keys=True)}?"))
        actions.append(Action(tool_calls=[ToolRequest(name=a.name,
                                                      arguments=dict(a.arguments))]))
    actions.append(Action(message=_closing(task, mode)))
    return actions


class Tau2Oracle:
    """Replays a tau2 task's gold actions (or, in a wrong ``mode``, not quite)."""

    privileged = True

    def __init__(self, mode: OracleMode = "gold") -> None:
        self.mode: OracleMode = mode
        self.name = "oracle" if mode == "gold" else f"oracle-{mode}"

    def start(self, task: Any, obs: Observation, *, seed: int) -> Policy:
        if not isinstance(task, Tau2Task):
            raise ValueError(f"{self.name} plays tau2 retail tasks only (it is given the task)")
        return Replay(oracle_actions(task.task, self.mode))


def _llm(policy: str, **overrides: Any) -> Any:
    from episodes.agents.llm import LLMAgent

    return LLMAgent.from_env(system_prompt=policy, **overrides)


TAU2_AGENTS: dict[str, Callable[[str], Any]] = {
    "oracle": lambda policy: Tau2Oracle("gold"),
    "oracle-skip-write": lambda policy: Tau2Oracle("skip-write"),
    "oracle-silent": lambda policy: Tau2Oracle("silent"),
    "llm": _llm,
}
"""The agents a tau2 run can name; each is made from the world's policy text."""


def make_tau2_agent(name: str, policy: str) -> Any:
    """The agent ``name`` for a tau2 run (the LLM agent's system prompt is ``policy``); a
    ``ValueError`` listing the names for any other."""
    try:
        factory = TAU2_AGENTS[name]
    except KeyError:
        raise ValueError(f"agent {name!r} cannot play tau2 retail tasks; choose one of "
                         f"{', '.join(TAU2_AGENTS)}") from None
    return factory(policy)
