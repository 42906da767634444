"""The episode controller reaches the shop in memory, over stdio (``mcp-shop serve`` as a
subprocess) and over Streamable HTTP (``mcp-shop serve --http``), all on one SQLite file: the
oracle solves the same tasks on every transport and the rollout records are identical apart from
timing."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from episodes.agents import OracleAgent
from episodes.controller import EpisodeController
from episodes.generate import generate_task
from mcp_shop import Shop
from tests.conftest import TEST_SEED, TEST_SIZE
from tests.episodes.records import untimed
from tests.protocol.procs import ServerProcess
from verifiers.types import TaskSpec

CASES = [("purchase", 2, 1), ("return", 2, 2), ("discovery", 2, 3), ("policy", 2, 4),
         ("exchange", 2, 5), ("cancel", 2, 6), ("purchase", 7, 7), ("multi", 4, 8)]
TRANSPORTS = ["memory", "stdio", "http"]


@pytest.fixture(scope="module")
def tr_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file with the test catalog and its search index beside it (reused by the
    server subprocesses)."""
    path = tmp_path_factory.mktemp("transports") / "shop.db"
    url = f"sqlite:///{path}"
    Shop.open(url, seed=TEST_SEED, size=TEST_SIZE).engine.dispose()
    assert Path(f"{path}.search").is_dir()
    return url


@pytest.fixture(scope="module")
def tr_shop(tr_url: str) -> Iterator[Shop]:
    shop = Shop.open(tr_url, seed=TEST_SEED, size=TEST_SIZE)
    yield shop
    shop.engine.dispose()


@pytest.fixture(scope="module")
def tr_tasks(tr_shop: Shop) -> list[TaskSpec]:
    return [generate_task(tr_shop, family, difficulty, seed)
            for family, difficulty, seed in CASES]


@pytest.fixture(scope="module")
def tr_http(tr_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(["--db", tr_url, "--seed", str(TEST_SEED), "--size", str(TEST_SIZE)],
                       log=tmp_path_factory.mktemp("tr-http") / "http.log") as proc:
        yield proc


def _connect(transport: str, url: str, http: ServerProcess | None) -> str | list[str] | None:
    if transport == "memory":
        return None
    if transport == "stdio":
        return [sys.executable, "-m", "mcp_shop.cli", "serve", "--db", url, "--seed",
                str(TEST_SEED), "--size", str(TEST_SIZE), "--log-level", "WARNING"]
    assert http is not None
    return http.mcp_url


async def _run(shop: Shop, connect: str | Sequence[str] | None, tasks: Sequence[TaskSpec],
               *, concurrency: int = 4) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    async with EpisodeController(shop, connect=connect) as controller:
        records = await controller.run(OracleAgent(), tasks, concurrency=concurrency)
        return records, controller.tools


comparable = partial(untimed, drop=("tools",))

@pytest.fixture(scope="module")
def reference(tr_shop: Shop, tr_tasks: list[TaskSpec]) -> tuple[list[dict[str, Any]],
                                                                  list[dict[str, Any]]]:
    """The in-memory records, the reference the other transports must match."""
    import anyio

    return anyio.run(_run, tr_shop, None, tr_tasks)


def test_the_scenario_tasks_are_covered(tr_tasks: list[TaskSpec]) -> None:
    """At least one task moves stock or prices mid-conversation from the controller's process,
    which a server in another process must see."""
    assert any(t.scenario for t in tr_tasks), [t.task_id for t in tr_tasks]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_oracle_succeeds_and_records_match(
        transport: str, tr_url: str, tr_shop: Shop, tr_tasks: list[TaskSpec],
        reference: tuple[list[dict[str, Any]], list[dict[str, Any]]],
        request: pytest.FixtureRequest) -> None:
    http = request.getfixturevalue("tr_http") if transport == "http" else None
    records, tools = await _run(tr_shop, _connect(transport, tr_url, http), tr_tasks)
    failed = [(r["task_id"], r["stop_reason"],
               [c["reason"] for c in r["reward_components"] if c["value"] < 1])
              for r in records if not r["success"]]
    assert not failed, failed
    assert [r["task_id"] for r in records] == [t.task_id for t in tr_tasks]
    assert all(r["reward"] == 1.0 and r["stop_reason"] == "shopper_done" for r in records)
    assert all(r["trace"] and all(e["ok"] for e in r["trace"]) for r in records)

    ref_records, ref_tools = reference
    assert tools, "the controller listed no tools"
    assert {t["function"]["name"] for t in tools} == {t["function"]["name"] for t in ref_tools}
    assert tools == ref_tools  # the same server code behind every transport
    assert all(r["tools"] == tools for r in records)
    for got, want in zip(records, ref_records, strict=True):
        got_c, want_c = comparable(got), comparable(want)
        for key in ("messages", "reward", "reward_components", "success", "stop_reason",
                    "metrics", "terminated", "truncated"):
            assert got_c[key] == want_c[key], (transport, got["task_id"], key)
        assert [(e["tool"], e["arguments"], e["ok"]) for e in got_c["trace"]] == \
            [(e["tool"], e["arguments"], e["ok"]) for e in want_c["trace"]], got["task_id"]
        assert got_c == want_c, (transport, got["task_id"])


async def test_step_by_step_over_http(tr_shop: Shop, tr_tasks: list[TaskSpec],
                                      tr_http: ServerProcess) -> None:
    """reset/step over HTTP: the calls land in the server process, which records them in the
    shared database; the record holds no session handle (the controller injects it into every
    call and strips it from the tool schemas)."""
    from episodes.agents.oracle import gold_actions

    task = tr_tasks[0]
    async with EpisodeController(tr_shop, connect=tr_http.mcp_url) as controller:
        episode = controller.episode(task, policy="oracle")
        obs = await episode.reset()
        assert obs.shopper_message and obs.tools == controller.tools
        for action in gold_actions(task.gold):
            step = await episode.step(action)
            if step.done:
                break
        assert step.done and step.terminated and step.reward == 1.0
        record = episode.record()
    assert record["success"]
    server_trace = tr_shop.trace(episode.session_id)
    assert [e.tool for e in server_trace] == [e["tool"] for e in record["trace"]]
    assert episode.session_id not in json.dumps(record, default=str)
    for tool in record["tools"]:
        params = tool["function"]["parameters"]
        assert "session_id" not in params.get("properties", {})
        assert "session_id" not in params.get("required", [])
        assert tool["function"]["name"] != "open_session"
