"""The shop's tools as one MCP server for the model: each rollout sees the tools its episode's
reset listed, and each call the model makes is one ``POST /step`` with that one tool call.

Run by the library as ``python -m mcp_shop_prime.toolset`` (one server for the taskset; the
calling rollout's :class:`ShopState` arrives with every call).
"""

from __future__ import annotations

import json
from typing import Any, cast

import verifiers.v1 as vf
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, TextContent, Tool
from pydantic import Field

from mcp_shop_prime import client

__all__ = ["ShopState", "ShopToolset"]


class ShopState(vf.State):
    """One rollout's episode on the env server, shared by the task, the env and the tools."""

    base_url: str = ""
    timeout: float = 120.0
    episode_id: str = ""
    tools: list[dict[str, Any]] = Field(default_factory=list)
    """The episode's tools (OpenAI function format), from the reset answer."""
    opening: str = ""
    """The shopper's first message."""
    done: bool = False
    reward: float | None = None
    success: bool | None = None
    stop_reason: str | None = None
    breakdown: dict[str, Any] | None = None
    turn: int = 0
    tool_calls: int = 0

    def absorb(self, observed: client.Observed) -> None:
        """Take in a step's answer: counters always, the verdict once the episode is over."""
        self.turn, self.tool_calls = observed.turn, observed.tool_calls
        if observed.done:
            self.done = True
            self.reward = observed.reward
            self.success = observed.success
            self.stop_reason = observed.stop_reason
            self.breakdown = observed.breakdown


def _text(content: Any) -> str:
    return content if isinstance(content, str) else json.dumps(content, sort_keys=True)


def _error(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


class ShopToolset(vf.Toolset[vf.SharedToolsetConfig, ShopState]):
    """Bridges the env server's per-episode tools into the library's MCP tool boundary."""

    TOOL_PREFIX = None  # the shop's own tool names, unprefixed

    def register(self, mcp: MCPServer) -> None:
        # The tool list differs per rollout, so the handlers are replaced rather than
        # registered one by one (each sees the calling rollout's state).
        server = cast(Any, mcp)
        server.list_tools = self._with_state(self.list_tools)
        server.call_tool = self._with_state(self.call_tool)

    async def list_tools(self) -> list[Tool]:
        return [Tool(name=spec["function"]["name"],
                     description=spec["function"].get("description") or None,
                     input_schema=spec["function"].get("parameters") or {"type": "object"})
                for spec in self.state.tools]

    async def call_tool(self, name: str, arguments: dict[str, Any],
                        context: Context | None = None) -> CallToolResult:
        state = self.state
        if not state.episode_id:
            return _error("no episode is running for this rollout")
        if state.done:
            return _error("the episode is over (the conversation has ended); no more tools "
                          "can be used")
        action = {"tool_calls": [{"name": name, "arguments": dict(arguments or {})}]}
        try:
            observed = await client.step(state.base_url, state.episode_id, action,
                                         timeout=state.timeout)
        except client.ShopEnvError as exc:  # e.g. a tool the episode does not offer: 422
            return _error(str(exc))
        state.absorb(observed)
        if not observed.tool_results:  # the tool-call budget ran out before this call
            return _error("tool-call budget exhausted" if observed.done else
                          "the env server ran no tool call")
        result = observed.tool_results[0]
        return CallToolResult(content=[TextContent(type="text", text=_text(result["content"]))],
                              is_error=not result["ok"])


if __name__ == "__main__":
    ShopToolset.run()
