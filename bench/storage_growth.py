"""Storage on long runs: the database size while oracle episodes run in process (the episode
controller over the in-memory MCP server, 16 episodes in flight), with each finished episode's
session removed, and for comparison a shorter run that keeps every session. Prints the size
after the first 1,000 episodes and at every report point, rows per session table at the end,
and episodes per second; asserts nothing.

    nice -n 19 python bench/storage_growth.py --episodes 100000 --compare 2000 \\
        --db sqlite:////tmp/mcp-shop-bench/storage.db

The catalog at --db is built on first use (10,000 products) and reused; sessions left in it
from earlier runs are removed first and the file is vacuumed, so every run starts from the
catalog alone. The comparison run plays in a copy of that clean database (SQLite) or in the
same one after the pruned run (PostgreSQL, then cleaned up). Episodes cycle through a pool of
generated tasks (--task-pool): every episode opens a new session whatever its task.

On PostgreSQL the space of deleted rows is reused once VACUUM has run (autovacuum, by
default); on a server with autovacuum off the pruned run runs VACUUM ANALYZE on the session
tables every 1,000 episodes in its place, and says so.

Sessions are removed by ``EpisodeController(keep_sessions=False)``, the controller's default
once it has that option; on a controller without it, this script removes each session itself
right after the episode's record is built (the same call, ``mcp_shop.pruning.remove_session``).
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import itertools
import sqlite3
import time
from typing import Any

import anyio
from sqlalchemy import Engine, text

from episodes.agents import make_agent
from episodes.controller import EpisodeController, start_policy
from episodes.difficulty import parse_difficulty_range
from episodes.generate import generate_task
from episodes.tasks import plan
from mcp_shop import Shop
from mcp_shop.db import sqlite_path
from mcp_shop.pruning import database_size, prune_sessions, remove_session, session_tables, vacuum
from verifiers.types import FAMILIES, TaskSpec

REPORT_EVERY = 1_000
HAS_OPTION = "keep_sessions" in inspect.signature(EpisodeController.__init__).parameters


def mb(n: float) -> str:
    return f"{n / 1e6:8.2f} MB"


def sizes(engine: Engine) -> str:
    """The database size, and on SQLite its parts (main file, write-ahead log, free pages)."""
    path = sqlite_path(str(engine.url))
    if path is None:
        return mb(database_size(engine))
    wal = path.with_name(path.name + "-wal")
    with engine.connect() as conn:
        free = conn.exec_driver_sql("PRAGMA freelist_count").scalar_one()
        page = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
    return (f"{mb(database_size(engine))} (file {mb(path.stat().st_size).strip()}, wal "
            f"{mb(wal.stat().st_size if wal.exists() else 0).strip()}, free pages "
            f"{mb(free * page).strip()})")


def rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(text(f"SELECT count(*) FROM {t.name}")).scalar_one()
                for t in session_tables()}


async def run_episode_then_remove(controller: EpisodeController, agent: Any,
                                  task: TaskSpec) -> dict[str, Any]:
    """What ``run_episode`` does, then the session removed (for a controller without
    ``keep_sessions``)."""
    episode = controller.episode(task, policy=agent.name)
    obs = await episode.reset()
    seed = int.from_bytes(hashlib.sha256(f"{task.task_id}:{task.seed}:0".encode())
                          .digest()[:4], "big")
    policy = start_policy(agent, task, obs, seed=seed)
    while not (step := await episode.step(await policy.act(obs))).done:
        obs = step.observation
    record = episode.record()
    remove_session(controller.shop.engine, episode.session_id)
    return record


async def play(shop: Shop, tasks: list[TaskSpec], episodes: int, *, prune: bool,
               concurrency: int, label: str, connect: str | None,
               deadline: float | None = None, stand_in_vacuum: bool = False
               ) -> dict[str, Any]:
    """``episodes`` oracle episodes over ``tasks`` (cycled), sizes printed every
    ``REPORT_EVERY`` (after a VACUUM of the session tables with ``stand_in_vacuum``); returns
    the figures."""
    agent = make_agent("oracle")
    options: dict[str, Any] = {"keep_sessions": not prune} if HAS_OPTION else {}
    if connect is not None:
        options["connect"] = connect
    cycle = itertools.cycle(tasks)
    done, ok, started, start_size = 0, 0, time.perf_counter(), database_size(shop.engine)
    at_first: int | None = None
    print(f"\n{label}: {episodes:,} episodes, sessions "
          f"{'removed' if prune else 'kept'}"
          f"{' (by this script)' if prune and not HAS_OPTION else ''}")
    print(f"{'episodes':>9} {'ep/s':>6}  size")
    async with EpisodeController(shop, **options) as controller:
        while done < episodes:
            if deadline is not None and done and time.perf_counter() > deadline:
                print(f"stopped at {done:,} episodes: --max-minutes reached", flush=True)
                break
            chunk = [next(cycle) for _ in range(min(REPORT_EVERY, episodes - done))]
            if prune and not HAS_OPTION:
                limiter = anyio.CapacityLimiter(concurrency)
                records: list[dict[str, Any]] = []

                async def one(task: TaskSpec, sink: list[dict[str, Any]] = records,
                              lim: anyio.CapacityLimiter = limiter) -> None:
                    async with lim:
                        sink.append(await run_episode_then_remove(controller, agent, task))

                async with anyio.create_task_group() as tg:
                    for task in chunk:
                        tg.start_soon(one, task)
            else:
                records = await controller.run(agent, chunk, concurrency=concurrency)
            done += len(chunk)
            ok += sum(1 for r in records if r["success"])
            rate = done / (time.perf_counter() - started)
            vacuumed = ""
            if stand_in_vacuum:
                vacuum(shop.engine)
                vacuumed = "  (after VACUUM ANALYZE of the session tables)"
            size = database_size(shop.engine)
            at_first = size if at_first is None else at_first
            print(f"{done:>9,} {rate:>6.1f}  {sizes(shop.engine)}{vacuumed}", flush=True)
    elapsed = time.perf_counter() - started
    return {"episodes": done, "success": ok / done, "seconds": elapsed,
            "start": start_size, "first": at_first, "end": database_size(shop.engine),
            "rows": rows(shop.engine)}


def autovacuum_off(engine: Engine) -> bool:
    """On PostgreSQL: is autovacuum off (as on some test servers)? Deleted rows' space is
    only reused once a VACUUM has run."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as conn:
        return conn.exec_driver_sql("SHOW autovacuum").scalar_one() == "off"


def clean(shop: Shop) -> None:
    removed = prune_sessions(shop.engine, keep=0)
    vacuum(shop.engine)
    print(f"start: removed {removed.sessions:,} sessions left from earlier runs; "
          f"size {sizes(shop.engine)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sqlite:////tmp/mcp-shop-bench/storage.db")
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--episodes", type=int, default=100_000)
    parser.add_argument("--compare", type=int, default=2_000,
                        help="episodes of the run that keeps its sessions (0: skip)")
    parser.add_argument("--task-pool", type=int, default=500,
                        help="distinct tasks the episodes cycle through (default 500)")
    parser.add_argument("--connect", default="direct",
                        help="the controller's path to the tools: 'direct' (in process, no "
                        "protocol; the default) or 'mcp' (the in-memory MCP server)")
    parser.add_argument("--difficulty", default="0-5")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-minutes", type=float, default=0,
                        help="stop the pruned run at the next report point after this many "
                        "minutes of the whole script (0: no limit)")
    args = parser.parse_args()
    deadline = time.perf_counter() + args.max_minutes * 60 if args.max_minutes else None

    path = sqlite_path(args.db)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    shop = Shop.open(args.db, seed=0, size=args.size)
    clean(shop)
    started = time.perf_counter()
    families = [f for f in FAMILIES if f != "multi"]
    tasks = [generate_task(shop, f, d, s) for f, d, s in
             plan(families, parse_difficulty_range(args.difficulty), args.task_pool, 7)]
    print(f"{len(tasks):,} tasks ({', '.join(families)}; difficulties {args.difficulty}) "
          f"generated in {time.perf_counter() - started:.1f} s; controller option "
          f"keep_sessions: {'yes' if HAS_OPTION else 'no'}")

    compare_shop, copy = None, None
    if args.compare and path is not None:  # a copy of the clean database, before the run
        copy = path.with_name(path.stem + "-kept.db")
        with sqlite3.connect(path) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
        index = path.with_name(path.name + ".search")
        compare_shop = Shop.open(f"sqlite:///{copy}", seed=0, size=args.size, index_dir=index)

    connect = None if args.connect == "mcp" else args.connect
    stand_in = autovacuum_off(shop.engine)
    if stand_in:
        print("PostgreSQL autovacuum is off on this server: the pruned run runs VACUUM ANALYZE "
              f"on the session tables every {REPORT_EVERY:,} episodes in its place")
    kept = None
    if args.compare:  # first, so that its figures exist even if the long run is stopped
        kept_shop = compare_shop or shop
        kept = anyio.run(lambda: play(kept_shop, tasks, args.compare, prune=False,
                                      concurrency=args.concurrency, label="run keeping sessions",
                                      connect=connect))
        if compare_shop is None:
            clean(shop)
    pruned = anyio.run(lambda: play(shop, tasks, args.episodes, prune=True,
                                    concurrency=args.concurrency, label="pruned run",
                                    connect=connect, deadline=deadline,
                                    stand_in_vacuum=stand_in))

    print("\nrows per session table at the end (pruned run"
          + (", run keeping sessions)" if kept else ")"))
    for name, n in pruned["rows"].items():
        print(f"  {name:<18} {n:>10,}" + (f" {kept['rows'][name]:>10,}" if kept else ""))
    growth = pruned["end"] - pruned["first"]
    print(f"\npruned: {pruned['episodes']:,} episodes in {pruned['seconds']:.0f} s "
          f"({pruned['episodes'] / pruned['seconds']:.1f}/s, success {pruned['success']:.0%}); "
          f"size after {REPORT_EVERY:,}: {mb(pruned['first']).strip()}, at the end: "
          f"{mb(pruned['end']).strip()} (grew {growth / 1e6:+.2f} MB)")
    if kept:
        # from the 1,000 mark when there is more (the write-ahead log fills in the first)
        base, since = ((kept["first"], kept["episodes"] - REPORT_EVERY)
                       if kept["episodes"] > REPORT_EVERY else (kept["start"], kept["episodes"]))
        per_k = (kept["end"] - base) / since * 1000
        print(f"kept:   {kept['episodes']:,} episodes in {kept['seconds']:.0f} s "
              f"({kept['episodes'] / kept['seconds']:.1f}/s); size after {REPORT_EVERY:,}: "
              f"{mb(kept['first']).strip()}, at the end: {mb(kept['end']).strip()}; "
              f"{per_k / 1e6:.2f} MB per 1,000 episodes, so about "
              f"{(kept['end'] + per_k * (pruned['episodes'] - kept['episodes']) / 1000) / 1e6:,.0f}"
              f" MB after {pruned['episodes']:,} (linear)")
        ratio = (pruned["episodes"] / pruned["seconds"]) / (kept["episodes"] / kept["seconds"])
        print(f"episodes/s pruned vs kept: {ratio:.2f}x")
    if copy is not None:
        if compare_shop is not None:
            compare_shop.engine.dispose()
        for p in (copy, copy.with_name(copy.name + "-wal"), copy.with_name(copy.name + "-shm")):
            p.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
