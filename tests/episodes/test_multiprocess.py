"""Servers as many processes on one PostgreSQL database: two ``mcp-shop serve --http`` and two
``shop-episodes serve-env`` processes, with consecutive requests of one session or episode
landing on different processes (alternating URLs, or the round-robin proxy of
``tests/episodes/round_robin.py``, the local stand-in for deploy/compose's nginx). Whole
episodes score and record exactly as the in-process controller's; the WebSocket and HTTP doors
of different processes see the same episode; concurrent steps on one episode from two
processes are serialised (a 409, never a lost or doubled step); the episode cap holds across
processes; a killed process's episodes go on in the other. The table's own cross-process logic
(two tables on one SQLite file, idle expiry on a shared clock) and the snapshot's round trip are
checked in process."""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from sqlalchemy import update

from episodes.agents import OracleAgent
from episodes.agents.oracle import gold_actions
from episodes.controller import Action, EpisodeController, ToolRequest, start_policy
from episodes.generate import generate_task
from episodes.http_env import EnvError, EpisodeTable
from episodes.http_env.snapshot import (
    EPISODE_FIELDS,
    SHOPPER_FIELDS,
    dump_episode,
    load_episode,
)
from episodes.http_env.store import EPISODES
from mcp_shop import Shop
from mcp_shop.db import make_engine
from tests.conftest import PG_URL, TEST_SEED, TEST_SIZE, require_pg
from tests.episodes.records import untimed
from tests.episodes.round_robin import RoundRobin, serve_proxy
from tests.episodes.test_http_env import env_process
from tests.protocol.procs import ServerProcess
from verifiers.types import TaskSpec

CASES = [("purchase", 2, 1), ("return", 2, 2), ("exchange", 2, 5), ("cancel", 2, 6),
         ("multi", 4, 8)]
MAX_EPISODES = 16


@dataclass
class Cluster:
    shop_procs: list[ServerProcess]
    env_procs: list[ServerProcess]
    mcp_proxy: str
    mcp_rr: RoundRobin
    env_proxy: str


@pytest.fixture(scope="module")
def pg_shop(pg_reason: str | None) -> Iterator[tuple[str, Shop]]:
    """The test catalog in a fresh PostgreSQL schema (dropped afterwards)."""
    require_pg(pg_reason)
    schema = "mp_" + secrets.token_hex(6)
    shop = Shop.open(PG_URL, seed=TEST_SEED, size=TEST_SIZE, schema=schema)
    try:
        yield schema, shop
    finally:
        shop.engine.dispose()
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(scope="module")
def cluster(pg_shop: tuple[str, Shop], tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Cluster]:
    """Two mcp-shop and two serve-env processes on the schema, started side by side, and a
    round-robin proxy in front of each pair."""
    schema = pg_shop[0]
    logs: Path = tmp_path_factory.mktemp("multiproc")
    db = ["--db", PG_URL, "--schema", schema]
    shop_procs = [ServerProcess(db, log=logs / f"shop{k}.log") for k in range(2)]
    env_procs = [env_process([*db, "--catalog-seed", str(TEST_SEED), "--catalog-size",
                              str(TEST_SIZE), "--max-episodes", str(MAX_EPISODES)],
                             logs / f"env{k}.log") for k in range(2)]
    procs = [*shop_procs, *env_procs]
    try:
        with ThreadPoolExecutor(len(procs)) as pool:
            list(pool.map(lambda p: p.start(), procs))
        with serve_proxy([p.base for p in shop_procs]) as (mcp_proxy, mcp_rr), \
                serve_proxy([p.base for p in env_procs]) as (env_proxy, _):
            yield Cluster(shop_procs, env_procs, mcp_proxy, mcp_rr, env_proxy)
    finally:
        for p in procs:
            p.stop()


@pytest.fixture(scope="module")
def mp_tasks(pg_shop: tuple[str, Shop]) -> list[TaskSpec]:
    return [generate_task(pg_shop[1], f, d, s) for f, d, s in CASES]


@pytest.fixture(scope="module")
def reference(pg_shop: tuple[str, Shop], mp_tasks: list[TaskSpec]) -> list[dict[str, Any]]:
    """One process's records: the in-process controller playing the gold solutions."""

    async def run() -> list[dict[str, Any]]:
        async with EpisodeController(pg_shop[1]) as controller:
            return await controller.run(OracleAgent(), mp_tasks, concurrency=4)

    records = anyio.run(run)
    assert all(r["success"] for r in records), [r["task_id"] for r in records]
    return records


class Alternating:
    """HTTP clients of the env processes, each request to the next one in turn."""

    def __init__(self, bases: list[str]) -> None:
        self.clients = [httpx2.Client(base_url=b, timeout=60) for b in bases]
        self._turn = itertools.count()

    def __call__(self) -> httpx2.Client:
        return self.clients[next(self._turn) % len(self.clients)]

    def close(self) -> None:
        for c in self.clients:
            c.close()


def _reset(client: httpx2.Client, task: TaskSpec) -> str:
    r = client.post("/reset", json={"policy": "oracle", "family": task.family,
                                    "difficulty": task.difficulty, "seed": task.seed})
    assert r.status_code == 200, r.text
    return str(r.json()["observation"]["episode_id"])


def _play(pick: Any, task: TaskSpec, episode_id: str, actions: list[Any] | None = None,
          *, taken: int = 0) -> dict[str, Any]:
    """Step ``actions`` (default the gold solution, then done) through ``pick()``'s client
    each time, reading /state in between (``taken`` steps were taken before); the last step's
    answer."""
    todo = actions if actions is not None else [*gold_actions(task.gold), None]
    for steps, action in enumerate(todo, start=taken + 1):
        payload = action.model_dump() if action is not None else {"done": True}
        r = pick().post("/step", json={"episode_id": episode_id, "action": payload})
        assert r.status_code == 200, r.text
        last: dict[str, Any] = r.json()
        state = pick().get("/state", params={"episode_id": episode_id}).json()
        assert state["step_count"] == steps, state
        assert state["tool_calls"] == last["observation"]["tool_calls"]
        if last["done"]:
            break
    return last


# -- whole episodes over both kinds of server -------------------------------------------------


def test_episodes_hop_between_env_processes(cluster: Cluster, mp_tasks: list[TaskSpec],
                                            reference: list[dict[str, Any]]) -> None:
    """Reset on one process, then every step, /state and /record on the other one in turn:
    the records equal one process's."""
    pick = Alternating([p.base for p in cluster.env_procs])
    try:
        for task, want in zip(mp_tasks, reference, strict=True):
            episode_id = _reset(pick(), task)
            last = _play(pick, task, episode_id)
            obs = last["observation"]
            assert obs["success"] and last["reward"] == want["reward"] == 1.0
            records = [pick().get("/record", params={"episode_id": episode_id}).json()
                       for _ in range(2)]  # from each process
            assert untimed(records[0]) == untimed(records[1]) == untimed(obs["record"]) \
                == untimed(want)
    finally:
        pick.close()


async def test_mcp_sessions_hop_between_shop_processes(
        cluster: Cluster, pg_shop: tuple[str, Shop], mp_tasks: list[TaskSpec],
        reference: list[dict[str, Any]]) -> None:
    """The controller's MCP client through the round-robin proxy: its calls alternate between
    the two mcp-shop processes, and the records equal the in-memory server's."""
    before = dict(cluster.mcp_rr.hits)
    async with EpisodeController(pg_shop[1], connect=f"{cluster.mcp_proxy}/mcp") as controller:
        records = await controller.run(OracleAgent(), mp_tasks, concurrency=2)
    hits = [cluster.mcp_rr.hits[p.base] - before.get(p.base, 0) for p in cluster.shop_procs]
    assert min(hits) >= 10 and abs(hits[0] - hits[1]) <= 2, hits
    assert [untimed(r) for r in records] == [untimed(r) for r in reference]


async def test_websocket_and_http_doors_of_two_processes_agree(
        cluster: Cluster, mp_tasks: list[TaskSpec]) -> None:
    """A WebSocket session (OpenEnv's messages) on one process and plain HTTP on the other act
    on the same episode; the session's end drops the running episode for both."""
    from websockets.asyncio.client import connect

    task = mp_tasks[0]
    actions = gold_actions(task.gold)
    one, other = (p.base for p in cluster.env_procs)

    async def ask(ws: Any, message: dict[str, Any]) -> dict[str, Any]:
        await ws.send(json.dumps(message))
        answer: dict[str, Any] = json.loads(await ws.recv())
        assert answer["type"] != "error", answer
        return answer["data"]

    async with httpx2.AsyncClient(base_url=other, timeout=60) as http:
        async with connect(one.replace("http://", "ws://") + "/ws") as ws:
            first = await ask(ws, {"type": "reset", "data": {
                "policy": "oracle", "family": task.family, "difficulty": task.difficulty,
                "seed": task.seed}})
            episode_id = first["observation"]["episode_id"]
            r = await http.post("/step", json={"episode_id": episode_id,
                                               "action": actions[0].model_dump()})
            assert r.status_code == 200, r.text
            state = await ask(ws, {"type": "state"})
            assert (state["step_count"], state["tool_calls"]) == (1, 1)
            await ask(ws, {"type": "step", "data": actions[1].model_dump()})
            state = (await http.get("/state", params={"episode_id": episode_id})).json()
            assert state["step_count"] == 2 and len(state["messages"]) > 3
        gone = await http.get("/state", params={"episode_id": episode_id})
        for _ in range(50):  # the session's end is handled after the socket closes
            if gone.status_code == 404:
                break
            await anyio.sleep(0.1)
            gone = await http.get("/state", params={"episode_id": episode_id})
        assert gone.status_code == 404 and "WebSocket session ended" in gone.json()["error"]


def _lease(pg_shop: tuple[str, Shop], episode_id: str, until: float | None) -> None:
    """Hold (or, with a time in the past, abandon) an episode's step lease, as a process
    running, or dying during, a step of it would."""
    with pg_shop[1].engine.begin() as conn:
        conn.execute(update(EPISODES).where(EPISODES.c.episode_id == episode_id).values(
            lease_until=until, lease_owner=None if until is None else "another-process"))


def test_steps_on_one_episode_are_serialised_across_processes(
        cluster: Cluster, pg_shop: tuple[str, Shop], mp_tasks: list[TaskSpec]) -> None:
    task = mp_tasks[0]
    pick = Alternating([p.base for p in cluster.env_procs])
    search = {"tool_calls": [{"name": "search_products", "arguments": {"query": "lamp"}}] * 3}
    try:
        # a step running elsewhere: both processes refuse another one, reads go on
        episode_id = _reset(pick(), task)
        _lease(pg_shop, episode_id, time.time() + 60)
        for client in pick.clients:
            r = client.post("/step", json={"episode_id": episode_id, "action": search})
            assert r.status_code == 409 and "still running" in r.json()["error"], r.text
            assert client.get("/state", params={"episode_id": episode_id}).status_code == 200
        _lease(pg_shop, episode_id, None)
        assert pick().post("/step", json={"episode_id": episode_id,
                                          "action": search}).status_code == 200
        # a step whose process died mid-way: the episode cannot go on, and says why
        _lease(pg_shop, episode_id, time.time() - 1)
        r = pick().post("/step", json={"episode_id": episode_id, "action": search})
        assert r.status_code == 404 and "cut off" in r.json()["error"], r.text

        # two steps at once, one on each process: each is run once or refused with a 409
        episode_id = _reset(pick(), task)
        done = 0
        for _ in range(4):
            ready = threading.Barrier(2)

            def send(client: httpx2.Client, ready: threading.Barrier = ready) -> int:
                ready.wait()
                return client.post("/step", json={"episode_id": episode_id,
                                                  "action": search}).status_code

            with ThreadPoolExecutor(2) as pool:
                codes = list(pool.map(send, pick.clients))
            assert set(codes) <= {200, 409} and 200 in codes, codes
            done += codes.count(200)
        state = pick().get("/state", params={"episode_id": episode_id}).json()
        assert state["step_count"] == done and state["tool_calls"] == 3 * done
    finally:
        pick.close()


def test_the_episode_cap_holds_across_processes(cluster: Cluster,
                                                mp_tasks: list[TaskSpec]) -> None:
    """Resets on both processes fill one pool: the cap counts every process's episodes; a
    close on one process makes room for a reset on the other."""
    pick = Alternating([p.base for p in cluster.env_procs])
    task = mp_tasks[0]
    body = {"family": task.family, "difficulty": task.difficulty, "seed": task.seed}
    started: list[str] = []
    try:
        for _ in range(2 * MAX_EPISODES):
            r = pick().post("/reset", json=body)
            if r.status_code == 429:
                break
            assert r.status_code == 200, r.text
            started.append(r.json()["observation"]["episode_id"])
        assert r.status_code == 429 and f"--max-episodes {MAX_EPISODES}" in r.json()["error"]
        healths = [c.get("/health").json() for c in pick.clients]
        assert [h["episodes"] for h in healths] == [MAX_EPISODES] * 2
        assert [h["running"] for h in healths] == [MAX_EPISODES] * 2
        assert pick.clients[0].post("/close", json={"episode_id": started[-1]}).status_code == 200
        assert pick.clients[1].post("/reset", json=body).status_code == 200
    finally:
        for episode_id in started:
            pick().post("/close", json={"episode_id": episode_id})
        pick.close()


# -- a process dies; the other goes on ---------------------------------------------------------


async def test_a_killed_process_leaves_its_sessions_and_episodes_to_the_other(
        cluster: Cluster, pg_shop: tuple[str, Shop], mp_tasks: list[TaskSpec],
        reference: list[dict[str, Any]]) -> None:
    """SIGKILL one process of each kind in the middle of an episode: the episode goes on in
    the other (over HTTP by URL and through the proxy, which skips the dead one; over MCP
    through the proxy) and records exactly what one process records."""
    task, want = mp_tasks[4], reference[4]
    actions: list[Any] = [*gold_actions(task.gold), None]
    pick = Alternating([p.base for p in cluster.env_procs])
    try:
        episode_id = _reset(pick(), task)
        _play(pick, task, episode_id, actions[:2])
        cluster.env_procs[0].kill()
        with httpx2.Client(base_url=cluster.env_proxy, timeout=60) as proxied:
            last = _play(lambda: proxied, task, episode_id, actions[2:], taken=2)
        assert untimed(last["observation"]["record"]) == untimed(want)
    finally:
        pick.close()

    agent = OracleAgent()
    async with EpisodeController(pg_shop[1], connect=f"{cluster.mcp_proxy}/mcp") as controller:
        episode = controller.episode(task, policy=agent.name)
        obs = await episode.reset()
        policy = start_policy(agent, task, obs, seed=0)
        for n in itertools.count():
            if n == 2:
                cluster.shop_procs[0].kill()
            step = await episode.step(await policy.act(obs))
            obs = step.observation
            if step.done:
                break
        assert all(c.ok for c in episode.calls)
        assert untimed(episode.record()) == untimed(want)


# -- in process: two tables on one database, the snapshot -------------------------------------


async def test_two_tables_on_one_database_share_episodes_and_expiry(ep_shop: Any) -> None:
    """Two tables (two processes' worth) on one SQLite file and pool: a reset in one is
    stepped, read and closed in the other; idleness is measured on the shared clock, so an
    episode one table expires is gone for the other, saying why."""
    now = [1000.0]
    pool = "two-" + secrets.token_hex(4)
    task = generate_task(ep_shop, "purchase", 1, 3)
    body = {"family": "purchase", "difficulty": 1, "seed": 3}
    async with EpisodeController(ep_shop) as c1, EpisodeController(ep_shop) as c2:
        one, two = (EpisodeTable(c, idle_timeout=60, clock=lambda: now[0], pool=pool)
                    for c in (c1, c2))
        started = (await one.reset(body)).episode_id
        first = gold_actions(task.gold)[0]
        stepped = await two.step(started, first)
        assert stepped.episode.controller is c2 and len(stepped.episode.calls) == 1
        assert len(one.episode(started).calls) == 1 and one.steps(started) == 1
        odd = {"query": "lamp", "max_price_cents": float("inf"), "page": 10**80}
        await one.step(started, Action(tool_calls=[ToolRequest(name="search_products",
                                                               arguments=odd)]))
        assert two.episode(started).calls[1].arguments == odd  # read back from the snapshot
        now[0] += 61
        assert two.counts() == {"episodes": 0, "running": 0}
        with pytest.raises(EnvError) as gone:
            await one.step(started, first)
        assert gone.value.status == 404 and "expired after 60 s" in gone.value.message
        kept = (await two.reset(body)).episode_id
        one.close(kept)
        with pytest.raises(EnvError) as closed:
            two.episode(kept)
        assert closed.value.status == 404 and "closed" in closed.value.message


async def test_the_snapshot_keeps_everything_an_episode_needs(ep_shop: Any) -> None:
    """Every attribute of an episode and its shopper has a rule in the snapshot (new state
    added to either must be added there), and an episode continued from its snapshot after
    every step, in dense mode, records what the uninterrupted one records."""
    tasks = [generate_task(ep_shop, f, d, s) for f, d, s in CASES]
    agent = OracleAgent()
    async with EpisodeController(ep_shop, reward_mode="dense") as controller:
        want = await controller.run(agent, tasks)
        for task, ref in zip(tasks, want, strict=True):
            episode = controller.episode(task, policy=agent.name)
            obs = await episode.reset()
            assert episode.shopper is not None
            assert set(vars(episode.shopper)) == set(SHOPPER_FIELDS)
            policy = start_policy(agent, task, obs, seed=0)
            while True:
                text = dump_episode(episode)
                episode = load_episode(controller, text)
                assert dump_episode(episode) == dump_episode(load_episode(controller, text))
                step = await episode.step(await policy.act(obs))
                obs = step.observation
                if step.done:
                    break
            kept = {k for k, how in EPISODE_FIELDS.items() if how != "optional"}
            assert kept <= set(vars(episode)) <= set(EPISODE_FIELDS)
            assert untimed(episode.record()) == untimed(ref)


async def test_a_long_step_keeps_its_episode(ep_shop: Any, monkeypatch: pytest.MonkeyPatch,
                                             ) -> None:
    """A step that runs past its lease's length renews the lease: another process's step on
    the episode meanwhile is refused as busy (not taken for a step that died), and the long
    step's result is stored."""
    import episodes.http_env.sessions as sessions_module
    import episodes.http_env.store as store_module

    monkeypatch.setattr(store_module, "LEASE_SECONDS", 0.3)
    monkeypatch.setattr(sessions_module, "LEASE_SECONDS", 0.3)

    def slow(text: str, persona: str) -> str:  # a shopper's words from a slow model
        time.sleep(1.0)
        return text

    pool = "long-" + secrets.token_hex(4)
    body = {"family": "purchase", "difficulty": 1, "seed": 3}
    async with EpisodeController(ep_shop, rephraser=slow) as c1, \
            EpisodeController(ep_shop) as c2:
        one, two = (EpisodeTable(c, pool=pool) for c in (c1, c2))
        episode_id = (await one.reset(body)).episode_id
        async with anyio.create_task_group() as tg:
            tg.start_soon(one.step, episode_id, Action(message="What is your budget?"))
            await anyio.sleep(0.7)  # two lease lengths into the step
            with pytest.raises(EnvError) as busy:
                await two.step(episode_id, Action(message="Hello?"))
            assert busy.value.status == 409 and "still running" in busy.value.message
        stored = two.episode(episode_id)
        assert stored.turn == 1 and two.steps(episode_id) == 1
        assert stored.messages[-2].content == "What is your budget?"
