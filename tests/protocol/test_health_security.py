"""``GET /health`` sits behind the same DNS-rebinding checks as ``/mcp``: Host and Origin are
checked against one list of allowed values (localhost plus the configured ones)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from mcp_shop import Shop
from mcp_shop.server import build_server
from mcp_shop.server.http_app import build_http_app


@pytest.fixture(scope="module")
def client(proto_shop: Shop) -> Iterator[TestClient]:
    app = build_http_app(build_server(proto_shop), allowed_hosts=["shop.test", "api.shop.test:*"],
                         allowed_origins=["https://app.shop.test"])
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:  # runs the lifespan
        yield client


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 200),
    ({"host": "localhost:8000"}, 200),
    ({"host": "shop.test"}, 200),
    ({"host": "api.shop.test:8443"}, 200),
    ({"origin": "http://localhost:3000"}, 200),
    ({"origin": "https://app.shop.test"}, 200),
    ({"host": "evil.example"}, 421),
    ({"host": "shop.test:8443"}, 421),
    ({"host": "evil.example", "origin": "https://app.shop.test"}, 421),
    ({"origin": "http://evil.example"}, 403),
    ({"origin": "https://app.shop.test.evil.example"}, 403),
])
def test_health_checks_host_and_origin_like_mcp(client: TestClient, headers: dict[str, str],
                                                status: int) -> None:
    health = client.get("/health", headers=headers)
    mcp = client.post("/mcp", headers={**headers, "content-type": "application/json",
                                       "accept": "application/json, text/event-stream"},
                      content=b"{}")
    assert health.status_code == status, health.text
    if status == 200:
        assert health.json()["status"] == "ok" and "catalog" in health.json()
        assert mcp.status_code not in (421, 403)
    else:
        assert "catalog" not in health.text and "version" not in health.text
        assert mcp.status_code == status, "the same answer as /mcp"


def test_health_of_an_app_built_elsewhere_allows_localhost_only(proto_shop: Shop) -> None:
    app = build_server(proto_shop).streamable_http_app(stateless_http=True)
    client = TestClient(app, base_url="http://127.0.0.1:8000")
    assert client.get("/health").status_code == 200
    assert client.get("/health", headers={"host": "evil.example"}).status_code == 421
