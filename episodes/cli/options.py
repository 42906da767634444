"""Options shared by the ``shop-episodes`` commands (the shop, the task mix) and their
argument types; opening the shop and generating the task list they name."""

from __future__ import annotations

import argparse
from typing import Any

from episodes.argtypes import bounded_float, bounded_int
from episodes.cli import output
from mcp_shop.db import DEFAULT_DB_URL

__all__ = ["DEFAULT_CATALOG_SIZE", "DEFAULT_DIFFICULTY", "add_shop_options", "add_task_options",
           "open_shop", "positive", "task_list"]

DEFAULT_CATALOG_SIZE = 10_000
DEFAULT_DIFFICULTY = "0-5"

positive = bounded_int(1, what="a positive integer")
non_negative = bounded_int(0, what="an integer >= 0")
rate = bounded_float(0.0, 1.0, what="a rate from 0 to 1")


def add_shop_options(p: argparse.ArgumentParser) -> None:
    """``--db``, ``--catalog-seed`` and ``--catalog-size``."""
    p.add_argument("--db", default=DEFAULT_DB_URL, help="shop database URL (default: "
                   f"{DEFAULT_DB_URL}; the catalog is generated on first use)")
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


def task_list(args: argparse.Namespace, shop: Any) -> list[Any]:
    """The tasks of ``--tasks``, or those the task-mix options generate (with a progress
    bar)."""
    from episodes.difficulty import parse_difficulty_range
    from episodes.tasks import load_task_set, parse_families, plan

    if args.tasks:
        return load_task_set(args.tasks, shop)
    from episodes.generate import generate_task

    fams = parse_families(args.families or "all")
    diffs = parse_difficulty_range(args.difficulty or DEFAULT_DIFFICULTY)
    jobs = plan(fams, diffs, args.episodes, args.seed or 0)
    out = []
    with output.Bar("Generating tasks", len(jobs)) as advance:
        for family, difficulty, seed in jobs:
            out.append(generate_task(shop, family, difficulty, seed))
            advance()
    return out
