"""tau2 retail tasks in this project's formats.

A tau2 task keeps its own record (:class:`mcp_shop.tau2.records.Task`) and is carried in a
:class:`Tau2Task` holding what runs, rollout records, reports and pass^k read of a task:

- ``task_id`` ``tau2-retail/<id>`` (the rollout's ``group_id`` too, so trials of a task group
  together), ``family`` ``tau2_retail``;
- ``difficulty`` the number of gold writes (tool calls that change the world; capped at the
  record's 20);
- ``seed`` a stable number from the task id (the record needs one; nothing is generated);
- ``world`` the digest of the world's ``db.json`` (tau2's database hash), naming the world
  the task belongs to.

    world = load_tau2_retail("~/src/tau2-bench")
    tasks = select_tasks(world, split="test", ids=["3", "7"])

As JSON (``Tau2Task.to_json``: a line of ``shop-episodes tasks --suite tau2-retail``, a worker
process's batch) a task is an object of the fields above named as the rollout records name
them, the tau2 record under ``task``; ``Tau2Task.from_json`` reads it back.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mcp_shop.errors import InvalidInput, shown
from mcp_shop.tau2.loader import Tau2Retail
from mcp_shop.tau2.records import WRITE_TOOLS, Task
from mcp_shop.tau2.world import db_hash

__all__ = ["FAMILY", "MAX_DIFFICULTY", "TASK_PREFIX", "Tau2Task", "select_tasks", "tau2_task",
           "world_digest"]

FAMILY = "tau2_retail"
TASK_PREFIX = "tau2-retail/"
MAX_DIFFICULTY = 20  # the rollout record's bound


@dataclass(frozen=True)
class Tau2Task:
    """One tau2 task as the runs and records see it (see the module)."""

    task_id: str
    family: str
    difficulty: int
    seed: int
    world: str
    task: Task

    @property
    def tau2_id(self) -> str:
        return self.task.id

    @property
    def gold_writes(self) -> int:
        return sum(1 for a in self.task.gold_actions() if a.name in WRITE_TOOLS)

    def to_json(self) -> dict[str, Any]:
        """The task as JSON (see the module)."""
        return {"task_id": self.task_id, "family": self.family, "difficulty": self.difficulty,
                "seed": self.seed, "world": self.world,
                "task": self.task.model_dump(mode="json", exclude_none=True)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tau2Task:
        """The task ``to_json`` wrote."""
        return cls(task_id=data["task_id"], family=data["family"],
                   difficulty=data["difficulty"], seed=data["seed"], world=data["world"],
                   task=Task.model_validate(data["task"]))


_DIGESTS: dict[int, tuple[Tau2Retail, str]] = {}  # id(world) -> (world, its digest)
_DIGESTS_LOCK = threading.Lock()


def world_digest(world: Tau2Retail) -> str:
    """The world's tau2 database hash (SHA-256 over its sorted-key JSON), computed once per
    loaded world (a tau2-bench-size world takes about 40 ms; a loaded world is not changed)."""
    with _DIGESTS_LOCK:
        held = _DIGESTS.get(id(world))
        if held is not None and held[0] is world:
            return held[1]
    digest = db_hash(world.db)
    with _DIGESTS_LOCK:
        _DIGESTS[id(world)] = (world, digest)
    return digest


def tau2_task(task: Task, digest: str) -> Tau2Task:
    """``task`` of the world whose digest is ``digest``, in the project's terms."""
    writes = sum(1 for a in task.gold_actions() if a.name in WRITE_TOOLS)
    task_id = TASK_PREFIX + task.id
    seed = int.from_bytes(hashlib.sha256(task_id.encode()).digest()[:4], "big") % 2**31
    return Tau2Task(task_id=task_id, family=FAMILY, difficulty=min(writes, MAX_DIFFICULTY),
                    seed=seed, world=digest, task=task)


def select_tasks(world: Tau2Retail, *, split: str | None = None,
                 ids: Sequence[str] | None = None) -> list[Tau2Task]:
    """The tasks of ``split`` (every task when None), narrowed to ``ids`` (tau2 ids, or
    ``tau2-retail/<id>``) in the order given; an unknown split or id is an ``InvalidInput``
    naming what exists."""
    digest = world_digest(world)
    chosen = world.tasks_in(split) if split is not None else list(world.tasks)
    if ids is None:
        return [tau2_task(t, digest) for t in chosen]
    by_id = {t.id: t for t in chosen}
    out = []
    for raw in ids:
        key = raw.removeprefix(TASK_PREFIX)
        if key not in by_id:
            where = f"split {shown(split)}" if split is not None else "the tasks"
            known = ", ".join(sorted(by_id, key=lambda k: (len(k), k))[:20])
            raise InvalidInput(f"no task {shown(raw)} in {where}; its task ids are {known}"
                               f"{' ...' if len(by_id) > 20 else ''}", task_id=raw,
                               valid=sorted(by_id))
        out.append(tau2_task(by_id[key], digest))
    return out
