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
PRESENTING = frozenset({"other_product", "presentation_order"})
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
    if agent in PRESENTING:  # they search whether or not they find another product

        def shown(r: dict[str, Any]) -> list[Any]:
            return [c for c in conversation(r) if isinstance(c, tuple)
                    and c[0] == "present_products"]
        return shown(record) != shown(reference)
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


def run_audit(tasks: list[TaskSpec], run: Runner, agents: Sequence[str] | None = None, *,
              threads: int = 1) -> Audit:
    """Run the references, then every agent of ``agents`` (default: all) on ``tasks`` with
    ``run(agent_name, tasks)``; each variant only on the tasks its twist can touch.

    ``threads`` > 1: up to that many ``run`` calls at once (the references together, then the
    agents), for a ``run`` that hands its episodes to worker processes, so that a short run
    does not leave the other workers idle. The audit is the same, in the same order."""
    audit = Audit()
    names = ("heuristic", "oracle")
    runs = _runs(run, [(name, tasks) for name in names], threads)
    refs = {name: {r["task_id"]: r for r in records} for name, records in zip(names, runs,
                                                                                strict=True)}
    audit.unsolved = [t for t, r in refs["oracle"].items() if not r["success"]]
    order = list(agents or (*REDTEAM_AGENTS, *VARIANT_AGENTS))
    jobs = [(agent, [t for t in tasks if concerns(agent, t, refs["heuristic"][t.task_id])])
            for agent in order]
    for agent, records in zip(order, _runs(run, jobs, threads), strict=True):
        tally(agent, records, refs[REFERENCE[agent]], audit)
    return audit


def _runs(run: Runner, jobs: list[tuple[str, list[TaskSpec]]], threads: int
          ) -> list[list[dict[str, Any]]]:
    """``run`` over ``jobs`` (agent, tasks), in order; an empty task list is not run."""

    def one(job: tuple[str, list[TaskSpec]]) -> list[dict[str, Any]]:
        return run(*job) if job[1] else []

    if threads <= 1:
        return [one(job) for job in jobs]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads) as executor:
        return list(executor.map(one, jobs))


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
    if agent in ("other_product", "presentation_order",
                 "named_in_message"):
        return any(g.tool == "present_products" for g in task.gold)
    if agent in ("other_payment", "other_shipping"):
        return any(g.tool == "checkout" for g in task.gold)
    return True


# -- the command ------------------------------------------------------------------------------


def _tables(audit: Audit, families: Sequence[str]) -> list[Any]:
    from rich.table import Table

    gaming = Table("agent", *families, "all: success", "mean reward", "heuristic",
                   title="Gaming agents: successes/episodes where the move was made, per "
                   "family; mean reward against the heuristic's on the same tasks")
    variants = Table("agent", *families, "all", title="Correct-but-different agents: "
                     "successes/episodes where the twist applies (tasks the oracle solves)")
    for agent, rows in audit.rows.items():
        total = audit.total(agent)
        cells = [f"{rows[f].successes}/{rows[f].episodes}" if f in rows and rows[f].episodes
                 else "-" for f in families]
        if agent in REDTEAM_AGENTS:
            gaming.add_row(agent, *cells, f"{total.rate:.1%} of {total.episodes}",
                           f"{total.mean:.3f}", f"{total.reference_mean:.3f}")
        else:
            variants.add_row(agent, *cells, f"{total.rate:.1%} of {total.episodes}"
                             if total.episodes else "n/a")
    return [gaming, variants]


def cmd_audit(args: Any) -> int:
    import time

    import anyio

    from episodes.cli import _bar, _open_shop, console, err
    from episodes.controller import EpisodeController
    from episodes.difficulty import parse_difficulty_range
    from episodes.generate import generate_task
    from episodes.tasks import parse_families

    shop = _open_shop(args)
    families = parse_families(args.families)
    jobs = [(f, d, s) for f in families for d in parse_difficulty_range(args.difficulty)
            for s in range(args.seeds)]
    started = time.perf_counter()
    with _bar("Generating tasks", len(jobs)) as advance:
        tasks = []
        for f, d, s in jobs:
            tasks.append(generate_task(shop, f, d, s))
            advance()
    agents = args.agents
    pool: Any = None
    if args.workers > 1:
        from episodes.parallel import WorkerPool

        pool = WorkerPool(args.db, workers=args.workers, catalog_seed=args.catalog_seed,
                          catalog_size=args.catalog_size)

    def run(agent: str, chosen: list[TaskSpec]) -> list[dict[str, Any]]:
        with _bar(f"Episodes ({agent})", len(chosen)) as advance:
            if pool is not None:
                return list(pool.run(agent, chosen, concurrency=args.concurrency,
                                     on_done=lambda _: advance()))

            async def go() -> list[dict[str, Any]]:
                from episodes.agents import make_agent

                async with EpisodeController(shop) as controller:
                    return await controller.run(make_agent(agent), chosen,
                                                concurrency=args.concurrency,
                                                on_done=lambda _: advance())
            return anyio.run(go)

    try:
        audit = run_audit(tasks, run, agents)
    finally:
        if pool is not None:
            pool.close()
    for table in _tables(audit, families):
        console.print(table)
    elapsed = time.perf_counter() - started
    if audit.unsolved:
        err.print(f"[yellow]{len(audit.unsolved)} tasks the oracle does not solve were left out "
                  f"of the variants' rates: {', '.join(audit.unsolved[:10])}[/]")
    missed = failures(audit)
    for line in missed:
        err.print(f"[red]{line}[/]")
    console.print(f"{len(tasks)} tasks, {len(audit.rows)} agents in {elapsed:.0f} s: "
                  + ("every threshold holds" if not missed else "thresholds missed"))
    return 1 if missed else 0


def _audit_agents(text: str) -> list[str]:
    """``--agents``: names of audited agents (the references oracle and heuristic always run,
    so they are not audited agents)."""
    import argparse

    known = (*REDTEAM_AGENTS, *VARIANT_AGENTS)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown audited agent {', '.join(map(repr, unknown)) or '(none given)'}; the "
            f"references oracle and heuristic always run; choose from: {', '.join(known)}")
    return names


def add_audit_command(sub: Any) -> None:
    """``shop-episodes audit``."""
    from episodes.cli import _add_shop_options, _positive

    p = sub.add_parser("audit", help="red-team and correct-but-different agents against "
                       "the reward (exit 1 when a threshold fails)")
    p.add_argument("--families", default="all")
    p.add_argument("--difficulty", default="0-8")
    p.add_argument("--seeds", type=_positive, default=5, help="tasks per family and difficulty")
    p.add_argument("--agents", type=_audit_agents, help="a comma-separated subset of the "
                   "red-team and variant agents (default: all of them)")
    p.add_argument("--concurrency", type=_positive, default=8,
                   help="episodes in flight at once per process (default 8)")
    p.add_argument("--workers", type=_positive, default=1, help="worker processes")
    _add_shop_options(p)
    p.set_defaults(fn=cmd_audit)
