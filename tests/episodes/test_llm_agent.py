"""The LLM agent against a stub Chat Completions endpoint on 127.0.0.1: end to end on every way
of reaching the shop (replaying the gold solution through the model's tool calls gives the
oracle's reward), the wire format both ways, retries, errors and budgets."""

from __future__ import annotations

import json
import pickle
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from episodes.agents.llm import (
    DEFAULT_SYSTEM_PROMPT,
    LLMAgent,
    LLMEndpointError,
    LLMPolicy,
    _parse_reply,
)
from episodes.agents.oracle import gold_actions
from episodes.controller import EpisodeController, Observation
from episodes.generate import generate_task
from mcp_shop import Shop
from tests.episodes import test_transports as transports
from tests.episodes.chat_stub import (
    ChatStub,
    Status,
    gold_policy,
    raw_reply,
    text_reply,
    tool_reply,
)
from tests.protocol.procs import ServerProcess
from verifiers.types import TaskSpec

# The transport tests' module fixtures (a catalog file with its search index, its tasks, an HTTP
# server, the oracle's in-memory records), reused here.
tr_url, tr_shop, tr_tasks, tr_http, reference = (
    transports.tr_url, transports.tr_shop, transports.tr_tasks, transports.tr_http,
    transports.reference)

TOOLS = [{"type": "function", "function": {
    "name": "view_cart", "description": "the cart", "parameters": {"type": "object",
                                                                   "properties": {}}}}]


@pytest.fixture
def stub() -> Iterator[ChatStub]:
    with ChatStub() as s:
        yield s


def _agent(stub: ChatStub, **options: Any) -> LLMAgent:
    return LLMAgent(stub.url, "stub-model", **{"backoff": 0.0, "retries": 2, **options})


def _policy(agent: LLMAgent, message: str = "Hi, I need socks.") -> tuple[LLMPolicy,
                                                                             Observation]:
    obs = Observation(shopper_message=message, turn=0, tools=TOOLS)
    policy = agent.start(None, obs, seed=5)
    assert isinstance(policy, LLMPolicy)
    return policy, obs


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


# -- end to end on every transport ------------------------------------------------------------


@pytest.mark.parametrize("transport", transports.TRANSPORTS)
async def test_gold_replies_earn_the_oracles_reward(
        transport: str, tr_url: str, tr_shop: Shop, tr_tasks: list[TaskSpec],
        reference: tuple[list[dict[str, Any]], list[dict[str, Any]]], stub: ChatStub,
        request: pytest.FixtureRequest) -> None:
    """A model that answers with the gold solution's tool calls and messages (one per reply)
    gets exactly the oracle's episodes: same messages, trace, reward and components."""
    http: ServerProcess | None = request.getfixturevalue("tr_http") \
        if transport == "http" else None
    openings = {_opening(t): gold_actions(t.gold) for t in tr_tasks}
    stub.policy = gold_policy(openings)
    connect = transports._connect(transport, tr_url, http)
    async with EpisodeController(tr_shop, connect=connect) as ctl:
        records = await ctl.run(_agent(stub), tr_tasks, concurrency=4)
        tools = ctl.tools
    ref_records, _ = reference
    assert all(r["policy"] == "llm" for r in records)
    for got, want in zip(records, ref_records, strict=True):
        assert got["success"] and got["reward"] == want["reward"] == 1.0, got["task_id"]
        got_c, want_c = transports.comparable(got), transports.comparable(want)
        for key in ("messages", "reward_components", "stop_reason", "metrics", "terminated"):
            assert got_c[key] == want_c[key], (transport, got["task_id"], key)
        assert [(e["tool"], e["arguments"], e["ok"]) for e in got_c["trace"]] == \
            [(e["tool"], e["arguments"], e["ok"]) for e in want_c["trace"]]

    bodies = stub.bodies
    assert len(bodies) >= sum(len(gold_actions(t.gold)) for t in tr_tasks)
    for body in bodies:
        assert body["model"] == "stub-model" and body["tool_choice"] == "auto"
        assert body["tools"] == tools and body["messages"][0] == {
            "role": "system", "content": DEFAULT_SYSTEM_PROMPT}
        assert "session_id" not in json.dumps(body)


def _opening(task: TaskSpec) -> str:
    """The shopper's first message of ``task`` (what the stub recognises a conversation by)."""
    from episodes.shopper import Shopper

    return Shopper(task).opening()


# -- the wire format --------------------------------------------------------------------------


async def test_tool_results_errors_and_shopper_messages_reach_the_model(
        ep_shop: Shop, stub: ChatStub) -> None:
    """Tool results and errors go back as tool messages answering their calls, the shopper's
    replies as user messages, plain text goes to the shopper; the session handle is never
    sent."""
    task = generate_task(ep_shop, "purchase", 2, 3)
    stub.push(tool_reply(("get_product", {"product_id": "P-999999"}), ("view_cart", {}),
                         text="Let me look."),
              text_reply("<think>no ids yet</think>Which size do you need?"),
              text_reply(""))
    agent = _agent(stub)
    async with EpisodeController(ep_shop) as controller:
        episode = controller.episode(task, policy=agent.name)
        obs = await episode.reset()
        policy = agent.start(None, obs, seed=9)
        assert isinstance(policy, LLMPolicy)
        actions = []
        while True:
            actions.append(action := await policy.act(obs))
            step = await episode.step(action)
            obs = step.observation
            if step.done:
                break
        record = episode.record()
    assert [a.model_dump(exclude_defaults=True) for a in actions] == [
        {"tool_calls": [{"name": "get_product", "arguments": {"product_id": "P-999999"}},
                        {"name": "view_cart"}]},
        {"message": "Which size do you need?"},
        {"done": True}]
    assert record["stop_reason"] == "agent_done" and record["metrics"]["errors"] == 1

    first, second, third = stub.bodies
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert first["messages"][1]["content"] == record["messages"][0]["content"]
    assert first["seed"] == 9 and first["temperature"] == 0.0
    history = second["messages"]
    assert history[2] == {"role": "assistant", "content": "Let me look.", "tool_calls": [
        {"id": "call_stub_0", "type": "function",
         "function": {"name": "get_product", "arguments": '{"product_id": "P-999999"}'}},
        {"id": "call_stub_1", "type": "function",
         "function": {"name": "view_cart", "arguments": "{}"}}]}
    error, cart = history[3], history[4]
    assert error["role"] == cart["role"] == "tool"
    assert error["tool_call_id"] == "call_stub_0" and "not_found" in error["content"]
    assert cart["tool_call_id"] == "call_stub_1" and "lines" in json.loads(cart["content"])
    assert len(history) == 5  # the text with the tool calls was not said to the shopper
    shopper = [m["content"] for m in record["messages"] if m["role"] == "user"]
    assert third["messages"][-1] == {"role": "user", "content": shopper[-1]}
    assert third["messages"][-2]["content"].startswith("<think>")  # kept for the model
    for body in stub.bodies:
        assert episode.session_id not in json.dumps(body)
        assert "session_id" not in json.dumps(body["tools"])
    assert policy.model_calls == 3 and policy.tokens == 300 and policy.stop_reason == \
        "empty_reply"


async def test_malformed_arguments_are_answered_without_calling_the_shop(
        stub: ChatStub) -> None:
    stub.push(tool_reply(("view_cart", '{"broken": '), ("view_cart", "[1, 2]")),
              tool_reply(("view_cart", "{}"), ("get_product", "not json")))
    policy, obs = _policy(_agent(stub))
    action = await policy.act(obs)
    assert [r.name for r in action.tool_calls] == ["view_cart"]  # only the well-formed call
    assert policy.invalid_calls == 3 and policy.model_calls == 2
    second = stub.bodies[1]["messages"]
    assert [m["role"] for m in second[-3:]] == ["assistant", "tool", "tool"]
    assert "not valid JSON" in second[-2]["content"]
    assert "not a JSON object" in second[-1]["content"]
    stub.push(text_reply("Your cart is empty."))
    from episodes.controller import ToolResult

    action = await policy.act(Observation(shopper_message=None, turn=0, tool_results=[
        ToolResult(name="view_cart", arguments={}, ok=True, content={"lines": []})]))
    assert action.message == "Your cart is empty."
    tail = stub.bodies[2]["messages"][-2:]
    assert tail[0]["tool_call_id"] == "call_stub_0" and json.loads(tail[0]["content"]) == {
        "lines": []}
    assert tail[1]["tool_call_id"] == "call_stub_1" and "not valid JSON" in tail[1]["content"]


@pytest.mark.parametrize(("text", "said"), [
    ("Hello!", "Hello!"), ("<think>plan</think>\n\nHello!", "Hello!"),
    ("the template opened it</think> Hello!", "Hello!"), ("<think>never closed", None),
    ("  ", None), (None, None)])
async def test_what_is_said_to_the_shopper(stub: ChatStub, text: str | None,
                                           said: str | None) -> None:
    """Reasoning is never said; a reply with nothing to say ends the episode."""
    stub.push(text_reply(text))
    policy, obs = _policy(_agent(stub))
    action = await policy.act(obs)
    assert (action.message, action.done) == (said, said is None)


# -- retries and errors -----------------------------------------------------------------------


async def test_transient_statuses_are_retried(stub: ChatStub) -> None:
    stub.push(Status(429, headers={"Retry-After": "0"}), Status(503), text_reply("Hello!"))
    policy, obs = _policy(_agent(stub, retries=2))
    assert (await policy.act(obs)).message == "Hello!"
    assert len(stub.requests) == 3
    assert stub.bodies[0] == stub.bodies[2]


async def test_persistent_server_errors_raise_a_clear_error(stub: ChatStub) -> None:
    stub.push(*[Status(500, '{"error": "CUDA out of memory"}')] * 3)
    policy, obs = _policy(_agent(stub, retries=2))
    with pytest.raises(LLMEndpointError, match=r"HTTP 500 \(3 attempts\).*CUDA out of mem") \
            as info:
        await policy.act(obs)
    assert info.value.status == 500 and info.value.url == stub.url + "/chat/completions"
    assert stub.url in str(info.value) and len(stub.requests) == 3
    copy = pickle.loads(pickle.dumps(info.value))  # crosses worker processes intact
    assert (str(copy), copy.url, copy.status) == (str(info.value), info.value.url, 500)


@pytest.mark.parametrize(("status", "hint"), [(400, "tool_choice"), (401, "OPENAI_API_KEY"),
                                              (404, "ends in /v1")])
async def test_other_statuses_fail_at_once(stub: ChatStub, status: int, hint: str) -> None:
    stub.push(Status(status, '{"error": "\\"auto\\" tool_choice requires a flag"}'))
    policy, obs = _policy(_agent(stub, api_key=""))
    with pytest.raises(LLMEndpointError, match=f"HTTP {status}") as info:
        await policy.act(obs)
    assert hint in str(info.value) and len(stub.requests) == 1


@pytest.mark.parametrize("body", [
    b"<html>Bad gateway</html>", {"choices": []}, {"object": "list"}, {"choices": [{"x": 1}]},
    {"choices": [{"message": {"content": 5}}]},
    {"choices": [{"message": {"tool_calls": [{"function": {"arguments": "{}"}}]}}]},
    {"choices": [{"message": {"tool_calls": {"name": "view_cart"}}}]},
    {"error": {"message": "model not loaded"}}, [1, 2],
    {"choices": [{"message": {"content": [{"type": "text", "text": None}]}}]},
    {"choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"text": 3}]}}]}])
async def test_malformed_replies_raise_a_clear_error(stub: ChatStub, body: Any) -> None:
    stub.push(raw_reply(body))
    policy, obs = _policy(_agent(stub))
    with pytest.raises(LLMEndpointError, match=r"malformed reply from http://127\.0\.0\.1"):
        await policy.act(obs)
    assert len(stub.requests) == 1  # not retried: a server that garbles does so again


def test_content_parts_keep_their_text() -> None:
    reply = _parse_reply({"choices": [{"message": {"content": [
        {"type": "text", "text": "Hello "}, {"type": "image_url", "image_url": {"url": "x"}},
        "junk", {"type": "text", "text": "there"}]}}]}, "http://h/v1", 10)
    assert reply.text == "Hello there" and reply.tool_calls == []


async def test_an_unreachable_endpoint_fails_fast() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    agent = LLMAgent(f"http://127.0.0.1:{port}/v1", "m", retries=2, backoff=0.01, timeout=5)
    policy, obs = _policy(agent)
    started = time.perf_counter()
    with pytest.raises(LLMEndpointError, match=rf"cannot reach the LLM endpoint "
                       rf"http://127\.0\.0\.1:{port}/v1/chat/completions after 3 attempt"):
        await policy.act(obs)
    assert time.perf_counter() - started < 3


async def test_an_endpoint_error_stops_the_run_or_the_episode(ep_shop: Shop,
                                                              stub: ChatStub) -> None:
    """By default the error propagates out of the run (one clear error, not a training set of
    zero rewards); with ``on_error="stop"`` the episode ends as the agent's and is scored."""
    tasks = [generate_task(ep_shop, "purchase", 1, s) for s in (1, 2)]
    stub.policy = lambda body: Status(502, "upstream down")
    async with EpisodeController(ep_shop) as controller:
        with pytest.raises(BaseExceptionGroup) as info:
            await controller.run(_agent(stub, retries=1), tasks, concurrency=2)
        assert isinstance(_leaf(info.value), LLMEndpointError)
        assert "HTTP 502 (2 attempts): upstream down" in str(_leaf(info.value))
        records = await controller.run(_agent(stub, retries=0, on_error="stop"), tasks,
                                       concurrency=2)
    assert [(r["stop_reason"], r["success"], r["metrics"]["tool_calls"]) for r in records] \
        == [("agent_done", False, 0)] * 2


# -- budgets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("options", "usage", "calls"), [
    ({"max_model_calls": 3}, 10, 3),
    ({"max_tokens_per_episode": 1000}, 400, 3),
    ({"max_tokens_per_episode": 50}, None, 1)])  # no usage reported: estimated from the text
async def test_budgets_end_the_episode(ep_shop: Shop, stub: ChatStub, options: dict[str, Any],
                                       usage: int | None, calls: int) -> None:
    stub.policy = lambda body: tool_reply("view_cart", usage=usage)
    task = generate_task(ep_shop, "purchase", 2, 4)
    async with EpisodeController(ep_shop) as controller:
        record = await controller.run_episode(_agent(stub, **options), task)
    assert len(stub.requests) == calls
    assert record["stop_reason"] == "agent_done" and not record["success"]
    assert [e["tool"] for e in record["trace"]] == ["view_cart"] * calls


async def test_a_spent_budget_stops_asking_even_mid_turn(stub: ChatStub) -> None:
    """Malformed calls re-ask the model within one act; the call budget still holds."""
    stub.policy = lambda body: tool_reply("view_cart", args="{")
    policy, obs = _policy(_agent(stub, max_model_calls=4))
    action = await policy.act(obs)
    assert action.done and policy.stop_reason == "model_call_budget"
    assert len(stub.requests) == 4 and policy.invalid_calls == 4


# -- configuration ----------------------------------------------------------------------------


async def test_configuration_from_the_environment(stub: ChatStub,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BASE_URL", "MODEL", "API_KEY_ENV", "TEMPERATURE", "MAX_CALLS", "MAX_TOKENS"):
        monkeypatch.delenv(f"MCP_SHOP_LLM_{name}", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="--llm-base-url"):
        LLMAgent.from_env()
    monkeypatch.setenv("MCP_SHOP_LLM_BASE_URL", stub.url)
    with pytest.raises(ValueError, match="--llm-model"):
        LLMAgent.from_env()
    monkeypatch.setenv("MCP_SHOP_LLM_MODEL", "qwen")
    monkeypatch.setenv("MCP_SHOP_LLM_API_KEY_ENV", "MY_KEY")
    monkeypatch.setenv("MY_KEY", "sk-test")
    monkeypatch.setenv("MCP_SHOP_LLM_TEMPERATURE", "0.7")
    monkeypatch.setenv("MCP_SHOP_LLM_MAX_CALLS", "7")
    agent = LLMAgent.from_env(backoff=0)
    assert (agent.model, agent.temperature, agent.max_model_calls) == ("qwen", 0.7, 7)
    stub.push(text_reply("Hi!"))
    policy, obs = _policy(agent)
    await policy.act(obs)
    assert stub.requests[0]["path"] == "/v1/chat/completions"
    assert stub.requests[0]["headers"]["Authorization"] == "Bearer sk-test"
    assert stub.bodies[0]["temperature"] == 0.7
    monkeypatch.setenv("MCP_SHOP_LLM_MAX_CALLS", "many")
    with pytest.raises(ValueError, match="MAX_CALLS must be a number"):
        LLMAgent.from_env()
    with pytest.raises(ValueError, match="http"):
        LLMAgent("localhost:8000", "m")


async def test_requests_carry_no_key_when_none_is_set(stub: ChatStub,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    stub.push(text_reply("Hi!"))
    policy, obs = _policy(LLMAgent(stub.url + "/", "m", system_prompt="", max_reply_tokens=64,
                                   extra_body={"top_p": 0.9}))
    await policy.act(obs)
    request = stub.requests[0]
    assert "Authorization" not in request["headers"]
    assert request["body"]["messages"] == [{"role": "user", "content": "Hi, I need socks."}]
    assert (request["body"]["max_tokens"], request["body"]["top_p"]) == (64, 0.9)

