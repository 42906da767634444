"""Hostile clients against both HTTP servers as subprocesses on 127.0.0.1 (``mcp-shop serve
--http`` and ``shop-episodes serve-env``, SQLite; PostgreSQL where the backend matters), with raw
sockets and httpx rather than the project's clients: malformed HTTP framing, clients that leave
mid-body or send slowly, odd JSON-RPC shapes (ids of every type, batches, wrong fields), bodies
and WebSocket messages that are not objects, lone surrogates, control characters in episode ids.
Each answer is a 4xx (or a JSON-RPC / WebSocket error) saying what is wrong, the server logs no
traceback, keeps serving, and nothing changes. (Covered elsewhere and not repeated here: Host
and Origin checks, 4,300-digit integers, NaN / 1e999 in arguments, 4 MiB limits, deep nesting
on the env's routes: test_http.py, test_health_security.py, test_extreme_numbers.py,
tests/episodes/test_http_env.py and test_openenv_errors.py.)"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import text
from websockets.asyncio.client import connect

from mcp_shop import Shop
from tests.conftest import TEST_SEED, TEST_SIZE
from tests.protocol.procs import ServerProcess

MCP_HEADERS = {"content-type": "application/json", "mcp-protocol-version": "2025-06-18",
               "accept": "application/json, text/event-stream"}
_ENV_URL = re.compile(r"serving the episode env at (http://\S+)")


# -- servers ----------------------------------------------------------------------------------


def _env_process(args: list[str], log: Path) -> ServerProcess:
    return ServerProcess(["--catalog-seed", str(TEST_SEED), "--catalog-size", str(TEST_SIZE),
                          *args], log=log, command=("episodes.http_env", "--port", "0"),
                         announce=_ENV_URL)


@pytest.fixture(scope="module")
def env_server(shop_url: str, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[ServerProcess]:
    with _env_process(["--db", shop_url],
                      tmp_path_factory.mktemp("hostile-env") / "env.log") as proc:
        yield proc


@pytest.fixture(params=["mcp", "env"])
def either(request: pytest.FixtureRequest) -> ServerProcess:
    """Each server in turn (both have ``/mcp`` and ``/health``)."""
    name = "http_server" if request.param == "mcp" else "env_server"
    server: ServerProcess = request.getfixturevalue(name)
    return server


def _port(server: ServerProcess) -> int:
    return int(server.base.rsplit(":", 1)[1])


def _still_fine(server: ServerProcess) -> None:
    """The server answers /health at once, and its log holds no traceback or error."""
    with httpx2.Client(timeout=10) as http:
        assert http.get(f"{server.base}/health").status_code == 200
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log and " ERROR " not in log and "ERROR:" not in log, log[-3000:]


# -- raw HTTP ---------------------------------------------------------------------------------


def _raw(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        out = b""
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return out


def _request(port: int, method: str, path: str, body: bytes = b"",
             headers: dict[str, str] | None = None, extra: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
             *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return "\r\n".join(lines).encode() + b"\r\n" + extra + b"\r\n" + body


def _status(answer: bytes) -> int:
    head = answer.split(b"\r\n", 1)[0].split()
    assert len(head) >= 2 and head[0].startswith(b"HTTP/"), answer[:300]
    return int(head[1])


def _body(answer: bytes) -> str:
    return answer.split(b"\r\n\r\n", 1)[1].decode(errors="replace")


INIT = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode()


def test_malformed_http_framing_gets_400(either: ServerProcess) -> None:
    """Framing uvicorn refuses before the app (400), and framing that reaches the app with a
    body that is not what it declared: a JSON-RPC parse error, never a hang or a 500."""
    port = _port(either)
    json_h = {**MCP_HEADERS}
    framing = {
        "negative length": _request(port, "POST", "/mcp", INIT, {**json_h, "Content-Length":
                                                               "-1"}),
        "length not a number": _request(port, "POST", "/mcp", INIT,
                                        {**json_h, "Content-Length": "ten"}),
        "two lengths": _request(port, "POST", "/mcp", INIT,
                                {**json_h, "Content-Length": str(len(INIT))},
                                extra=f"Content-Length: {len(INIT) + 1}\r\n".encode()),
        "bad chunk size": _request(port, "POST", "/mcp", b"zz\r\nhello\r\n0\r\n\r\n",
                                   {**json_h, "Transfer-Encoding": "chunked"}),
        "header of 200 kB": _request(port, "POST", "/mcp", INIT,
                                     {**json_h, "Content-Length": str(len(INIT)),
                                      "X-Big": "a" * 200_000}),
        "URL of 200 kB": _request(port, "GET", "/health?" + "a" * 200_000),
        "NUL in a header": _request(port, "POST", "/mcp", INIT,
                                    {**json_h, "Content-Length": str(len(INIT)),
                                     "X-Nul": "a\x00b"}),
        "no Host": b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n",
        "TLS hello": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n",
    }
    for name, data in framing.items():
        assert _status(_raw(port, data)) == 400, name
    short = _raw(port, _request(port, "POST", "/mcp", INIT, {**json_h, "Content-Length": "5"}))
    assert _status(short) == 400 and "Parse error" in _body(short)
    both = _raw(port, _request(port, "POST", "/mcp", b"5\r\nhello\r\n0\r\n\r\n",
                               {**json_h, "Content-Length": "3",
                                "Transfer-Encoding": "chunked"}))
    assert _status(both) == 400 and "Parse error" in _body(both)
    chunked = _raw(port, _request(port, "POST", "/mcp",
                                  f"{len(INIT):x}\r\n".encode() + INIT + b"\r\n0\r\n\r\n",
                                  {**json_h, "Transfer-Encoding": "chunked"}))
    assert _status(chunked) == 200 and '"result"' in _body(chunked)
    import gzip

    packed = gzip.compress(INIT)
    zipped = _raw(port, _request(port, "POST", "/mcp", packed,
                                 {**json_h, "Content-Length": str(len(packed)),
                                  "Content-Encoding": "gzip"}))
    assert _status(zipped) == 400 and "Parse error" in _body(zipped)
    _still_fine(either)


def test_unknown_paths_and_methods_name_the_endpoints(http_server: ServerProcess,
                                                      env_server: ServerProcess) -> None:
    """A JSON 404 / 405 naming the endpoints on both servers (mcp-shop answered a bare
    ``Not Found`` before), for traversal, encoded NUL and bad escapes as much as typos."""
    with httpx2.Client(timeout=10) as http:
        for server, listed in [(http_server, "POST /mcp"), (env_server, "POST /reset")]:
            for path in ["/../../etc/passwd", "/%2e%2e/%00", "/%zz%ff", "/mcp/../admin",
                         "/" + "é" * 300]:
                r = http.get(server.base + path)
                assert r.status_code == 404, (path, r.text)
                assert "no endpoint" in r.json()["error"] and listed in r.json()["error"]
        r = http.post(f"{http_server.base}/health")
        assert r.status_code == 405 and "GET /health" in r.json()["error"]
        for method in ["PUT", "PATCH", "OPTIONS", "FOO"]:
            r = http.request(method, f"{http_server.base}/mcp")
            assert r.status_code == 405 and r.json()["error"]["code"] == -32600, method
        for path in ["/reset", "/step", "/close"]:
            for method in ["GET", "PUT", "DELETE"]:
                r = http.request(method, env_server.base + path)
                assert r.status_code == 405, (method, path)
                assert f"{method} is not allowed on {path}" in r.json()["error"]
    _still_fine(http_server)
    _still_fine(env_server)


# -- clients that leave or dawdle -------------------------------------------------------------


def _partial_bodies(port: int, path: str, count: int) -> list[socket.socket]:
    """``count`` connections, each with a POST that promises 1000 bytes and sends 10."""
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(_request(port, "POST", path, b'{"jsonrpc"',
                              {**MCP_HEADERS, "Content-Length": "1000"}))
        socks.append(sock)
    return socks


@pytest.mark.parametrize(("which", "path"), [("http_server", "/mcp"), ("env_server", "/mcp"),
                                             ("env_server", "/reset")])
def test_clients_leaving_mid_body_cost_nothing(request: pytest.FixtureRequest, which: str,
                                               path: str) -> None:
    """Clients that go away before their body is complete. Before, each one logged a
    traceback (``ClientDisconnect``), and after 500 of them ``mcp-shop serve`` spent tens of
    seconds writing tracebacks, answering nobody."""
    server: ServerProcess = request.getfixturevalue(which)
    socks = _partial_bodies(_port(server), path, 150)
    time.sleep(0.3)  # the server has read every partial body
    for sock in socks:
        sock.close()
    time.sleep(0.5)
    started = time.monotonic()
    _still_fine(server)
    assert time.monotonic() - started < 5


def test_slow_clients_do_not_hold_up_others(either: ServerProcess) -> None:
    """Slowloris: hundreds of connections with half their headers or half their body,
    kept open; a normal request is answered meanwhile."""
    port = _port(either)
    socks = _partial_bodies(port, "/mcp", 150)
    for _ in range(150):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        socks.append(sock)
    try:
        started = time.monotonic()
        with httpx2.Client(timeout=10) as http:
            r = http.post(either.mcp_url, content=INIT, headers=MCP_HEADERS)
        assert r.status_code == 200 and '"result"' in r.text
        assert time.monotonic() - started < 5
    finally:
        for sock in socks:
            sock.close()
    time.sleep(0.5)
    _still_fine(either)


# -- JSON-RPC shapes --------------------------------------------------------------------------


def _rpc(http: httpx2.Client, url: str, body: str | bytes,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    content = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    r = http.post(url, content=content, headers=headers or MCP_HEADERS)
    assert r.status_code < 500, r.text
    payload = r.text.split("data: ", 1)[1].split("\n", 1)[0] if "data: " in r.text else r.text
    return r.status_code, json.loads(payload) if payload.strip() else None


def _counts(shop: Shop) -> tuple[int, int]:
    with shop.engine.connect() as conn:
        return (conn.execute(text("SELECT count(*) FROM shop_session")).scalar_one(),
                conn.execute(text("SELECT count(*) FROM trace_event")).scalar_one())


ODD_IDS = ["null", "1.5", "true", "false", '{"a": 1}', "[1]", "1e309", "-2.0e3"]
SHAPES = [  # (body, words the error holds)
    ('[{"jsonrpc":"2.0","id":1,"method":"ping"}]', ["batches", '"jsonrpc": "2.0"']),
    ("[]", ["batches"]),
    ('"ping"', ["the body is a JSON str"]),
    ("42", ["the body is a JSON int"]),
    ('{"jsonrpc":"1.0","id":1,"method":"ping"}', ['"jsonrpc" must be "2.0"', '"1.0"']),
    ('{"jsonrpc":"2.0","id":1}', ['no "method"']),
    ('{"jsonrpc":"2.0","id":1,"method":null}', ['"method" must be a string']),
    ('{"jsonrpc":"2.0","id":1,"method":["tools/call"]}', ['"method" must be a string']),
    ('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[1,2]}',
     ['"params" must be an object']),
    ('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"x"}',
     ['"params" must be an object']),
    ('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{}}}',
     ['"params.name"', "search_products"]),
    ('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}', ['"params.name"']),
    ('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"open_session",'
     '"arguments":[1]}}', ['"params.arguments" must be an object']),
    ('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"open_session",'
     '"arguments":{},"arguments":"x"}}', ['"params.arguments" must be an object']),
]


def test_jsonrpc_shapes_get_a_jsonrpc_error(http_server: ServerProcess,
                                            proto_shop: Shop) -> None:
    """Requests whose id is not a string or integer: the SDK took them for notifications (202,
    no answer, the client waits forever). Batches, wrong fields, tools/call without a name: a
    pydantic dump or an empty 'Invalid request parameters' before. Each now a JSON-RPC error
    -32600 that says what would be valid, and nothing runs."""
    before = _counts(proto_shop)
    with httpx2.Client(timeout=30) as http:
        for odd in ODD_IDS:
            for method in ['"ping"', '"tools/call","params":{"name":"open_session"}']:
                status, answer = _rpc(http, http_server.mcp_url,
                                      f'{{"jsonrpc":"2.0","id":{odd},"method":{method}}}')
                assert status == 400 and answer["error"]["code"] == -32600, (odd, answer)
                message = answer["error"]["message"]
                assert '"id" must be a string or an integer' in message, message
        for body, words in SHAPES:
            status, answer = _rpc(http, http_server.mcp_url, body)
            assert status == 400 and answer["error"]["code"] == -32600, (body, answer)
            for word in words:
                assert word in answer["error"]["message"], (word, answer)
        for content_type in ["text/plain", "application/x-www-form-urlencoded", ""]:
            status, answer = _rpc(http, http_server.mcp_url, INIT,
                                  {**MCP_HEADERS, "content-type": content_type})
            assert status == 415 and "application/json" in answer["error"]["message"]
        status, answer = _rpc(http, http_server.mcp_url, b'{"a":"' + b"x" * 5_000_000 + b'"}')
        assert status == 413 and "4,194,304 bytes" in answer["error"]["message"]
        # notifications get no answer and run nothing, whatever their method
        for note in ['{"jsonrpc":"2.0","method":"tools/call","params":{"name":"open_session",'
                     '"arguments":{}}}', '{"jsonrpc":"2.0","method":"notifications/nonsense"}']:
            assert _rpc(http, http_server.mcp_url, note) == (202, None)
        # ids of the valid kinds, odd as they look, are answered with themselves
        for good in ['"\\u0000"', "0", "-0", "99999999999999999999999999", '"' + "i" * 50_000
                     + '"']:
            status, answer = _rpc(http, http_server.mcp_url,
                                  f'{{"jsonrpc":"2.0","id":{good},"method":"ping"}}')
            assert status == 200 and answer["result"] == {} and answer["id"] == json.loads(good)
    assert _counts(proto_shop) == before
    _still_fine(http_server)


def test_jsonrpc_shapes_on_the_env_server(env_server: ServerProcess) -> None:
    """The env server's ``/mcp`` is the same endpoint: the same answers (its Guard answers a
    JSON object without ``jsonrpc`` first, as OpenEnv's /mcp does)."""
    with httpx2.Client(timeout=30) as http:
        for odd in ODD_IDS[:4]:
            status, answer = _rpc(http, env_server.mcp_url,
                                  f'{{"jsonrpc":"2.0","id":{odd},"method":"ping"}}')
            assert status == 400 and '"id" must be a string' in answer["error"]["message"]
        for body, words in SHAPES[:2] + SHAPES[10:13]:
            status, answer = _rpc(http, env_server.mcp_url, body)
            assert status == 400 and words[0] in answer["error"]["message"], (body, answer)
    _still_fine(env_server)


def test_deep_and_huge_json_on_mcp(http_server: ServerProcess, proto_shop: Shop) -> None:
    """10^5 levels of objects or arrays: a parse error; a million-element array as an argument:
    the tool's typed error; nothing runs."""
    before = _counts(proto_shop)
    with httpx2.Client(timeout=60) as http:
        for deep in ['{"a":' * 100_000 + "1" + "}" * 100_000, "[" * 100_000 + "]" * 100_000]:
            status, answer = _rpc(http, http_server.mcp_url,
                                  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":'
                                  '{"name":"search_products","arguments":{"query":' + deep
                                  + "}}}")
            assert status == 400 and answer["error"]["code"] == -32700
        many = ",".join(["1"] * 1_000_000)
        status, answer = _rpc(http, http_server.mcp_url,
                              '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":'
                              '"search_products","arguments":{"query":[' + many + "]}}}")
        assert status == 200 and answer["result"]["isError"]
        assert "query" in answer["result"]["content"][0]["text"]
    assert _counts(proto_shop)[0] == before[0]
    _still_fine(http_server)


# -- the env server: strings that cannot be stored, ids of odd shapes -------------------------


def _reset(http: httpx2.Client, **extra: Any) -> str:
    r = http.post("/reset", json={"family": "purchase", "difficulty": 1, "seed": 1, **extra})
    assert r.status_code == 200, r.text
    return str(r.json()["observation"]["episode_id"])


LONE = [  # a step body with a lone surrogate, as a JSON escape (no UTF-8 can carry one)
    '{"episode_id":"%s","action":{"tool_calls":[{"name":"search_products",'
    '"arguments":{"query":"\\ud800"}}]}}',
    '{"episode_id":"%s","action":{"tool_calls":[{"name":"search_products",'
    '"arguments":{"\\udc00":"a"}}]}}',
    '{"episode_id":"%s","action":{"message":"hi \\udfff"}}',
]


def test_lone_surrogates_are_refused_and_the_episode_goes_on(env_server: ServerProcess
                                                             ) -> None:
    """A lone surrogate in a tool argument, an argument name or a message: the step ran, its
    state could not be stored, the answer was a 500 and the episode was lost. Now a 400 that
    says what is wrong, and the episode is untouched."""
    with httpx2.Client(base_url=env_server.base, timeout=60) as http:
        episode_id = _reset(http)
        headers = {"content-type": "application/json"}
        for body in LONE:
            r = http.post("/step", content=body.replace("%s", episode_id).encode(),
                          headers=headers)
            assert r.status_code == 400, r.text
            assert "lone surrogate" in r.json()["error"] and "UTF-8" in r.json()["error"]
        r = http.post("/reset", content=b'{"family":"purchase","difficulty":1,"policy":'
                      b'"\\ud800"}', headers=headers)
        assert r.status_code in (400, 422) and "surrogate" in r.text
        pair = LONE[0].replace("\\ud800", "\\ud83d\\ude00").replace("%s", episode_id)
        assert http.post("/step", content=pair.encode(), headers=headers).status_code == 200
        state = http.get("/state", params={"episode_id": episode_id}).json()
        assert (state["step_count"], state["tool_calls"]) == (1, 1)
    _still_fine(env_server)


async def test_websocket_messages_that_are_not_objects_keep_the_session(
        env_server: ServerProcess) -> None:
    """Over the WebSocket: an array got an AttributeError's text, and a bare number ended the
    session (with its episode); binary garbage, lone surrogates and a refused reset (which
    dropped the session's running episode before) leave the session and its episode as they
    were."""
    ws_url = env_server.base.replace("http://", "ws://") + "/ws"
    async with connect(ws_url) as ws:
        await ws.send(json.dumps({"type": "reset", "data": {
            "family": "purchase", "difficulty": 1, "seed": 1}}))
        episode_id = json.loads(await ws.recv())["data"]["observation"]["episode_id"]
        for message in ["[1, 2]", "5", '"state"', "null", "true", "", b"\xff\xfe\x00",
                        '{"type":"step","data":{"message":"\\ud800"}}']:
            await ws.send(message)
            answer = json.loads(await ws.recv())
            assert answer["type"] == "error", (message, answer)
            assert answer["data"]["code"] == "INVALID_JSON", answer
            assert '"type": "reset" | "step"' in answer["data"]["message"]
        for refused in [{"family": "gardening", "difficulty": 1},
                        {"family": "purchase", "difficulty": 1, "episode_id": "a\u0000b"}]:
            await ws.send(json.dumps({"type": "reset", "data": refused}))
            assert json.loads(await ws.recv())["type"] == "error"
        await ws.send(json.dumps({"type": "state"}))
        state = json.loads(await ws.recv())
        assert state["type"] == "state" and state["data"]["episode_id"] == episode_id
        assert state["data"]["done"] is False
    await asyncio.sleep(0.2)
    _still_fine(env_server)


ODD_SHAPES = ["../../etc/passwd", "a/b?c=d#e", "%2e%2e", "ß🙂‮", '"quoted"', "x" * 255,
              "' OR '1'='1"]
CONTROL = ["\u0000", "a\u0000b", "line\nbreak", "tab\there", "\u007f"]


def _odd_ids(base: str) -> None:
    with httpx2.Client(base_url=base, timeout=60) as http:
        for episode_id in ODD_SHAPES:  # printable: accepted, and found again by the same id
            assert _reset(http, episode_id=episode_id) == episode_id
            state = http.get("/state", params={"episode_id": episode_id})
            assert state.status_code == 200 and state.json()["episode_id"] == episode_id
            assert http.post("/close", json={"episode_id": episode_id}).status_code == 200
        r = http.post("/reset", json={"family": "purchase", "difficulty": 1,
                                      "episode_id": "x" * 256})
        assert r.status_code == 422 and "at most 255 characters" in r.text
        for episode_id in CONTROL:
            r = http.post("/reset", json={"family": "purchase", "difficulty": 1,
                                          "episode_id": episode_id})
            assert r.status_code == 422 and "control character" in r.json()["error"], r.text
            for call in [lambda e: http.get("/state", params={"episode_id": e}),
                         lambda e: http.get("/record", params={"episode_id": e}),
                         lambda e: http.post("/close", json={"episode_id": e}),
                         lambda e: http.post("/step", json={"episode_id": e,
                                                            "action": {"done": True}})]:
                r = call(episode_id)
                assert r.status_code == 404, r.text
                assert "control character" in r.json()["error"]
        assert http.get("/health").json()["status"] == "healthy"


def test_episode_ids_of_odd_shapes(env_server: ServerProcess) -> None:
    """Traversal, query syntax, unicode, quotes, 255 characters: ids like any other. Control
    characters: refused at reset (422), unknown everywhere else (404)."""
    _odd_ids(env_server.base)
    _still_fine(env_server)


def test_episode_ids_with_nul_on_postgresql(pg_shop: tuple[str, str, Path],
                                            tmp_path: Path) -> None:
    """PostgreSQL text cannot hold NUL: a reset or lookup with one answered 500 (DataError)."""
    url, schema, _ = pg_shop
    with _env_process(["--db", url, "--schema", schema], tmp_path / "env-pg.log") as proc:
        _odd_ids(proc.base)
        _still_fine(proc)
