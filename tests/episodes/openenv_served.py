"""Helpers of the OpenEnv server tests: the server (``build_env_app`` under uvicorn in a thread,
on a free port), a test database with its tasks, the records ``shop-episodes run --agent
oracle`` writes for them, and the gold solution played through openenv-core's client."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from episodes.agents.oracle import gold_actions
from episodes.generate import generate_task
from episodes.tasks import dump_tasks
from mcp_shop import Shop
from tests.conftest import TEST_SEED, TEST_SIZE
from verifiers.types import TaskSpec

CASES = [("purchase", 2, 1), ("return", 2, 2), ("exchange", 2, 5), ("cancel", 2, 6),
         ("multi", 4, 8), ("cart", 2, 101), ("order_status", 2, 104)]


@contextlib.contextmanager
def serve(shop: Shop, *, ws_max_size: int | None = None, **options: Any) -> Iterator[str]:
    """``build_env_app(shop, **options)`` served by uvicorn (as ``serve-env`` configures it,
    unless ``ws_max_size`` is given) in a thread on a free port of 127.0.0.1; yields the base
    URL."""
    import uvicorn

    from episodes.http_env import MAX_BODY_BYTES, build_env_app
    from mcp_shop.server.http_app import bind

    app = build_env_app(shop, **options)
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           lifespan="on",
                                           ws_max_size=ws_max_size or MAX_BODY_BYTES))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def shop_args(url: str) -> list[str]:
    return ["--db", url, "--catalog-seed", str(TEST_SEED), "--catalog-size", str(TEST_SIZE)]


# -- fixtures (imported by the test modules) ----------------------------------------------------


@pytest.fixture(scope="module")
def oe_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Shop]]:
    """A SQLite file with the test catalog, shared by the server and ``shop-episodes run``."""
    path = tmp_path_factory.mktemp("openenv") / "shop.db"
    url = f"sqlite:///{path}"
    shop = Shop.open(url, seed=TEST_SEED, size=TEST_SIZE)
    yield url, shop
    shop.engine.dispose()


@pytest.fixture(scope="module")
def oe_tasks(oe_db: tuple[str, Shop]) -> list[TaskSpec]:
    return [generate_task(oe_db[1], f, d, s) for f, d, s in CASES]


@pytest.fixture(scope="module")
def oe_tasks_file(oe_tasks: list[TaskSpec], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("openenv-tasks") / "tasks.jsonl"
    dump_tasks(oe_tasks, path)
    return path


@pytest.fixture(scope="module")
def by_run(oe_db: tuple[str, Shop], oe_tasks_file: Path,
           tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The rollout records ``shop-episodes run --agent oracle`` writes for the same tasks on the
    same database, by task id."""
    from episodes import cli

    out = tmp_path_factory.mktemp("openenv-run") / "oracle.jsonl"
    assert cli.main(["run", "--agent", "oracle", "--tasks", str(oe_tasks_file), "--out",
                     str(out), *shop_args(oe_db[0])]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    return {r["task_id"]: r for r in records}


@pytest.fixture(scope="module")
def oe_server(oe_db: tuple[str, Shop], oe_tasks: list[TaskSpec]) -> Iterator[str]:
    with serve(oe_db[1], tasks=oe_tasks, max_episodes=64) as base:
        yield base


# -- playing the gold solution ------------------------------------------------------------------


def gold_steps(task: TaskSpec) -> list[Any]:
    """The oracle's actions for ``task`` as ``ShopAction``s, then ``done``."""
    from episodes.openenv_env import ShopAction

    return [*(ShopAction.model_validate(a.model_dump()) for a in gold_actions(task.gold)),
            ShopAction(done=True)]


async def play_ws(base: str, task: TaskSpec, **reset: Any) -> tuple[Any, list[Any], Any]:
    """Reset (by family, difficulty and seed unless told) and play the gold solution through
    openenv-core's ``EnvClient`` (``ShopEnv``) until done: the reset result, the step results
    and the final state."""
    from episodes.openenv_env import ShopEnv

    reset = reset or {"family": task.family, "difficulty": task.difficulty, "seed": task.seed}
    async with ShopEnv(base_url=base) as env:
        first = await env.reset(policy="oracle", **reset)
        steps = []
        for action in gold_steps(task):
            steps.append(await env.step(action))
            if steps[-1].done:
                break
        state = await env.state()
    return first, steps, state
