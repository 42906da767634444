"""The official MCP Inspector as the client: every tool called with valid arguments over stdio
(``mcp-shop serve``) and over HTTP (``mcp-shop serve --http``) must pass its checks (each
structured result against the tool's output schema, formats included), and ``tools/list
--strict`` must report no portability problem.

The Inspector is the npm package ``@modelcontextprotocol/inspector`` (it needs Node >= 22.19);
``.ci/run`` installs it with Node 22 (npm's ``node@22``) into ``.inspector/`` and sets
``MCP_SHOP_INSPECTOR`` to its ``mcp-inspector``; otherwise ``mcp-inspector`` is looked up on
PATH. Without it the tests skip with the reason, and fail under ``CI=true``. One-shot
``mcp-inspector --cli`` runs check the tool lists; the tour (``tests/protocol/tour.py``) runs
through ``mcpdo``, the Inspector's connection CLI from the same package, so each transport
keeps one connection (one stdio server) for all its calls.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from mcp_shop import Shop
from mcp_shop.server import build_server
from mcp_shop.tool_catalog import TOOLS
from tests.conftest import TEST_SEED, TEST_SIZE
from tests.protocol.journey import ToolFailed
from tests.protocol.procs import ServerProcess
from tests.protocol.tour import run_tour, tour_seed

INSPECTOR_ENV = "MCP_SHOP_INSPECTOR"
MIN_NODE = (22, 19)
REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 60  # seconds, per Inspector run


def inspector_or_skip() -> Path:
    """The ``mcp-inspector`` executable, with ``mcpdo`` and Node >= 22.19 beside it or on
    PATH; without them the test is skipped with the reason (under CI=true it fails)."""
    given = os.environ.get(INSPECTOR_ENV)
    found = given or shutil.which("mcp-inspector")
    reason = None
    if not found or not os.access(found, os.X_OK):
        reason = (f"{INSPECTOR_ENV}={given} is not an executable" if given else
                  f"mcp-inspector is not on PATH and {INSPECTOR_ENV} is not set")
    else:
        path = Path(found)
        node = shutil.which("node", path=_path(path))
        version = _node_version(node) if node else None
        if shutil.which("mcpdo", path=_path(path)) is None:
            reason = f"mcpdo (from the same package) is not beside {path} or on PATH"
        elif version is None or version < MIN_NODE:
            reason = (f"the Inspector needs Node >= {'.'.join(map(str, MIN_NODE))}, found "
                      f"{'.'.join(map(str, version)) if version else 'none'} ({node})")
    if reason:
        reason += ("; .ci/run installs it: npm install --prefix .inspector node@22 "
                   "@modelcontextprotocol/inspector")
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires the MCP Inspector: {reason}")
        pytest.skip(reason)
    return path


def _path(executable: Path) -> str:
    """PATH with the executable's folder first (the Inspector's scripts run `node`)."""
    return os.pathsep.join([str(executable.parent), os.environ.get("PATH", "")])


def _node_version(node: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    except OSError:
        return None
    m = re.match(r"v(\d+)\.(\d+)", out.stdout.strip())
    return tuple(int(g) for g in m.groups()) if m else None


class Inspector:
    """Runs the Inspector's CLIs with a private home and a private ``mcpdo`` daemon."""

    def __init__(self, executable: Path, home: Path, config: Path) -> None:
        self.executable = executable
        self.config = config
        self.env = {**os.environ, "PATH": _path(executable), "HOME": str(home),
                    "MCP_INSPECTOR_SECRET_STORE": "memory", "NO_COLOR": "1"}
        self.runs = 0
        private = self.mcpdo("private", fmt=None).stdout
        self.env.update(dict(re.findall(r"export (\w+)='([^']*)'", private)))
        assert "MCP_INSPECTOR_DAEMON_DIR" in self.env, private

    def run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        self.runs += 1
        binary = str(self.executable.parent / program) if program == "mcpdo" else str(
            self.executable)
        return subprocess.run([binary, *args], capture_output=True, text=True, env=self.env,
                              timeout=TIMEOUT, cwd=REPO)

    def cli(self, server: str, *args: str) -> subprocess.CompletedProcess[str]:
        """``mcp-inspector --cli`` against a server of the config file."""
        return self.run("mcp-inspector", "--cli", "--config", str(self.config), "--server",
                        server, *args)

    def mcpdo(self, *args: str, fmt: str | None = "json") -> subprocess.CompletedProcess[str]:
        return self.run("mcpdo", *(["--format", fmt] if fmt else []), *args)

    def call(self, server: str, tool: str, arguments: dict[str, Any]) -> Any:
        """One ``tools/call`` on the server's connection; the structured result."""
        done = self.mcpdo("--conn", server, "tools/call", tool, "--tool-args-json",
                          json.dumps(arguments))
        if done.returncode != 0:
            raise ToolFailed(f"Inspector: {tool}({arguments}) exited {done.returncode}: "
                             f"{done.stdout.strip()} {done.stderr.strip()}"[:2000])
        result = json.loads(done.stdout)
        assert not result.get("isError"), (tool, result)
        return result["structuredContent"]


@pytest.fixture(scope="module")
def executable() -> Path:
    """The Inspector's CLI (asked for first, so a skip starts no server)."""
    return inspector_or_skip()


@pytest.fixture(scope="module")
def inspector(executable: Path, shop_url: str, http_server: ServerProcess,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inspector]:
    """The Inspector with a config naming the two servers (stdio: a fresh ``mcp-shop serve``
    on the test database; http: the module's HTTP server); its daemon stops afterwards."""
    home = tmp_path_factory.mktemp("inspector-home")
    config = home / "servers.json"
    serve = ["-m", "mcp_shop.cli", "serve", "--db", shop_url, "--seed", str(TEST_SEED),
             "--size", str(TEST_SIZE), "--log-level", "WARNING"]
    config.write_text(json.dumps({"mcpServers": {
        "stdio": {"command": sys.executable, "args": serve, "cwd": str(REPO)},
        "http": {"type": "streamable-http", "url": http_server.mcp_url},
    }}))
    inspector = Inspector(executable, home, config)
    try:
        yield inspector
    finally:
        inspector.mcpdo("daemon", "stop", fmt=None)


@pytest.fixture(scope="module")
def seed(proto_shop: Shop) -> int:
    """A session seed whose history allows the whole tour (found in memory)."""

    async def find() -> int:
        async with Client(build_server(proto_shop)) as client:

            async def call(tool: str, args: dict[str, Any]) -> Any:
                result = await client.call_tool(tool, args)
                if result.is_error:
                    raise ToolFailed(f"{tool}({args}): {result.content[0].text}")
                return result.structured_content

            return await tour_seed(lambda: call)

    return anyio.run(find)


@pytest.mark.parametrize("server", ["stdio", "http"])
def test_strict_tool_list_has_no_portability_problem(inspector: Inspector,
                                                     server: str) -> None:
    done = inspector.cli(server, "--method", "tools/list", "--strict")
    assert done.returncode == 0, done.stderr[-3000:]
    findings = [line for line in done.stderr.splitlines()
                if line.startswith(("Warning:", "Error:", "  Path:"))]
    assert not findings, done.stderr[-3000:]
    listed = json.loads(done.stdout)["tools"]
    assert sorted(t["name"] for t in listed) == sorted(t.name for t in TOOLS)


def _tour(inspector: Inspector, seed: int, server: str) -> tuple[list[Any], float]:
    """The tour on one connection of the Inspector: its steps and how long it took."""
    started = time.monotonic()
    connected = inspector.mcpdo("--config", str(inspector.config), "connect", server)
    assert connected.returncode == 0, connected.stdout + connected.stderr
    try:
        steps = run_tour(lambda tool, args: inspector.call(server, tool, args), seed)
    finally:
        inspector.mcpdo("disconnect", server)
    return steps, time.monotonic() - started


@pytest.fixture(scope="module")
def tours(inspector: Inspector, seed: int) -> dict[str, Future[tuple[list[Any], float]]]:
    """The tour over stdio and over HTTP, run at the same time (each is mostly waiting)."""
    with ThreadPoolExecutor(2) as pool:
        return {server: pool.submit(_tour, inspector, seed, server)
                for server in ("stdio", "http")}


@pytest.mark.parametrize("server", ["stdio", "http"])
def test_every_tool_passes_the_inspector(tours: dict[str, Future[tuple[list[Any], float]]],
                                         server: str) -> None:
    steps, seconds = tours[server].result()
    assert {tool for tool, _ in steps} == {t.name for t in TOOLS}
    print(f"{server}: {len(steps)} calls through the Inspector in {seconds:.1f} s")


def test_missing_inspector_skips_locally_and_fails_under_ci(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(INSPECTOR_ENV, str(tmp_path / "absent" / "mcp-inspector"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="is not an executable"):
        inspector_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires the MCP Inspector"):
        inspector_or_skip()
    old = tmp_path / "bin"
    old.mkdir()
    for name, body in (("mcp-inspector", "exit 0"), ("mcpdo", "exit 0"),
                       ("node", "echo v20.20.2")):
        (old / name).write_text(f"#!/bin/sh\n{body}\n")
        (old / name).chmod(0o755)
    monkeypatch.setenv(INSPECTOR_ENV, str(old / "mcp-inspector"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"Node >= 22\.19, found 20\.20"):
        inspector_or_skip()
