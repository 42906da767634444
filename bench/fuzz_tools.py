"""Fuzzing of every tool with malformed arguments, on SQLite and PostgreSQL: prints how many
calls were made and the faults found, which must all be 0.

Each backend gets ``--calls`` calls over the in-memory MCP client, ``--default-calls`` more on
a server whose default session is the fuzzed one (as a stdio connection's; half the calls
leave the handle out), and ``--http-calls`` more over Streamable HTTP with the SDK's client and
again with raw JSON bodies (to an ``mcp-shop serve --http`` process on the same database), drawn by
hypothesis from each tool's input schema as ``tools/list`` gives it
(``tests/protocol/fuzz_strategies.py``): wrong types, missing and unknown arguments, huge,
negative, fractional and non-finite numbers, 1 MB strings, NUL bytes and lone surrogates, deep
nesting, unknown ids and another session's ids, unicode, empty values, malformed session
handles and unknown tool names, with about a quarter valid calls mixed in. Every call is
checked (``tests/protocol/fuzz_runner.py``): no internal error, one trace record per call
addressed to the session, no state change from a rejected call (the session's rows before and
after), nothing changed in another session, no error text over 2,000 characters.

    python bench/fuzz_tools.py --calls 10000 --http-calls 500
    python bench/fuzz_tools.py --calls 500 --backends sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcp import Client  # noqa: E402

from mcp_shop.server import build_server  # noqa: E402
from tests.protocol.backends import open_backend  # noqa: E402
from tests.protocol.fuzz_runner import FuzzStats, fuzz, fuzz_default_session  # noqa: E402
from tests.protocol.procs import ServerProcess  # noqa: E402
from tests.protocol.raw_http import RawClient  # noqa: E402


def report(label: str, stats: FuzzStats) -> None:
    rate = stats.calls / stats.seconds if stats.seconds else 0.0
    print(f"{label}: {stats.calls} calls ({stats.accepted} accepted, {stats.rejected} "
          f"rejected, of which {stats.unparsed} refused unparsed; {stats.addressed} addressed "
          f"to the fuzzed session) in "
          f"{stats.seconds:.1f} s ({rate:.0f}/s with checks)")
    print(f"  internal errors {stats.internal_errors}, unrecorded calls {stats.unrecorded}, "
          f"trace out of order {stats.misordered_blocks}, state changes from rejected calls "
          f"{stats.rejected_changed_state}, from accepted reads {stats.read_changed_state}, "
          f"other session changed {stats.other_session_changed}, transport failures "
          f"{stats.transport_failures}, code mismatches {stats.code_mismatches}, error texts "
          f"over 2,000 characters {stats.long_errors} (+ {stats.long_unknown_tool_errors} "
          f"naming an unknown tool), oversized trace records {stats.oversized_records}"
          f"  => faults {stats.faults}")
    print(f"  slowest call {stats.slowest[0] * 1000:.0f} ms ({stats.slowest[1]})")
    print("  outcomes: " + ", ".join(f"{k} {v}" for k, v in stats.codes.most_common()))
    print(f"  tools: {len([t for t in stats.tools if not t.startswith('<')])} of the catalogue "
          f"+ unknown names ({stats.tools['<unknown tool>']} calls)")
    for example in stats.examples[:10]:
        print("   ", example)


async def run_backend(backend: str, args: argparse.Namespace, work: Path) -> int:
    with open_backend(backend, work, args.seed, args.size, "fuzz") as (shop, serve_args):
        server = build_server(shop, log_level="CRITICAL")
        async with Client(server) as client:
            memory = await fuzz(client, shop, calls=args.calls, block=args.block, seed=1)
        report(f"{backend} / memory", memory)
        faults = memory.faults
        if args.default_calls:
            stdio = await fuzz_default_session(shop, calls=args.default_calls,
                                               block=args.block, seed=4)
            report(f"{backend} / memory, default session (as on stdio)", stdio)
            faults += stdio.faults
        if args.http_calls:
            with ServerProcess(serve_args, log=work / f"http-{backend}.log") as proc:
                async with Client(proc.mcp_url) as client:
                    http = await fuzz(client, shop, calls=args.http_calls, block=args.block,
                                      seed=2)
                async with RawClient(proc.mcp_url) as raw_client:
                    raw = await fuzz(raw_client, shop, calls=args.http_calls, block=args.block,
                                     seed=3)
            report(f"{backend} / http (SDK client)", http)
            report(f"{backend} / http (raw JSON bodies)", raw)
            faults += http.faults + raw.faults
    return faults


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10_000, help="in-memory calls per backend")
    parser.add_argument("--http-calls", type=int, default=500,
                        help="HTTP calls per backend and client (SDK, raw)")
    parser.add_argument("--default-calls", type=int, default=2000,
                        help="in-memory calls per backend on a server with a default session")
    parser.add_argument("--block", type=int, default=250, help="calls per fresh session")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--size", type=int, default=2000, help="catalog size")
    parser.add_argument("--seed", type=int, default=11, help="catalog seed")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mcp-shop-fuzz"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # figures as they come
    started = time.perf_counter()
    faults = 0
    for backend in args.backends.split(","):
        faults += asyncio.run(run_backend(backend, args, args.work))
    print(f"total faults: {faults} ({time.perf_counter() - started:.0f} s)")
    sys.exit(1 if faults else 0)


if __name__ == "__main__":
    main()
