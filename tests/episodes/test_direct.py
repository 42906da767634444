"""The direct path (``connect="direct"``): the shop's tools called in process without the MCP
protocol give the rollout records of the in-memory MCP path, apart from timing: the same
results, the same errors for rejected calls and bad arguments, the same trace records; and the
TRL and Gym environments take it too."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from episodes.agents import make_agent
from episodes.agents.oracle import Replay, gold_actions
from episodes.controller import Action, EpisodeController, Observation, Policy, ToolRequest
from episodes.links import DirectLink, McpLink
from episodes.world import build_world
from tests.episodes.records import adapter_comparable, untimed
from verifiers.types import TaskSpec

CASES = [("purchase", 3, 5), ("return", 4, 2), ("exchange", 2, 7), ("cart", 5, 1),
         ("cancel", 3, 4), ("discovery", 6, 3), ("multi", 4, 9), ("policy", 1, 6),
         ("order_status", 2, 5), ("substitution", 3, 2)]

# Calls the server (or the controller) rejects: unknown and hidden tools, unknown, missing,
# mistyped and out-of-range arguments, values a client sends differently from how Python holds
# them (tuples, infinities), unknown ids, a bad discount code, oversized and deeply nested
# input, unstorable characters.
BAD_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("no_such_tool", {"x": 1}),
    ("open_session", {}),
    ("search_products", {"qurey": "mug"}),
    ("search_products", {"query": "mug", "page_size": "many"}),
    ("search_products", {"query": "mug", "page_size": 10**30}),
    ("search_products", {"query": "mug", "min_price_cents": float("inf")}),
    ("search_products", {"query": "mug", "attributes": {"backlit": 10**400}}),
    ("search_products", {"query": "mug", "attributes": {"colour": "red"}}),
    ("search_products", {"query": "q" * 3000, "sort": "cheapest"}),
    ("get_product", {}),
    ("get_product", {"product_id": "P-999999999"}),
    ("get_product", {"product_id": ("P-000001",)}),
    ("get_product", {"product_id": "P-\x00\ud800"}),
    ("add_to_cart", {"variant_id": "V-000001-1", "quantity": -3}),
    ("apply_discount_code", {"code": "NO-SUCH-CODE"}),
    ("checkout", {}),
    ("view_cart", {"junk": [[[[[[[[[[[[[[1]]]]]]]]]]]]]]}),
    ("get_order", {"order_id": "O-404"}),
    ("get_order", {"order_id": None}),
]


class BadThenGold:
    """A privileged agent that first makes every bad call (a few per step), then plays the
    gold solution."""

    name = "bad_then_gold"
    privileged = True

    def start(self, task: TaskSpec | None, obs: Observation, *, seed: int) -> Policy:
        assert task is not None
        bad = [Action(tool_calls=[ToolRequest(name=n, arguments=a) for n, a in
                                  BAD_CALLS[i:i + 6]]) for i in range(0, len(BAD_CALLS), 6)]
        return Replay(bad + gold_actions(task.gold))


def run_all(shop: Any, tasks: list[TaskSpec], connect: str | None) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        async with EpisodeController(shop, connect=connect) as controller:
            for agent, some in ((make_agent("oracle"), tasks),
                                (make_agent("heuristic"), tasks[1::2]),
                                (make_agent("random"), tasks[::3]), (BadThenGold(), tasks)):
                out += await controller.run(agent, some, concurrency=3)
        return out

    return anyio.run(run)


def test_records_over_the_direct_path_are_the_mcp_records(ep_shop: Any,
                                                           tasks: list[TaskSpec]) -> None:
    over_mcp = run_all(ep_shop, tasks, None)
    direct = run_all(ep_shop, tasks, "direct")
    assert len(direct) == len(over_mcp) == 2 * len(tasks) + len(tasks[1::2]) + len(tasks[::3])
    for a, b in zip(over_mcp, direct, strict=True):
        assert untimed(b) == untimed(a), (a["policy"], a["task_id"])
    # the comparison covered failures of every kind, and successes
    codes = {e["error_code"] for r in direct for e in r["trace"]}
    assert {None, "unknown_tool", "invalid_arguments", "invalid_input", "not_found",
            "invalid_code"} <= codes
    assert any(r["success"] for r in direct) and not all(r["success"] for r in direct)
    hidden = [m for r in direct if r["policy"] == "bad_then_gold" for m in r["messages"]
              if m.get("name") == "open_session"]
    assert hidden and all("not available here" in m["content"] for m in hidden)


def test_bad_arguments_get_the_same_errors_and_trace_records(ep_shop: Any,
                                                             tasks: list[TaskSpec]) -> None:
    world = tasks[0].world

    async def calls(link: Any) -> tuple[list[tuple[bool, Any]], list[dict[str, Any]]]:
        sid = build_world(ep_shop, world)
        async with link:
            out = [await link.call(name, {**args, "session_id": sid})
                   for name, args in BAD_CALLS]
            out.append(await link.call("get_product", {"product_id": "P-000001",
                                                       "session_id": ["not", "a", "handle"]}))
        trace = [r.model_dump(exclude={"latency_ms", "clock"}) for r in ep_shop.trace(sid)]
        return out, trace

    mcp_out, mcp_trace = anyio.run(calls, McpLink(ep_shop, None))
    direct_out, direct_trace = anyio.run(calls, DirectLink(ep_shop))
    assert direct_out == mcp_out
    assert direct_trace == mcp_trace
    assert len(mcp_trace) == len(BAD_CALLS)  # every call recorded (the last has no session)
    failed = [text for ok, text in mcp_out if not ok]
    assert len(failed) >= len(BAD_CALLS) - 2  # the infinity is sent as null: a valid call
    assert any("invalid arguments" in t and "page_size" in t for t in failed)
    assert any(t.startswith("Error executing tool no_such_tool") or "Unknown tool" in t
               for t in failed)


def test_unserialisable_arguments_fail_as_a_client_fails(ep_shop: Any) -> None:
    async def call(link: Any) -> tuple[bool, Any]:
        async with link:
            return await link.call("get_product", {"product_id": object()})

    assert anyio.run(call, DirectLink(ep_shop)) == anyio.run(call, McpLink(ep_shop, None))


def test_the_tools_offered_are_the_same(ep_shop: Any) -> None:
    async def tools(connect: str | None) -> list[dict[str, Any]]:
        async with EpisodeController(ep_shop, connect=connect) as controller:
            return controller.tools

    assert anyio.run(tools, "direct") == anyio.run(tools, None) != []


@pytest.mark.parametrize("case", [0, 6], ids=["purchase", "multi"])
def test_trl_env_over_the_direct_path(ep_shop: Any, tasks: list[TaskSpec],
                                      oracle_records: dict[str, dict[str, Any]],
                                      case: int) -> None:
    from episodes.trl_env import ShopToolEnv, trl_rows
    from tests.episodes.test_trl_env import play_gold

    task = tasks[case]
    env = ShopToolEnv.factory(ep_shop, connect="direct")()
    assert env._runtime.controller._link.__class__ is DirectLink
    env.reset(**trl_rows([task])[0])
    play_gold(env, task)
    assert env.get_reward() == 1.0
    assert adapter_comparable(env.record) == adapter_comparable(oracle_records[task.task_id])


def test_gym_env_over_the_direct_path(ep_shop: Any, tasks: list[TaskSpec],
                                      oracle_records: dict[str, dict[str, Any]]) -> None:
    pytest.importorskip("gymnasium")
    import json

    from episodes.gym_env import ShopEnv

    task = tasks[1]
    env = ShopEnv(ep_shop, connect="direct")
    assert env._runtime.controller._link.__class__ is DirectLink
    env.reset(seed=0, options={"task": task.model_dump()})
    done = False
    for action in gold_actions(task.gold):
        if action.message is not None:
            text = action.message
        else:
            (call,) = action.tool_calls
            text = json.dumps({"tool": call.name, "arguments": call.arguments})
        _, _, terminated, truncated, info = env.step(text)
        done = terminated or truncated
        if done:
            break
    assert done and info["success"]
    assert env.episode is not None
    assert (adapter_comparable(env.episode.record())
            == adapter_comparable(oracle_records[task.task_id]))
