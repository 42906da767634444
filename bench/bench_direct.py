"""Benchmark of the direct path (``EpisodeController(shop, connect="direct")``) against the
in-memory MCP path: single-intent oracle episodes per second over each, in the same run, on the
default catalog (10,000 products, SQLite), one episode at a time in one process.

The two paths run in alternating rounds over the same tasks, so a busy machine slows both
alike; besides the wall-clock rate, each path's CPU time per episode (``time.process_time``)
is printed, which other processes' load barely moves. Prints figures, asserts nothing.

    python bench/bench_direct.py --episodes 300 --rounds 3

The catalog at --db is built on first use and reused after.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from episodes.agents import make_agent
from episodes.controller import EpisodeController
from episodes.generate import generate_task
from episodes.tasks import plan
from mcp_shop import Shop
from verifiers.types import FAMILIES

SINGLE = [f for f in FAMILIES if f != "multi"]
PATHS = {"in-memory MCP": None, "direct": "direct"}


async def one_round(shop: Shop, connect: str | None, tasks: list[Any],
                    warmed: Callable[[], None] | None = None) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, successes) of one pass over ``tasks``, after a warm-up on
    the first five (``warmed`` is called between the two)."""
    agent = make_agent("oracle")
    async with EpisodeController(shop, connect=connect) as controller:
        await controller.run(agent, tasks[:5])  # warm-up: caches, first statements
        if warmed is not None:
            warmed()
        wall, cpu = time.perf_counter(), time.process_time()
        records = await controller.run(agent, tasks)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, sum(1 for r in records if r["success"])


def options(doc: str | None, *, episodes: int, rounds: int) -> argparse.Namespace:
    """The command line of this benchmark and of ``direct_parts.py`` (the same episodes)."""
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sqlite:////tmp/mcp-shop-bench/direct.db")
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--episodes", type=int, default=episodes, help="episodes per round")
    parser.add_argument("--rounds", type=int, default=rounds,
                        help="rounds per path, alternating")
    parser.add_argument("--difficulty", default="0-5")
    return parser.parse_args()


def shop_and_tasks(args: argparse.Namespace) -> tuple[Shop, list[Any]]:
    """The shop at ``--db`` (its catalog built on first use) and the single-intent tasks."""
    from episodes.difficulty import parse_difficulty_range

    if args.db.startswith("sqlite:////"):
        Path(args.db.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    shop = Shop.open(args.db, seed=0, size=args.size)
    jobs = plan(SINGLE, parse_difficulty_range(args.difficulty), args.episodes, 7)
    return shop, [generate_task(shop, f, d, s) for f, d, s in jobs]


def main() -> None:
    args = options(__doc__, episodes=300, rounds=3)
    shop, tasks = shop_and_tasks(args)
    print(f"catalog: {shop.catalog.product_count:,} products; {len(tasks)} single-intent "
          f"oracle episodes per round, difficulties {args.difficulty}, {args.rounds} rounds "
          "per path (alternating), concurrency 1")
    totals = {name: [0.0, 0.0, 0, 0] for name in PATHS}  # wall, cpu, episodes, successes
    for _ in range(args.rounds):
        for name, connect in PATHS.items():
            wall, cpu, ok = anyio.run(one_round, shop, connect, tasks)
            t = totals[name]
            t[0] += wall
            t[1] += cpu
            t[2] += len(tasks)
            t[3] += ok
    print(f"\n{'path':<14} {'episodes/s':>10} {'ms/episode':>10} {'CPU ms/ep':>10} "
          f"{'success':>8}")
    rates = {}
    for name, (wall, cpu, n, ok) in totals.items():
        rates[name] = (n / wall, n / cpu)
        print(f"{name:<14} {n / wall:>10.1f} {1000 * wall / n:>10.2f} {1000 * cpu / n:>10.2f} "
              f"{ok / n:>8.0%}")
    (mcp_wall, mcp_cpu), (direct_wall, direct_cpu) = rates["in-memory MCP"], rates["direct"]
    print(f"\ndirect / in-memory MCP: {direct_wall / mcp_wall:.2f}x episodes per wall second, "
          f"{direct_cpu / mcp_cpu:.2f}x per CPU second "
          f"(direct: {direct_cpu:.0f} episodes per CPU second)")


if __name__ == "__main__":
    main()
