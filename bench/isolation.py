"""Isolation of 1,000 sessions, in memory and over HTTP, on SQLite and PostgreSQL: prints how
many reads were checked and how many showed another session's data, which must be 0.

Each transport runs ``--sessions`` sessions, ``--concurrency`` at a time; every answer a session
gets (cart lines and quantities, discount code, orders, customer) is compared with that
session's own calls as they happen, and afterwards its trace must list exactly its calls and
its stock reflect only its own order (``tests/protocol/isolation_runner.py``).

    python bench/isolation.py --sessions 1000 --concurrency 50
    python bench/isolation.py --sessions 100 --backends sqlite --transports memory
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcp import Client  # noqa: E402

from mcp_shop.server import build_server  # noqa: E402
from tests.protocol.backends import open_backend  # noqa: E402
from tests.protocol.crash_runner import stocked_variants  # noqa: E402
from tests.protocol.isolation_runner import IsolationStats, run_sessions  # noqa: E402
from tests.protocol.procs import ServerProcess  # noqa: E402


def report(label: str, stats: IsolationStats) -> None:
    rate = stats.calls / stats.seconds if stats.seconds else 0.0
    print(f"{label}: {stats.sessions} sessions, {stats.calls} calls in {stats.seconds:.1f} s "
          f"({rate:.0f} calls/s), {stats.reads_checked} reads checked")
    print(f"  cross-session reads {stats.cross_session_reads}, trace mismatches "
          f"{stats.trace_mismatches}, state mismatches {stats.state_mismatches}, failed sessions "
          f"{stats.failed_sessions}  => faults {stats.faults}")
    for problem in stats.problems[:10]:
        print("   ", problem)


async def run_backend(backend: str, args: argparse.Namespace) -> int:
    faults = 0
    with open_backend(backend, args.work, args.seed, args.size, "iso") as (shop, serve):
        variants = stocked_variants(shop, 20)
        for n, transport in enumerate(args.transports.split(",")):
            options = dict(sessions=args.sessions, concurrency=args.concurrency,
                           variants=variants, first=n * args.sessions)
            if transport == "memory":
                server = build_server(shop, log_level="WARNING")
                stats = await run_sessions(partial(Client, server), shop, **options)
            else:
                with ServerProcess(serve, log=args.work / f"iso-{backend}.log") as proc:
                    stats = await run_sessions(partial(Client, proc.mcp_url), shop, **options)
            report(f"{backend} / {transport}", stats)
            faults += stats.faults
    return faults


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1000, help="sessions per transport")
    parser.add_argument("--concurrency", type=int, default=50, help="sessions at once")
    parser.add_argument("--transports", default="memory,http")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--size", type=int, default=2000, help="catalog size")
    parser.add_argument("--seed", type=int, default=11, help="catalog seed")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mcp-shop-isolation"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # figures as they come
    faults = sum(asyncio.run(run_backend(b, args)) for b in args.backends.split(","))
    print(f"total faults: {faults}")
    sys.exit(1 if faults else 0)


if __name__ == "__main__":
    main()
