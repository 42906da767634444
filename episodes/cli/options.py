"""Options shared by the ``shop-episodes`` commands (the shop, the task mix, the output
file) and their argument types; opening the shop, checking an output path before any work,
and generating the tasks the options name."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from episodes.argtypes import bounded_float, bounded_int
from episodes.cli import output
from mcp_shop.cli_support import add_db_option

__all__ = ["DEFAULT_CATALOG_SIZE", "DEFAULT_DIFFICULTY", "add_shop_options", "add_task_options",
           "check_out", "iter_tasks", "open_shop", "positive", "task_list"]

DEFAULT_CATALOG_SIZE = 10_000
DEFAULT_DIFFICULTY = "0-5"

positive = bounded_int(1, what="a positive integer")
non_negative = bounded_int(0, what="an integer >= 0")
rate = bounded_float(0.0, 1.0, what="a rate from 0 to 1")


def add_shop_options(p: argparse.ArgumentParser) -> None:
    """``--db``, ``--catalog-seed`` and ``--catalog-size``."""
    add_db_option(p, note="; the catalog is generated on first use")
    p.add_argument("--catalog-seed", type=int, default=0, help="catalog seed (default 0)")
    p.add_argument("--catalog-size", type=positive, default=DEFAULT_CATALOG_SIZE,
                   help=f"products in the catalog (default {DEFAULT_CATALOG_SIZE:,})")


def add_task_options(p: argparse.ArgumentParser, *, episodes: int) -> None:
    """The task mix: ``--families``, ``--difficulty``, ``--episodes``, ``--seed`` or
    ``--tasks``."""
    p.add_argument("--families", help="'all' (the default) or a comma-separated list")
    p.add_argument("--difficulty", help=f"e.g. 3, 0-5 or 1,4,7 (0 to 20; default "
                   f"{DEFAULT_DIFFICULTY})")
    p.add_argument("--episodes", type=positive, default=episodes, help="how many tasks")
    p.add_argument("--seed", type=non_negative, help="seed of the task mix (default 0)")
    p.add_argument("--tasks", help="a task file (.json/.jsonl) or a directory of them, "
                   "instead of generated tasks")


def open_shop(args: argparse.Namespace) -> Any:
    """The shop of ``--db`` (its catalog built on first use, with progress bars)."""
    from mcp_shop.cli import _open_shop

    return _open_shop(argparse.Namespace(db=args.db, seed=args.catalog_seed,
                                         size=args.catalog_size))


def check_out(path: str | None, option: str = "--out") -> None:
    """Refuse (``ValueError``) an output file that cannot be written: a directory, a path
    through a file, a directory without write permission. Nothing is created: the file is
    made once there is something to write."""
    if not path:
        return
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{option} {path!r} is a directory; name a file, e.g. "
                         f"{str(p / 'rollouts.jsonl')!r}")
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # the directories missing are created when writing
    if not parent.is_dir():
        raise ValueError(f"{option} {path!r}: {str(parent)!r} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise ValueError(f"{option} {path!r}: no permission to write there; choose a file "
                         "in a directory you can write to")


def iter_tasks(args: argparse.Namespace, shop: Any) -> Iterator[Any]:
    """The tasks of ``--tasks``, or those the task-mix options generate, one by one (with a
    progress bar). A bad option raises before the first task."""
    from episodes.difficulty import parse_difficulty_range
    from episodes.tasks import load_task_set, parse_families, plan

    if args.tasks:
        yield from load_task_set(args.tasks, shop)
        return
    from episodes.generate import generate_task

    fams = parse_families(args.families or "all")
    diffs = parse_difficulty_range(args.difficulty or DEFAULT_DIFFICULTY)
    from episodes.families.support import split_supported

    jobs, skipped = split_supported(shop, plan(fams, diffs, args.episodes, args.seed or 0))
    for note in skipped:
        output.err.print(note)
    with output.Bar("Generating tasks", len(jobs)) as advance:
        for family, difficulty, seed in jobs:
            yield generate_task(shop, family, difficulty, seed)
            advance()


def task_list(args: argparse.Namespace, shop: Any) -> list[Any]:
    """``iter_tasks`` as a list."""
    return list(iter_tasks(args, shop))
