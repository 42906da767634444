"""Bad input to the OpenEnv server, on both doors: over the WebSocket (openenv-core's client and
raw messages) every mistake gets an error message saying what would be valid, in the
WebSocket's terms, and the session goes on; over plain HTTP a 4xx JSON error, never a 500, for
every POST endpoint given a body with an integer of more than 4,300 digits, deep nesting or too
many bytes; every answer is strict JSON, also when an argument is ``1e999`` (read as inf); Host
and Origin checks on the WebSocket as on HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from episodes.openenv_env import ShopAction, ShopEnv, ToolCall
from tests.episodes import openenv_served as served
from verifiers.types import TaskSpec

oe_db, oe_tasks, oe_server = served.oe_db, served.oe_tasks, served.oe_server

HUGE = "7" * 5000  # past Python's 4,300-digit int/str conversion limit
# tool arguments Python reads as inf and -inf; answers echo them as the trace writes them
OVERFLOWING = '{"query": "x", "limit": 1e999, "floor": [-1e999]}'
ECHOED = {"query": "x", "limit": "Infinity", "floor": ["-Infinity"]}
POSTS = ["/reset", "/step", "/close", "/mcp"]


async def _fails(coro: Any, *words: str) -> str:
    """``coro`` raises openenv-core's client error, whose message holds every word and names no
    plain-HTTP reset or step (the client came over the WebSocket)."""
    with pytest.raises(RuntimeError) as err:
        await coro
    message = str(err.value)
    for word in words:
        assert word in message, (word, message)
    assert "POST /reset" not in message and "POST /step" not in message, message
    return message


def _strict(text: str) -> Any:
    """``text`` parsed as RFC 8259 JSON: ``NaN``, ``Infinity`` and ``-Infinity`` refused."""
    def refuse(constant: str) -> Any:
        raise AssertionError(f"not strict JSON: {constant} in {text[:300]}")

    return json.loads(text, parse_constant=refuse)


async def test_websocket_mistakes_say_what_is_valid(oe_server: str,
                                                    oe_tasks: list[TaskSpec]) -> None:
    task = oe_tasks[0]
    async with ShopEnv(base_url=oe_server) as env:
        await _fails(env.step(ShopAction(done=True)), "step before reset")
        message = await _fails(env.reset(), "give either family and difficulty", "task_id")
        assert message.startswith("Server error: reset: give either"), message
        await _fails(env.reset(seed=3), "give either family and difficulty", "got none")
        await _fails(env.reset(task_id="x", seed=3), "difficulty and seed go with family")
        await _fails(env.reset(family="gardening", difficulty=1),
                     "unknown family 'gardening'", "purchase")
        await _fails(env.reset(family="purchase", difficulty=99), "difficulty",
                     "less than or equal to 20")
        message = await _fails(env.reset(familly="purchase"), "familly", "unknown field")
        assert message.startswith("Server error: reset: familly: unknown field"), message
        await _fails(env.reset(task_id="nope"), "no task 'nope'", task.task_id)

        first = await env.reset(task_id=task.task_id)
        await _fails(env.step(ShopAction(tool_calls=[ToolCall(name="teleport")])),
                     "unknown tool 'teleport'", "search_products")
        await _fails(env.step(ShopAction()), "does nothing", "done: true")
        await _fails(env._send_and_receive({"type": "step", "data": {"tool_calls": [
            {"tool": "search_products"}]}}), "VALIDATION_ERROR")
        await _fails(env._send_and_receive({"type": "dance"}), "Unknown message type")
        for raw, words in [
                ('{"type": "step", "data": {"done": true, "n": ' + HUGE + "}}",
                 ["number that cannot be read", "4300 digits"]),
                ("[" * 100_000 + "]" * 100_000, ["nested too deeply"]),
                ("{not json", ["not valid JSON"])]:
            assert env._ws is not None
            await env._ws.send(raw)
            answer = await env._receive()
            assert answer["type"] == "error" and answer["data"]["code"] == "INVALID_JSON"
            for word in [*words, '"type": "reset" | "step"']:
                assert word in answer["data"]["message"], (word, answer)
        state = await env.state()  # refused actions did nothing; the session is fine
        assert state.episode_id == first.observation.episode_id
        assert (state.step_count, state.tool_calls, state.turn) == (0, 0, 0)
        assert (await env.step(ShopAction(done=True))).done
        await _fails(env.step(ShopAction(done=True)), "is over",
                     "start a new episode with reset")


async def test_a_websocket_message_over_the_limit_closes_the_session(
        oe_server: str) -> None:
    async with ShopEnv(base_url=oe_server) as env:
        assert env._ws is not None
        await env._ws.send(json.dumps({"type": "reset", "data": {"policy": "x" * 5_000_000}}))
        with pytest.raises(ConnectionClosed) as closed:
            await env._receive()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # too big
    with httpx2.Client(base_url=oe_server, timeout=30) as http:
        assert http.get("/health").json()["status"] == "healthy"


async def test_big_messages_are_refused_even_where_uvicorn_takes_them(
        oe_db: tuple[str, Any]) -> None:
    """Under plain uvicorn (16 MiB WebSocket messages, as with the manifest's app) the server
    still refuses messages over 4 MiB, and the session goes on."""
    with served.serve(oe_db[1], ws_max_size=16 * 1024 * 1024) as base:
        async with ShopEnv(base_url=base) as env:
            assert env._ws is not None
            await env._ws.send(json.dumps({"type": "reset", "data": {"policy": "x" * 5_000_000}}))
            answer = await env._receive()
            assert answer["type"] == "error" and "4,194,304 bytes" in answer["data"]["message"]
            assert (await env.state()).episode_id is None  # no episode, and still connected


async def test_websocket_host_and_origin_checks(oe_server: str) -> None:
    ws = oe_server.replace("http://", "ws://") + "/ws"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws, origin="http://evil.example"):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403
    port = oe_server.rsplit(":", 1)[1]
    async with connect(ws, origin=f"http://localhost:{port}") as ok:  # type: ignore[arg-type]
        await ok.send(json.dumps({"type": "state"}))
        assert json.loads(await ok.recv())["type"] == "state"


def _error(r: httpx2.Response, status: int, *words: str) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    message = body["error"] if isinstance(body["error"], str) else body["error"]["message"]
    for word in words:
        assert word in message, (word, message)
    return message


@pytest.mark.parametrize("path", POSTS)
def test_http_bodies_that_cannot_be_read_get_4xx_never_500(oe_server: str, path: str) -> None:
    headers = {"content-type": "application/json", "accept": "application/json, "
               "text/event-stream"}
    with httpx2.Client(base_url=oe_server, timeout=60) as http:
        huge = f'{{"episode_id": "x", "family": "cart", "difficulty": {HUGE}}}'.encode()
        _error(http.post(path, content=huge, headers=headers), 400,
               "number that cannot be read", "4300 digits")
        nested = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        _error(http.post(path, content=nested, headers=headers), 400, "nested too deeply")
        _error(http.post(path, content=b"{" * 10 + b" " * 5_000_000, headers=headers), 413,
               "4,194,304")
        if path == "/mcp":  # JSON, but not JSON-RPC: a JSON-RPC error (OpenEnv's contract)
            r = http.post(path, json={})
            assert r.status_code == 200 and r.json()["error"]["code"] == -32600
            assert "initialize" in r.json()["error"]["message"]
        else:
            _error(http.post(path, json={"nonsense": 1}), 422, "nonsense", "unknown field")
        assert http.get("/health").json()["status"] == "healthy"


def test_http_mistakes_name_what_is_valid(oe_server: str, oe_tasks: list[TaskSpec]) -> None:
    task = oe_tasks[0]
    with httpx2.Client(base_url=oe_server, timeout=60) as http:
        _error(http.post("/reset", json={"family": "gardening", "difficulty": 1}), 422,
               "unknown family 'gardening'", "purchase")
        _error(http.get("/state"), 422, "needs episode_id", "/state?episode_id=")
        _error(http.post("/step", json={"action": {"done": True}}), 422, "episode_id",
               "Field required")
        started = http.post("/reset", json={"task_id": task.task_id, "episode_id": "mine-1"})
        assert started.json()["observation"]["episode_id"] == "mine-1"
        _error(http.post("/reset", json={"task_id": task.task_id, "episode_id": "mine-1"}),
               409, "'mine-1' is in use")
        _error(http.post("/step", json={"episode_id": "mine-1", "action": {"tool_calls": [
            {"name": "search_products", "arguments": {"query": "x"}, "extra": 1}]}}), 422,
               "action.tool_calls.0.extra", "unknown field")
        _error(http.post("/step", json={"episode_id": "mine-1", "action": {"done": "maybe"}}),
               422, "action.done")
        _error(http.post("/step", json={"episode_id": "mine-1", "action": {"done": True},
                                        "timeout_s": 5, "request_id": "r1", "x": 1}), 422,
               "x: unknown field")
        assert http.post("/step", json={"episode_id": "mine-1", "action": {"done": True},
                                        "timeout_s": 5, "request_id": "r1"}).json()["done"]
        _error(http.get("/ws"), 404, "no endpoint /ws")  # a WebSocket route, not HTTP
        _error(http.get("/health", headers={"host": "evil.example:80"}), 421, "Host")
        _error(http.get("/schema", headers={"origin": "http://evil.example"}), 403, "Origin")


# -- strict JSON ----------------------------------------------------------------------------------


def _called(state: dict[str, Any]) -> list[str]:
    """The tools the state's messages called (their arguments are JSON text there)."""
    return [c["function"]["name"] for m in state["messages"] for c in m.get("tool_calls") or []]


def test_http_answers_are_strict_json_for_overflowing_numbers(oe_server: str) -> None:
    with httpx2.Client(base_url=oe_server, timeout=60) as http:
        started = http.post("/reset", json={"family": "purchase", "difficulty": 2, "seed": 1})
        episode_id = started.json()["observation"]["episode_id"]
        step = (f'{{"episode_id": "{episode_id}", "action": {{"tool_calls": [{{"name": '
                f'"search_products", "arguments": {OVERFLOWING}}}]}}}}')
        answer = http.post("/step", content=step, headers={"content-type": "application/json"})
        assert answer.status_code == 200, answer.text
        outcome = _strict(answer.text)["observation"]["tool_results"][0]
        assert outcome["arguments"] == ECHOED and not outcome["ok"]
        assert "limit" in outcome["content"]  # refused: search_products has no such argument
        state = _strict(http.get("/state", params={"episode_id": episode_id}).text)
        assert state["tool_calls"] == 1 and _called(state) == ["search_products"]
        done = _strict(http.post("/step", json={"episode_id": episode_id,
                                                "action": {"done": True}}).text)
        assert done["done"] and done["observation"]["record"] is not None
        record = _strict(http.get("/record", params={"episode_id": episode_id}).text)
        assert record == done["observation"]["record"]


async def test_websocket_answers_are_strict_json_for_overflowing_numbers(
        oe_server: str) -> None:
    async with connect(oe_server.replace("http://", "ws://") + "/ws") as ws:
        await ws.send(json.dumps({"type": "reset", "data": {
            "family": "purchase", "difficulty": 2, "seed": 1}}))
        _strict(str(await ws.recv()))
        await ws.send('{"type": "step", "data": {"tool_calls": [{"name": "search_products", '
                      f'"arguments": {OVERFLOWING}}}]}}}}')
        answer = _strict(str(await ws.recv()))
        assert answer["type"] == "observation", answer
        assert answer["data"]["observation"]["tool_results"][0]["arguments"] == ECHOED
        await ws.send(json.dumps({"type": "state"}))
        state = _strict(str(await ws.recv()))["data"]
        assert state["tool_calls"] == 1 and _called(state) == ["search_products"]
        await ws.send(json.dumps({"type": "step", "data": {"done": True}}))
        done = _strict(str(await ws.recv()))["data"]
        assert done["done"] and done["observation"]["record"]["trace"]
