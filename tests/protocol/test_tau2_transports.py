"""The tau2-retail surface as processes: ``mcp-shop import-tau2`` and ``mcp-shop serve --surface
tau2-retail`` over stdio (the default session, a resumed one) and HTTP (many sessions at once),
state kept across a kill -9 and restart on SQLite, and two processes serving one session on
PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from mcp_shop import Shop
from mcp_shop.cli import main
from mcp_shop.db import make_engine
from mcp_shop.server import admin, build_server
from mcp_shop.shop import default_index_dir
from mcp_shop.tau2.session_world import open_tau2_session
from mcp_shop.tau2.world import db_hash
from tests.conftest import PG_URL, require_pg
from tests.protocol.journey import assert_trace_matches
from tests.protocol.procs import ServerProcess
from tests.protocol.raw_http import RawClient
from tests.protocol.tau2_support import (
    FIXTURE,
    SURFACE,
    Tau2Calls,
    domain_replay,
    fixture_world,
    fuzz_tau2,
    install_fixture,
    projection,
    reference_state,
    rounded,
    run_tasks_at_once,
    state_hash,
    task_calls,
)

WORLD = fixture_world()


@pytest.fixture(scope="module")
def tau2_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file given the fixture world by ``mcp-shop import-tau2``."""
    url = f"sqlite:///{tmp_path_factory.mktemp('tau2cli') / 'tau2.db'}"
    assert main(["import-tau2", str(FIXTURE), "--db", url]) == 0
    return url


@pytest.fixture(scope="module")
def tau2_shop(tau2_url: str) -> Shop:
    return Shop(make_engine(tau2_url), index_dir=default_index_dir(tau2_url))


def _state(shop: Shop, sid: str) -> object:
    return rounded(projection(shop.engine, sid).model_dump())


# -- the command line ---------------------------------------------------------------------

def test_import_tau2(tau2_url: str, tau2_shop: Shop, tmp_path: Path,
                     capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    key = db_hash(WORLD.db)
    sid = open_tau2_session(tau2_shop.engine, key)
    assert state_hash(tau2_shop.engine, sid) == key, "the world as installed"
    assert main(["import-tau2", str(FIXTURE), "--db", tau2_url]) == 0, "again: nothing to do"
    out, err = capsys.readouterr()
    assert f"tau2 retail world {key[:12]}" in out and "serve --surface tau2-retail" in out
    assert "already holds this world's products" in err and "nothing written" in err
    assert main(["import-tau2", str(tmp_path / "nowhere"), "--db", tau2_url]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and len(err.strip().splitlines()) == 2  # the step, the error
    native = f"sqlite:///{tmp_path / 'native.db'}"
    assert main(["build", "--db", native, "--size", "40"]) == 0
    capsys.readouterr()
    assert main(["import-tau2", str(FIXTURE), "--db", native]) == 2
    assert "holds another catalog" in capsys.readouterr().err


def _serve(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "mcp_shop.cli", "serve", *args],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=60)


def test_serve_refuses_a_database_without_a_world(tmp_path: Path, tau2_url: str,
                                                  tau2_shop: Shop) -> None:
    native = f"sqlite:///{tmp_path / 'native.db'}"
    assert main(["build", "--db", native, "--size", "40"]) == 0
    for url in (native, f"sqlite:///{tmp_path / 'empty.db'}"):
        done = _serve(*SURFACE, "--db", url)
        assert done.returncode == 2 and done.stdout == b""
        assert b"no tau2 retail world" in done.stderr and b"mcp-shop import-tau2" in done.stderr
    done = _serve(*SURFACE, "--db", tau2_url, "--size", "10")
    assert done.returncode == 2 and b"--seed and --size" in done.stderr
    native_sid = tau2_shop.open_session(seed=2).session_id
    done = _serve(*SURFACE, "--db", tau2_url, "--session", native_sid)
    assert done.returncode == 2 and b"names a native session" in done.stderr
    done = _serve(*SURFACE, "--db", tau2_url, "--world", "ffffffffff")
    assert done.returncode == 2 and b"no single tau2 world" in done.stderr
    tau2_sid = open_tau2_session(tau2_shop.engine, db_hash(WORLD.db))
    done = _serve("--db", tau2_url, "--session", tau2_sid)  # the native surface
    assert done.returncode == 2 and b"names a tau2-retail session" in done.stderr


# -- stdio --------------------------------------------------------------------------------

def _stdio(url: str, *extra: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, env={"PYTHONUNBUFFERED": "1"},
        args=["-m", "mcp_shop.cli", "serve", *SURFACE, "--db", url, "--log-level", "WARNING",
              *extra])


async def test_stdio_default_session(tau2_url: str, tau2_shop: Shop, tmp_path: Path) -> None:
    calls = task_calls(WORLD, "13")  # a return of two of five units to the card that paid
    log = tmp_path / "stderr.log"
    with open(log, "w") as errlog:
        async with Client(stdio_client(_stdio(tau2_url), errlog=errlog)) as client:
            play = Tau2Calls(client)  # no session_id: the connection's default session
            await play.play(calls)
    found = re.findall(r"default session (\S+) \(tau2 world", log.read_text())
    assert len(found) == 1 and play.refused == []
    assert _state(tau2_shop, found[0]) == reference_state(WORLD, calls)
    assert_trace_matches(admin.read_trace(tau2_url, found[0]), play.calls)


async def test_stdio_resumes_a_tau2_session(tau2_url: str, tau2_shop: Shop,
                                            tmp_path: Path) -> None:
    calls = task_calls(WORLD, "11")
    sid = open_tau2_session(tau2_shop.engine, db_hash(WORLD.db))
    for part in (calls[:3], calls[3:]):  # two processes, one after the other
        with open(tmp_path / "stderr.log", "w") as errlog:
            async with Client(stdio_client(_stdio(tau2_url, "--session", sid),
                                           errlog=errlog), mode="legacy") as client:
                play = Tau2Calls(client)
                await play.play(part)
        assert play.refused == []
    assert _state(tau2_shop, sid) == reference_state(WORLD, calls)
    assert [t.tool for t in tau2_shop.trace(sid)] == [name for name, _ in calls]


# -- HTTP, and state across restarts -------------------------------------------------------

async def test_many_sessions_at_once_over_http(tau2_url: str, tau2_shop: Shop,
                                               tmp_path: Path) -> None:
    with ServerProcess([*SURFACE, "--db", tau2_url], log=tmp_path / "http.log") as server:
        def connect(mode: str) -> Client:
            return Client(server.mcp_url, mode=mode)

        problems = await run_tasks_at_once(connect, tau2_shop, WORLD, sessions=42,
                                           concurrency=21)
    assert problems == []


async def test_raw_fuzzing_over_http(tau2_url: str, tau2_shop: Shop, tmp_path: Path) -> None:
    """Fuzzed calls over HTTP from a bare JSON-RPC client: integers of 5,000 digits, NaN,
    lone surrogates, nesting thousands deep; no fault."""
    with ServerProcess([*SURFACE, "--db", tau2_url], log=tmp_path / "raw.log") as server:
        async with RawClient(server.mcp_url) as client:
            stats = await fuzz_tau2(client, tau2_shop, db_hash(WORLD.db), WORLD, blocks=1,
                                    seed=5)
    assert stats.faults == 0, "\n".join(stats.examples)
    assert stats.calls == 150 and stats.accepted > 15


async def test_state_survives_kill_and_restart(tau2_url: str, tau2_shop: Shop,
                                               tmp_path: Path) -> None:
    calls = task_calls(WORLD, "11")  # cancel an order, then change the default address
    args = [*SURFACE, "--db", tau2_url]
    first = ServerProcess(args, log=tmp_path / "first.log").start()
    try:
        async with Client(first.mcp_url) as client:
            play = Tau2Calls(client)
            sid = await play.open()
            await play.play(calls[:3])
    finally:
        first.kill()  # SIGKILL: no shutdown, no flush
    done = play.calls
    with ServerProcess(args, log=tmp_path / "second.log") as second:
        async with Client(second.mcp_url, mode="legacy") as client:
            play = Tau2Calls(client, sid)
            order = await play("get_order_details", {"order_id": "#W9742551"})
            assert order["status"] == "cancelled"
            await play.play(calls[3:])
    assert play.refused == []
    assert _state(tau2_shop, sid) == reference_state(WORLD, calls)
    assert_trace_matches(tau2_shop.trace(sid)[1:], done + play.calls)


async def test_kill_during_writes_keeps_state_and_trace_together(
        tau2_url: str, tau2_shop: Shop, tmp_path: Path) -> None:
    """Sessions play gold trajectories over HTTP until the server is killed (SIGKILL) in the
    middle; after a restart every session's state is exactly what the calls its trace records
    as accepted give, and every acknowledged call is in its trace, in order."""
    args = [*SURFACE, "--db", tau2_url]
    plays: list[Tau2Calls] = []
    server = ServerProcess(args, log=tmp_path / "killed.log").start()

    async def shopper(i: int) -> None:
        async with Client(server.mcp_url) as client:
            for k in range(100):
                play = Tau2Calls(client)
                await play.open()
                plays.append(play)
                await play.play(task_calls(WORLD, WORLD.tasks[(i + k) % len(WORLD.tasks)].id))

    runs = [asyncio.ensure_future(shopper(i)) for i in range(12)]
    for _ in range(600):  # until 40 calls are answered (at most a minute), with more in flight
        await asyncio.sleep(0.1)
        if sum(len(p.calls) for p in plays) >= 40:
            break
    server.kill()
    await asyncio.gather(*runs, return_exceptions=True)
    assert len(plays) > 12 and sum(len(p.calls) for p in plays) >= 40, "calls before the kill"
    with ServerProcess(args, log=tmp_path / "restarted.log"):  # recovers the file
        pass
    for play in plays:
        sid = str(play.session_id)
        traced = [(t.tool, t.arguments) for t in tau2_shop.trace(sid)[1:] if t.ok]
        acknowledged = [(tool, arguments) for tool, arguments, _ in play.calls]
        assert traced[:len(acknowledged)] == acknowledged, sid
        assert len(traced) - len(acknowledged) <= 1, "at most the call in flight was lost"
        assert projection(tau2_shop.engine, sid) == domain_replay(
            tau2_shop.engine, db_hash(WORLD.db), traced), sid


@pytest.fixture(scope="module")
def tau2_pg(pg_reason: str | None) -> Iterator[tuple[str, str]]:
    """(schema, world key) of the fixture world in a fresh PostgreSQL schema."""
    require_pg(pg_reason)
    schema = "t2_" + secrets.token_hex(6)
    try:
        yield schema, install_fixture(PG_URL, schema=schema)
    finally:
        admin_engine = make_engine(PG_URL)
        with admin_engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin_engine.dispose()


async def test_two_processes_serve_one_session_on_postgresql(
        tau2_pg: tuple[str, str], tmp_path: Path) -> None:
    schema, key = tau2_pg
    shop = Shop(make_engine(PG_URL, schema=schema), index_dir=tmp_path / "index")
    args = [*SURFACE, "--db", PG_URL, "--schema", schema, "--index-dir", str(tmp_path / "index")]
    calls = task_calls(WORLD, "2")  # a change of two items, the difference on a gift card
    procs = [ServerProcess(args, log=tmp_path / f"pg{i}.log").start() for i in range(2)]
    try:
        sid = open_tau2_session(shop.engine, key)
        done = []
        for step, (name, arguments) in enumerate(calls):  # each call on the next process
            async with Client(procs[step % 2].mcp_url) as client:
                play = Tau2Calls(client, sid)
                await play(name, arguments)
            assert play.refused == [], play.refused
            done += play.calls

        cancel = ("cancel_pending_order", {"order_id": "#W2875821",
                                           "reason": "ordered by mistake"})

        async def cancel_on(i: int) -> Tau2Calls:  # both processes at once, one order
            async with Client(procs[i].mcp_url) as client:
                play = Tau2Calls(client, sid)
                await play(*cancel)
                return play

        both = await asyncio.gather(cancel_on(0), cancel_on(1))
    finally:
        for p in procs:
            p.stop()
    assert sorted(len(b.calls) for b in both) == [0, 1], "the session lock orders them"
    assert [r[1].split(": ")[1] for b in both for r in b.refused] == ["tau2_order_not_pending"]
    assert rounded(projection(shop.engine, sid).model_dump()) == reference_state(
        WORLD, [*calls, cancel])
    assert_trace_matches(shop.trace(sid)[:len(done)], done)
    shop.engine.dispose()


async def test_fuzzing_and_many_sessions_on_postgresql(tau2_pg: tuple[str, str],
                                                       tmp_path: Path) -> None:
    """The fuzz runner's checks and 28 sessions at once, in memory, on PostgreSQL (where a NUL
    byte reaching a statement would fail, and shop calls run in worker threads)."""
    schema, key = tau2_pg
    shop = Shop(make_engine(PG_URL, schema=schema), index_dir=tmp_path / "index")
    server = build_server(shop, surface="tau2-retail", log_level="CRITICAL")
    assert server.offload
    try:
        async with Client(server) as client:
            stats = await fuzz_tau2(client, shop, key, WORLD, blocks=1, seed=3)
        assert stats.faults == 0, "\n".join(stats.examples)
        assert stats.calls == 150 and stats.accepted > 15

        def connect(mode: str) -> Client:
            return Client(server, mode=mode)

        assert await run_tasks_at_once(connect, shop, WORLD, sessions=28, concurrency=14) == []
    finally:
        shop.engine.dispose()
