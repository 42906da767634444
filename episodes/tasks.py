"""Task sets: generated mixes over families and difficulties, and task files (JSON / JSONL)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import ValidationError

from episodes.difficulty import difficulty_params
from episodes.generate import families as known_families
from episodes.generate import generate_task
from mcp_shop import Shop
from verifiers.types import SCHEMA_VERSION, TaskSpec

__all__ = [
    "TaskFileError",
    "catalog_mismatch",
    "dump_tasks",
    "load_task_set",
    "load_tasks",
    "parse_families",
    "plan",
    "task_mix",
]


class TaskFileError(ValueError):
    """A task file that cannot be read, with the file, line and what is wrong."""


def parse_families(text: str) -> list[str]:
    """``"all"`` or a comma-separated list of family names."""
    names = known_families()
    if text.strip() == "all":
        return list(names)
    wanted = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in wanted if f not in names]
    if bad or not wanted:
        raise ValueError(f"unknown family {bad[0] if bad else text!r}; choose 'all' or some of: "
                         f"{', '.join(names)}")
    return wanted


def plan(families: Sequence[str], difficulties: Sequence[int], episodes: int,
         seed: int) -> list[tuple[str, int, int]]:
    """``episodes`` (family, difficulty, task seed) triples, cycling through every pair so each
    cell of the summary gets its share; task seeds are distinct and derived from ``seed``."""
    pairs = [(f, d) for d in difficulties for f in families]
    return [(*pairs[i % len(pairs)], seed * 100_003 + i) for i in range(episodes)]


def task_mix(shop: Shop, families: Sequence[str], difficulties: Sequence[int], episodes: int,
             seed: int) -> list[TaskSpec]:
    """Generate the tasks of ``plan(...)``."""
    return [generate_task(shop, f, d, s) for f, d, s in plan(families, difficulties, episodes,
                                                               seed)]


def load_tasks(path: str | Path) -> list[TaskSpec]:
    """Tasks from a ``.json`` file (one task or a list) or a ``.jsonl`` file (one per line), or
    from every such file in a directory (sorted by name)."""
    p = Path(path)
    if p.is_dir():
        files = sorted(q for q in p.iterdir() if q.suffix in (".json", ".jsonl"))
        if not files:
            raise TaskFileError(f"{p}: no .json or .jsonl task files in this directory")
        return [t for q in files for t in load_tasks(q)]
    if not p.exists():
        raise TaskFileError(f"{p}: no such task file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TaskFileError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start}); task "
                            "files are UTF-8 JSON") from None
    except OSError as exc:
        raise TaskFileError(f"{p}: cannot read it: {exc.strerror or exc}") from None
    docs: list[tuple[int, object]] = []
    line = 1
    try:
        if p.suffix == ".jsonl":
            for line, row in enumerate(text.splitlines(), 1):
                if row.strip():
                    docs.append((line, json.loads(row)))
        else:
            data = json.loads(text)
            docs = [(1, d) for d in (data if isinstance(data, list) else [data])]
    except json.JSONDecodeError as exc:
        where = f"{p}:{line}" if p.suffix == ".jsonl" else str(p)
        raise TaskFileError(f"{where}: not valid JSON: {exc}") from None
    except RecursionError:
        where = f"{p}:{line}" if p.suffix == ".jsonl" else str(p)
        raise TaskFileError(f"{where}: the JSON is nested too deeply") from None
    tasks = []
    for line, doc in docs:
        old = _old_schema(doc)
        if old:
            raise TaskFileError(f"{p}:{line}: {old}")
        try:
            tasks.append(TaskSpec.model_validate(_with_defaults(doc)))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise TaskFileError(f"{p}:{line}: not a valid task: {where}: {first['msg']} "
                                f"({exc.error_count()} problem(s); the schema is "
                                "`shop-episodes tasks --schema`)") from None
    return tasks


def _old_schema(doc: object) -> str | None:
    """Why a task of an older schema cannot be read, or None."""
    if not isinstance(doc, dict):
        return None
    intents = doc.get("intents")
    if isinstance(intents, list) and any(isinstance(i, dict) and "answers" in i
                                         for i in intents):
        return (f"a task of schema version {doc.get('schema_version', 1)}: its intents carry "
                f"answer phrases ('answers'), and since schema version {SCHEMA_VERSION} an "
                "intent lists the facts to tell instead ('facts': [{'fact': ..., 'about': "
                "[...], 'value': ...}], see docs/tasks.md, \"Answers are facts\"); "
                "regenerate the task or rewrite its answers as facts")
    return None


def _with_defaults(doc: object) -> object:
    """Hand-written tasks may leave out ``params`` and ``limits``: they follow from the
    difficulty."""
    if not isinstance(doc, dict) or "difficulty" not in doc:
        return doc
    level = doc["difficulty"]
    if isinstance(level, float) and level.is_integer():
        level = int(level)  # 3.0 validates as 3; inf and nan are not integers
    if isinstance(level, str):
        try:
            level = int(level)  # pydantic takes "3" for 3, too
        except ValueError:
            return doc
    if not isinstance(level, int):  # (a bool is an int, as pydantic takes it too)
        return doc  # validation reports the bad difficulty
    try:
        params = difficulty_params(level)
    except (TypeError, ValueError, OverflowError):
        return doc  # out of range: validation reports it
    out = dict(doc)
    out.setdefault("params", params.model_dump())
    out.setdefault("limits", {"max_turns": params.max_turns,
                              "max_tool_calls": params.max_tool_calls})
    return out


def catalog_mismatch(task: TaskSpec, shop: Shop) -> str | None:
    """Why ``task`` (generated on another catalog) cannot run on ``shop``, or None."""
    info = shop.catalog
    have = {"fingerprint": info.fingerprint, "seed": int(info.seed),
            "size": int(info.product_count)}
    for key, value in have.items():
        if key in task.catalog and task.catalog[key] != value:
            return (f"task {task.task_id} was generated on a catalog with {key} "
                    f"{task.catalog[key]!r}, but this shop's catalog has {key} {value!r}")
    return None


def load_task_set(path: str | Path, shop: Shop) -> list[TaskSpec]:
    """The tasks of ``path`` (see ``load_tasks``) for a run on ``shop``: at least one, each
    task id once, every task made on this shop's catalog."""
    tasks = load_tasks(path)
    if not tasks:
        raise TaskFileError(f"{path}: no tasks in it")
    seen: set[str] = set()
    for t in tasks:
        if t.task_id in seen:
            raise TaskFileError(f"{path}: task {t.task_id!r} appears more than once; task ids "
                                "must be unique (use --trials to run a task several times)")
        seen.add(t.task_id)
        why = catalog_mismatch(t, shop)
        if why is not None:
            raise TaskFileError(f"{path}: {why}; pick the task's catalog with --db, "
                                "--catalog-seed and --catalog-size")
    return tasks


def dump_tasks(tasks: Iterable[TaskSpec], path: str | Path) -> int:
    """Write tasks as JSONL; returns how many."""
    n = 0
    with Path(path).open("w", encoding="utf-8") as fh:
        for t in tasks:
            fh.write(t.model_dump_json() + "\n")
            n += 1
    return n
