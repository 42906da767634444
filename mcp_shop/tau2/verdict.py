"""tau2's verdict rules for one episode, as pure functions over what the episode produced.

The DB component is decided elsewhere (the state after the episode against the state after
the gold, compared by :func:`mcp_shop.tau2.world.db_hash`) and comes in as ``db_match``; as in
tau2, it passes whatever the state when the task has neither gold actions nor env assertions. This
module applies tau2's other rules and combines them the way tau2 does:

- COMMUNICATE: each ``communicate_info`` string must occur, ignoring case, in some assistant
  text message after the commas of that message are removed (the string itself keeps its
  commas, so a string with a comma never matches: tau2 behaves so).
- ACTION: each gold action must be matched by some tool call of the episode with the same
  name, comparing the arguments in the action's ``compare_args``, or, when it names none, the
  arguments the call gave (so a call that leaves an argument out still matches: tau2 behaves
  so); an empty ``compare_args`` compares no argument.
- NL_ASSERTION: judged by an LLM elsewhere; passed in as one bool per assertion, or None when
  nobody judged them.
- ENV_ASSERTION: not used by the retail domain; a task that lists env assertions cannot be
  judged here.
- The reward is the product of the components named in ``reward_basis`` (a component with
  nothing to check passes); it is 0 when the episode did not end with the agent or the user
  stopping. When a needed component could not be judged, the reward is None (unless another
  component already makes it 0), never a pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcp_shop.tau2.records import Action, Task

__all__ = ["Tau2Verdict", "action_checks", "communicate_checks", "tau2_verdict"]


def communicate_checks(info: Sequence[str], assistant_texts: Sequence[str]) -> list[bool]:
    """For each string of ``info``: whether an assistant message says it (tau2's rule)."""
    said = [t.lower().replace(",", "") for t in assistant_texts if t]
    return [any(s.lower() in text for text in said) for s in info]


def _matches(action: Action, name: str, arguments: Mapping[str, Any]) -> bool:
    if action.name != name:
        return False
    keys = list(arguments) if action.compare_args is None else action.compare_args
    if not keys:
        return True
    return ({k: v for k, v in arguments.items() if k in keys}
            == {k: v for k, v in action.arguments.items() if k in keys})


def action_checks(gold: Sequence[Action],
                  calls: Sequence[tuple[str, Mapping[str, Any]]]) -> list[bool]:
    """For each gold action: whether some call of the episode matches it (tau2's rule)."""
    return [any(_matches(a, name, args) for name, args in calls) for a in gold]


@dataclass(frozen=True)
class Tau2Verdict:
    """tau2's verdict of one episode: each component (1.0 / 0.0, or None when it could not be
    judged), the basis, and the reward (None when a component of the basis is unjudged)."""

    reward: float | None
    basis: list[str]
    components: dict[str, float | None]
    communicate: list[bool] = field(default_factory=list)
    actions: list[bool] = field(default_factory=list)
    nl_assertions: list[bool] | None = None
    note: str = ""


def _all(checks: Sequence[bool] | None) -> float | None:
    if checks is None:
        return None
    return 1.0 if all(checks) else 0.0


def tau2_verdict(task: Task, *, db_match: bool, assistant_texts: Sequence[str],
                 calls: Sequence[tuple[str, Mapping[str, Any]]],
                 nl_judgement: Sequence[bool] | None = None,
                 stopped_normally: bool = True) -> Tau2Verdict:
    """The verdict tau2 gives ``task``'s episode (see the module)."""
    crit = task.evaluation_criteria
    if crit is None:
        return Tau2Verdict(1.0, [], {}, note="the task has no evaluation criteria")
    basis: list[str] = list(crit.reward_basis)
    if not stopped_normally:
        return Tau2Verdict(0.0, basis, {}, note="the episode did not end with a stop")
    communicate = communicate_checks(crit.communicate_info or [], assistant_texts)
    actions = action_checks(crit.actions or [], calls)
    assertions = crit.nl_assertions or []
    nl = [] if not assertions else (None if nl_judgement is None else list(nl_judgement))
    if nl is not None and len(nl) != len(assertions):
        raise ValueError(f"{len(assertions)} NL assertions but {len(nl)} judgements")
    # tau2 skips its DB check for a task with neither gold actions nor env assertions (None,
    # not an empty list): whatever the agent changed, DB passes.
    unchecked = crit.actions is None and crit.env_assertions is None
    components: dict[str, float | None] = {
        "DB": 1.0 if db_match or unchecked else 0.0,
        "COMMUNICATE": _all(communicate),
        "ACTION": _all(actions),
        "NL_ASSERTION": _all(nl),
        "ENV_ASSERTION": None if crit.env_assertions else 1.0,
    }
    values = [components[name] for name in basis]
    reward: float | None
    if any(v == 0.0 for v in values):
        reward = 0.0  # whatever the unjudged components would say
    elif any(v is None for v in values):
        reward = None
    else:
        reward = 1.0
    note = "" if reward is not None else "a component of the reward basis was not judged"
    return Tau2Verdict(reward, basis, {k: components[k] for k in basis}, communicate, actions,
                       nl, note)
