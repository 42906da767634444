"""How long a tau2 retail session takes to make; prints figures, asserts nothing.

For the test fixture world and for a synthetic world the size of tau2-bench's own (50 product
types, 500 users, 1,000 orders, about 3,000 order items; invented from a seed, no tau2 data):
the catalog import, the one-time template install, then the time per ``open_tau2_session``
(copying the template), per ``project_session`` (reading the world back as records) and per
``state_hash`` (the DB check's hash of it, from bulk reads), on SQLite and,
with --backend postgresql, on PostgreSQL.

    python bench/tau2_sessions.py --sessions 20
    python bench/tau2_sessions.py --backend postgresql
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mcp_shop.db import read_tx  # noqa: E402
from mcp_shop.tau2 import load_tau2_retail  # noqa: E402
from mcp_shop.tau2.loader import Tau2Retail  # noqa: E402
from mcp_shop.tau2.projection import project_session, state_hash  # noqa: E402
from mcp_shop.tau2.session_world import install_tau2_world, open_tau2_session  # noqa: E402
from mcp_shop.tau2.world import db_hash, import_tau2_catalog  # noqa: E402
from tests.conftest import engine_for  # noqa: E402
from tests.mcp_shop.tau2_synthetic import synthetic_world  # noqa: E402

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tau2_retail"


@contextmanager
def database(backend: str) -> Iterator[Engine]:
    """A fresh database on ``backend`` (a temporary SQLite file, or a PostgreSQL schema),
    removed afterwards (the tests' ``engine_for``)."""
    with tempfile.TemporaryDirectory() as tmp:
        yield from engine_for(backend, Path(tmp), None)


def measure(name: str, world: Tau2Retail, backend: str, sessions: int) -> None:
    stats = world.db.statistics()
    units = sum(len(o.items) for o in world.db.orders.values())
    print(f"{name} on {backend}: {stats['products']} products, {stats['items']} items, "
          f"{stats['users']} users, {stats['orders']} orders, {units} order items")
    with database(backend) as engine:
        t = time.perf_counter()
        import_tau2_catalog(engine, world)
        print(f"  catalog import       {time.perf_counter() - t:8.3f} s")
        t = time.perf_counter()
        key = install_tau2_world(engine, world)
        print(f"  template install     {time.perf_counter() - t:8.3f} s")
        t = time.perf_counter()
        install_tau2_world(engine, world)
        print(f"  install again        {time.perf_counter() - t:8.3f} s (reused)")
        opens, reads, hashes = [], [], []
        for _ in range(sessions):
            t = time.perf_counter()
            sid = open_tau2_session(engine, key)
            opens.append(time.perf_counter() - t)
            t = time.perf_counter()
            with read_tx(engine) as conn:
                db = project_session(conn, sid)
            reads.append(time.perf_counter() - t)
            t = time.perf_counter()
            with read_tx(engine) as conn:
                fast = state_hash(conn, sid)
            hashes.append(time.perf_counter() - t)
        same = db_hash(db) == db_hash(world.db) == fast
        print(f"  open_tau2_session    {statistics.median(opens) * 1000:8.1f} ms median "
              f"(min {min(opens) * 1000:.1f}, max {max(opens) * 1000:.1f}, n={sessions})")
        print(f"  project_session      {statistics.median(reads) * 1000:8.1f} ms median "
              f"(the first of a world projects its catalog too)")
        print(f"  state_hash           {statistics.median(hashes) * 1000:8.1f} ms median "
              f"(the DB check's hash; last session's equals the world's: {same})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--sessions", type=int, default=10)
    args = parser.parse_args()
    measure("fixture", load_tau2_retail(FIXTURE), args.backend, args.sessions)
    with tempfile.TemporaryDirectory() as tmp:
        measure("synthetic tau2-size", synthetic_world(Path(tmp)), args.backend, args.sessions)


if __name__ == "__main__":
    main()
