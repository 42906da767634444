"""Load over HTTP: N concurrent MCP client sessions x T seconds against ``mcp-shop serve --http``
processes this script starts, in rounds, with the servers' memory after each round. Prints
calls, calls/s, p50/p95 latency, errors (transport failures, tool errors and server-side
tracebacks; all should be 0) and each server's RSS per round with its ratio to round 1.

Each session is one ``mcp.Client(url)`` doing what a shopper does, over and over: search, look
at a product, add a stocked variant to the cart, view the cart, and every third visit check out
with a card and read the order history and the new order. Every round starts fresh sessions.

    python bench/load_http.py --backend sqlite                     # 200 sessions x 60 s x 3
    python bench/load_http.py --backend postgresql --servers 2     # two processes, one database
    python bench/load_http.py --sessions 30 --seconds 5 --rounds 2 # a quick look

Clients are spread round-robin over the server processes and run in ``--client-procs``
processes of their own (the SDK's client costs about as much CPU per call as the server).
Catalogs are built on first use (SQLite in --db-dir, PostgreSQL in database --pg-db).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp import Client

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
_URL = re.compile(r"serving MCP at (http://\S+)/mcp")
SERVER_FAULTS = ("Traceback", "Exception in ASGI application", "ERROR")


@dataclass
class LoadResult:
    """What a set of sessions did: calls per tool, latencies, and every failure."""

    calls: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # transport / protocol failures
    tool_errors: list[str] = field(default_factory=list)  # results flagged is_error
    per_tool: dict[str, int] = field(default_factory=dict)
    sessions: dict[str, int] = field(default_factory=dict)  # session_id -> calls made on it

    def merge(self, other: LoadResult) -> None:
        self.calls += other.calls
        self.latencies += other.latencies
        self.errors += other.errors
        self.tool_errors += other.tool_errors
        for tool, n in other.per_tool.items():
            self.per_tool[tool] = self.per_tool.get(tool, 0) + n
        self.sessions.update(other.sessions)


class _Shopper:
    """One session's calls, timed and counted into a ``LoadResult``."""

    def __init__(self, client: Client, result: LoadResult, rng: random.Random) -> None:
        self.client = client
        self.result = result
        self.rng = rng
        self.session_id: str | None = None

    async def __call__(self, tool: str, **args: Any) -> dict[str, Any] | None:
        if self.session_id is not None:
            args["session_id"] = self.session_id
        started = time.perf_counter()
        answer = await self.client.call_tool(tool, args)
        self.result.latencies.append(time.perf_counter() - started)
        self.result.calls += 1
        self.result.per_tool[tool] = self.result.per_tool.get(tool, 0) + 1
        if self.session_id is not None:
            self.result.sessions[self.session_id] += 1
        if answer.is_error:
            text = answer.content[0].text if answer.content else "?"
            self.result.tool_errors.append(f"{tool}: {text[:200]}")
            return None
        return answer.structured_content

    async def shop(self, seed: int, deadline: float) -> None:
        opened = await self("open_session", seed=seed)
        if opened is None:
            return
        self.session_id = opened["session_id"]
        self.result.sessions[self.session_id] = 1
        customer = await self("get_customer") or {}
        cards = [m["payment_method_id"] for m in customer.get("payment_methods", [])
                 if m["kind"] == "card"]
        browse = await self("search_products", query="", sort="popularity", page_size=20)
        words = sorted({w for h in (browse or {}).get("hits", [])
                        for w in h["title"].lower().split() if len(w) > 3 and w.isalpha()})
        visit = 0
        in_cart: set[str] = set()  # one unit of each: a variant's stock may be 1
        while time.monotonic() < deadline:
            visit += 1
            query = self.rng.choice(words) if words else ""
            found = await self("search_products", query=query, page_size=10)
            hits = (found or {}).get("hits") or (browse or {}).get("hits") or []
            if not hits:
                continue
            product = await self("get_product", product_id=self.rng.choice(hits)["product_id"])
            stocked = [v["variant_id"] for v in (product or {}).get("variants", [])
                       if v["stock"] >= 1 and v["variant_id"] not in in_cart]
            if stocked:
                await self("add_to_cart", variant_id=self.rng.choice(stocked), quantity=1)
            cart = await self("view_cart")
            in_cart = {line["variant_id"] for line in (cart or {}).get("lines", [])}
            if visit % 3 == 0 and cards and cart and cart["lines"]:
                order = await self("checkout", payment_method_id=cards[0],
                                   shipping_option="standard")
                await self("list_orders")
                if order is not None:
                    in_cart = set()
                    await self("get_order", order_id=order["order_id"])


async def _session(url: str, seed: int, deadline: float, result: LoadResult) -> None:
    rng = random.Random(seed)
    try:
        async with Client(url) as client:
            await _Shopper(client, result, rng).shop(seed, deadline)
    except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
        result.errors.append(_describe(exc))


def _describe(exc: BaseException) -> str:
    inner = getattr(exc, "exceptions", None)
    if inner:  # an exception group from the client's task group: show what is inside
        return " | ".join(_describe(e) for e in inner)
    return f"{type(exc).__name__}: {str(exc)[:200]}"


async def run_sessions(urls: Sequence[str], seeds: Sequence[int], seconds: float) -> LoadResult:
    """Sessions with these seeds, spread round-robin over ``urls``, each shopping for
    ``seconds`` (started together; a session ends after the visit in progress)."""
    result = LoadResult()
    deadline = time.monotonic() + seconds
    async with asyncio.TaskGroup() as group:
        for i, seed in enumerate(seeds):
            group.create_task(_session(urls[i % len(urls)], seed, deadline, result))
    return result


def _client_process(urls: Sequence[str], seeds: Sequence[int], seconds: float) -> LoadResult:
    return asyncio.run(run_sessions(urls, seeds, seconds))


# -- servers ----------------------------------------------------------------------------------

class Server:
    """One ``mcp-shop serve --http`` process on an ephemeral port; its stderr goes to ``log``."""

    def __init__(self, args: Sequence[str], log: Path) -> None:
        self.log = log
        with open(log, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mcp_shop.cli", "serve", "--http", "--port", "0",
                 "--log-level", "WARNING", *args],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        self.base = self._wait()

    def _wait(self, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}):\n"
                                   + self.log.read_text())
            found = _URL.findall(self.log.read_text())
            if found:
                try:
                    with urllib.request.urlopen(f"{found[-1]}/health", timeout=5):
                        return str(found[-1])
                except OSError:
                    pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError("server did not start:\n" + self.log.read_text())

    @property
    def url(self) -> str:
        return f"{self.base}/mcp"

    def rss_mb(self) -> float:
        """Resident memory of the process (Linux /proc), in MB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def faults(self) -> list[str]:
        """Lines of its log that report a failure (tracebacks, ASGI exceptions, errors)."""
        return [line for line in self.log.read_text(errors="replace").splitlines()
                if any(f in line for f in SERVER_FAULTS)]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@contextmanager
def servers(db: str, count: int, log_dir: Path, extra: Sequence[str] = ()) -> Iterator[
        list[Server]]:
    """``count`` server processes on the database ``db``, stopped on exit."""
    with ExitStack() as stack:
        started = []
        for i in range(count):
            server = Server(["--db", db, *extra], log_dir / f"server-{i}.log")
            stack.callback(server.stop)
            started.append(server)
        yield started


def sqlite_db(db_dir: Path, size: int) -> str:
    db_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{db_dir / f'load-{size}.db'}"
    _build(url, size)
    return url


def postgres_db(name: str, size: int) -> str:
    """The catalog in PostgreSQL database ``name`` (created if missing)."""
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                        {"n": name}).first() is None:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    url = f"{PG_SERVER}/{name}"
    _build(url, size)
    return url


def _build(url: str, size: int) -> None:
    from mcp_shop import Shop

    Shop.open(url, seed=0, size=size).engine.dispose()


# -- the benchmark ----------------------------------------------------------------------------

def _ms(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1] * 1000


def run_round(pool: ProcessPoolExecutor, urls: Sequence[str], sessions: int, seconds: float,
              procs: int, first_seed: int) -> tuple[LoadResult, float]:
    seeds = list(range(first_seed, first_seed + sessions))
    started = time.perf_counter()
    futures = [pool.submit(_client_process, urls, seeds[i::procs], seconds)
               for i in range(procs)]
    result = LoadResult()
    for future in futures:
        result.merge(future.result())
    return result, time.perf_counter() - started


def bench(label: str, db: str, args: argparse.Namespace, count: int) -> None:
    log_dir = Path(args.log_dir) / label.replace(" ", "-").replace(",", "")
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"\n== {label}: {count} server process(es), {args.sessions} sessions x "
          f"{args.seconds:g} s x {args.rounds} rounds, clients in {args.client_procs} "
          f"process(es)", flush=True)
    with servers(db, count, log_dir) as procs, \
            ProcessPoolExecutor(args.client_procs) as pool:
        urls = [s.url for s in procs]
        base = [s.rss_mb() for s in procs]
        print("   memory before: " + ", ".join(f"{m:.0f} MB" for m in base), flush=True)
        first: list[float] = []
        total_errors = 0
        for r in range(1, args.rounds + 1):
            result, wall = run_round(pool, urls, args.sessions, args.seconds,
                                     args.client_procs, first_seed=r * 100_000)
            rss = [s.rss_mb() for s in procs]
            first = first or rss
            faults = sum(len(s.faults()) for s in procs)
            errors = len(result.errors) + len(result.tool_errors)
            total_errors += errors + faults
            ratios = ", ".join(f"{m:.0f} MB ({m / f:.2f}x)" for m, f in
                               zip(rss, first, strict=True))
            print(f"   round {r}: {result.calls:,} calls in {wall:.1f} s = "
                  f"{result.calls / wall:,.0f} calls/s; p50 {_ms(result.latencies, .5):.1f} ms,"
                  f" p95 {_ms(result.latencies, .95):.1f} ms; {len(result.sessions)} sessions; "
                  f"errors {len(result.errors)}, tool errors {len(result.tool_errors)}, "
                  f"server faults {faults}; memory {ratios}", flush=True)
            for text in (result.errors + result.tool_errors)[:5]:
                print(f"      {text}", flush=True)
        for s in procs:
            for line in s.faults()[:5]:
                print(f"      server: {line}", flush=True)
        print(f"   {label}: errors total {total_errors}; logs in {log_dir}", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all",
                        help="all: SQLite with one process, PostgreSQL with one and two")
    parser.add_argument("--servers", type=int, default=None,
                        help="server processes (default 1; with --backend all, as listed)")
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=10_000, help="catalog size")
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--db-dir", default="/tmp/mcp-shop-load")
    parser.add_argument("--pg-db", default="mcp_shop_load", help="PostgreSQL database")
    parser.add_argument("--log-dir", default="/tmp/mcp-shop-load/logs")
    args = parser.parse_args(argv)
    runs: list[tuple[str, str, int]] = []
    if args.backend in ("sqlite", "all"):
        runs.append(("SQLite", sqlite_db(Path(args.db_dir), args.size), args.servers or 1))
    if args.backend in ("postgresql", "all"):
        pg = postgres_db(args.pg_db, args.size)
        counts = [args.servers] if args.servers else ([1, 2] if args.backend == "all" else [1])
        runs += [("PostgreSQL", pg, n) for n in counts]
    for name, db, count in runs:
        bench(f"{name}, {count} process{'es' if count > 1 else ''}", db, args, count)


if __name__ == "__main__":
    main()
