"""tau2 retail gold replay with verification: episodes per second, on the test fixture world
(or a tau2-bench checkout with --tau2-path). Prints figures, asserts nothing.

Three ways, each over every task of the world, in alternating rounds on one SQLite database:

- ``replay``: the domain alone. A fresh tau2 session (copy of the installed world), the task's
  gold actions through the tau2 tools (``replay_calls``), then tau2's DB check
  (``db_check``): the gold replayed again on another copy of the world, both projected into
  tau2's layout and hashed. By default every check replays the gold, as tau2 does; with
  ``--warm`` the gold hash is kept per world and task after its first replay, as runs do.
- ``episode, MCP``: whole episodes, the oracle agent (gold actions, then the information to
  communicate) with the scripted user, through the tau2 surface's MCP server in memory, scored
  with the tau2-compatible verdict and this project's components, one rollout record each.
- ``episode, direct``: the same episodes with ``connect="direct"`` (no protocol round trip).

    python bench/tau2_gold.py --rounds 5
    python bench/tau2_gold.py --tau2-path ~/src/tau2-bench --rounds 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from episodes.tau2.agents import make_tau2_agent  # noqa: E402
from episodes.tau2.env import Tau2Env  # noqa: E402
from episodes.tau2.episode import Tau2Runner  # noqa: E402
from episodes.tau2.tasks import select_tasks  # noqa: E402
from mcp_shop.pruning import remove_session  # noqa: E402
from mcp_shop.tau2 import load_tau2_retail  # noqa: E402
from mcp_shop.tau2.replay import (  # noqa: E402
    db_check,
    forget_gold_hashes,
    replay_calls,
    task_calls,
)
from mcp_shop.tau2.session_world import open_tau2_session  # noqa: E402

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tau2_retail"


def replay_round(env: Tau2Env, tasks: list[Any], cache: bool) -> tuple[float, float, int]:
    """(wall s, CPU s, DB matches) of gold replay + DB check over ``tasks``."""
    engine = env.shop.engine
    wall, cpu, ok = time.perf_counter(), time.process_time(), 0
    for task in tasks:
        sid = open_tau2_session(engine, env.key)
        try:
            replay_calls(engine, sid, task_calls(task.task))
            ok += db_check(engine, sid, task.task, world_key=env.key, cache=cache).match
        finally:
            remove_session(engine, sid, missing_ok=True)
    return time.perf_counter() - wall, time.process_time() - cpu, ok


async def episode_round(env: Tau2Env, tasks: list[Any], agent: Any,
                        connect: str | None, warm: bool) -> tuple[float, float, int]:
    """(wall s, CPU s, successes) of oracle episodes over ``tasks``."""
    async with Tau2Runner(env, connect=connect) as runner:
        await runner.run(agent, tasks[:2])  # warm-up: the client, first statements
        if not warm:
            forget_gold_hashes()
        wall, cpu = time.perf_counter(), time.process_time()
        records = await runner.run(agent, tasks)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, sum(1 for r in records if r["success"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tau2-path", default=str(FIXTURE),
                        help="a tau2-bench checkout (default: the test fixture world)")
    parser.add_argument("--split", default=None, help="the tasks of one split (default: all)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per way, alternating")
    parser.add_argument("--warm", action="store_true",
                        help="keep each task's gold hash after its first replay")
    args = parser.parse_args()

    world = load_tau2_retail(args.tau2_path)
    tasks = select_tasks(world, split=args.split)
    agent = make_tau2_agent("oracle", world.policy)
    stats = world.db.statistics()
    print(f"world: {stats['products']} products, {stats['items']} items, {stats['users']} "
          f"users, {stats['orders']} orders; {len(tasks)} tasks per round, {args.rounds} "
          f"rounds per way (alternating), one episode at a time; gold hash "
          f"{'kept after the first replay' if args.warm else 'replayed for every check'}")
    ways = ["replay", "episode, MCP", "episode, direct"]
    totals: dict[str, list[float]] = {w: [0.0, 0.0, 0.0, 0.0] for w in ways}  # wall, cpu, n, ok
    with tempfile.TemporaryDirectory(prefix="tau2-bench-") as tmp:
        started = time.perf_counter()
        env = Tau2Env.open(world, f"sqlite:///{tmp}/tau2.db")
        print(f"world imported in {time.perf_counter() - started:.2f} s")
        for _ in range(args.rounds):
            for way in ways:
                if way == "replay":
                    wall, cpu, ok = replay_round(env, tasks, cache=args.warm)
                else:
                    connect = "direct" if way.endswith("direct") else None
                    wall, cpu, ok = anyio.run(episode_round, env, tasks, agent, connect,
                                             args.warm)
                t = totals[way]
                t[0] += wall
                t[1] += cpu
                t[2] += len(tasks)
                t[3] += ok
        env.shop.engine.dispose()
    print(f"\n{'way':<16} {'episodes/s':>10} {'ms/episode':>10} {'CPU ms/ep':>10} "
          f"{'passed':>7}")
    for way, (w_s, c_s, n, passed) in totals.items():
        print(f"{way:<16} {n / w_s:>10.1f} {1000 * w_s / n:>10.2f} {1000 * c_s / n:>10.2f} "
              f"{passed / n:>7.0%}")
    print("\npassed: the DB check matched (replay), the episode succeeded (episodes)")


if __name__ == "__main__":
    main()
