"""Benchmark of rollouts on Ray (``shop-episodes run --ray``): episodes per second with 1 and 2
Ray workers in one run (each worker with its own shop and in-memory server), against one
process without Ray (the baseline, same tasks, same concurrency per process), and whether the
records are the same in all three (but for timing). Prints figures, asserts nothing.

    python bench/bench_ray.py --episodes 400 --db sqlite:////tmp/mcp-shop-bench/ray.db

The catalog at --db is built on first use and reused after. A local Ray instance with as many
CPUs as the most workers measured is started (or --address joins a cluster). With --rounds 2
(the default) every configuration is measured twice, alternating, and the better round is
reported, so a burst of load from elsewhere on the machine weighs less. The CPU time per
episode of the processes that play them (this one, or the Ray workers) shows Ray's own cost
apart from the load of the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

import anyio

from episodes.agents import make_agent
from episodes.controller import EpisodeController
from episodes.ray_rollouts import RayPool, ray_session
from mcp_shop import Shop


def untimed(record: dict[str, Any]) -> str:
    r = json.loads(json.dumps(record, default=str))
    r["metrics"].pop("wall_time_s")
    for entry in r["trace"]:
        entry.pop("latency_ms")
    return json.dumps(r, sort_keys=True)


Run = tuple[float, float, list[dict[str, Any]]]  # wall seconds, CPU seconds, records


def in_process(shop: Shop, agent_name: str, tasks: list[Any], concurrency: int) -> Run:
    async def go() -> Run:
        agent = make_agent(agent_name)
        async with EpisodeController(shop) as controller:
            await controller.run(agent, tasks[:8], concurrency=concurrency)  # warm-up
            started, cpu = time.perf_counter(), time.process_time()
            records = await controller.run(agent, tasks, concurrency=concurrency)
            return time.perf_counter() - started, time.process_time() - cpu, records

    return anyio.run(go)


def _cpu(pids: list[int]) -> float:
    """CPU seconds the worker processes used so far (on this machine)."""
    import psutil  # comes with Ray

    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):  # a lost worker: its time went with it
            total += sum(psutil.Process(pid).cpu_times()[:2])
    return total


def on_ray(pool: RayPool, agent_name: str, tasks: list[Any], concurrency: int) -> Run:
    pool.run(agent_name, tasks[:8 * pool.workers], concurrency=concurrency, batch=8)  # warm-up
    pids = list(pool.pids().values())
    started, cpu = time.perf_counter(), _cpu(pids)
    records = pool.run(agent_name, tasks, concurrency=concurrency)
    return time.perf_counter() - started, _cpu(pids) - cpu, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sqlite:////tmp/mcp-shop-bench/ray.db")
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--episodes", type=int, default=400)
    parser.add_argument("--difficulty", default="0-5")
    parser.add_argument("--agent", default="heuristic")
    parser.add_argument("--concurrency", type=int, default=2, help="episodes in flight in "
                        "each process (default 2)")
    parser.add_argument("--workers", default="1,2", help="Ray worker counts to measure")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--address", help="a Ray cluster to join (default: a local instance)")
    args = parser.parse_args()

    from episodes.difficulty import parse_difficulty_range
    from episodes.families.support import split_supported
    from episodes.generate import generate_task
    from episodes.tasks import parse_families, plan

    if args.db.startswith("sqlite:////"):
        Path(args.db.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    shop = Shop.open(args.db, seed=0, size=args.size)
    counts = [int(n) for n in args.workers.split(",")]
    jobs, _ = split_supported(shop, plan(parse_families("all"),
                                         parse_difficulty_range(args.difficulty),
                                         args.episodes, 0))
    tasks = [generate_task(shop, f, d, s) for f, d, s in jobs]
    print(f"catalog: {shop.catalog.product_count:,} products ({args.db}); {len(tasks)} "
          f"{args.agent} episodes, difficulties {args.difficulty}, concurrency "
          f"{args.concurrency} per process; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    best: dict[str, float] = {}
    cpu_ms: dict[str, float] = {}
    records: dict[str, list[str]] = {}
    with ray_session(args.address, num_cpus=max(counts)) as ray:
        print(f"Ray {ray.__version__}: {ray.cluster_resources().get('CPU', 0):g} CPUs")
        for round_ in range(args.rounds):
            runs = {"one process, no Ray": in_process(shop, args.agent, tasks,
                                                      args.concurrency)}
            for n in counts:
                with RayPool(args.db, workers=n, catalog_seed=0, catalog_size=args.size,
                             fingerprint=shop.catalog.fingerprint) as pool:
                    pool.warm_up()
                    runs[f"{n} Ray worker{'s' * (n > 1)}"] = on_ray(
                        pool, args.agent, tasks, args.concurrency)
                    if pool.lost:
                        print(f"  ({n} workers: {pool.lost} lost and replaced during the run)")
            for name, (elapsed, cpu, recs) in runs.items():
                rate = len(recs) / elapsed
                per = cpu / len(recs) * 1000
                print(f"  round {round_ + 1}: {name:<20} {rate:7.1f} episodes/s "
                      f"({len(recs)} in {elapsed:.1f} s; {per:.1f} CPU ms per episode in the "
                      "process(es) playing them)")
                best[name] = max(best.get(name, 0.0), rate)
                cpu_ms[name] = min(cpu_ms.get(name, per), per)
                records.setdefault(name, [untimed(r) for r in recs])
    base = best["one process, no Ray"]
    one = best.get("1 Ray worker")
    print(f"\nbest of {args.rounds} rounds:")
    for name, rate in best.items():
        vs_one = f"  x{rate / one:.2f} vs 1 Ray worker" if one else ""
        print(f"  {name:<20} {rate:7.1f} episodes/s  x{rate / base:.2f} vs one process{vs_one}"
              f"  ({cpu_ms[name]:.1f} CPU ms per episode)")
    same = all(r == records["one process, no Ray"] for r in records.values())
    print(f"records identical in every configuration (but for timing): {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
