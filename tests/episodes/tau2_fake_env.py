"""A stand-in for ``episodes.tau2.env.Tau2Env`` over the test reference of tau2's tool rules
(tests/mcp_shop/tau2_reference.py): no database, no server. It lets the episode loop, the
users, the oracle and the scoring be tested alone; the real environment is tested through
the CLI and the MCP server in test_tau2_episodes.py."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from mcp_shop.tau2.loader import Tau2Retail
from mcp_shop.tau2.records import TOOL_PARAMS, Task
from mcp_shop.tau2.replay import DbCheck, FailedCall
from mcp_shop.tau2.world import db_hash
from tests.mcp_shop.tau2_reference import Reference, ToolFailed, gold_calls, replay

__all__ = ["FakeEnv"]


@dataclass
class _Tool:
    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass
class _Record:
    seq: int
    tool: str
    arguments: dict[str, Any]
    ok: bool
    result: Any
    error_code: str | None = None
    error_message: str | None = None
    latency_ms: float = 0.0


class _Link:
    def __init__(self, env: FakeEnv) -> None:
        self.env = env

    async def __aenter__(self) -> _Link:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def list_tools(self) -> list[Any]:
        return [_Tool(name, f"tau2 tool {name}", {
            "type": "object", "required": [*params, "session_id"],
            "properties": {**{p: {"type": "string"} for p in params},
                           "session_id": {"type": "string"}}})
            for name, params in TOOL_PARAMS.items()]

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[bool, Any]:
        args = dict(arguments)
        sid = args.pop("session_id")
        ref = self.env.sessions[sid]
        log = self.env.logs[sid]
        try:
            result = ref.call(name, args)
        except (ToolFailed, TypeError, KeyError) as exc:
            log.append(_Record(len(log) + 1, name, args, False, None, "tau2_error", str(exc)))
            return False, f"Error: {exc}"
        if hasattr(result, "model_dump"):
            result = result.model_dump()
        log.append(_Record(len(log) + 1, name, args, True, result))
        return True, result


@dataclass
class FakeEnv:
    world: Tau2Retail
    sessions: dict[str, Reference] = field(default_factory=dict)
    logs: dict[str, list[_Record]] = field(default_factory=dict)
    counter: Any = field(default_factory=itertools.count)

    def link(self, connect: str | None = None) -> _Link:
        return _Link(self)

    def open_session(self) -> str:
        sid = f"fake-{next(self.counter)}"
        self.sessions[sid] = Reference(self.world.db)
        self.logs[sid] = []
        return sid

    def db_check(self, session_id: str, task: Task) -> DbCheck:
        gold, failures = replay(self.world.db, gold_calls(task))
        actual, expected = db_hash(self.sessions[session_id].db), db_hash(gold)
        failed = tuple(FailedCall(i, text.split(":")[0], "refused", text)
                       for i, text in enumerate(failures))
        return DbCheck(actual == expected, actual, expected, failed)

    def trace(self, session_id: str) -> list[Any]:
        return list(self.logs[session_id])

    def close_session(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)
