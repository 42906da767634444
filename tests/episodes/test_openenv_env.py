"""``shop-episodes serve-env`` as an OpenEnv environment, driven by openenv-core's own client and
tooling: whole episodes of the gold solution through ``EnvClient`` (``ShopEnv``, a WebSocket
session, given an ``http://`` or a ``ws://`` URL, async and sync) and through the plain-HTTP
routes (answers parsed with OpenEnv's response models) score exactly like ``shop-episodes run
--agent oracle`` on the same tasks; concurrent sessions; a WebSocket that goes away releases its
episode; OpenEnv's runtime validator passes (the env directory and its manifest:
test_openenv_deploy.py)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx2
import pytest

from episodes.openenv_env import ShopAction, ShopEnv, ShopObservation, parse_result
from tests.episodes import openenv_served as served
from tests.episodes.openenv_served import gold_steps, play_ws
from tests.episodes.records import untimed
from verifiers.types import TaskSpec

# the module's fixtures, shared with test_openenv_errors.py
oe_db, oe_tasks, oe_tasks_file = served.oe_db, served.oe_tasks, served.oe_tasks_file
by_run, oe_server = served.by_run, served.oe_server


def _same_as_run(result: Any, want: dict[str, Any]) -> None:
    """A final step result equals the record of ``shop-episodes run --agent oracle``."""
    obs = result.observation
    assert result.done and result.reward == want["reward"] == obs.reward
    assert obs.success == want["success"] and obs.stop_reason == want["stop_reason"]
    assert obs.breakdown["components"] == want["reward_components"]
    assert obs.breakdown["reward"] == want["reward"]
    assert untimed(obs.record) == untimed(want)


# -- whole episodes -----------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["http", "ws"])
async def test_oracle_through_envclient_scores_like_run(
        oe_server: str, oe_tasks: list[TaskSpec], by_run: dict[str, dict[str, Any]],
        scheme: str) -> None:
    base = oe_server.replace("http://", f"{scheme}://")
    assert all(r["success"] for r in by_run.values()), sorted(by_run)
    for task in oe_tasks:
        want = by_run[task.task_id]
        first, steps, state = await play_ws(base, task)
        obs = first.observation
        assert isinstance(obs, ShopObservation) and not first.done and first.reward is None
        assert obs.task == {"task_id": task.task_id, "family": task.family,
                            "difficulty": task.difficulty, "seed": task.seed}
        assert obs.shopper_message == want["messages"][0]["content"]
        assert obs.tools == want["tools"] and obs.session_id is None
        assert all(not s.done and s.reward == 0.0 and s.observation.record is None
                   for s in steps[:-1])
        _same_as_run(steps[-1], want)
        assert state.episode_id == obs.episode_id and state.step_count == len(steps)
        assert state.done and state.reward == want["reward"]
        assert [m["role"] for m in state.messages] == [m["role"] for m in want["messages"]]


def test_oracle_through_the_sync_client_by_task_and_task_id(
        oe_server: str, oe_tasks: list[TaskSpec], by_run: dict[str, dict[str, Any]]) -> None:
    """openenv-core's synchronous wrapper; the task given whole, then by its id."""
    inline, listed = oe_tasks[2], oe_tasks[4]
    with ShopEnv(base_url=oe_server).sync() as env:
        for task, reset in [(inline, {"task": inline.model_dump(mode="json")}),
                            (listed, {"task_id": listed.task_id})]:
            result = env.reset(policy="oracle", **reset)
            assert result.observation.task["task_id"] == task.task_id
            for action in gold_steps(task):
                result = env.step(action)
                if result.done:
                    break
            _same_as_run(result, by_run[task.task_id])


def test_oracle_over_plain_http_scores_like_run(
        oe_server: str, oe_tasks: list[TaskSpec], by_run: dict[str, dict[str, Any]]) -> None:
    """The stateful plain-HTTP door: OpenEnv's answer shapes (validated with its own response
    models), the episode named by ``episode_id``; GET /record is the final observation's."""
    from openenv.core.env_server.types import ResetResponse, StepResponse

    with httpx2.Client(base_url=oe_server, timeout=60) as http:
        for task in oe_tasks:
            r = http.post("/reset", json={"policy": "oracle", "family": task.family,
                                          "difficulty": task.difficulty, "seed": task.seed})
            assert r.status_code == 200, r.text
            ResetResponse.model_validate(r.json())
            episode_id = parse_result(r.json()).observation.episode_id
            for action in gold_steps(task):
                r = http.post("/step", json={"episode_id": episode_id,
                                             "action": action.model_dump(exclude={"metadata"})})
                assert r.status_code == 200, r.text
                StepResponse.model_validate(r.json())
                result = parse_result(r.json())
                if result.done:
                    break
            want = by_run[task.task_id]
            _same_as_run(result, want)
            record = http.get("/record", params={"episode_id": episode_id})
            assert record.status_code == 200 and record.json() == result.observation.record
            state = http.get("/state", params={"episode_id": episode_id}).json()
            assert state["done"] and state["reward"] == want["reward"]


# -- concurrency --------------------------------------------------------------------------------


async def test_concurrent_sessions_on_both_doors(
        oe_server: str, oe_tasks: list[TaskSpec], by_run: dict[str, dict[str, Any]]) -> None:
    """Sixteen WebSocket sessions and seven plain-HTTP episodes at once: every one is live
    before any steps, and each scores as ``run`` does."""
    ws_tasks = [oe_tasks[k % len(oe_tasks)] for k in range(16)]
    started = asyncio.Barrier(len(ws_tasks) + len(oe_tasks) + 1)

    async def over_ws(task: TaskSpec) -> Any:
        async with ShopEnv(base_url=oe_server) as env:
            await env.reset(policy="oracle", task_id=task.task_id)
            await started.wait()
            for action in gold_steps(task):
                result = await env.step(action)
                if result.done:
                    return result

    async def over_http(http: httpx2.AsyncClient, task: TaskSpec) -> Any:
        r = await http.post("/reset", json={"policy": "oracle", "task_id": task.task_id})
        episode_id = r.json()["observation"]["episode_id"]
        await started.wait()
        for action in gold_steps(task):
            r = await http.post("/step", json={"episode_id": episode_id, "action":
                                               action.model_dump(exclude={"metadata"})})
            result = parse_result(r.json())
            if result.done:
                return result

    async def watch(http: httpx2.AsyncClient) -> dict[str, Any]:
        await started.wait()
        return (await http.get("/health")).json()

    async with httpx2.AsyncClient(base_url=oe_server, timeout=120) as http:
        runs = [*(over_ws(t) for t in ws_tasks), *(over_http(http, t) for t in oe_tasks)]
        *results, health = await asyncio.gather(*runs, watch(http))
    assert health["sessions"] >= 16 and health["running"] >= len(runs)
    for task, result in zip([*ws_tasks, *oe_tasks], results, strict=True):
        _same_as_run(result, by_run[task.task_id])
    ids = {r.observation.episode_id for r in results}
    assert len(ids) == len(runs)


async def test_a_closed_websocket_releases_its_running_episode(
        oe_server: str, oe_tasks: list[TaskSpec]) -> None:
    task = oe_tasks[0]
    async with ShopEnv(base_url=oe_server) as env:
        finished = (await env.reset(task_id=task.task_id)).observation.episode_id
        assert (await env.step(ShopAction(done=True))).done
        running = (await env.reset(task_id=task.task_id)).observation.episode_id
    async with httpx2.AsyncClient(base_url=oe_server, timeout=30) as http:
        deadline = time.monotonic() + 10
        while (gone := await http.get("/state", params={"episode_id": running})).status_code \
                == 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert gone.status_code == 404
        assert "WebSocket session ended" in gone.json()["error"]
        kept = await http.get("/record", params={"episode_id": finished})
        assert kept.status_code == 200 and kept.json()["stop_reason"] == "agent_done"


# -- OpenEnv's tooling --------------------------------------------------------------------------


def test_openenv_runtime_validator_passes(oe_server: str) -> None:
    """``openenv validate --url``'s checks: OpenAPI version, /health, /metadata, /schema, a
    JSON-RPC answer on /mcp, and the simulation-mode routes."""
    from openenv.cli._validation import validate_running_environment

    report = validate_running_environment(oe_server, timeout_s=30)
    failed = [c for c in report["criteria"] if not c["passed"]]
    assert report["passed"] and not failed, failed
    assert report["mode"] == "simulation"
    schema = httpx2.get(f"{oe_server}/schema", timeout=30).json()
    assert schema["action"] == ShopAction.model_json_schema()
    assert schema["observation"] == ShopObservation.model_json_schema()
