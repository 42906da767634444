"""The TRL environment (``episodes.trl_env.ShopToolEnv``): TRL's ``environment_factory``
contract (zero-argument constructor, ``reset(**row)``, public methods as typed, documented
tools, ``get_reward``), the ``trl_rows`` dataset, and full gold episodes that score exactly as
the controller scores them."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from episodes.agents.oracle import gold_actions
from episodes.sync import ShopSettings, shared_controller
from episodes.trl_env import SYSTEM_PROMPT, ShopToolEnv, task_from_row, trl_rows
from tests.conftest import TEST_SEED, TEST_SIZE
from tests.episodes.grpo_tiny import one_grpo_step
from tests.episodes.records import adapter_comparable
from tests.episodes.tool_schemas import check_door
from verifiers.types import TaskSpec

CASES = [("purchase", 3, 5), ("return", 4, 2), ("exchange", 2, 7), ("cart", 5, 1),
         ("cancel", 3, 4), ("discovery", 6, 3), ("multi", 4, 9), ("policy", 1, 6)]


comparable = adapter_comparable


def play_gold(env: ShopToolEnv, task: TaskSpec) -> None:
    """The gold solution as TRL would make the calls: one method per tool call, and
    ``send_message`` for each message."""
    for action in gold_actions(task.gold):
        if env.done:
            break
        if action.message is not None:
            reply = env.send_message(action.message)
            assert isinstance(reply, str) and reply
        else:
            (call,) = action.tool_calls
            out = getattr(env, call.name)(**call.arguments)
            assert isinstance(out, str) and not out.startswith("Error"), (call, out)


@pytest.mark.parametrize("case", range(len(CASES)), ids=[c[0] for c in CASES])
def test_gold_episode_scores_as_the_controller(ep_shop: Any, tasks: list[TaskSpec],
                                               oracle_records: dict[str, dict[str, Any]],
                                               case: int) -> None:
    task = tasks[case]
    expected = oracle_records[task.task_id]
    env = ShopToolEnv.factory(ep_shop)()
    row = trl_rows([task])[0]
    opening = env.reset(**row)
    assert opening == expected["messages"][0]["content"]
    play_gold(env, task)
    reward = env.get_reward()
    assert env.done and env.breakdown is not None
    assert env.breakdown.success and expected["success"]
    assert reward == expected["reward"] == 1.0
    assert [c.model_dump() for c in env.breakdown.components] == expected["reward_components"]
    assert env.info["stop_reason"] == expected["stop_reason"] == "shopper_done"
    assert comparable(env.record) == comparable(expected)  # messages, trace, everything
    assert env.get_reward() == reward  # idempotent


def test_zero_argument_constructor_reads_the_environment(
        ep_shop: Any, tasks: list[TaskSpec], oracle_records: dict[str, dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """TRL calls the class with no arguments: the shop comes from MCP_SHOP_*; rows without the
    task JSON are regenerated from (family, difficulty, seed) on that catalog."""
    monkeypatch.setenv("MCP_SHOP_DB", str(ep_shop.engine.url))
    monkeypatch.setenv("MCP_SHOP_CATALOG_SEED", str(TEST_SEED))
    monkeypatch.setenv("MCP_SHOP_CATALOG_SIZE", str(TEST_SIZE))
    monkeypatch.delenv("MCP_SHOP_CONNECT", raising=False)
    monkeypatch.setenv("MCP_SHOP_REWARD_MODE", "sparse")
    env = ShopToolEnv()
    assert env._runtime.shop is not ep_shop  # its own Shop on the same database
    assert env._runtime.shop.catalog.fingerprint == ep_shop.catalog.fingerprint
    assert ShopToolEnv()._runtime is env._runtime  # one shared controller per process
    for task, row in list(zip(tasks, trl_rows(tasks, include_task=False), strict=True))[:3]:
        assert "task" not in row
        env.reset(**row)
        assert env.task == task
        play_gold(env, task)
        assert env.get_reward() == oracle_records[task.task_id]["reward"]
        assert comparable(env.record) == comparable(oracle_records[task.task_id])


def test_settings_from_the_environment() -> None:
    s = ShopSettings.from_env({})
    assert (s.db, s.catalog_seed, s.catalog_size, s.connect, s.reward_mode) == (
        "sqlite:///shop.db", 0, 10_000, None, "sparse")
    s = ShopSettings.from_env({"MCP_SHOP_DB": "sqlite:///x.db", "MCP_SHOP_CATALOG_SEED": "3",
                               "MCP_SHOP_CATALOG_SIZE": "500", "MCP_SHOP_REWARD_MODE": "dense",
                               "MCP_SHOP_CONNECT": "http://127.0.0.1:8000/mcp"})
    assert (s.db, s.catalog_seed, s.catalog_size, s.connect, s.reward_mode) == (
        "sqlite:///x.db", 3, 500, "http://127.0.0.1:8000/mcp", "dense")
    s = ShopSettings.from_env({"MCP_SHOP_CONNECT": "mcp-shop serve --db 'sqlite:///a b.db'"})
    assert s.connect == ("mcp-shop", "serve", "--db", "sqlite:///a b.db")
    assert ShopSettings.from_env({"MCP_SHOP_CONNECT": " direct "}).connect == "direct"
    with pytest.raises(ValueError, match="MCP_SHOP_REWARD_MODE"):
        ShopSettings.from_env({"MCP_SHOP_REWARD_MODE": "huge"})
    with pytest.raises(ValueError, match="MCP_SHOP_CATALOG_SIZE"):
        ShopSettings.from_env({"MCP_SHOP_CATALOG_SIZE": "many"})


# -- the class as TRL sees it -------------------------------------------------------------------


def test_tool_methods_are_the_mcp_server_s_tools(ep_shop: Any) -> None:
    """TRL's view of a fresh instance (before any reset, as TRL probes one): a method per tool
    the shop's MCP server lists and send_message, whose schemas, as transformers builds them,
    are the listed ones (tests.episodes.tool_schemas)."""
    env = ShopToolEnv.factory(ep_shop)()
    assert isinstance(env, ShopToolEnv) and type(env).__name__ == "ShopToolEnv"
    assert type(env) is type(ShopToolEnv.factory(ep_shop)())  # one class: one reward column
    assert callable(env.reset) and callable(env.get_reward)
    check_door(env, shared_controller(ep_shop).tools)


def test_tool_methods_take_arguments_as_the_server_does(ep_shop: Any,
                                                        tasks: list[TaskSpec]) -> None:
    """Positional arguments go in the listed order and None is not sent; a missing or
    unknown argument reaches the tool, which refuses it (a failed call of the episode); an
    argument given twice or one too many is refused without a call. Each is an ``Error:``
    text, not a Python error."""
    env: Any = ShopToolEnv.factory(ep_shop)()
    env.reset(**trl_rows([tasks[0]])[0])
    refused = [env.get_product(), env.get_product("P-000001", colour="red"),
               env.get_product("P-000001", product_id="P-000001"),
               env.get_product("P-000001", "P-000002")]
    assert all(r.startswith("Error: ") for r in refused), refused
    assert "product_id" in refused[0] and "colour" in refused[1]
    assert refused[2] == "Error: get_product got product_id twice"
    assert refused[3] == "Error: get_product takes at most 1 arguments (product_id), not 2"
    assert env.list_categories(None, 1) == env.list_categories(depth=1) != (
        env.list_categories())
    env.get_reward()
    metrics = env.record["metrics"]
    assert (metrics["tool_calls"], metrics["errors"]) == (5, 2)  # two refused by the tool


def test_tool_errors_and_episode_end(ep_shop: Any, tasks: list[TaskSpec]) -> None:
    env = ShopToolEnv.factory(ep_shop)()
    with pytest.raises(RuntimeError, match="reset"):
        env.view_cart()
    assert env.task is None and not env.done and env.breakdown is None and env.info == {}
    env.reset(**trl_rows([tasks[0]])[0])
    out = env.get_product("P-999999")
    assert out.startswith("Error:") and "P-999999" in out
    assert env.get_product(product_id="not an id").startswith("Error:")
    assert json.loads(env.view_cart())["lines"] == []
    reward = env.get_reward()  # ends the running episode, as if the agent stopped
    assert env.done and env.info["stop_reason"] == "agent_done" and not env.info["success"]
    assert reward == env.breakdown.reward and reward <= 0  # type: ignore[union-attr]
    assert env.view_cart().startswith("Error: the episode is over")
    assert env.send_message("Hello?").startswith("Error: the episode is over")
    env.reset(**trl_rows([tasks[1]])[0])  # instances are reused across rollouts
    assert env.task == tasks[1] and not env.done


def test_trl_rows_and_task_from_row(ep_shop: Any, tasks: list[TaskSpec]) -> None:
    rows = trl_rows(tasks)
    assert len({tuple(sorted(r)) for r in rows}) == 1  # one schema for the dataset
    row = rows[0]
    assert set(row) == {"prompt", "task_id", "family", "difficulty", "seed", "task"}
    assert row["prompt"] == [{"role": "system", "content": SYSTEM_PROMPT},
                             {"role": "user", "content": ""}]
    assert json.loads(json.dumps(rows)) == rows  # plain JSON (a JSONL line per row)
    assert task_from_row(ep_shop, row) == tasks[0]
    assert task_from_row(ep_shop, {**row, "task": json.loads(row["task"])}) == tasks[0]
    assert trl_rows(tasks[:1], system_prompt=None)[0]["prompt"] == [
        {"role": "user", "content": ""}]
    bare = {k: v for k, v in row.items() if k != "task"}
    assert task_from_row(ep_shop, bare) == tasks[0]
    with pytest.raises(ValueError, match="task_id"):
        task_from_row(ep_shop, {**bare, "task_id": "purchase-d3-s9999999"})
    with pytest.raises(ValueError, match="family"):
        task_from_row(ep_shop, {"prompt": row["prompt"]})
    foreign = tasks[0].model_copy(update={"catalog": {**tasks[0].catalog,
                                                      "fingerprint": "f" * 64}})
    with pytest.raises(ValueError, match="another catalog"):
        task_from_row(ep_shop, {**row, "task": foreign.model_dump_json()})


def test_many_environments_in_threads_share_one_controller(
        ep_shop: Any, tasks: list[TaskSpec], oracle_records: dict[str, dict[str, Any]]) -> None:
    """A trainer may hold many instances and call them from several threads at once."""
    factory = ShopToolEnv.factory(ep_shop)

    def one(task: TaskSpec) -> tuple[float, dict[str, Any]]:
        env = factory()
        env.reset(**trl_rows([task])[0])
        play_gold(env, task)
        return env.get_reward(), env.record

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, tasks))
    for task, (reward, record) in zip(tasks, results, strict=True):
        assert reward == oracle_records[task.task_id]["reward"]
        assert comparable(record) == comparable(oracle_records[task.task_id])
    assert len({id(factory()._runtime) for _ in range(3)}) == 1



def test_one_environment_called_from_several_threads(ep_shop: Any,
                                                     tasks: list[TaskSpec]) -> None:
    """Steps of one episode are serialised: the tool budget holds, call ids stay unique, and
    calls after the end return the "over" text instead of raising."""
    env = ShopToolEnv.factory(ep_shop)()
    env.reset(**trl_rows([tasks[0]])[0])
    budget = tasks[0].limits.max_tool_calls
    per_thread = budget // 4 + 6  # together well past the budget

    def hammer(_: int) -> list[str]:
        return [env.search_products(query="tent") for _ in range(per_thread)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        outputs = [out for batch in pool.map(hammer, range(4)) for out in batch]
    episode = env._episode
    assert episode is not None and env.done
    assert len(episode.calls) == budget
    ids = [m.tool_call_id for m in episode.messages if m.role == "tool"]
    assert len(ids) == len(set(ids))
    over = [o for o in outputs if o.startswith("Error:")]
    assert len(outputs) - len(over) == budget and over
    assert all("episode is over" in o for o in over)
    assert env.send_message("Still there?").startswith("Error: the episode is over")
    assert env.get_reward() == env.breakdown.reward  # type: ignore[union-attr]


def test_one_grpo_step_on_cpu(ep_shop: Any, tasks: list[TaskSpec], tmp_path: Any) -> None:
    """Where TRL is installed (`pip install torch==2.13.0 trl`): one GRPOTrainer step with
    ``environment_factory`` on a tiny randomly initialised model and a tokenizer trained here
    (no download), scored by ``get_reward``. About 15 s on two CPU cores."""
    pytest.importorskip("trl")
    factory = ShopToolEnv.factory(ep_shop)
    rows = trl_rows(tasks[:2])
    probe = factory()
    corpus = [SYSTEM_PROMPT, *(json.dumps(t) for t in probe._runtime.tools),
              *(probe.reset(**r) for r in rows)]
    trainer = one_grpo_step(factory, rows, corpus, tmp_path / "grpo")
    logged = trainer.state.log_history[0]
    assert "rewards/ShopToolEnv/mean" in logged
    assert trainer.environments and all(e.done and e.breakdown is not None
                                        for e in trainer.environments)


def test_cli_trl_rows_feed_the_environment(ep_shop: Any, tmp_path: Any) -> None:
    """`shop-episodes tasks --format trl` writes rows that ShopToolEnv.reset accepts, and an
    episode played from such a row scores as the controller does."""
    from episodes import cli

    db = str(ep_shop.engine.url)
    out = tmp_path / "rows.jsonl"
    code = cli.main(["tasks", "--format", "trl", "--families", "purchase,policy",
                     "--difficulty", "1", "--episodes", "2", "--seed", "4", "--out", str(out),
                     "--db", db, "--catalog-seed", str(TEST_SEED),
                     "--catalog-size", str(TEST_SIZE)])
    assert code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["family"] for r in rows] == ["purchase", "policy"]
    assert all(set(r) >= {"prompt", "task_id", "family", "difficulty", "seed", "task"}
               for r in rows)
    env = ShopToolEnv.factory(ep_shop)()
    for row in rows:
        task = TaskSpec.model_validate_json(row["task"])
        opening = env.reset(**row)
        assert opening and task.task_id == row["task_id"]
        play_gold(env, task)
        assert env.get_reward() == 1.0 and env.breakdown is not None and env.breakdown.success
