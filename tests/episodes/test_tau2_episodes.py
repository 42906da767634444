"""tau2 retail episodes on the shop, on the project's fixture world (tests/fixtures/tau2_retail):
through ``shop-episodes run --suite tau2-retail`` and through the Python API, over MCP in memory
and ``--direct``. The oracle with the scripted user passes every task (tau2 DB match,
communicate said); wrong agents lose exactly the component they break; records are Rollouts;
pass^k over two trials. The expected verdicts are facts of the fixture's tasks (their bases,
strings to communicate and gold writes as written in tasks.json), not outputs of the code under
test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from rich.console import Console

from episodes import cli
from episodes.agents.oracle import Replay
from episodes.controller import Observation, Policy
from episodes.records import parse_record
from episodes.tau2.agents import Tau2Oracle, oracle_actions
from episodes.tau2.env import Tau2Env
from episodes.tau2.episode import Tau2Runner
from episodes.tau2.tasks import Tau2Task, select_tasks
from mcp_shop.tau2 import load_tau2_retail
from mcp_shop.tau2.loader import Tau2Retail
from mcp_shop.tau2.records import TOOL_PARAMS
from tests.episodes.records import untimed
from tests.fixtures.tau2_retail import make_fixture

FIXTURE = Path(make_fixture.__file__).resolve().parent
NL_TASKS = {"4", "9", "10", "12"}  # basis DB + NL_ASSERTION
COMMUNICATE = {"0": "137.56", "2": "51.58", "3": "18.72", "5": "2.35", "7": "33.48",
               "8": "83.26", "13": "166.89"}
WRITES = {"0": 1, "1": 1, "2": 1, "3": 1, "4": 1, "5": 1, "6": 1, "7": 0, "8": 1, "9": 0,
          "10": 0, "11": 2, "12": 0, "13": 1}


@pytest.fixture(scope="module")
def world() -> Tau2Retail:
    return load_tau2_retail(FIXTURE)


@pytest.fixture(scope="module")
def tau2_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('tau2') / 'tau2.db'}"


@pytest.fixture(scope="module")
def env(world: Tau2Retail, tau2_db: str) -> Iterator[Tau2Env]:
    env = Tau2Env.open(world, tau2_db)
    yield env
    env.shop.engine.dispose()


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.output, "console", Console(width=250, no_color=True,
                                                       highlight=False))
    monkeypatch.setattr(cli.output, "err", Console(width=250, stderr=True, no_color=True,
                                                   highlight=False))


def _read(path: Path) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for n, r in enumerate(records, 1):
        parse_record(r, f"{path}:{n}")
    return records


def _passes(r: dict[str, Any]) -> None:
    """What the oracle's record of a fixture task must say."""
    tid = r["tau2"]["task_id"]
    assert r["family"] == "tau2_retail" and r["task_id"] == f"tau2-retail/{tid}"
    assert r["difficulty"] == WRITES[tid]
    assert r["tau2"]["db_match"] is True, tid
    assert r["tau2"]["communicate"] == ([True] if tid in COMMUNICATE else []), tid
    if tid in COMMUNICATE:
        assert any(COMMUNICATE[tid] in (m.get("content") or "") for m in r["messages"]
                   if m["role"] == "assistant")
    assert r["reward"] == 1.0 and r["success"] is True, tid
    assert r["tau2"]["reward"] == (None if tid in NL_TASKS else 1.0), tid
    assert r["stop_reason"] == "shopper_done" and r["tau2"]["termination"] == "user_stop"
    assert r["metrics"]["errors"] == 0
    assert [t["tool"] for t in r["trace"]] == [
        a.name for a in load_tau2_retail(FIXTURE).task(tid).gold_actions()]


def test_the_oracle_passes_every_task_through_the_cli(
        tmp_path: Path, tau2_db: str, env: Tau2Env, capsys: pytest.CaptureFixture[str],
        ) -> None:
    out = tmp_path / "oracle.jsonl"
    assert cli.main(["run", "--suite", "tau2-retail", "--tau2-path", str(FIXTURE),
                     "--agent", "oracle", "--trials", "2", "--concurrency", "4",
                     "--tau2-db", tau2_db, "--out", str(out)]) == 0
    records = _read(out)
    assert [(r["task_id"], r["trial"]) for r in records] == [
        (f"tau2-retail/{i}", t) for i in range(14) for t in (0, 1)]
    for r in records:
        _passes(r)
    assert len({r["rollout_id"] for r in records}) == 28
    captured = capsys.readouterr()
    assert "pass^2" in captured.out and "tau2_retail" in captured.out
    assert "tau2 reward: 20 episode(s) judged in full; 8 with NL assertions not judged" \
        in captured.err
    # the tools offered are tau2's sixteen, without the session handle
    tools = {t["function"]["name"]: t["function"]["parameters"] for t in records[0]["tools"]}
    assert set(tools) == set(TOOL_PARAMS)
    assert all("session_id" not in p.get("properties", {}) for p in tools.values())


def _run(env: Tau2Env, agent: Any, tasks: list[Tau2Task], **options: Any,
         ) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        async with Tau2Runner(env, **options) as runner:
            return await runner.run(agent, tasks, concurrency=4)
    return anyio.run(go)


def test_the_python_api_over_mcp_and_direct(env: Tau2Env, world: Tau2Retail) -> None:
    tasks = select_tasks(world, split="test")
    over_mcp = _run(env, Tau2Oracle(), tasks)
    direct = _run(env, Tau2Oracle(), tasks, connect="direct")
    assert [r["task_id"] for r in over_mcp] == [f"tau2-retail/{i}" for i in range(9, 14)]
    for r in over_mcp:
        _passes(r)
    assert [untimed(r) for r in direct] == [untimed(r) for r in over_mcp]


class _Scripted:
    """A privileged agent playing fixed actions per task id."""

    privileged = True

    def __init__(self, name: str, actions: dict[str, list[Any]]) -> None:
        self.name = name
        self.actions = actions

    def start(self, task: Any, obs: Observation, *, seed: int) -> Policy:
        return Replay(self.actions[task.tau2_id])


def test_wrong_agents_lose_the_component_they_break(env: Tau2Env, world: Tau2Retail) -> None:
    tasks = select_tasks(world)
    for r in _run(env, Tau2Oracle("skip-write"), tasks):
        tid = r["tau2"]["task_id"]
        assert r["tau2"]["db_match"] is (WRITES[tid] == 0), tid
        assert r["tau2"]["components"]["DB"] == (1.0 if WRITES[tid] == 0 else 0.0)
        assert r["success"] is (WRITES[tid] == 0), tid
    for r in _run(env, Tau2Oracle("silent"), tasks):
        tid = r["tau2"]["task_id"]
        assert r["tau2"]["db_match"] is True
        if tid in COMMUNICATE:
            assert r["tau2"]["communicate"] == [False], tid
            assert r["tau2"]["components"]["COMMUNICATE"] == 0.0 and r["reward"] == 0.0
        else:
            assert r["reward"] == 1.0, tid
    # task 2 changes items paying the difference with the gift card; paying with the user's
    # PayPal instead is a valid call that leaves another state
    actions = oracle_actions(world.task("2"))
    for a in actions:
        for call in a.tool_calls:
            if call.name == "modify_pending_order_items":
                call.arguments["payment_method_id"] = "paypal_5408496"
    [r] = _run(env, _Scripted("other-payment", {"2": actions}), select_tasks(world, ids=["2"]))
    assert r["metrics"]["errors"] == 0
    assert r["tau2"]["db_match"] is False and r["reward"] == 0.0
    assert r["tau2"]["communicate"] == [True]
    assert {c["name"]: c["value"] for c in r["reward_components"]}["tau2_db"] == 0.0


def test_sessions_are_removed_unless_kept(env: Tau2Env, world: Tau2Retail) -> None:
    from sqlalchemy import text

    def count() -> int:
        with env.shop.engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM shop_session WHERE surface = 'tau2-retail'")).scalar_one())

    before = count()
    _run(env, Tau2Oracle(), select_tasks(world, ids=["0", "1"]))
    assert count() == before
    _run(env, Tau2Oracle(), select_tasks(world, ids=["0"]), keep_sessions=True)
    assert count() == before + 1


@pytest.mark.parametrize(("argv", "message"), [
    (["--agent", "oracle"], "--suite tau2-retail needs --tau2-path"),
    (["--agent", "oracle", "--tau2-path", "{fixture}", "--task-ids", "99"],
     "no task '99' in the tasks; its task ids are 0, 1, 2"),
    (["--agent", "oracle", "--tau2-path", "{fixture}", "--split", "dev"],
     "no split 'dev'; the splits are base, test, train"),
    (["--agent", "heuristic", "--tau2-path", "{fixture}"],
     "agent 'heuristic' cannot play tau2 retail tasks; choose one of oracle"),
    (["--agent", "oracle", "--tau2-path", "{fixture}", "--families", "cart"],
     "--families and --difficulty choose the shop's own tasks"),
    (["--agent", "oracle", "--tau2-path", "/nonexistent/tau2"], "does not exist"),
])
def test_bad_options_exit_2(argv: list[str], message: str, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.jsonl"
    argv = [a.replace("{fixture}", str(FIXTURE)) for a in argv]
    assert cli.main(["run", "--suite", "tau2-retail", *argv, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_tau2_options_need_the_tau2_suite(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--agent", "oracle", "--split", "test"]) == 2
    assert "--split applies to --suite tau2-retail only" in capsys.readouterr().err


def test_a_database_of_another_catalog_is_refused(tmp_path: Path, ep_shop: Any,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    url = ep_shop.engine.url.render_as_string(hide_password=False)
    assert cli.main(["run", "--suite", "tau2-retail", "--tau2-path", str(FIXTURE), "--agent",
                     "oracle", "--tau2-db", url]) == 2
    assert "holds another catalog than this tau2 world's products: a tau2 world needs a " \
        "database of its own" in capsys.readouterr().err


def test_cross_eval_prints_both_environments(tmp_path: Path, ep_shop: Any, tau2_db: str,
                                             env: Tau2Env,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import TEST_SEED, TEST_SIZE

    url = ep_shop.engine.url.render_as_string(hide_password=False)
    out_dir = tmp_path / "xeval"
    assert cli.main(["cross-eval", "--agent", "oracle", "--families", "cart,cancel",
                     "--difficulty", "1", "--episodes", "2", "--trials", "2", "--db", url,
                     "--catalog-seed", str(TEST_SEED), "--catalog-size", str(TEST_SIZE),
                     "--tau2-path", str(FIXTURE), "--task-ids", "0,7", "--tau2-db", tau2_db,
                     "--out-dir", str(out_dir)]) == 0
    captured = capsys.readouterr()
    rows = {}
    for line in captured.out.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃").replace("┃", "│").split("│")]
        if len(cells) == 3:
            rows[cells[0]] = cells[1:]
    assert rows[""] == ["shop (cart,cancel)", "tau2 retail (tasks 0,7)"]
    assert rows["episodes"] == ["4", "4"] and rows["tasks"] == ["2", "2"]
    assert rows["success"] == ["100.0%", "100.0%"]
    assert rows["pass^1"] == rows["pass^2"] == ["100.0%", "100.0%"]
    assert rows["failed calls / episode"] == ["0.00", "0.00"]
    shop = _read(out_dir / "shop.jsonl")
    tau2 = _read(out_dir / "tau2-retail.jsonl")
    assert {r["family"] for r in shop} == {"cart", "cancel"}
    assert [r["task_id"] for r in tau2] == ["tau2-retail/0"] * 2 + ["tau2-retail/7"] * 2
    calls = [sum(r["metrics"]["tool_calls"] for r in rs) / 4 for rs in (shop, tau2)]
    assert rows["tool calls / episode"] == [f"{c:.1f}" for c in calls]


def test_ctrl_c_keeps_the_finished_episodes(tmp_path: Path, tau2_db: str, env: Tau2Env) -> None:
    import sys

    if sys.platform == "win32":
        pytest.skip("POSIX signals")
    from tests.episodes.test_cli_interrupts import interrupt_when_written, last_line

    out = tmp_path / "r.jsonl"
    done = interrupt_when_written(
        ["run", "--suite", "tau2-retail", "--tau2-path", str(FIXTURE), "--agent", "oracle",
         "--trials", "50", "--concurrency", "4", "--tau2-db", tau2_db, "--out", str(out)], out)
    assert done.returncode == 130, done.stderr
    text = out.read_text()
    assert text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]
    assert last_line(done.stderr) == f"interrupted: {len(records)} episodes written to {out}"
    assert 0 < len(records) < 700
    assert all(r["success"] for r in records)


def test_gold_calls_the_tools_refuse_are_in_the_record(env: Tau2Env, world: Tau2Retail) -> None:
    """tau2's own gold trajectories hold calls that fail (a wrong email tried first): the DB
    check skips them, as tau2 does, and the record names each by place, tool and code."""
    from episodes.tau2.tasks import tau2_task, world_digest
    from mcp_shop.tau2.records import Action

    task = world.task("0")
    crit = task.evaluation_criteria
    assert crit is not None and crit.actions
    tried_first = Action(action_id="wrong_email", name="find_user_id_by_email",
                         arguments={"email": "nobody@example.invalid"})
    changed = task.model_copy(update={"evaluation_criteria": crit.model_copy(
        update={"actions": [tried_first, *crit.actions]})})
    [r] = _run(env, Tau2Oracle(), [tau2_task(changed, world_digest(world))])
    assert r["tau2"]["failed_gold_calls"] == [
        {"index": 0, "tool": "find_user_id_by_email", "code": "tau2_user_not_found"}]
    assert r["tau2"]["db_match"] is True and r["success"] is True
    assert parse_record(json.loads(json.dumps(r)), "test").tau2 is not None
    [plain] = _run(env, Tau2Oracle(), select_tasks(world, ids=["0"]))
    assert plain["tau2"]["failed_gold_calls"] == []
