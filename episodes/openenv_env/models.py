"""The OpenEnv wire types of the shop env: ``ShopAction`` (what a step does), ``ShopObservation``
(what reset and step answer) and ``ShopState`` (``GET /state`` and the WebSocket ``state``),
subclasses of openenv-core's ``Action``, ``Observation`` and ``State``. Observations and states
serialise to strict JSON: a float JSON cannot hold (an argument ``1e999`` echoed back) is
written as the trace writes it, ``'Infinity'`` (``episodes.http_env.protocol.finite``)."""

from __future__ import annotations

from typing import Any

from openenv.core.env_server.types import Action, Observation, State
from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from episodes.http_env.protocol import finite

__all__ = ["ShopAction", "ShopObservation", "ShopState", "ToolCall", "ToolOutcome"]


class ToolCall(BaseModel):
    """One tool the agent wants called (``session_id`` is added by the server)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="a tool of the reset observation's ``tools``, e.g. "
                      "'search_products'")
    arguments: dict[str, Any] = Field(default_factory=dict, description="the tool's arguments, "
                                      "e.g. {'query': 'desk lamp'}")


class ToolOutcome(BaseModel):
    """A tool call made in the step, and what it returned."""

    model_config = ConfigDict(extra="forbid")

    name: str
    arguments: dict[str, Any]
    ok: bool = Field(description="false: the tool refused (bad arguments, out of stock, ...)")
    content: Any = Field(description="the structured result, or the error text")


class ShopAction(Action):
    """One step: tool calls, then optionally a message to the shopper (which ends the agent's
    turn and gets the shopper's reply), or ``done`` to end the episode."""

    tool_calls: list[ToolCall] = Field(default_factory=list, description="run in order")
    message: str | None = Field(default=None, description="a message to the shopper")
    done: bool = Field(default=False, description="end the episode (it is then scored)")


class ShopObservation(Observation):
    """What reset and step answer. ``episode_id`` names the episode on the plain-HTTP routes;
    ``breakdown`` and ``record`` are set once ``done``."""

    episode_id: str = Field(description="the episode's id: POST /step, GET /state and GET "
                            "/record name it")
    shopper_message: str | None = Field(default=None, description="the shopper's opening "
                                        "(reset) or reply (a step with a message)")
    tool_results: list[ToolOutcome] = Field(default_factory=list)
    turn: int = Field(default=0, description="messages the agent has sent to the shopper")
    tool_calls: int = Field(default=0, description="tool calls made so far")
    tools: list[dict[str, Any]] = Field(default_factory=list, description="the tools (OpenAI "
                                        "function format, without session_id); set on reset")
    task: dict[str, Any] | None = Field(default=None, description="task_id, family, difficulty "
                                        "and seed; set on reset")
    limits: dict[str, int] | None = Field(default=None, description="max_turns and "
                                          "max_tool_calls; set on reset")
    reward_mode: str | None = Field(default=None, description="sparse, shaped or dense; set "
                                    "on reset")
    session_id: str | None = Field(default=None, description="the shop session handle, only "
                                   "with --expose-session (for calling tools over /mcp)")
    terminated: bool = Field(default=False, description="the episode ended on its own terms "
                             "(agent done, shopper done or quit)")
    truncated: bool = Field(default=False, description="a budget ran out (turns, tool calls, "
                            "idle steps)")
    stop_reason: str | None = None
    success: bool | None = Field(default=None, description="set once done")
    breakdown: dict[str, Any] | None = Field(default=None, description="the verifier's reward "
                                             "breakdown; set once done")
    record: dict[str, Any] | None = Field(default=None, description="the rollout record (the "
                                          "line `shop-episodes run` writes); set once done")

    model_config = ConfigDict(ser_json_inf_nan="strings")  # mode="json" writes them so too

    @model_serializer(mode="wrap")
    def _strict_json(self, handler: SerializerFunctionWrapHandler) -> Any:
        return finite(handler(self))


class ShopState(State):
    """An episode's state: its task, progress, conversation, and verdict once done."""

    task: dict[str, Any] | None = None
    turn: int = 0
    tool_calls: int = 0
    done: bool = False
    terminated: bool = False
    truncated: bool = False
    stop_reason: str | None = None
    messages: list[dict[str, Any]] = Field(default_factory=list)
    reward: float | None = None
    success: bool | None = None

    model_config = ConfigDict(ser_json_inf_nan="strings")  # mode="json" writes them so too

    @model_serializer(mode="wrap")
    def _strict_json(self, handler: SerializerFunctionWrapHandler) -> Any:
        return finite(handler(self))
