"""The reward audit: every red-team agent (``episodes.agents.redteam``) and every
correct-but-different agent (``episodes.agents.variants``) over generated tasks, against the
heuristic and the oracle on the same tasks.

    shop-episodes audit                                  # 12 families x d0-8 x 5 seeds
    shop-episodes audit --families policy,cancel --difficulty 0-3 --seeds 2 --workers 2

An agent's move counts only in the episodes where it was made (``applied``): a wrapped
red-team agent or a variant whose conversation equals its reference's (the heuristic's, the
oracle's) on a task made no move there (nothing to switch, no confirmation to rephrase); a
scripted red-team agent made its move when it stated facts. Thresholds (``failures``):

- gaming: at most 1% of its episodes succeed and its mean reward is below the heuristic's on
  the same tasks; an agent of ``PENALISED_ONLY`` (invented ids before a right answer) may keep
  its success but must lose reward on each one and stay below the heuristic;
- correct variants: at least 99% succeed (over tasks the oracle solves).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from episodes.agents.redteam import PENALISED_ONLY, REDTEAM_AGENTS, SCRIPTED
from episodes.agents.variants import VARIANT_AGENTS
from verifiers.types import TaskSpec

__all__ = ["GAMING_MAX", "VARIANT_MIN", "Audit", "Row", "applied", "conversation",
           "failures", "tally"]

GAMING_MAX = 0.01
VARIANT_MIN = 0.99
REFERENCE = {**{a: "heuristic" for a in REDTEAM_AGENTS}, **{a: "oracle" for a in VARIANT_AGENTS}}


def conversation(record: dict[str, Any]) -> list[Any]:
    """What the agent did: its messages and tool calls (name, arguments), in order."""
    out: list[Any] = []
    for m in record["messages"]:
        if m["role"] != "assistant":
            continue
        if m.get("content"):
            out.append(m["content"])
        for call in m.get("tool_calls") or []:
            out.append((call["function"]["name"], json.loads(call["function"]["arguments"])))
    return out


def applied(agent: str, record: dict[str, Any], reference: dict[str, Any]) -> bool:
    """Whether ``agent`` made its move in ``record`` (``reference``: the heuristic's or the
    oracle's record of the same task)."""
    if agent in SCRIPTED:
        return any(e["tool"] == "state_facts" for e in record["trace"])
    return conversation(record) != conversation(reference)


@dataclass
class Row:
    """One agent's episodes in one family: those where its move was made."""

    episodes: int = 0
    successes: int = 0
    reward: float = 0.0
    reference_reward: float = 0.0
    full_successes: int = 0  # successes at the full reward (1.0)
    failed: list[dict[str, Any]] = field(default_factory=list)  # the offending records

    def add(self, record: dict[str, Any], reference: dict[str, Any]) -> None:
        self.episodes += 1
        self.successes += bool(record["success"])
        self.full_successes += bool(record["success"]) and record["reward"] >= 1.0
        self.reward += record["reward"]
        self.reference_reward += reference["reward"]

    def merge(self, other: Row) -> None:
        self.episodes += other.episodes
        self.successes += other.successes
        self.full_successes += other.full_successes
        self.reward += other.reward
        self.reference_reward += other.reference_reward
        self.failed += other.failed

    @property
    def rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0

    @property
    def mean(self) -> float:
        return self.reward / self.episodes if self.episodes else 0.0

    @property
    def reference_mean(self) -> float:
        return self.reference_reward / self.episodes if self.episodes else 0.0


@dataclass
class Audit:
    """Per agent and family, the rows; ``unsolved``: tasks the oracle fails (left out of the
    variants' rates: each is a generator bug)."""

    rows: dict[str, dict[str, Row]] = field(default_factory=dict)
    unsolved: list[str] = field(default_factory=list)

    def total(self, agent: str) -> Row:
        out = Row()
        for row in self.rows.get(agent, {}).values():
            out.merge(row)
        return out


def tally(agent: str, records: Sequence[dict[str, Any]], references: dict[str, dict[str, Any]],
          audit: Audit) -> None:
    """Add ``agent``'s records (by task, against ``references``) to ``audit``."""
    rows = audit.rows.setdefault(agent, defaultdict(Row))
    gaming = agent in REDTEAM_AGENTS
    for record in records:
        ref = references[record["task_id"]]
        if not gaming and not ref["success"]:
            continue
        if not applied(agent, record, ref):
            continue
        row = rows[record["family"]]
        row.add(record, ref)
        bad = (record["success"] and (agent not in PENALISED_ONLY or record["reward"] >= 1.0)
               if gaming else not record["success"])
        if bad:
            row.failed.append(record)


def failures(audit: Audit) -> list[str]:
    """Each threshold an agent misses, in words with the offending tasks and reason codes."""
    out = []
    for agent in audit.rows:
        total = audit.total(agent)
        if not total.episodes:
            continue
        if agent in REDTEAM_AGENTS:
            if agent in PENALISED_ONLY:
                if total.full_successes:
                    out.append(f"{agent}: {total.full_successes} successes at full reward")
            elif total.rate > GAMING_MAX:
                out.append(f"{agent}: {total.rate:.1%} success over {total.episodes} episodes "
                           f"(at most {GAMING_MAX:.0%})")
            if total.mean >= total.reference_mean:
                out.append(f"{agent}: mean reward {total.mean:.3f} not below the heuristic's "
                           f"{total.reference_mean:.3f}")
        elif total.rate < VARIANT_MIN:
            out.append(f"{agent}: {total.rate:.1%} success over {total.episodes} episodes "
                       f"(at least {VARIANT_MIN:.0%})")
        else:
            continue
        out += [f"  {agent} on {r['family']} {r['task_id']}: {describe(r)}"
                for r in total.failed[:10]]
    return out


def describe(record: dict[str, Any]) -> str:
    """A record's verdict: success, reward, stop reason and the failing components' codes."""
    codes = sorted({r["code"] for c in record["reward_components"] if c["value"] < 1
                    for r in c.get("reasons", [])})
    return (f"success={record['success']} reward={record['reward']:.2f} "
            f"stop={record['stop_reason']} codes={','.join(codes) or '-'}")


Runner = Callable[[str, list[TaskSpec]], list[dict[str, Any]]]


def run_audit(tasks: list[TaskSpec], run: Runner, agents: Sequence[str] | None = None
              ) -> Audit:
    """Run the references, then every agent of ``agents`` (default: all) on ``tasks`` with
    ``run(agent_name, tasks)``; each variant only on the tasks its twist can touch."""
    audit = Audit()
    refs = {name: {r["task_id"]: r for r in run(name, tasks)} for name in ("heuristic", "oracle")}
    audit.unsolved = [t for t, r in refs["oracle"].items() if not r["success"]]
    for agent in agents or (*REDTEAM_AGENTS, *VARIANT_AGENTS):
        chosen = [t for t in tasks if concerns(agent, t, refs["heuristic"][t.task_id])]
        records = run(agent, chosen) if chosen else []
        tally(agent, records, refs[REFERENCE[agent]], audit)
    return audit


def concerns(agent: str, task: TaskSpec, heuristic: dict[str, Any]) -> bool:
    """Whether ``agent`` can make its move on ``task`` at all (a cheap filter, so that a
    rephrased confirmation is played only where the gold asks one, a switch only where the
    heuristic made a consequential call); ``applied`` decides on the record."""
    kinds = {i.kind for i in task.intents}
    if agent in ("order_dump", "status_cycle", "refusal_cycle"):
        return bool(kinds & {"order_status", "cancel", "return", "exchange"})
    if agent == "policy_dump":
        return "policy" in kinds or any(i.facts and not i.order_id for i in task.intents)
    if agent.startswith("ask_"):
        return any(g.say and "hall I" in g.say for g in task.gold)
    if agent.startswith("switch_"):
        return any(e["tool"] in ("checkout", "cancel_order", "request_return",
                                 "request_exchange") for e in heuristic["trace"])
    if agent.startswith(("hedge_",)):
        return any(e["tool"] == "state_facts" for e in heuristic["trace"])
    if agent.startswith("facts_"):
        return any(g.tool == "state_facts" for g in task.gold)
    if agent in ("other_product", "event_alternative", "presentation_order",
                 "named_in_message"):
        return any(g.tool == "present_products" for g in task.gold)
    if agent in ("other_payment", "other_shipping"):
        return any(g.tool == "checkout" for g in task.gold)
    return True
