"""Crash loops with kill -9 during checkouts, on SQLite and PostgreSQL: prints the orders the
clients saw placed and the lost and partial orders found afterwards, which must be 0.

Each backend serves its database with ``mcp-shop serve --http``; ``--shoppers`` concurrent
clients open sessions, fill carts (some with a discount code) and check out, again and again,
until the server is killed with SIGKILL after a random 0.3-2 s; it is restarted and the next
cycle begins, ``--cycles`` times. Then every session is compared with what its client saw
(``tests/protocol/crash_runner.py``): every acknowledged checkout's order exists as answered;
no order lacks lines or payments or has totals that do not add up; no cart was emptied, no
stock taken and no code used without an order; no answered call is missing from the trace.

    python bench/crash_loop.py --cycles 20 --shoppers 16
    python bench/crash_loop.py --cycles 3 --backends sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.protocol.backends import open_backend  # noqa: E402
from tests.protocol.crash_runner import CrashStats, crash_cycles, stocked_variants, verify  # noqa: E402
from tests.protocol.procs import ServerProcess  # noqa: E402


def report(backend: str, stats: CrashStats, seconds: float) -> None:
    restart = statistics.median(stats.restart_seconds) if stats.restart_seconds else 0.0
    print(f"{backend}: {stats.cycles} kill -9 cycles in {seconds:.0f} s (restart median "
          f"{restart:.2f} s): {stats.sessions} sessions, {stats.checkouts_acknowledged} "
          f"checkouts acknowledged, {stats.checkouts_in_flight} cut off by a kill "
          f"({stats.in_flight_committed} of them committed), {stats.orders_found} orders found")
    print(f"  lost orders {stats.lost_orders}, partial orders {stats.partial_orders}, lost "
          f"trace records {stats.lost_trace_records}, corrupt database {stats.corrupt_database}  "
          f"=> faults {stats.faults}")
    for problem in stats.problems[:10]:
        print("   ", problem)


async def run_backend(backend: str, args: argparse.Namespace) -> int:
    with open_backend(backend, args.work, args.seed, args.size, "crash") as (shop, serve):
        variants = stocked_variants(shop)
        started = time.perf_counter()
        with ServerProcess(serve, log=args.work / f"crash-{backend}.log") as server:
            seen, stats = await crash_cycles(server, cycles=args.cycles, shoppers=args.shoppers,
                                             variants=variants, seed=args.seed)
        verify(shop, seen, variants, stats)
        report(backend, stats, time.perf_counter() - started)
        return stats.faults


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=20, help="kill -9 cycles per backend")
    parser.add_argument("--shoppers", type=int, default=16, help="concurrent clients")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--size", type=int, default=2000, help="catalog size")
    parser.add_argument("--seed", type=int, default=11, help="catalog and run seed")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mcp-shop-crash"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # figures as they come
    # the SDK's client logs a traceback for every request the kill cuts off: expected here
    logging.getLogger("mcp").setLevel(logging.CRITICAL)
    faults = sum(asyncio.run(run_backend(b, args)) for b in args.backends.split(","))
    print(f"total faults: {faults}")
    sys.exit(1 if faults else 0)


if __name__ == "__main__":
    main()
