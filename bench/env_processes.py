"""serve-env as one or many processes: oracle episodes per second over plain HTTP, with the
episodes in the database (a snapshot written after every reset and step). Configurations, all
measured in one run (ratios against the first):

* ``sqlite x1``: one process on a SQLite file;
* ``postgresql x1``: one process on PostgreSQL;
* ``postgresql x2 sticky``: two processes on one database, each client on one of them (every
  step finds its episode in the process's memory);
* ``postgresql x2 alternating``: every request goes to the other process than the last one
  (every step reads the episode's snapshot back from the database: the worst case).

Each client plays the gold solution of its tasks (reset, one step per tool call or message,
done), ``--clients`` at once; every record must score 1.0, and the records must be the same in
every configuration (timing apart).

    python bench/env_processes.py                        # 60 episodes, 8 clients
    python bench/env_processes.py --episodes 20 --clients 4
    python bench/env_processes.py --only x1             # the one-process configurations

The servers are ``python -m episodes.http_env`` in the current directory's project (run from
another checkout, e.g. an older commit's tree, to measure its server with the same clients).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx2

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
_URL = re.compile(r"serving the episode env at (http://\S+)")
FAMILIES = ["purchase", "cart", "return", "cancel", "order_status", "exchange"]


@contextmanager
def env_server(db: str, seed: int, size: int, log: Path) -> Iterator[str]:
    """One ``serve-env`` process on ``db``; its base URL once healthy."""
    with open(log, "ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "episodes.http_env", "--port", "0", "--db", db,
             "--catalog-seed", str(seed), "--catalog-size", str(size)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"serve-env exited:\n{log.read_text()}")
            found = _URL.findall(log.read_text())
            if found:
                try:
                    urllib.request.urlopen(f"{found[-1]}/health", timeout=2)
                    break
                except OSError:
                    pass
            time.sleep(0.1)
        else:
            raise TimeoutError(f"serve-env did not start:\n{log.read_text()}")
        yield found[-1]
    finally:
        proc.terminate()
        proc.wait(20)


async def play(bases: list[str], tasks: list[Any], clients: int, alternate: bool
               ) -> tuple[list[dict[str, Any]], list[float], float]:
    """Every task's gold solution, ``clients`` at once: the records (task order), the step
    latencies and the wall time."""
    from episodes.agents.oracle import gold_actions

    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(tasks)):
        queue.put_nowait(i)
    records: list[dict[str, Any]] = [{} for _ in tasks]
    latencies: list[float] = []

    async def client(k: int) -> None:
        async with httpx2.AsyncClient(timeout=120) as http:
            turn = itertools.count(k)

            def url(path: str) -> str:
                base = bases[next(turn) % len(bases)] if alternate else bases[k % len(bases)]
                return base + path

            while not queue.empty():
                i = queue.get_nowait()
                task = tasks[i]
                r = await http.post(url("/reset"), json={
                    "policy": "oracle", "family": task.family, "difficulty": task.difficulty,
                    "seed": task.seed})
                r.raise_for_status()
                episode_id = r.json()["observation"]["episode_id"]
                for action in [*gold_actions(task.gold), None]:
                    body = action.model_dump() if action is not None else {"done": True}
                    t0 = time.perf_counter()
                    r = await http.post(url("/step"), json={"episode_id": episode_id,
                                                            "action": body})
                    latencies.append(time.perf_counter() - t0)
                    r.raise_for_status()
                    if r.json()["done"]:
                        break
                records[i] = r.json()["observation"]["record"]

    started = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    return records, latencies, time.perf_counter() - started


def untimed(record: dict[str, Any]) -> str:
    out = json.loads(json.dumps(record, default=str))
    out["metrics"].pop("wall_time_s")
    for entry in out["trace"]:
        entry.pop("latency_ms")
    return json.dumps(out, sort_keys=True)


def pg_database(name: str) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                        {"n": name}).first() is None:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return f"{PG_SERVER}/{name}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--episodes", type=int, default=60)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seed", type=int, default=0, help="catalog seed")
    p.add_argument("--size", type=int, default=2000, help="catalog size")
    p.add_argument("--db-dir", default=str(Path(tempfile.gettempdir()) / "env_processes"))
    p.add_argument("--pg-db", default="env_processes", help="PostgreSQL database (created)")
    p.add_argument("--only", default="", help="run only the configurations whose names "
                   "contain this, e.g. 'x1'")
    args = p.parse_args()

    from episodes.generate import generate_task
    from mcp_shop import Shop

    where = Path(args.db_dir)
    where.mkdir(parents=True, exist_ok=True)
    sqlite = f"sqlite:///{where / 'shop.db'}"
    configs = [("sqlite x1", "sqlite", 1, False), ("postgresql x1", "postgresql", 1, False),
               ("postgresql x2 sticky", "postgresql", 2, False),
               ("postgresql x2 alternating", "postgresql", 2, True)]
    configs = [c for c in configs if args.only in c[0]]
    urls = {"sqlite": sqlite}
    if any(backend == "postgresql" for _, backend, _, _ in configs):  # --only sqlite: no server
        urls["postgresql"] = pg_database(args.pg_db)
        Shop.open(urls["postgresql"], seed=args.seed, size=args.size).engine.dispose()
    shop = Shop.open(sqlite, seed=args.seed, size=args.size)
    tasks = [generate_task(shop, FAMILIES[i % len(FAMILIES)], 1 + i % 3, 1000 + i)
             for i in range(args.episodes)]
    print(f"{args.episodes} oracle episodes, {args.clients} clients, catalog {args.size:,} "
          "products", flush=True)
    print(f"{'configuration':28} {'episodes/s':>10} {'steps/s':>8} {'p50 step':>9} "
          f"{'p95 step':>9} {'ratio':>6}", flush=True)
    first: float | None = None
    want: list[str] | None = None
    for name, backend, processes, alternate in configs:
        with ExitStack() as stack:
            bases = [stack.enter_context(env_server(urls[backend], args.seed, args.size,
                                                    where / f"{name.replace(' ', '_')}{k}.log"))
                     for k in range(processes)]
            records, latencies, wall = asyncio.run(play(bases, tasks, args.clients, alternate))
        assert all(r["reward"] == 1.0 for r in records), name
        got = [untimed(r) for r in records]
        want = want or got
        assert got == want, f"{name}: records differ from the first configuration's"
        rate = len(tasks) / wall
        first = first or rate
        q = statistics.quantiles(latencies, n=20)
        print(f"{name:28} {rate:10.1f} {len(latencies) / wall:8.1f} {q[9] * 1000:7.1f}ms "
              f"{q[18] * 1000:7.1f}ms {rate / first:6.2f}", flush=True)
    print("records: identical in every configuration (timing apart), every reward 1.0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
