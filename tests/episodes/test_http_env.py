"""``shop-episodes serve-env``'s stateful plain-HTTP protocol on 127.0.0.1 (OpenEnv's answer
shape, episodes named by ``episode_id``): the server runs as a subprocess on one SQLite file;
full episodes driven through ``/reset`` and ``/step`` by the gold solution score exactly like
the in-process controller; twenty concurrent clients; ``/state``, ``/record``, ``/health``;
clear 4xx answers to client mistakes; the MCP endpoint at ``/mcp``; the episode cap and idle
expiry. (OpenEnv's own client, WebSocket sessions and validator: test_openenv_env.py.)"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from episodes.agents import OracleAgent
from episodes.agents.oracle import gold_actions
from episodes.controller import EpisodeController
from episodes.generate import generate_task
from episodes.http_env import EnvError, EpisodeTable
from episodes.tasks import dump_tasks
from mcp_shop import Shop
from tests.conftest import TEST_SEED, TEST_SIZE
from tests.episodes.records import untimed
from tests.protocol.procs import ServerProcess
from verifiers.types import TaskSpec

CASES = [("purchase", 2, 1), ("return", 2, 2), ("exchange", 2, 5), ("cancel", 2, 6),
         ("multi", 4, 8)]
_URL = re.compile(r"serving the episode env at (http://\S+)")


def env_process(args: list[str], log: Path) -> ServerProcess:
    """``python -m episodes.http_env --port 0 ...`` as a subprocess; ``base`` once healthy."""
    return ServerProcess(args, log=log, command=("episodes.http_env", "--port", "0"),
                         announce=_URL)


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def env_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Shop]]:
    """A SQLite file with the test catalog (and its search index), shared with the servers."""
    path = tmp_path_factory.mktemp("http-env") / "shop.db"
    url = f"sqlite:///{path}"
    shop = Shop.open(url, seed=TEST_SEED, size=TEST_SIZE)
    yield url, shop
    shop.engine.dispose()


@pytest.fixture(scope="module")
def env_shop(env_db: tuple[str, Shop]) -> Shop:
    return env_db[1]


@pytest.fixture(scope="module")
def env_tasks(env_shop: Shop) -> list[TaskSpec]:
    return [generate_task(env_shop, f, d, s) for f, d, s in CASES]


@pytest.fixture(scope="module")
def tasks_file(env_tasks: list[TaskSpec], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("http-env-tasks") / "tasks.jsonl"
    dump_tasks(env_tasks[:2], path)
    return path


def _shop_args(url: str) -> list[str]:
    return ["--db", url, "--catalog-seed", str(TEST_SEED), "--catalog-size", str(TEST_SIZE)]


@pytest.fixture(scope="module")
def server(env_db: tuple[str, Shop], tasks_file: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with env_process([*_shop_args(env_db[0]), "--tasks", str(tasks_file)],
                     tmp_path_factory.mktemp("http-env-log") / "env.log") as proc:
        yield proc.base


@pytest.fixture(scope="module")
def small_server(env_db: tuple[str, Shop],
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second server on the same database: session handles exposed, at most two episodes,
    in a pool of its own (the first server's episodes are not its)."""
    with env_process([*_shop_args(env_db[0]), "--expose-session", "--max-episodes", "2",
                      "--pool", "small"],
                     tmp_path_factory.mktemp("http-env-log2") / "env.log") as proc:
        yield proc.base


@pytest.fixture()
def http(server: str) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=server, timeout=30) as client:
        yield client


async def _reference(shop: Shop, tasks: list[TaskSpec]) -> list[dict[str, Any]]:
    async with EpisodeController(shop) as controller:
        return await controller.run(OracleAgent(), tasks, concurrency=8)


@pytest.fixture(scope="module")
def reference(env_shop: Shop, env_tasks: list[TaskSpec]) -> list[dict[str, Any]]:
    """The in-process controller's records of the oracle, on the same database."""
    return anyio.run(_reference, env_shop, env_tasks)


def play(client: httpx2.Client, task: TaskSpec, reset: dict[str, Any] | None = None, *,
         started: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Reset (by family, difficulty and seed unless told; not at all given the answer of a
    reset already made) and step the gold solution until done; the reset answer and every
    step answer."""
    if started is None:
        body = reset or {"family": task.family, "difficulty": task.difficulty,
                         "seed": task.seed}
        r = client.post("/reset", json={"policy": "oracle", **body})
        assert r.status_code == 200, r.text
        started = r.json()
    steps = []
    for action in [*gold_actions(task.gold), None]:
        payload = action.model_dump() if action is not None else {"done": True}
        r = client.post("/step", json={"episode_id": started["observation"]["episode_id"],
                                       "action": payload})
        assert r.status_code == 200, r.text
        steps.append(r.json())
        if steps[-1]["done"]:
            break
    return started, steps


_untimed = untimed

# -- full episodes ----------------------------------------------------------------------------


def test_gold_episodes_score_like_the_controller(
        http: httpx2.Client, env_tasks: list[TaskSpec], reference: list[dict[str, Any]]) -> None:
    assert all(r["success"] for r in reference), [r["task_id"] for r in reference]
    for task, want in zip(env_tasks, reference, strict=True):
        started, steps = play(http, task)
        first = started["observation"]
        assert (started["reward"], started["done"]) == (None, False)
        assert first["task"] == {"task_id": task.task_id, "family": task.family,
                                 "difficulty": task.difficulty, "seed": task.seed}
        assert first["shopper_message"] == want["messages"][0]["content"]
        assert first["tools"] == want["tools"]
        assert first["session_id"] is None  # hidden unless --expose-session
        assert first["limits"] == task.limits.model_dump()

        last = steps[-1]
        obs = last["observation"]
        assert set(last) == {"observation", "reward", "done"}  # OpenEnv's StepResponse
        assert last["done"] and obs["terminated"] and not obs["truncated"]
        assert all(not s["done"] and s["reward"] == 0.0 for s in steps[:-1])
        assert all(s["observation"]["record"] is None for s in steps[:-1])
        assert obs["success"] and obs["stop_reason"] == want["stop_reason"]
        assert last["reward"] == want["reward"] == obs["breakdown"]["reward"] == 1.0
        assert obs["breakdown"]["components"] == want["reward_components"]
        assert obs["turn"] == want["metrics"]["turns"]
        assert obs["tool_calls"] == want["metrics"]["tool_calls"]

        record = http.get("/record", params={"episode_id": first["episode_id"]})
        assert record.status_code == 200, record.text
        assert _untimed(record.json()) == _untimed(want) == _untimed(obs["record"])


def test_a_task_given_inline_or_by_id(http: httpx2.Client, env_tasks: list[TaskSpec],
                                      reference: list[dict[str, Any]]) -> None:
    inline = env_tasks[2]
    _, steps = play(http, inline, {"task": inline.model_dump(mode="json")})
    breakdown = steps[-1]["observation"]["breakdown"]
    assert breakdown["components"] == reference[2]["reward_components"]
    listed = env_tasks[1]  # in the server's --tasks file
    started, steps = play(http, listed, {"task_id": listed.task_id})
    assert started["observation"]["task"]["task_id"] == listed.task_id
    breakdown = steps[-1]["observation"]["breakdown"]
    assert breakdown["components"] == reference[1]["reward_components"]


def test_twenty_concurrent_episodes(server: str, env_shop: Shop) -> None:
    tasks = [generate_task(env_shop, family, d, seed)
             for family, d, seed in [(f, 1 + k % 3, 100 + k) for k, f in enumerate(
                 ["purchase", "cart", "return", "cancel", "order_status"] * 4)]]
    want = {r["task_id"]: r for r in anyio.run(_reference, env_shop, tasks)}
    all_started = threading.Barrier(len(tasks), timeout=30)
    running: list[int] = []

    def one(task: TaskSpec) -> tuple[str, dict[str, Any], dict[str, Any]]:
        with httpx2.Client(base_url=server, timeout=60) as client:
            started = client.post("/reset", json={
                "policy": "oracle", "family": task.family, "difficulty": task.difficulty,
                "seed": task.seed}).json()
            if all_started.wait() == 0:  # every episode is live before any one steps
                running.append(client.get("/health").json()["running"])
            _, steps = play(client, task, started=started)
            episode_id = started["observation"]["episode_id"]
            state = client.get("/state", params={"episode_id": episode_id}).json()
        return episode_id, steps[-1], state

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, tasks))
    assert len({episode_id for episode_id, _, _ in results}) == 20
    assert running and running[0] >= 20
    for task, (_, last, state) in zip(tasks, results, strict=True):
        ref = want[task.task_id]
        obs = last["observation"]
        assert obs["success"], (task.task_id, obs["breakdown"])
        assert obs["breakdown"]["components"] == ref["reward_components"]
        assert state["task"]["task_id"] == task.task_id and state["success"]
        assert [m["role"] for m in state["messages"]] == [m["role"] for m in ref["messages"]]


# -- state and health -------------------------------------------------------------------------


def test_state_follows_the_episode(http: httpx2.Client, env_tasks: list[TaskSpec]) -> None:
    task = env_tasks[0]
    health = http.get("/health").json()
    assert health["status"] == "healthy" and health["tasks"] == 2
    assert health["catalog"] == task.catalog["fingerprint"]
    r = http.post("/reset", json={"family": task.family, "difficulty": task.difficulty,
                                  "seed": task.seed}).json()
    episode_id = r["observation"]["episode_id"]
    assert len(episode_id) >= 20
    after = http.get("/health").json()
    assert after["episodes"] >= 1 and after["running"] >= 1

    state = http.get("/state", params={"episode_id": episode_id}).json()
    assert state["turn"] == 0 and state["tool_calls"] == 0 and not state["done"]
    assert state["episode_id"] == episode_id and state["step_count"] == 0
    assert state["messages"] == [{"role": "user", "content": r["observation"]["shopper_message"]}]
    assert state["reward"] is None and state["stop_reason"] is None
    early = http.get("/record", params={"episode_id": episode_id})
    assert early.status_code == 409 and "still running" in early.json()["error"]

    actions = gold_actions(task.gold)
    first = http.post("/step", json={"episode_id": episode_id,
                                     "action": actions[0].model_dump()}).json()
    assert first["observation"]["tool_results"][0]["ok"]
    state = http.get("/state", params={"episode_id": episode_id}).json()
    assert state["tool_calls"] == 1 and state["step_count"] == 1
    assert [m["role"] for m in state["messages"]] == ["user", "assistant", "tool"]

    done = http.post("/step", json={"episode_id": episode_id, "action": {"done": True}}).json()
    obs = done["observation"]
    assert done["done"] and obs["stop_reason"] == "agent_done"
    assert not obs["success"] and done["reward"] == obs["breakdown"]["reward"]
    state = http.get("/state", params={"episode_id": episode_id}).json()
    assert state["done"] and state["stop_reason"] == "agent_done" and state["success"] is False

    closed = http.post("/close", json={"episode_id": episode_id})
    assert closed.json() == {"episode_id": episode_id, "closed": True}
    gone = http.get("/state", params={"episode_id": episode_id})
    assert gone.status_code == 404 and "closed" in gone.json()["error"]


# -- client mistakes --------------------------------------------------------------------------


def _error(r: httpx2.Response, status: int, *words: str) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    message = r.json()["error"]
    for word in words:
        assert word in message, (word, message)


def test_client_mistakes_get_clear_4xx(http: httpx2.Client, env_tasks: list[TaskSpec]) -> None:
    task = env_tasks[0]
    headers = {"content-type": "application/json"}
    _error(http.post("/reset", content=b"{not json", headers=headers), 400, "not valid JSON",
           "family")
    _error(http.post("/reset", content=b"", headers=headers), 400, "empty")
    _error(http.post("/step", json=[1, 2]), 400, "JSON object", "episode_id")
    _error(http.post("/reset", json={"family": "gardening", "difficulty": 1}), 422,
           "unknown family 'gardening'", "purchase")
    _error(http.post("/reset", json={"family": "purchase", "difficulty": 21}), 422,
           "difficulty", "less than or equal to 20")
    _error(http.post("/reset", json={"family": "purchase"}), 422, "difficulty")
    for name, odd in (("difficulty", True), ("difficulty", "3"), ("seed", 2.0),
                      ("trial", False)):  # integers only as JSON integers
        _error(http.post("/reset", json={"family": "purchase", "difficulty": 1, name: odd}),
               422, name, "valid integer")
    _error(http.post("/reset", json={}), 422, "family and difficulty", "task_id")
    _error(http.post("/reset", json={"family": "purchase", "difficulty": 1,
                                     "task_id": task.task_id}), 422, "family and task_id")
    _error(http.post("/reset", json={"task_id": "nope"}), 404, "no task 'nope'", task.task_id)
    _error(http.post("/reset", json={"task": {"task_id": "x"}}), 422, "not a valid task")
    _error(http.post("/reset", json={"familly": "purchase"}), 422, "familly", "unknown field")
    foreign = task.model_copy(update={"catalog": {**task.catalog, "seed": 999}})
    _error(http.post("/reset", json={"task": foreign.model_dump(mode="json")}), 422,
           "catalog with seed 999")

    _error(http.post("/step", json={"episode_id": "nope", "action": {"done": True}}), 404,
           "unknown episode 'nope'", "POST /reset")
    _error(http.get("/state", params={"episode_id": "nope"}), 404, "unknown episode")
    _error(http.get("/state"), 422, "episode_id")
    _error(http.get("/record"), 422, "episode_id")

    episode_id = http.post("/reset", json={"family": task.family, "difficulty": task.difficulty,
                                           "seed": task.seed}).json()["observation"]["episode_id"]
    step = "/step"
    _error(http.post(step, json={"episode_id": episode_id, "action": {
        "tool_calls": [{"name": "search_products", "arguments": {"query": "x"}},
                       {"name": "teleport", "arguments": {}}]}}), 422,
           "unknown tool 'teleport'", "search_products")
    _error(http.post(step, json={"episode_id": episode_id, "action": {
        "tool_calls": [{"name": "open_session"}]}}), 422, "unknown tool 'open_session'")
    _error(http.post(step, json={"episode_id": episode_id, "action": {
        "tool_calls": [{"tool": "search_products"}]}}), 422, "tool_calls.0.name", "tool")
    _error(http.post(step, json={"episode_id": episode_id, "action": {}}), 422, "does nothing")
    _error(http.post(step, json={"episode_id": episode_id}), 422, "action")
    state = http.get("/state", params={"episode_id": episode_id}).json()
    assert state["tool_calls"] == 0 and state["turn"] == 0  # the refused actions did nothing

    bad_args = http.post(step, json={"episode_id": episode_id, "action": {
        "tool_calls": [{"name": "get_product", "arguments": {"product_id": "P-nope"}}]}})
    assert bad_args.status_code == 200  # a failed tool call is the agent's to see
    assert not bad_args.json()["observation"]["tool_results"][0]["ok"]

    assert http.post(step, json={"episode_id": episode_id,
                                 "action": {"done": True}}).json()["done"]
    _error(http.post(step, json={"episode_id": episode_id, "action": {"message": "hi"}}), 409,
           "is over", "POST /reset")

    _error(http.get("/nowhere"), 404, "no endpoint /nowhere", "POST /reset")
    _error(http.get("/step"), 405, "GET is not allowed on /step")
    _error(http.get("/health", headers={"host": "evil.example:80"}), 421, "Host")
    _error(http.post("/reset", json={"family": "purchase", "difficulty": 1},
                     headers={"origin": "http://evil.example"}), 403, "Origin")
    assert http.get("/health").json()["status"] == "healthy"  # and the server is fine


def test_bodies_and_task_worlds_that_do_not_fit(http: httpx2.Client,
                                                env_tasks: list[TaskSpec]) -> None:
    """Task worlds the shop cannot build, odd numbers, deep and endless bodies: 4xx, never
    500, and the server goes on."""
    doc: dict[str, Any] = env_tasks[0].model_dump(mode="json")
    worlds: list[tuple[str, dict[str, Any]]] = [
        ("codes", {"codes": [{"foo": 1}]}), ("advance", {"advance_hours": 1e300}),
        ("orders", {"past_orders": [{"lines": "x"}]}), ("stock", {"stock": {"nonsense": 5}})]
    for name, world in worlds:
        bad = {**doc, "task_id": f"bad-{name}", "world": {**doc["world"], **world}}
        r = http.post("/reset", json={"task": bad})
        _error(r, 422, "POST /reset")
        assert "internal error" not in r.json()["error"]
    headers = {"content-type": "application/json"}
    _error(http.post("/reset", content=b'{"task": {"family": "cart", "difficulty": 1e999}}',
                     headers=headers), 422, "not a valid task")
    _error(http.post("/reset", content=b'{"family": "cart", "difficulty": 1e999}',
                     headers=headers), 422, "difficulty")
    _error(http.post("/reset", content=b"[" * 100_000 + b"]" * 100_000, headers=headers),
           400, "nested too deeply")
    deep = {"episode_id": "x", "action": {"tool_calls": [
        {"name": "search_products", "arguments": {"query": json.loads("[" * 300 + "]" * 300)}}]}}
    _error(http.post("/step", content=json.dumps(deep).encode(), headers=headers), 400,
           "nested too deeply")

    def endless() -> Iterator[bytes]:  # a chunked body with no declared length
        for _ in range(100):
            yield b" " * 65_536

    _error(http.post("/reset", content=endless(), headers=headers), 413, "4,194,304")
    assert http.get("/health").json()["status"] == "healthy"


# -- MCP --------------------------------------------------------------------------------------


async def test_mcp_endpoint_answers_an_mcp_client(server: str) -> None:
    from mcp import Client

    async with Client(f"{server}/mcp") as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert {"search_products", "add_to_cart", "checkout", "open_session"} <= names


async def test_expose_session_lets_an_agent_use_mcp(small_server: str,
                                                    env_tasks: list[TaskSpec]) -> None:
    """With --expose-session, reset returns the handle and tool calls made over /mcp act on the
    episode's session: they are in the server's trace, so the verdict sees them."""
    from mcp import Client

    task = env_tasks[0]
    async with httpx2.AsyncClient(base_url=small_server, timeout=30) as http:
        started = (await http.post("/reset", json={
            "family": task.family, "difficulty": task.difficulty, "seed": task.seed})).json()
        sid = started["observation"]["session_id"]
        async with Client(f"{small_server}/mcp") as mcp:
            cart = await mcp.call_tool("view_cart", {"session_id": sid})
            assert not cart.is_error, cart.content
        episode_id = started["observation"]["episode_id"]
        step = (await http.post("/step", json={"episode_id": episode_id,
                                               "action": {"done": True}})).json()
        assert step["done"]
        record = (await http.get("/record", params={"episode_id": episode_id})).json()
        assert [e["tool"] for e in record["trace"]] == ["view_cart"]
        assert record["metrics"]["tool_calls"] == 0  # not through /step


def test_the_episode_cap(small_server: str, env_tasks: list[TaskSpec]) -> None:
    """At most two episodes: a finished one makes room; two running ones refuse a third until
    one is closed; an evicted id says why it is gone."""
    task = env_tasks[0]
    body = {"family": task.family, "difficulty": task.difficulty, "seed": task.seed}
    with httpx2.Client(base_url=small_server, timeout=30) as http:
        ids = [http.post("/reset", json=body).json()["observation"]["episode_id"]
               for _ in range(2)]
        http.post("/step", json={"episode_id": ids[0], "action": {"done": True}})
        third = http.post("/reset", json=body)
        assert third.status_code == 200, third.text  # the finished one made room
        _error(http.get("/record", params={"episode_id": ids[0]}), 404, "made room")
        _error(http.post("/reset", json=body), 429, "--max-episodes 2", "POST /close")
        assert http.post("/close", json={"episode_id": ids[1]}).status_code == 200
        assert http.post("/reset", json=body).status_code == 200
        assert http.get("/health").json()["episodes"] == 2


# -- the table in process ---------------------------------------------------------------------


async def test_idle_episodes_expire(ep_shop: Any) -> None:
    """Idleness is measured on the table's own clock (wall-clock time, shared by the
    processes of a pool), not the shop's."""
    now = [0.0]
    task = generate_task(ep_shop, "purchase", 1, 3)
    body = {"family": "purchase", "difficulty": 1, "seed": 3}
    async with EpisodeController(ep_shop) as controller:
        table = EpisodeTable(controller, idle_timeout=60, clock=lambda: now[0],
                             pool="idle-test")
        old = (await table.reset(body)).episode_id
        now[0] = 50
        kept = (await table.reset(body)).episode_id
        now[0] = 100
        assert table.episode(kept).task.task_id == task.task_id  # 50 s idle: kept
        with pytest.raises(EnvError) as gone:
            table.episode(old)
        assert gone.value.status == 404 and "expired after 60 s" in gone.value.message
        assert table.counts() == {"episodes": 1, "running": 1}


def test_the_serve_env_command_registers() -> None:
    """``add_serve_env_command`` plugs ``serve-env`` into ``shop-episodes``' subparsers."""
    import argparse

    from episodes.http_env import add_serve_env_command, cmd_serve_env

    parser = argparse.ArgumentParser(prog="shop-episodes")
    add_serve_env_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["serve-env", "--port", "0", "--max-episodes", "8",
                              "--expose-session", "--allowed-host", "gpu-box:*"])
    assert args.fn is cmd_serve_env
    assert (args.host, args.port, args.max_episodes, args.expose_session) == \
        ("127.0.0.1", 0, 8, True)
    assert args.allowed_host == ["gpu-box:*"] and args.reward_mode == "sparse"
    with pytest.raises(SystemExit):
        parser.parse_args(["serve-env", "--max-episodes", "0"])


def test_serve_env_without_openenv_core_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """serve-env is openenv-core's server: without the ``openenv`` extra it stops before opening
    anything, saying what to install (``shop-episodes`` itself still loads)."""
    from episodes.http_env import main

    for name in ("openenv", "openenv.core", "openenv.core.env_server"):
        monkeypatch.setitem(sys.modules, name, None)
    db = tmp_path / "never.db"
    assert main(["--port", "0", "--db", f"sqlite:///{db}", "--catalog-size", "50"]) == 2
    assert "pip install 'mcp-shop[openenv]'" in capsys.readouterr().err
    assert not db.exists()
