"""A round-robin HTTP reverse proxy for the multi-process tests: the local stand-in for the
nginx of deploy/compose. Each request goes to the next upstream in turn (so consecutive
requests of one client land on different processes); an upstream that refuses the connection
is skipped, as nginx's ``proxy_next_upstream error`` does (nothing was sent to it yet, so this
is safe for POST too). Bodies stream both ways (MCP answers may be server-sent events)."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import httpx2
import uvicorn
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.types import Receive, Scope, Send

_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
        "proxy-authorization", "proxy-authenticate", "host", "content-length"}


class RoundRobin:
    """The proxy's ASGI app over ``upstreams`` (base URLs); ``hits`` counts answers by
    upstream."""

    def __init__(self, upstreams: Sequence[str]) -> None:
        self.upstreams = list(upstreams)
        self.hits: Counter[str] = Counter()
        self._turn = itertools.count()
        self._client: httpx2.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                if message["type"] == "lifespan.startup":
                    self._client = httpx2.AsyncClient(timeout=60)
                    await send({"type": "lifespan.startup.complete"})
            if self._client is not None:
                await self._client.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        assert scope["type"] == "http" and self._client is not None
        request = Request(scope, receive)
        body = await request.body()
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP]
        start = next(self._turn)
        for k in range(len(self.upstreams)):
            upstream = self.upstreams[(start + k) % len(self.upstreams)]
            url = upstream + request.url.path + (f"?{request.url.query}" if request.url.query
                                                 else "")
            outgoing = self._client.build_request(request.method, url, headers=headers,
                                                  content=body)
            try:
                answer = await self._client.send(outgoing, stream=True)
            except httpx2.ConnectError:
                continue  # that process is down: the next one
            self.hits[upstream] += 1
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP}
            response = StreamingResponse(answer.aiter_raw(), status_code=answer.status_code,
                                         headers=kept, background=BackgroundTask(answer.aclose))
            await response(scope, receive, send)
            return
        await JSONResponse({"error": "no upstream answered"}, status_code=502)(scope, receive,
                                                                                 send)


@contextmanager
def serve_proxy(upstreams: Sequence[str]) -> Iterator[tuple[str, RoundRobin]]:
    """The proxy on an ephemeral port of 127.0.0.1 (uvicorn in a thread): its base URL, and
    the app (for its ``hits``)."""
    from mcp_shop.server.http_app import bind

    app = RoundRobin(upstreams)
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the proxy did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", app
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
