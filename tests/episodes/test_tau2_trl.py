"""tau2 retail through the TRL door (``episodes.tau2.trl_env.Tau2ToolEnv``) on the fixture
world: the tools TRL finds on an instance are the MCP surface's sixteen and ``send_message``,
with the surface's names, parameters, required parameters, types and descriptions; the
oracle's gold played through the methods reaches tau2 reward 1.0 on every task with the tau2
runner's own records; a wrong write scores 0; bad arguments fail as tool calls and change
nothing; dataset rows carry tau2's policy as the system prompt."""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from typing import Any, get_type_hints

import pytest

from episodes.controller import Action
from episodes.tau2.agents import oracle_actions
from episodes.tau2.sync import DB_VAR, PATH_VAR, shared_tau2_runtime
from episodes.tau2.tasks import select_tasks
from episodes.tau2.trl_env import Tau2ToolEnv, tau2_rows
from mcp_shop.errors import InvalidInput
from mcp_shop.tau2.loader import Tau2Retail
from mcp_shop.tau2.records import TOOL_PARAMS
from tests.episodes import tau2_doors as doors
from tests.episodes.grpo_tiny import one_grpo_step
from tests.episodes.records import adapter_comparable
from tests.episodes.tau2_doors import world, world_db
from tests.episodes.tool_schemas import check_door, tool_methods

__all__ = ["world", "world_db"]  # fixtures


def play(env: Tau2ToolEnv, actions: list[Action]) -> None:
    for a in actions:
        for call in a.tool_calls:
            out = getattr(env, call.name)(**call.arguments)
            assert not out.startswith("Error"), (call, out)
        if a.message is not None:
            env.send_message(a.message)
    assert env.done


def _schema_of(hint: Any) -> dict[str, Any]:
    """The JSON schema a type hint of a tool method stands for (as TRL's builder reads it)."""
    if typing.get_origin(hint) is typing.Literal:
        return {"type": "string", "enum": list(typing.get_args(hint))}
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        return {"type": "array", "items": _schema_of(item)}
    if isinstance(hint, types.UnionType):
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return _schema_of(inner)
    return {"type": {str: "string", int: "integer", float: "number", bool: "boolean"}[hint]}


def _mcp_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The part of a listed parameter schema a method's types carry (no bounds, no titles)."""
    out = {k: v for k, v in schema.items() if k in ("type", "enum")}
    if "items" in schema:
        out["items"] = _mcp_schema(schema["items"])
    return out


_ARGS = re.compile(r"^    (\w+): (.*)$", re.M)


def test_tool_methods_are_the_mcp_surface_s_tools(world: Tau2Retail, world_db: str) -> None:
    env = Tau2ToolEnv.factory(world, db=world_db)()
    listed = {t["function"]["name"]: t["function"]
              for t in shared_tau2_runtime(world, world_db).tools}
    assert set(listed) == set(TOOL_PARAMS)  # tau2's sixteen
    methods = tool_methods(env)  # before any reset, as TRL probes a fresh instance
    assert set(methods) == set(listed) | {"send_message"}
    assert env.record is None and env.verdict is None and env.task is None
    for name, method in methods.items():
        if name == "send_message":
            continue
        tool = listed[name]
        params = [p for p in inspect.signature(method).parameters.values()]
        props = tool["parameters"].get("properties", {})
        assert [p.name for p in params] == list(props), name
        required = [p.name for p in params if p.default is inspect.Parameter.empty]
        assert required == tool["parameters"].get("required", []), name
        hints = get_type_hints(method)
        assert hints.pop("return") is str
        assert {p: _schema_of(h) for p, h in hints.items()} == {
            p: _mcp_schema(s) for p, s in props.items()}, name
        doc = inspect.getdoc(method) or ""
        assert doc.split("\n\nArgs:\n")[0] == tool["description"].strip(), name
        assert dict(_ARGS.findall(doc)) == {
            p: " ".join(s["description"].split()) for p, s in props.items()}, name


def test_transformers_builds_the_surface_s_schemas(world: Tau2Retail, world_db: str) -> None:
    """Where transformers is installed, the schema TRL renders from each method is the
    listed one in names, descriptions, required-ness, types and enums
    (tests.episodes.tool_schemas, as for the shop's door)."""
    check_door(Tau2ToolEnv(world, db=world_db), shared_tau2_runtime(world, world_db).tools)


@pytest.mark.parametrize("connect", doors.CONNECTS, ids=["mcp", "direct"])
def test_gold_through_the_methods_reaches_reward_1_with_the_runners_records(
        world: Tau2Retail, world_db: str, connect: str | None) -> None:
    env = Tau2ToolEnv.factory(world, db=world_db, connect=connect)()
    expected = doors.runner_records(env._runtime.env, connect=connect)
    rows = {r["task_id"]: r for r in tau2_rows(world)}
    for tid in doors.IDS:
        row = rows[f"tau2-retail/{tid}"]
        record = expected[row["task_id"]]
        assert env.reset(**row) == record["messages"][0]["content"]
        assert env.record is None and not env.done
        play(env, oracle_actions(world.task(tid)))
        assert env.get_reward() == 1.0, tid
        assert env.record is not None and env.record["policy"] == "trl"
        assert env.verdict == record["tau2"] and env.verdict["db_match"] is True
        assert env.info["stop_reason"] == "shopper_done" and env.info["success"]
        assert adapter_comparable(env.record) == adapter_comparable(record), tid


def test_a_wrong_write_gets_reward_0(world: Tau2Retail, world_db: str) -> None:
    env = Tau2ToolEnv(world, db=world_db, connect="direct")
    env.reset(task_id="2")
    actions = doors.wrong_payment(world)
    play(env, actions)
    assert env.get_reward() == 0.0
    assert env.verdict is not None and env.verdict["db_match"] is False
    assert env.task is not None and env.record is not None
    [expected] = doors.runner_records(env._runtime.env, [env.task], actions=actions).values()
    assert adapter_comparable(env.record) == adapter_comparable(expected)


def test_bad_arguments_fail_and_change_nothing(world: Tau2Retail, world_db: str) -> None:
    env: Any = Tau2ToolEnv(world, db=world_db)  # its tool methods are made at run time
    with pytest.raises(RuntimeError, match="reset"):
        env.calculate(expression="1+1")
    env.reset(task_id="tau2-retail/0")
    bad = [(lambda: env.get_order_details(), "order_id"),
           (lambda: env.get_order_details("#W0000000", x=1), "'x'"),
           (lambda: env.cancel_pending_order("#W0000000", "bored"), "reason"),
           (lambda: env.get_order_details(order_id=None), "order_id")]
    for call, said in bad:
        out = call()
        assert out.startswith("Error: ") and said in out, out
    assert env.get_order_details("a", "b").startswith(
        "Error: get_order_details takes at most 1 arguments (order_id), not 2")
    assert json.loads(env.calculate("2 * 3.5")) == {"result": "7.0"}
    play(env, oracle_actions(world.task("0")))
    assert env.get_reward() == 1.0 and env.verdict is not None
    assert env.verdict["db_match"] is True
    assert env.record is not None and env.record["metrics"]["errors"] == len(bad)
    over = "Error: the episode is over"
    assert env.calculate("1+1").startswith(over) and env.send_message("Hi?").startswith(over)
    env.reset(task_id="7")  # instances are reused across rollouts
    assert env.task is not None and env.task.tau2_id == "7" and not env.done
    assert env.get_reward() == 0.0 and env.info["stop_reason"] == "agent_done"


def test_rows(world: Tau2Retail, world_db: str) -> None:
    rows = tau2_rows(world, split="test")
    assert [r["task_id"] for r in rows] == [f"tau2-retail/{i}" for i in range(9, 14)]
    assert len({tuple(sorted(r)) for r in rows}) == 1 and json.loads(json.dumps(rows)) == rows
    assert set(rows[0]) == {"prompt", "task_id", "family", "difficulty", "seed", "world"}
    assert rows[0]["prompt"] == [{"role": "system", "content": world.policy},
                                 {"role": "user", "content": ""}]
    assert rows[0]["family"] == "tau2_retail"
    assert tau2_rows(world, system_prompt=None)[0]["prompt"] == [{"role": "user",
                                                                  "content": ""}]
    env = Tau2ToolEnv(world, db=world_db)
    with pytest.raises(ValueError, match="another tau2 world"):
        env.reset(**{**rows[0], "world": "f" * 64})
    with pytest.raises(InvalidInput, match="no task '99'"):
        env.reset(task_id="99")
    with pytest.raises(ValueError, match="no task_id"):
        env.reset(prompt=rows[0]["prompt"])


def test_zero_argument_construction_reads_the_environment(
        world_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PATH_VAR, raising=False)
    with pytest.raises(ValueError, match=PATH_VAR):
        Tau2ToolEnv()
    monkeypatch.setenv(PATH_VAR, str(doors.FIXTURE))
    monkeypatch.setenv(DB_VAR, world_db)
    env = Tau2ToolEnv()
    assert env._runtime.env.url == world_db
    assert "send_message" in tool_methods(env) and "calculate" in tool_methods(env)
    assert type(env) is type(Tau2ToolEnv())  # one class per tool list: TRL's reward column


def test_many_environments_in_threads_share_one_runtime(world: Tau2Retail,
                                                        world_db: str) -> None:
    """A trainer may hold many instances and call them from several threads at once."""
    from concurrent.futures import ThreadPoolExecutor

    factory = Tau2ToolEnv.factory(world, db=world_db, connect="direct")

    def one(tid: str) -> tuple[float, dict[str, Any] | None]:
        env = factory()
        env.reset(task_id=tid)
        play(env, oracle_actions(world.task(tid)))
        return env.get_reward(), env.record

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, doors.IDS))
    assert [reward for reward, _ in results] == [1.0] * len(doors.IDS)
    assert [r["task_id"] for _, r in results if r is not None] == [
        f"tau2-retail/{tid}" for tid in doors.IDS]
    assert len({id(factory()._runtime) for _ in range(3)}) == 1


def test_one_grpo_step_on_cpu(world: Tau2Retail, world_db: str, tmp_path: Any) -> None:
    """Where TRL is installed (`pip install torch==2.13.0 trl`): one GRPOTrainer step on two
    tau2 tasks with ``environment_factory=Tau2ToolEnv.factory(...)``, the tools TRL takes from
    the class being the sixteen tau2 tools and send_message, scored by ``get_reward`` (a tiny
    random model: its episodes fail, each with a record and tau2's verdict)."""
    pytest.importorskip("trl")
    factory = Tau2ToolEnv.factory(world, db=world_db, connect="direct")
    rows = tau2_rows(world, select_tasks(world, ids=["0", "2"]))
    probe = factory()
    corpus = [world.policy, *(json.dumps(t) for t in probe._runtime.tools),
              *(probe.reset(**r) for r in rows)]
    trainer = one_grpo_step(factory, rows, corpus, tmp_path / "grpo")
    logged = trainer.state.log_history[0]
    assert "rewards/Tau2ToolEnv/mean" in logged
    assert trainer.environments
    for env in trainer.environments:
        assert env.done and env.record is not None and env.verdict is not None
        assert env.get_reward() == env.record["reward"]
