"""Load over HTTP: N concurrent MCP client sessions against ``mcp-shop serve --http`` processes
this script starts, for R rounds of T seconds, with the servers' memory after each round.
Prints, for the start-up (every session connects, opens its shop session, reads its customer
and browses once) and for each round: calls, calls/s, p50/p95 latency, errors (failed calls,
calls the shop refused, server-side tracebacks; all should be 0) and each server's RSS with
its ratio to round 1. Exits 1 if anything failed.

Each session is one ``mcp.Client(url)`` that, once every session is open, shops over and over
until the last round ends: search, look at a product, add a stocked variant to the cart, view
the cart, and every third visit check out with a card and read the order history and the new
order. The same sessions go on from round to round, so the rounds show sustained load.

    python bench/load_http.py                                    # all three configurations
    python bench/load_http.py --backend sqlite                   # 200 sessions, 3 x 60 s
    python bench/load_http.py --backend postgresql --servers 2   # two processes, one database
    python bench/load_http.py --backend sqlite --sessions 30 --seconds 10 --rounds 2

Clients are spread round-robin over the server processes and run in ``--client-procs``
processes of their own (the SDK's client costs about as much CPU per call as the server, and
much more per new session). Catalogs are built on first use (SQLite in --db-dir, PostgreSQL in
database --pg-db).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
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
        for sid, n in other.sessions.items():
            self.sessions[sid] = self.sessions.get(sid, 0) + n


class _Book:
    """Results by phase: [0] start-up (connect, open_session, get_customer, first search),
    [1..rounds] the rounds, [rounds + 1] calls that ended after the last round. A call counts
    in the phase in which it ended."""

    def __init__(self, rounds: int, seconds: float) -> None:
        self.results = [LoadResult() for _ in range(rounds + 2)]
        self.seconds = seconds
        self.rounds = rounds
        self.start: float | None = None  # time.monotonic() when round 1 began
        self.opened = 0  # sessions done with start-up (opened or failed)

    @property
    def end(self) -> float:
        return (self.start or 0.0) + self.rounds * self.seconds

    def current(self) -> LoadResult:
        if self.start is None:
            return self.results[0]
        phase = int((time.monotonic() - self.start) // self.seconds) + 1
        return self.results[min(phase, self.rounds + 1)]


class _Shopper:
    """One session's calls, timed and counted in the phase they end in."""

    def __init__(self, client: Client, book: _Book, rng: random.Random) -> None:
        self.client = client
        self.book = book
        self.rng = rng
        self.session_id: str | None = None
        self.cards: list[str] = []
        self.browse: list[dict[str, Any]] = []
        self.words: list[str] = []

    async def __call__(self, tool: str, **args: Any) -> dict[str, Any] | None:
        if self.session_id is not None:
            args["session_id"] = self.session_id
        started = time.perf_counter()
        answer = await self.client.call_tool(tool, args)
        result = self.book.current()
        result.latencies.append(time.perf_counter() - started)
        result.calls += 1
        result.per_tool[tool] = result.per_tool.get(tool, 0) + 1
        sid = self.session_id
        if sid is None and not answer.is_error and tool == "open_session":
            sid = self.session_id = (answer.structured_content or {}).get("session_id")
        if sid is not None:
            result.sessions[sid] = result.sessions.get(sid, 0) + 1
        if answer.is_error:
            text = getattr(answer.content[0], "text", "?") if answer.content else "?"
            result.tool_errors.append(f"{tool}: {text[:200]}")
            return None
        return answer.structured_content

    async def begin(self, seed: int) -> bool:
        """Open the session, read the customer's cards, browse once; False if it failed."""
        if await self("open_session", seed=seed) is None:
            return False
        customer = await self("get_customer") or {}
        self.cards = [m["payment_method_id"] for m in customer.get("payment_methods", [])
                      if m["kind"] == "card"]
        self.browse = (await self("search_products", query="", sort="popularity",
                                  page_size=20) or {}).get("hits", [])
        self.words = sorted({w for h in self.browse for w in h["title"].lower().split()
                             if len(w) > 3 and w.isalpha()})
        return True

    async def shop(self, deadline: float) -> None:
        """Visits until ``deadline``: search, product, add to cart, cart, and every third
        visit checkout, order history and the new order."""
        visit = 0
        in_cart: set[str] = set()  # one unit of each: a variant's stock may be 1
        while time.monotonic() < deadline:
            visit += 1
            query = self.rng.choice(self.words) if self.words else ""
            found = await self("search_products", query=query, page_size=10)
            hits = (found or {}).get("hits") or self.browse
            if not hits:
                return
            product = await self("get_product", product_id=self.rng.choice(hits)["product_id"])
            stocked = [v["variant_id"] for v in (product or {}).get("variants", [])
                       if v["stock"] >= 1 and v["variant_id"] not in in_cart]
            if stocked:
                await self("add_to_cart", variant_id=self.rng.choice(stocked), quantity=1)
            cart = await self("view_cart")
            in_cart = {line["variant_id"] for line in (cart or {}).get("lines", [])}
            if visit % 3 == 0 and self.cards and cart and cart["lines"]:
                order = await self("checkout", payment_method_id=self.cards[0],
                                   shipping_option="standard")
                await self("list_orders")
                if order is not None:
                    in_cart = set()
                    await self("get_order", order_id=order["order_id"])


async def _session(url: str, seed: int, book: _Book, go: asyncio.Event) -> None:
    started = False
    try:
        async with Client(url) as client:
            shopper = _Shopper(client, book, random.Random(seed))
            ok = await shopper.begin(seed)
            started = True
            book.opened += 1
            await go.wait()
            if ok:
                await shopper.shop(book.end)
    except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
        book.current().errors.append(_describe(exc))
    finally:
        if not started:
            book.opened += 1


def _describe(exc: BaseException) -> str:
    inner = getattr(exc, "exceptions", None)
    if inner:  # an exception group from the client's task group: show what is inside
        return " | ".join(_describe(e) for e in inner)
    return f"{type(exc).__name__}: {str(exc)[:200]}"


async def run_rounds(urls: Sequence[str], seeds: Sequence[int], seconds: float, rounds: int,
                     *, sync: Callable[[], Any] | None = None,
                     report: Callable[[int, LoadResult], None] | None = None,
                     ) -> list[LoadResult]:
    """Sessions with these seeds, spread round-robin over ``urls``: all open first, then all
    shop for ``rounds`` x ``seconds`` (a session ends after the visit in progress). Returns
    the results by phase (see ``_Book``); ``sync`` is called once every session is open (a
    barrier with other client processes), ``report`` with each phase as soon as it is over."""
    book = _Book(rounds, seconds)
    go = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        for i, seed in enumerate(seeds):
            group.create_task(_session(urls[i % len(urls)], seed, book, go))
        while book.opened < len(seeds):
            await asyncio.sleep(0.05)
        if sync is not None:
            await asyncio.to_thread(sync)
        book.start = time.monotonic()
        go.set()
        if report is not None:
            report(0, book.results[0])
        for r in range(1, rounds + 1):
            await asyncio.sleep(max(0.0, book.start + r * seconds - time.monotonic()))
            if report is not None:
                report(r, book.results[r])
    if report is not None:
        report(rounds + 1, book.results[rounds + 1])
    return book.results


def _client_process(urls: Sequence[str], seeds: Sequence[int], seconds: float, rounds: int,
                    barrier: Any, queue: Any) -> None:
    def report(phase: int, result: LoadResult) -> None:
        queue.put((phase, result))

    asyncio.run(run_rounds(urls, seeds, seconds, rounds, sync=lambda: barrier.wait(900),
                           report=report))


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


def _line(name: str, result: LoadResult, wall: float) -> str:
    return (f"{name}: {result.calls:,} calls in {wall:.1f} s = {result.calls / wall:,.0f} "
            f"calls/s; p50 {_ms(result.latencies, .5):.0f} ms, p95 "
            f"{_ms(result.latencies, .95):.0f} ms; errors {len(result.errors)}, tool errors "
            f"{len(result.tool_errors)}")


def bench(label: str, db: str, args: argparse.Namespace, count: int) -> int:
    """One configuration: servers, then client processes whose sessions all open, then shop
    for the rounds; prints each phase and the servers' memory after it. Returns the number
    of errors (failed calls, refused calls, server faults)."""
    log_dir = Path(args.log_dir) / label.replace(" ", "-").replace(",", "")
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"\n== {label}: {args.sessions} sessions x {args.rounds} rounds of {args.seconds:g} s"
          f", clients in {args.client_procs} process(es)", flush=True)
    ctx = multiprocessing.get_context("fork")
    seeds = list(range(args.sessions))
    with servers(db, count, log_dir) as procs:
        urls = [s.url for s in procs]
        print("   memory before: " + ", ".join(f"{s.rss_mb():.0f} MB" for s in procs),
              flush=True)
        barrier, queue = ctx.Barrier(args.client_procs + 1), ctx.Queue()
        clients = [ctx.Process(target=_client_process, daemon=True,
                               args=(urls, seeds[i::args.client_procs], args.seconds,
                                     args.rounds, barrier, queue))
                   for i in range(args.client_procs)]
        started = time.perf_counter()
        for c in clients:
            c.start()
        barrier.wait(900)
        opened = time.perf_counter() - started
        errors = 0
        first: list[float] = []
        for phase in range(args.rounds + 2):
            result = LoadResult()
            for _ in clients:
                _, part = queue.get(timeout=900)
                result.merge(part)
            errors += len(result.errors) + len(result.tool_errors)
            if phase == 0:
                print(f"   {_line('start-up', result, opened)} ({len(result.sessions)} "
                      "sessions opened)", flush=True)
                continue
            if phase > args.rounds:
                print(f"   {result.calls} calls ended after the last round; errors "
                      f"{len(result.errors) + len(result.tool_errors)}", flush=True)
                break
            rss = [s.rss_mb() for s in procs]
            first = first or rss
            memory = ", ".join(f"{m:.0f} MB ({m / f:.2f}x)" for m, f in
                               zip(rss, first, strict=True))
            print(f"   {_line(f'round {phase}', result, args.seconds)}; "
                  f"{len(result.sessions)} sessions; memory {memory}", flush=True)
            for text in (result.errors + result.tool_errors)[:5]:
                print(f"      {text}", flush=True)
        for c in clients:
            c.join(60)
        faults = [line for s in procs for line in s.faults()]
        for line in faults[:5]:
            print(f"      server: {line}", flush=True)
        errors += len(faults)
        print(f"   {label}: errors {errors} (server faults {len(faults)}); logs in {log_dir}",
              flush=True)
    return errors


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
    errors = 0
    for name, db, count in runs:
        errors += bench(f"{name}, {count} process{'es' if count > 1 else ''}", db, args, count)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
