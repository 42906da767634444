"""How fast the tau2 retail path is: per tool call, the DB check (cold and warm), a new
session (the template copy) and whole oracle episodes, on the test fixture world and on a
synthetic world of tau2-bench's size (500 users, 1,000 orders, ~3,000 order items; invented
from a seed, with invented tasks). Prints figures, asserts nothing.

- tool call: random plausible calls (``tests/mcp_shop/tau2_trajectories.random_call``, the
  reference keeping the world they are drawn from), each in its own transaction, refusals
  included; the median per tool and over all calls.
- db_check: ``cache=False`` replays the task's gold on a fresh session every time (cold, a
  task's first check); warm = the gold hash known, the agent's session read and hashed.
- session copy: ``open_tau2_session``; session removal: ``pruning.remove_session``.
- episodes: ``Tau2Runner`` with the oracle and the scripted user, ``--direct`` and through the
  MCP server in memory, after a warm-up round (gold hashes known, as in a run), episodes/s.

``--code DIR`` runs the same measurements with the ``mcp_shop``/``episodes`` of another tree
(e.g. ``git archive <commit> | tar -x -C DIR``) for a before/after on one machine; ``--json
FILE`` writes the figures, ``--compare FILE`` prints each figure's ratio to an earlier run's.

    python bench/tau2_speed.py --json /tmp/after.json
    python bench/tau2_speed.py --code /tmp/before --json /tmp/before.json
    python bench/tau2_speed.py --compare /tmp/before.json --backend postgresql
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _code_root() -> Path:
    if "--code" in sys.argv:
        return Path(sys.argv[sys.argv.index("--code") + 1]).resolve()
    return ROOT


sys.path.insert(0, str(_code_root()))

import anyio  # noqa: E402
from sqlalchemy import Engine  # noqa: E402

from episodes.tau2.agents import make_tau2_agent  # noqa: E402
from episodes.tau2.env import Tau2Env  # noqa: E402
from episodes.tau2.episode import Tau2Runner  # noqa: E402
from episodes.tau2.tasks import select_tasks, tau2_task, world_digest  # noqa: E402
from mcp_shop.db import make_engine, write_tx  # noqa: E402
from mcp_shop.pruning import remove_session  # noqa: E402
from mcp_shop.tau2 import load_tau2_retail  # noqa: E402
from mcp_shop.tau2.loader import Tau2Retail  # noqa: E402
from mcp_shop.tau2.records import WRITE_TOOLS, Task  # noqa: E402
from mcp_shop.tau2.replay import db_check, replay_calls, task_calls  # noqa: E402
from mcp_shop.tau2.session_world import open_tau2_session  # noqa: E402
from mcp_shop.tau2.tools import Tau2ToolError, call_tau2_tool  # noqa: E402
from tests.mcp_shop.tau2_reference import Reference, ToolFailed  # noqa: E402
from tests.mcp_shop.tau2_synthetic import synthetic_world  # noqa: E402
from tests.mcp_shop.tau2_trajectories import random_call  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "tau2_retail"
Figures = dict[str, float]


@contextmanager
def database_url(backend: str) -> Iterator[str]:
    """A fresh database URL (SQLite file, or a PostgreSQL schema via search_path)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/tau2.db"
        return
    schema = "bench_speed_" + secrets.token_hex(4)
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def invented_tasks(world: Tau2Retail, n: int, seed: int = 5) -> list[Task]:
    """``n`` tasks of a world without tasks: look up the user and the order, then one or two
    writes the reference accepts (drawn by ``random_call`` from the world as it is)."""
    rng = random.Random(seed)
    tasks: list[Task] = []
    while len(tasks) < n:
        ref = Reference(world.db)
        actions: list[dict[str, Any]] = []
        for _ in range(rng.choice([1, 1, 2])):
            for _ in range(200):
                name, args = random_call(ref.db, rng)
                if name not in WRITE_TOOLS:
                    continue
                try:
                    ref.call(name, args)
                except ToolFailed:
                    continue
                order = ref.db.orders.get(args.get("order_id", ""))
                uid = order.user_id if order is not None else args["user_id"]
                actions += [{"name": "get_user_details", "arguments": {"user_id": uid}}]
                if order is not None:
                    actions += [{"name": "get_order_details",
                                 "arguments": {"order_id": order.order_id}}]
                actions.append({"name": name, "arguments": args})
                break
        k = len(tasks)
        tasks.append(Task.model_validate({
            "id": f"speed-{k}", "user_scenario": {"instructions": "invented for timing"},
            "evaluation_criteria": {"actions": [dict(a, action_id=f"{k}_{j}")
                                                for j, a in enumerate(actions)],
                                    "reward_basis": ["DB"]}}))
    return tasks


def _ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 3)


def measure_calls(env: Tau2Env, world: Tau2Retail, calls: int, out: Figures) -> None:
    engine, rng = env.shop.engine, random.Random(3)
    per: dict[str, list[float]] = defaultdict(list)
    sid, ref = open_tau2_session(engine, env.key), Reference(world.db)
    for k in range(calls):
        if k and k % 100 == 0:  # a fresh world now and then, so writes keep succeeding
            remove_session(engine, sid)
            sid, ref = open_tau2_session(engine, env.key), Reference(world.db)
        name, args = random_call(ref.db, rng)
        if rng.random() < 0.05:
            name, args = "list_all_product_types", {}
        with suppress(ToolFailed):
            ref.call(name, args)
        t = time.perf_counter()
        try:
            with write_tx(engine) as conn:
                call_tau2_tool(conn, sid, name, args)
        except Tau2ToolError:
            pass
        per[name].append(time.perf_counter() - t)
    remove_session(engine, sid)
    out["call all"] = _ms([v for vs in per.values() for v in vs])
    out["call mean"] = round(statistics.mean(v for vs in per.values() for v in vs) * 1000, 3)
    for name in sorted(per):
        out[f"call {name}"] = _ms(per[name])


def measure_checks(env: Tau2Env, tasks: list[Task], out: Figures) -> None:
    engine = env.shop.engine
    copies, removals, cold, warm = [], [], [], []
    for task in tasks:
        t = time.perf_counter()
        sid = open_tau2_session(engine, env.key)
        copies.append(time.perf_counter() - t)
        replay_calls(engine, sid, task_calls(task))
        t = time.perf_counter()
        db_check(engine, sid, task, world_key=env.key, cache=False)
        cold.append(time.perf_counter() - t)
        db_check(engine, sid, task, world_key=env.key)  # the gold hash kept
        for _ in range(3):
            t = time.perf_counter()
            db_check(engine, sid, task, world_key=env.key)
            warm.append(time.perf_counter() - t)
        t = time.perf_counter()
        remove_session(engine, sid)
        removals.append(time.perf_counter() - t)
    out.update({"session copy": _ms(copies), "session removal": _ms(removals),
                "db_check cold": _ms(cold), "db_check warm": _ms(warm)})


async def _episodes(env: Tau2Env, tasks: list[Any], connect: str | None,
                    rounds: int) -> tuple[float, int, int]:
    agent = make_tau2_agent("oracle", env.world.policy)
    async with Tau2Runner(env, connect=connect) as runner:
        await runner.run(agent, tasks)  # warm-up: gold hashes, the client, first statements
        t = time.perf_counter()
        records = []
        for _ in range(rounds):
            records += await runner.run(agent, tasks)
        wall = time.perf_counter() - t
    return wall, len(records), sum(1 for r in records if r["success"])


def measure(name: str, world: Tau2Retail, tasks: list[Any], backend: str,
            args: argparse.Namespace) -> Figures:
    stats = world.db.statistics()
    print(f"{name} on {backend}: {stats['users']} users, {stats['orders']} orders, "
          f"{sum(len(o.items) for o in world.db.orders.values())} order items, "
          f"{len(tasks)} tasks", flush=True)
    out: Figures = {}
    with database_url(backend) as url:
        env = Tau2Env.open(world, url)
        engine: Engine = env.shop.engine
        try:
            measure_calls(env, world, args.calls, out)
            measure_checks(env, [t.task for t in tasks], out)
            for connect in ("direct", None):
                wall, n, ok = anyio.run(_episodes, env, tasks, connect, args.rounds)
                way = "direct" if connect else "MCP"
                out[f"episodes/s {way}"] = round(n / wall, 2)
                out[f"episode ms {way}"] = round(1000 * wall / n, 2)
                out[f"episode success {way}"] = ok / n
        finally:
            engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--world", choices=["fixture", "synthetic", "both"], default="both")
    parser.add_argument("--calls", type=int, default=300, help="random tool calls per world")
    parser.add_argument("--tasks", type=int, default=14, help="invented tasks (synthetic)")
    parser.add_argument("--rounds", type=int, default=2, help="episode rounds over the tasks")
    parser.add_argument("--code", help="the tree whose mcp_shop/episodes run (default: this)")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--compare", help="print ratios to the figures in this file")
    args = parser.parse_args()
    figures: dict[str, Figures] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.world in ("fixture", "both"):
            fixture = load_tau2_retail(FIXTURE)
            figures["fixture"] = measure("fixture", fixture, select_tasks(fixture),
                                         args.backend, args)
        if args.world in ("synthetic", "both"):
            big = synthetic_world(Path(tmp))
            digest = world_digest(big)
            tasks = [tau2_task(t, digest) for t in invented_tasks(big, args.tasks)]
            figures["synthetic"] = measure("synthetic tau2-size", big, tasks, args.backend,
                                           args)
    before = json.loads(Path(args.compare).read_text()) if args.compare else {}
    for world_name, figs in figures.items():
        print(f"\n{world_name} ({args.backend}, code {_code_root()})")
        for key, value in figs.items():
            old = before.get(world_name, {}).get(key)
            ratio = ""
            if old:
                faster = value / old if key.startswith("episodes/s") else old / value
                ratio = f"   before {old:g}: x{faster:.1f} faster"
            unit = "" if key.startswith(("episodes/s", "episode success")) else " ms"
            print(f"  {key:<42} {value:>10g}{unit}{ratio}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
