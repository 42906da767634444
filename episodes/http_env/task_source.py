"""``TaskSource``: the task a reset names: generated from family, difficulty and seed (kept in
a bounded cache; generation is deterministic, so every process makes the same task), given
whole, or picked by id from the server's ``--tasks``."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from episodes.difficulty import MAX_DIFFICULTY
from episodes.http_env.protocol import EnvError, ResetBody
from episodes.tasks import catalog_mismatch
from mcp_shop import Shop
from verifiers.types import TaskSpec

__all__ = ["TASK_CACHE_SIZE", "TaskSource"]

TASK_CACHE_SIZE = 512  # generated tasks kept (generation is deterministic)


@dataclass
class TaskSource:
    """The tasks resets can name on ``shop``: generated ones, given ones, and ``tasks``."""

    shop: Shop
    tasks: Sequence[TaskSpec] = ()
    _generated: OrderedDict[tuple[str, int, int], TaskSpec] = field(default_factory=OrderedDict)
    _by_id: dict[str, TaskSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_id = {t.task_id: t for t in self.tasks}

    def task(self, req: ResetBody) -> TaskSpec:
        """The task a reset body names (an ``EnvError`` saying what is wrong)."""
        forms = "give either family and difficulty (and seed, default 0), or task (a TaskSpec " \
                "object), or task_id (a task of the server's --tasks file)"
        named = [k for k in ("family", "task", "task_id") if getattr(req, k) is not None]
        if len(named) != 1:
            found = f"got {' and '.join(named)}" if named else "got none of them"
            raise EnvError(422, f"{forms}; {found}")
        if req.family is None and (req.difficulty is not None or req.seed is not None):
            raise EnvError(422, "difficulty and seed go with family (a task or "
                           "task_id brings its own)")
        if req.task is not None:
            return self._given_task(req.task)
        if req.task_id is not None:
            return self._listed_task(req.task_id)
        assert req.family is not None
        if req.difficulty is None:
            raise EnvError(422, f"family needs a difficulty (0 to {MAX_DIFFICULTY})")
        return self._generated_task(req.family, req.difficulty, req.seed or 0)

    def _given_task(self, doc: dict[str, Any]) -> TaskSpec:
        from episodes.tasks import _with_defaults

        try:
            task = TaskSpec.model_validate(_with_defaults(doc))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise EnvError(422, f"task is not a valid task: {where}: "
                           f"{first['msg']} ({exc.error_count()} problem(s); the schema is "
                           "`shop-episodes tasks --schema`)") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise EnvError(422, f"task is not a valid task: {exc} (the schema is "
                           "`shop-episodes tasks --schema`)") from None
        problem = catalog_mismatch(task, self.shop)
        if problem:
            raise EnvError(422, f"{problem}")
        return task

    def _listed_task(self, task_id: str) -> TaskSpec:
        if not self._by_id:
            raise EnvError(422, "this server was started without --tasks, so there "
                           "is no task_id to pick; give family and difficulty, or a task")
        task = self._by_id.get(task_id)
        if task is None:
            some = ", ".join(list(self._by_id)[:5])
            raise EnvError(404, f"no task {task_id!r} in the server's --tasks "
                           f"({len(self._by_id)} tasks, e.g. {some})")
        return task

    def _generated_task(self, family: str, difficulty: int, seed: int) -> TaskSpec:
        from episodes.generate import GenerationError, families, generate_task

        known = families()
        if family not in known:
            raise EnvError(422, f"unknown family {family!r}; families are "
                           f"{', '.join(known)}")
        key = (family, difficulty, seed)
        task = self._generated.get(key)
        if task is None:
            try:
                task = generate_task(self.shop, family, difficulty, seed)
            except (GenerationError, ValueError) as exc:
                raise EnvError(422, f"cannot generate {family} d{difficulty} "
                               f"seed {seed}: {exc}; try another seed") from None
            self._generated[key] = task
            while len(self._generated) > TASK_CACHE_SIZE:
                self._generated.popitem(last=False)
        self._generated.move_to_end(key)
        return task
