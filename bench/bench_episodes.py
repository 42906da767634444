"""Benchmark of whole episodes: episodes per second for the oracle and the heuristic agent over
the in-memory MCP server, on the default catalog (10,000 products, SQLite): at concurrency 1 and
16 in one process, and over worker processes (one per core, 2 episodes each in flight).
Single-intent families give the headline figure; multi-intent journeys (two or three requests
each) are reported separately. Task generation is timed apart from the episodes. Prints figures,
asserts nothing.

    python bench/bench_episodes.py --episodes 400 --db sqlite:////tmp/mcp-shop-bench/ep.db

The catalog at --db is built on first use and reused after.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import anyio

from episodes.agents import make_agent
from episodes.controller import EpisodeController
from episodes.generate import generate_task
from episodes.tasks import plan
from mcp_shop import Shop
from verifiers.types import FAMILIES

SINGLE = [f for f in FAMILIES if f != "multi"]


def run_workers(db: str, size: int, agent_name: str, tasks: list[Any], concurrency: int,
                workers: int) -> tuple[float, float]:
    from episodes.parallel import WorkerPool

    with WorkerPool(db, workers=workers, catalog_size=size) as pool:
        pool.warm_up()
        pool.run(agent_name, tasks[:32], concurrency=concurrency, batch=8)  # warm-up
        started = time.perf_counter()
        records = pool.run(agent_name, tasks, concurrency=concurrency)
        elapsed = time.perf_counter() - started
    return len(records) / elapsed, statistics.mean(r["success"] for r in records)


async def run(shop: Shop, agent_name: str, tasks: list[Any], concurrency: int) -> tuple[float,
                                                                                          float]:
    agent = make_agent(agent_name)
    async with EpisodeController(shop) as controller:
        await controller.run(agent, tasks[:8], concurrency=concurrency)  # warm-up
        started = time.perf_counter()
        records = await controller.run(agent, tasks, concurrency=concurrency)
        elapsed = time.perf_counter() - started
    success = statistics.mean(r["success"] for r in records)
    return len(records) / elapsed, success


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sqlite:////tmp/mcp-shop-bench/episodes.db")
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--episodes", type=int, default=400)
    parser.add_argument("--difficulty", default="0-5")
    parser.add_argument("--agents", default="oracle,heuristic")
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--workers", type=int, default=2, help="also measure this many "
                        "worker processes (0: skip)")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="episodes in flight "
                        "in each worker process (interleaving more costs more than it saves)")
    args = parser.parse_args()

    from pathlib import Path

    from episodes.difficulty import parse_difficulty_range

    if args.db.startswith("sqlite:////"):
        Path(args.db.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    shop = Shop.open(args.db, seed=0, size=args.size)
    diffs = parse_difficulty_range(args.difficulty)
    print(f"catalog: {shop.catalog.product_count:,} products; difficulties {args.difficulty}")
    for label, fams in (("single-intent", SINGLE), ("multi-intent", ["multi"])):
        jobs = plan(fams, diffs, args.episodes if label == "single-intent"
                    else max(40, args.episodes // 5), 7)
        started = time.perf_counter()
        tasks = [generate_task(shop, f, d, s) for f, d, s in jobs]
        gen = time.perf_counter() - started
        print(f"\n{label}: {len(tasks)} tasks generated in {gen:.2f} s "
              f"({len(tasks) / gen:.0f} tasks/s)")
        print(f"{'agent':<10} {'concurrency':>11} {'episodes/s':>11} {'ms/episode':>11} "
              f"{'success':>8}")
        for name in args.agents.split(","):
            for conc in (int(c) for c in args.concurrency.split(",")):
                rate, success = anyio.run(run, shop, name, tasks, conc)
                print(f"{name:<10} {conc:>11} {rate:>11.1f} {1000 / rate:>11.2f} "
                      f"{success:>8.0%}")
            if args.workers > 1:
                rate, success = run_workers(args.db, args.size, name, tasks,
                                            args.worker_concurrency, args.workers)
                label = f"{args.workers}x{args.worker_concurrency} proc"
                print(f"{name:<10} {label:>11} {rate:>11.1f} "
                      f"{1000 / rate:>11.2f} {success:>8.0%}")


if __name__ == "__main__":
    main()
