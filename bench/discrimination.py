"""Discrimination: how the oracle, heuristic and random agents fare on the same generated tasks,
by difficulty and by family. Prints markdown tables (the README shows them), asserts nothing.

    python bench/discrimination.py --seeds 5 --difficulty 0-10 --db sqlite:///shop.db

Every family gets ``--seeds`` tasks at each difficulty; all agents play the same tasks.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from typing import Any

from episodes.difficulty import parse_difficulty_range
from episodes.generate import generate_task
from episodes.parallel import WorkerPool
from mcp_shop import Shop
from verifiers.types import FAMILIES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sqlite:///shop.db")
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--difficulty", default="0-10")
    parser.add_argument("--agents", default="oracle,heuristic,random")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    shop = Shop.open(args.db, seed=0, size=args.size)
    diffs = parse_difficulty_range(args.difficulty)
    started = time.perf_counter()
    tasks = [generate_task(shop, f, d, 1000 + s) for d in diffs for f in FAMILIES
             for s in range(args.seeds)]
    print(f"{len(tasks)} tasks ({args.seeds} per family and difficulty) generated in "
          f"{time.perf_counter() - started:.1f} s\n")
    agents = args.agents.split(",")
    results: dict[str, list[dict[str, Any]]] = {}
    with WorkerPool(args.db, workers=args.workers, catalog_size=args.size) as pool:
        for name in agents:
            started = time.perf_counter()
            results[name] = pool.run(name, tasks, concurrency=4)
            print(f"{name}: {len(tasks)} episodes in {time.perf_counter() - started:.1f} s")
    print()
    for key, values in (("difficulty", diffs), ("family", list(FAMILIES))):
        header = f"| {key} | " + " | ".join(f"{a} success | {a} reward" for a in agents) + " |"
        print(header)
        print("|" + "---|" * (1 + 2 * len(agents)))
        for value in [*values, "all"]:
            cells = []
            for name in agents:
                rs = [r for r in results[name] if value == "all" or r[key] == value]
                n = len(rs)
                success = sum(r["success"] for r in rs) / n
                reward = sum(r["reward"] for r in rs) / n
                cells += [f"{success:.0%}", f"{reward:+.2f}"]
            print(f"| {value} | " + " | ".join(cells) + " |")
        print()
    fails: dict[str, int] = defaultdict(int)
    for r in results.get("heuristic", []):
        if not r["success"]:
            fails[r["stop_reason"]] += 1
    if fails:
        print("heuristic failures by stop reason:", dict(sorted(fails.items())))


if __name__ == "__main__":
    main()
