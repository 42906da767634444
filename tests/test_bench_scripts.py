"""Every script in bench/ still runs: ``--help`` exits 0, and a tiny real run (the smallest
catalog, episodes, rounds and seconds the script accepts, its databases under a temporary
directory) exits 0 and prints its figure lines.

The scripts are found with a glob, so a new one is covered at once: it needs an entry in
``RUNS`` (its tiny runs) or in ``NO_TINY_RUN`` (why it cannot have one), else
``test_tiny_run`` fails for it. The figures' values are not checked (they are timings), only
that the lines that carry them are printed.

The runs are subprocesses started by one pool for the whole module, ``PARALLEL`` at a time
(xdist's ``--dist loadscope`` keeps a module's tests in one worker, so the pool is what runs
them side by side); each test waits for its own. Runs on PostgreSQL need the tests' server
(``require_pg``: skipped locally without it, failed under CI=true) and remove what they make
there: schemas and databases named for the run, dropped afterwards.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import create_engine

from tests.conftest import PG_URL, require_pg

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
SCRIPTS = sorted(p.stem for p in BENCH.glob("*.py") if not p.name.startswith("_"))
PARALLEL = 3  # runs at once: most of them wait on servers, sleeps or timed rounds a while
TIMEOUT = 240  # seconds for one run; the process group is killed after it
SIZE = "301"  # catalog size of the tiny runs (bench_core's PostgreSQL schema is bench_301)
PG_SERVER = PG_URL.rsplit("/", 1)[0]  # 127.0.0.1:5432 by default, the server the scripts name


@dataclass(frozen=True)
class TinyRun:
    """One tiny run of a script: its arguments, with ``{tmp}`` (the run's own directory),
    ``{pg}`` (the tests' PostgreSQL URL), ``{pg_db}`` (a database name the script creates,
    dropped afterwards), ``{pg_schema_url}`` (the tests' database with ``search_path`` set
    to a fresh schema, dropped afterwards); ``expect``: patterns that must match lines of its
    output; ``pg``: needs PostgreSQL; ``drop_schemas``: schemas of fixed names the script
    leaves in the tests' database."""

    args: tuple[str, ...]
    expect: tuple[str, ...]
    pg: bool = False
    drop_schemas: tuple[str, ...] = ()


NUM = r"[\d.,]+"
# A PostgreSQL variant where the script has code of its own for PostgreSQL. Not for crash_loop
# and fuzz_tools (their schema is isolation's, tests/protocol/backends.py), load_http (its load
# on PostgreSQL is tests/protocol/test_load.py's) and tau2_sessions (the tests' engine_for).
RUNS: dict[str, dict[str, TinyRun]] = {
    "bench_core": {
        "sqlite": TinyRun(
            ("--sizes", SIZE, "--db-dir", "{tmp}", "--sessions", "2", "--rounds", "1",
             "--json", "{tmp}/core.json"),
            (rf"^\| figure \| {SIZE} \|$", rf"^\| session_create_ms_p50 \| {NUM} \|$",
             rf"^\| search_all_ms_p95 \| {NUM} \|$", rf"^\| checkout_ms_p50 \| {NUM} \|$")),
        "postgresql": TinyRun(
            ("--backend", "postgresql", "--sizes", SIZE, "--db-dir", "{tmp}", "--sessions",
             "2", "--rounds", "1", "--rebuild"),
            (rf"^\| db_mb \| {NUM} \|$", rf"^\| search_all_ms_p50 \| {NUM} \|$"),
            pg=True, drop_schemas=(f"bench_{SIZE}",)),
    },
    "bench_direct": {
        "sqlite": TinyRun(
            ("--db", "sqlite:///{tmp}/shop.db", "--size", SIZE, "--episodes", "2",
             "--rounds", "1"),
            (rf"^in-memory MCP\s+{NUM}\s+{NUM}\s+{NUM}\s+\d+%$",
             rf"^direct\s+{NUM}\s+{NUM}\s+{NUM}\s+\d+%$",
             rf"^direct / in-memory MCP: {NUM}x episodes per wall second")),
    },
    "direct_parts": {
        "sqlite": TinyRun(
            ("--db", "sqlite:///{tmp}/shop.db", "--size", SIZE, "--episodes", "2",
             "--rounds", "1"),
            (r"^CPU ms per episode\s+in-memory MCP\s+direct$",
             rf"^tool calls\s+{NUM}\s+{NUM}$", rf"^total\s+{NUM}\s+{NUM}$",
             rf"^protocol p = -?{NUM} ms per episode")),
    },
    "bench_episodes": {
        "sqlite": TinyRun(
            ("--db", "sqlite:///{tmp}/shop.db", "--size", SIZE, "--episodes", "4",
             "--agents", "heuristic", "--concurrency", "1", "--workers", "2",
             "--worker-concurrency", "1"),
            (r"^single-intent: 4 tasks generated", r"^multi-intent: \d+ tasks generated",
             r"^agent\s+concurrency\s+episodes/s\s+ms/episode\s+success$",
             rf"^heuristic\s+1\s+{NUM}\s+{NUM}\s+\d+%$",
             rf"^heuristic\s+2x1 proc\s+{NUM}\s+{NUM}\s+\d+%$")),
    },
    "bench_mcp": {
        "sqlite": TinyRun(
            ("--sizes", SIZE, "--db-dir", "{tmp}", "--calls", "3", "--concurrency", "2",
             "--json", "{tmp}/mcp.json"),
            (rf"^{SIZE} products, SQLite: median ms per call",
             rf"^\| memory 2026-07-28, event loop \| {NUM}",
             rf"^\| stdio 2026-07-28 \| {NUM}", rf"^\| http legacy \| {NUM}",
             r"^memory, 2 sessions at once, threads: \d+ calls/s",
             r"^target search_products: [\d.]+x the no-op")),
        "postgresql": TinyRun(
            ("--sizes", SIZE, "--db-dir", "{tmp}", "--calls", "3", "--concurrency", "2",
             "--transports", "memory", "--pg", "{pg}"),
            (rf"^{SIZE} products, PostgreSQL: calls per second",
             rf"^\| memory 2026-07-28, threads \| {NUM}",
             r"^target add_to_cart: [\d.]+x the no-op"),
            pg=True, drop_schemas=(f"bench_mcp_{SIZE}",)),
    },
    "bench_ray": {
        "sqlite": TinyRun(
            ("--db", "sqlite:///{tmp}/shop.db", "--size", SIZE, "--episodes", "4",
             "--workers", "1", "--rounds", "1"),
            (r"^Ray [\d.]+: 1 CPUs$",
             rf"^  round 1: one process, no Ray\s+{NUM} episodes/s",
             rf"^  1 Ray worker\s+{NUM} episodes/s",
             r"^records identical in every configuration \(but for timing\): ")),
    },
    "crash_loop": {
        "sqlite": TinyRun(
            ("--cycles", "1", "--shoppers", "2", "--backends", "sqlite", "--size", SIZE,
             "--work", "{tmp}"),
            (r"^sqlite: 1 kill -9 cycles in \d+ s", r"=> faults 0$", r"^total faults: 0$")),
    },
    "discrimination": {
        "sqlite": TinyRun(
            ("--db", "sqlite:///{tmp}/shop.db", "--size", SIZE, "--seeds", "1",
             "--difficulty", "0-0", "--workers", "1"),
            (r"^oracle: \d+ episodes in", r"^\| difficulty \| oracle success \|",
             r"^\| family \| oracle success \|", r"^\| all \| \d+% \| [+-][\d.]+ \|")),
    },
    "env_processes": {
        "sqlite": TinyRun(
            ("--episodes", "2", "--clients", "1", "--size", SIZE, "--db-dir", "{tmp}",
             "--only", "sqlite"),
            (rf"^sqlite x1\s+{NUM}\s+{NUM}\s+{NUM}ms\s+{NUM}ms\s+{NUM}$",
             r"^records: identical in every configuration")),
        "postgresql": TinyRun(
            ("--episodes", "2", "--clients", "1", "--size", SIZE, "--db-dir", "{tmp}",
             "--pg-db", "{pg_db}", "--only", "alternating"),
            (rf"^postgresql x2 alternating\s+{NUM}\s+{NUM}\s+{NUM}ms",
             r"^records: identical in every configuration"),
            pg=True),
    },
    "fuzz_tools": {
        "sqlite": TinyRun(
            ("--calls", "30", "--default-calls", "10", "--http-calls", "5", "--block", "10",
             "--backends", "sqlite", "--size", SIZE, "--work", "{tmp}"),
            (r"^sqlite / memory: 30 calls", r"^sqlite / memory, default session .*: 10 calls",
             r"^sqlite / http \(SDK client\): 5 calls", r"^sqlite / http \(raw JSON bodies\)",
             r"^total faults: 0 ")),
    },
    "import_scale": {
        "sqlite": TinyRun(
            ("--items", SIZE, "--dir", "{tmp}", "--rounds", "1", "--compare-generated"),
            (r"^import_summary: Imported \d+ products", rf"^import_peak_rss_mb: {NUM}$",
             r"^imported_search_all_ms_p50_p95: \(", r"^generated_search_all_ms_p50_p95: \(")),
    },
    "isolation": {
        "sqlite": TinyRun(
            ("--sessions", "3", "--concurrency", "2", "--backends", "sqlite", "--size", SIZE,
             "--work", "{tmp}"),
            (r"^sqlite / memory: 3 sessions, \d+ calls", r"^sqlite / http: 3 sessions",
             r"^total faults: 0$")),
        "postgresql": TinyRun(  # the reliability scripts' PostgreSQL schema and serve options
            ("--sessions", "3", "--concurrency", "2", "--backends", "postgresql", "--size",
             SIZE, "--work", "{tmp}"),
            (r"^postgresql / memory: 3 sessions", r"^postgresql / http: 3 sessions",
             r"^total faults: 0$"),
            pg=True),
    },
    "load_http": {
        "sqlite": TinyRun(
            ("--backend", "sqlite", "--sessions", "2", "--seconds", "1", "--rounds", "1",
             "--size", SIZE, "--client-procs", "1", "--db-dir", "{tmp}", "--log-dir",
             "{tmp}/logs"),
            (r"start-up: \d+ calls in", rf"round 1: \d+ calls in {NUM} s = {NUM} calls/s",
             r"SQLite, 1 process: errors 0 \(server faults 0\)")),
    },
    "storage_growth": {
        "sqlite": TinyRun(
            ("--db", "sqlite:///{tmp}/shop.db", "--size", SIZE, "--episodes", "6",
             "--compare", "4", "--task-pool", "4", "--concurrency", "2"),
            (rf"^\s+6\s+{NUM}\s+{NUM} MB", r"^rows per session table at the end",
             r"^  shop_session\s+0\s+\d+$", r"^episodes/s pruned vs kept: [\d.]+x$")),
        "postgresql": TinyRun(
            ("--db", "{pg_schema_url}", "--size", SIZE, "--episodes", "6", "--compare", "4",
             "--task-pool", "4", "--concurrency", "2", "--connect", "mcp"),
            (rf"^\s+6\s+{NUM}\s+{NUM} MB", r"^  shop_session\s+0\s+\d+$",
             r"^pruned: 6 episodes in"),
            pg=True),
    },
    "tau2_gold": {
        "checkout layout": TinyRun(
            ("--tau2-path", "{tau2_checkout}", "--split", "test", "--rounds", "1"),
            (r"^world: \d+ products, .*; 5 tasks per round",
             rf"^replay\s+{NUM}\s+{NUM}\s+{NUM}\s+\d+%$",
             rf"^episode, MCP\s+{NUM}\s+{NUM}\s+{NUM}\s+\d+%$",
             rf"^episode, direct\s+{NUM}\s+{NUM}\s+{NUM}\s+\d+%$")),
    },
    "tau2_sessions": {
        "sqlite": TinyRun(
            ("--sessions", "1"),
            (r"^fixture on sqlite: ", r"^synthetic tau2-size on sqlite: ",
             rf"^  open_tau2_session\s+{NUM} ms median", rf"^  state_hash\s+{NUM} ms median")),
    },
    "tau2_speed": {
        "sqlite": TinyRun(
            ("--calls", "5", "--tasks", "1", "--rounds", "1", "--json", "{tmp}/speed.json"),
            (r"^fixture \(sqlite, code ", r"^synthetic \(sqlite, code ",
             rf"^  episodes/s direct\s+{NUM}$", rf"^  episodes/s MCP\s+{NUM}$",
             rf"^  db_check warm\s+{NUM} ms$")),
        "postgresql": TinyRun(
            ("--backend", "postgresql", "--world", "fixture", "--calls", "5", "--rounds", "1"),
            (r"^fixture \(postgresql, code ", rf"^  episodes/s MCP\s+{NUM}$"),
            pg=True),
    },
}
# Scripts that cannot have a tiny run here, with the reason (none at present).
NO_TINY_RUN: dict[str, str] = {}

CASES = [(script, variant) for script in SCRIPTS for variant in (list(RUNS.get(script, {}))
                                                                 or [""])]


@dataclass
class Outcome:
    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str

    def explain(self) -> str:
        return (f"exit {self.returncode}\n--- stdout (end) ---\n{self.stdout[-4000:]}"
                f"\n--- stderr (end) ---\n{self.stderr[-4000:]}")


def run_script(script: str, args: list[str], cwd: Path) -> Outcome:
    """``python bench/<script>.py args`` in its own process group, killed whole at the
    timeout (servers and workers it started included)."""
    proc = subprocess.Popen([sys.executable, str(BENCH / f"{script}.py"), *args], cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
        return Outcome(proc.returncode, out, err)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return Outcome(None, out, err + f"\n(killed after {TIMEOUT} s)")


def _admin(sql: str, database: str | None = None) -> None:
    """Run ``sql`` on the tests' PostgreSQL database (or ``database`` of its server)."""
    url = f"{PG_SERVER}/{database}" if database else PG_URL
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


def _tau2_checkout(tmp: Path) -> Path:
    """The fixture world laid out as a tau2-bench checkout (``data/tau2/domains/retail``)."""
    fixture = ROOT / "tests" / "fixtures" / "tau2_retail"
    retail = tmp / "tau2-bench" / "data" / "tau2" / "domains" / "retail"
    retail.mkdir(parents=True)
    for name in ("db.json", "tasks.json", "split_tasks.json", "policy.md"):
        (retail / name).write_bytes((fixture / name).read_bytes())
    return tmp / "tau2-bench"


def tiny_run(script: str, run: TinyRun, tmp: Path) -> Outcome:
    """The run with its placeholders filled, and what it made on PostgreSQL removed after."""
    name = f"bench_smoke_{secrets.token_hex(4)}"  # the run's PostgreSQL database or schema
    args = list(run.args)

    def uses(key: str) -> bool:
        return any(f"{{{key}}}" in a for a in args)

    values = {"tmp": str(tmp), "pg": PG_URL, "pg_db": name,
              "pg_schema_url": f"{PG_URL}?options=-csearch_path%3D{name}"}
    if uses("tau2_checkout"):
        values["tau2_checkout"] = str(_tau2_checkout(tmp))
    schemas = [*run.drop_schemas, *([name] if uses("pg_schema_url") else [])]
    if uses("pg_schema_url"):
        _admin(f'CREATE SCHEMA "{name}"')
    try:
        return run_script(script, [a.format(**values) for a in args], ROOT)
    finally:
        if uses("pg_db"):
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', "postgres")
        for schema in schemas:
            _admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class Pool:
    """The module's runs, ``PARALLEL`` at a time; each submitted once, on first request or
    up front for the tests this session selected."""

    def __init__(self, tmp_factory: pytest.TempPathFactory, pg_reason: str | None) -> None:
        self.executor = ThreadPoolExecutor(max_workers=PARALLEL)
        self.tmp_factory = tmp_factory
        self.pg_reason = pg_reason
        self.futures: dict[tuple[str, str], Future[Outcome]] = {}

    def submit(self, kind: str, script: str, variant: str = "") -> Future[Outcome]:
        key = (kind, f"{script}[{variant}]")
        if key not in self.futures:
            if kind == "help":
                self.futures[key] = self.executor.submit(run_script, script, ["--help"], ROOT)
            else:
                tmp = self.tmp_factory.mktemp(f"{script}-{variant or 'run'}")
                self.futures[key] = self.executor.submit(tiny_run, script,
                                                         RUNS[script][variant], tmp)
        return self.futures[key]

    def runnable(self, script: str, variant: str) -> bool:
        run = RUNS.get(script, {}).get(variant)
        return run is not None and not (run.pg and self.pg_reason)


@pytest.fixture(scope="module")
def pool(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         pg_reason: str | None) -> Iterator[Pool]:
    pool = Pool(tmp_path_factory, pg_reason)
    # start every selected run of this module now, so that they overlap: the tiny runs first
    # (the longest), then the --help ones
    selected = [item for item in request.session.items
                if isinstance(item, pytest.Function) and item.module is request.module]
    for item in selected:
        if item.originalname == "test_tiny_run":
            script, variant = cast(tuple[str, str], item.callspec.params["case"])
            if pool.runnable(script, variant):
                pool.submit("run", script, variant)
    for item in selected:
        if item.originalname == "test_help":
            pool.submit("help", cast(str, item.callspec.params["script"]))
    yield pool
    pool.executor.shutdown(wait=True, cancel_futures=True)


def test_every_script_has_a_tiny_run_or_a_reason() -> None:
    assert len(SCRIPTS) >= 17, SCRIPTS
    listed = set(RUNS) | set(NO_TINY_RUN)
    assert not set(RUNS) & set(NO_TINY_RUN), "a script both runs and has a reason not to"
    assert listed <= set(SCRIPTS), f"entries for scripts not in bench/: {listed - set(SCRIPTS)}"
    missing = sorted(set(SCRIPTS) - listed)
    assert not missing, (f"bench/ scripts without a tiny run in RUNS or a reason in "
                         f"NO_TINY_RUN: {missing}")


@pytest.mark.parametrize("script", SCRIPTS)
def test_help(pool: Pool, script: str) -> None:
    outcome = pool.submit("help", script).result()
    assert outcome.returncode == 0, outcome.explain()
    assert outcome.stdout.startswith(f"usage: {script}.py"), outcome.explain()


@pytest.mark.parametrize("case", CASES, ids=[f"{s}-{v}" if v else s for s, v in CASES])
def test_tiny_run(pool: Pool, case: tuple[str, str], pg_reason: str | None) -> None:
    script, variant = case
    if script not in RUNS:
        if script in NO_TINY_RUN:
            pytest.skip(f"no tiny run of bench/{script}.py: {NO_TINY_RUN[script]}")
        pytest.fail(f"bench/{script}.py has no tiny run in RUNS nor a reason in NO_TINY_RUN")
    run = RUNS[script][variant]
    if run.pg:
        require_pg(pg_reason)
    outcome = pool.submit("run", script, variant).result()
    assert outcome.returncode == 0, outcome.explain()
    missing = [p for p in run.expect if not re.search(p, outcome.stdout, re.MULTILINE)]
    assert not missing, f"lines matching {missing} not printed\n{outcome.explain()}"
