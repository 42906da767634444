"""The Prime Intellect ``verifiers`` environment (``integrations/prime``, package
``mcp_shop_prime``) evaluated by the library's own ``vf-eval`` in its own virtualenv, against
``shop-episodes serve-env`` on 127.0.0.1, with a scripted model: a Chat Completions stub that
replays each task's gold actions (the oracle's), plus one task on which it ends at once.

Each episode must be exactly the controller's: same reward, same breakdown components, same
rollout record (messages, tool calls, verdict) as ``shop-episodes run --agent oracle``.

The library cannot share an interpreter with this project (both have a top-level package
``verifiers``), so it runs from the interpreter ``MCP_SHOP_PRIME_PYTHON`` names (a virtualenv
with ``verifiers`` and ``./integrations/prime``; ``.ci/run`` makes one). Without it the test is
skipped with the reason; under ``CI=true`` it fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from episodes.agents.oracle import Replay, gold_actions
from episodes.controller import EpisodeController, Observation, Policy
from episodes.generate import generate_task
from mcp_shop import Shop
from tests.conftest import TEST_SEED, TEST_SIZE
from tests.episodes.chat_stub import ChatStub, gold_policy
from tests.episodes.records import adapter_comparable, oracle_records
from tests.protocol.procs import ServerProcess
from verifiers.types import TaskSpec

CASES = [("purchase", 2, 1), ("return", 2, 2), ("cancel", 2, 6), ("order_status", 1, 3)]
QUIT_CASE = ("exchange", 2, 5)  # the stub ends this conversation at once
_URL = re.compile(r"serving the episode env at (http://\S+)")
ENV_VAR = "MCP_SHOP_PRIME_PYTHON"
# Whether an interpreter has both packages, without importing the library (seconds).
_PROBE = """import importlib.util as u, sys
missing = [m for m in ("mcp_shop_prime", "verifiers.v1") if u.find_spec(m) is None]
sys.exit("missing: " + ", ".join(missing) if missing else 0)"""


def prime_python_or_skip() -> Path:
    """The interpreter of the virtualenv holding ``verifiers`` (the library) and
    ``mcp_shop_prime``; without one the test is skipped with the reason (under CI=true it
    fails)."""
    path = os.environ.get(ENV_VAR, "")
    reason = ""
    if not path:
        reason = (f"{ENV_VAR} is not set (python3 -m venv .venv-prime && .venv-prime/bin/pip "
                  f"install verifiers ./integrations/prime, then {ENV_VAR}=.venv-prime/bin/"
                  "python)")
    elif not os.access(path, os.X_OK):
        reason = f"{ENV_VAR}={path} is not an executable"
    else:
        probe = subprocess.run([path, "-I", "-c", _PROBE], capture_output=True, text=True,
                               env=_clean_env(Path(path)), timeout=120)
        if probe.returncode != 0:
            reason = (f"{path} is not a virtualenv with verifiers and ./integrations/prime: "
                      f"{probe.stderr.strip()[-400:]}")
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires it: {reason}")
        pytest.skip(reason)
    return Path(path)


def _clean_env(python: Path) -> dict[str, str]:
    """The environment for the other virtualenv: none of this interpreter's import paths
    (our ``verifiers`` would shadow the library's), its ``bin`` first on PATH (``uv``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    return env


class _Quit:
    """An agent that ends the episode at once (what the stub does on QUIT_CASE)."""

    name = "quit"
    privileged = False

    def start(self, task: TaskSpec | None, obs: Observation, *, seed: int) -> Policy:
        return Replay([])


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prime_python() -> Path:
    return prime_python_or_skip()


@pytest.fixture(scope="module")
def env_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Shop]]:
    path = tmp_path_factory.mktemp("prime-env") / "shop.db"
    url = f"sqlite:///{path}"
    shop = Shop.open(url, seed=TEST_SEED, size=TEST_SIZE)
    yield url, shop
    shop.engine.dispose()


@pytest.fixture(scope="module")
def prime_tasks(env_db: tuple[str, Shop]) -> tuple[list[TaskSpec], TaskSpec]:
    shop = env_db[1]
    return [generate_task(shop, *case) for case in CASES], generate_task(shop, *QUIT_CASE)


@pytest.fixture(scope="module")
def env_server(env_db: tuple[str, Shop], prime_python: Path,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    args = ["--db", env_db[0], "--catalog-seed", str(TEST_SEED), "--catalog-size",
            str(TEST_SIZE)]
    log = tmp_path_factory.mktemp("prime-env-log") / "env.log"
    with ServerProcess(args, log=log, command=("episodes.http_env", "--port", "0"),
                       announce=_URL) as proc:
        yield proc.base


def _quit_record(shop: Shop, task: TaskSpec) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async with EpisodeController(shop) as controller:
            return await controller.run_episode(_Quit(), task)

    return anyio.run(run)


def _vf_eval(python: Path, config: dict[str, Any], tmp: Path) -> list[dict[str, Any]]:
    """Run ``vf-eval @ config`` in the other virtualenv; the episodes of traces.jsonl."""
    path = tmp / "eval.json"
    path.write_text(json.dumps(config))
    done = subprocess.run([str(python.parent / "vf-eval"), "@", str(path)], cwd=tmp,
                          capture_output=True, text=True, env=_clean_env(python), timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    traces = tmp / "out" / config["run"]["name"] / "traces.jsonl"
    return [json.loads(line) for line in traces.read_text().splitlines() if line.strip()]


# -- the test ---------------------------------------------------------------------------------


def test_vf_eval_of_the_gold_replay_scores_like_the_controller(
        prime_python: Path, env_db: tuple[str, Shop], env_server: str,
        prime_tasks: tuple[list[TaskSpec], TaskSpec], tmp_path: Path) -> None:
    shop = env_db[1]
    tasks, quitter = prime_tasks
    reference = oracle_records(shop, tasks)
    reference[quitter.task_id] = _quit_record(shop, quitter)
    assert all(reference[t.task_id]["success"] for t in tasks)
    assert reference[quitter.task_id]["reward"] < 1.0  # a control that can tell them apart

    openings = {r["messages"][0]["content"]: task_id for task_id, r in reference.items()}
    assert len(openings) == len(reference)  # the stub tells conversations apart by these
    scripts = {r["messages"][0]["content"]: gold_actions(t.gold)
               for t in tasks for r in [reference[t.task_id]]}
    scripts[reference[quitter.task_id]["messages"][0]["content"]] = []

    every = [*tasks, quitter]
    config = {
        "env": {"taskset": {"id": "mcp-shop-prime",
                            "resets": [{"family": t.family, "difficulty": t.difficulty,
                                        "seed": t.seed} for t in every],
                            "task": {"base_url": env_server, "keep_record": True}}},
        "model": "gold-replay", "client": {"api_key_var": "STUB_API_KEY"},
        "push": False, "rich": None, "output_dir": str(tmp_path / "out"),
        "run": {"name": "gold"},
    }
    with ChatStub() as stub:
        stub.policy = gold_policy(scripts)
        config["client"]["base_url"] = stub.url
        episodes = _vf_eval(prime_python, config, tmp_path)
        bodies = stub.bodies

    # The model was offered the shop's tools (through the library's MCP boundary) and was
    # asked once per assistant message of the controller's episode, plus once more where the
    # agent, not the shopper, ended it (the empty reply).
    want_tools = {t["function"]["name"] for t in reference[tasks[0].task_id]["tools"]}
    assert all({t["function"]["name"] for t in b["tools"]} == want_tools for b in bodies)
    assert len(bodies) == sum(
        sum(m["role"] == "assistant" for m in r["messages"]) + (r["stop_reason"] == "agent_done")
        for r in reference.values())

    assert len(episodes) == len(every)
    for episode in episodes:
        assert episode["ok"], episode["errors"]
        (trace,) = episode["traces"]
        record = trace["info"]["mcp_shop_record"]
        want = reference[record["task_id"]]
        name = f"{want['family']}-d{want['difficulty']}-s{want['seed']}"
        assert episode["task"]["data"]["name"] == name
        assert trace["rewards"]["shop_reward"]["score"] == want["reward"]
        assert trace["info"]["mcp_shop"]["stop_reason"] == want["stop_reason"]
        components = {f"component_{c['name']}": c["value"] for c in want["reward_components"]}
        assert trace["metrics"] == {"success": float(want["success"]),
                                    "turns": want["metrics"]["turns"],
                                    "tool_calls": want["metrics"]["tool_calls"], **components}
        assert record["policy"] == "prime"
        assert adapter_comparable(record) == adapter_comparable(want)


def test_without_the_virtualenv_it_skips_or_fails_under_ci(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No interpreter named, or one without the packages: skipped with the reason locally,
    a failure under CI=true."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"{ENV_VAR} is not set"):
        prime_python_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=f"CI=true requires it: {ENV_VAR} is not"):
        prime_python_or_skip()
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing" / "python"))
    with pytest.raises(pytest.fail.Exception, match="is not an executable"):
        prime_python_or_skip()
    monkeypatch.setenv(ENV_VAR, sys.executable)  # this project's: neither package
    with pytest.raises(pytest.fail.Exception,
                       match="missing: mcp_shop_prime, verifiers.v1"):
        prime_python_or_skip()
