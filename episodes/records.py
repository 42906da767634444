"""The rollout record: one played episode as one JSONL line, a versioned pydantic model.

``Rollout`` is the one definition of the record: ``shop-episodes run`` writes through it, the
HTTP, TRL and Gym environments hand out records made by it, and ``report`` and ``export`` read
every line through ``parse_record``, which names the file, the line and what is wrong. Its JSON
schema is published in ``docs/rollout.schema.json`` (``shop-episodes records --schema``).

Versions: 2 is written now (the same fields as 1, each reward component with its typed
``reasons``); lines of version 1 are read as they are (``reasons`` empty). Any other version is
refused with the versions this reader knows.

    shop-episodes records --schema > docs/rollout.schema.json
    shop-episodes records runs/*.jsonl          # check rollout files, line by line
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)
from pydantic_core import ErrorDetails

from verifiers.types import Component, TraceEntry

__all__ = [
    "READABLE_SCHEMA_VERSIONS",
    "ROLLOUT_SCHEMA_VERSION",
    "CurriculumMark",
    "FunctionCall",
    "FunctionTool",
    "RecordError",
    "Rollout",
    "RolloutMessage",
    "RolloutMetrics",
    "RolloutToolCall",
    "StopReason",
    "Tau2Outcome",
    "add_records_command",
    "parse_record",
    "rollout_schema",
]

ROLLOUT_SCHEMA_VERSION = 2
READABLE_SCHEMA_VERSIONS = (1, 2)

StopReason = Literal["shopper_done", "shopper_quit", "agent_done", "agent_idle",
                     "tool_budget", "turn_budget"]

_CLOSED = ConfigDict(extra="forbid")


class RecordError(ValueError):
    """A rollout record that cannot be read: where it is (file:line, or record n) and what is
    wrong with it."""


class FunctionCall(BaseModel):
    """The function part of a tool call: its name and its arguments as JSON text."""

    model_config = _CLOSED

    name: str = Field(min_length=1)
    arguments: str = Field(description="JSON text of an object, e.g. '{\"order_id\": \"O-1\"}'")


class RolloutToolCall(BaseModel):
    """A tool call of an assistant message (OpenAI chat format)."""

    model_config = _CLOSED

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall

    @model_validator(mode="after")
    def _arguments_are_an_object(self) -> RolloutToolCall:
        try:
            parsed = json.loads(self.function.arguments)
        except ValueError as exc:
            raise ValueError(f"tool-call arguments are not valid JSON ({exc})") from None
        if not isinstance(parsed, dict):
            raise ValueError("tool-call arguments must be a JSON object, got "
                             f"{type(parsed).__name__}")
        return self


class RolloutMessage(BaseModel):
    """One message of the conversation (OpenAI/TRL chat format): the shopper is ``user``, the
    agent ``assistant`` (text, or tool calls), tool results ``tool`` (JSON text)."""

    model_config = _CLOSED

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[RolloutToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> RolloutMessage:
        if self.tool_calls is not None and self.role != "assistant":
            raise ValueError("only an assistant message has 'tool_calls'")
        if self.role == "tool" and self.tool_call_id is None:
            raise ValueError("a tool message needs 'tool_call_id'")
        return self

    @model_serializer(mode="wrap")
    def _without_nones(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class FunctionTool(BaseModel):
    """A tool the agent was offered (OpenAI function format, without ``session_id``)."""

    model_config = _CLOSED

    type: Literal["function"] = "function"
    function: dict[str, Any] = Field(description="{'name', 'description', 'parameters'}")

    @model_validator(mode="after")
    def _named(self) -> FunctionTool:
        if not isinstance(self.function.get("name"), str):
            raise ValueError("a function spec needs a 'name'")
        return self


class RolloutMetrics(BaseModel):
    """What the episode cost."""

    model_config = _CLOSED

    turns: int = Field(ge=0, description="agent messages sent to the shopper")
    tool_calls: int = Field(ge=0)
    errors: int = Field(ge=0, description="tool calls that failed")
    wall_time_s: float = Field(ge=0, description="time spent in the episode (not reproducible)")


class CurriculumMark(BaseModel):
    """Where a curriculum run drew the episode: the family's window then, and the draw."""

    model_config = _CLOSED

    window: tuple[int, int] = Field(description="[l, h] of the family when drawn")
    episode: int = Field(ge=0, description="the draw's index in the curriculum run")


class GoldFailure(BaseModel):
    """A gold action of a tau2 task that the tools refused when the DB check replayed it
    (skipped, as tau2 skips it): its place among the gold actions, tool and error code."""

    model_config = _CLOSED

    index: int = Field(ge=0)
    tool: str
    code: str


class Tau2Outcome(BaseModel):
    """tau2-bench's own verdict of a tau2 retail episode (``episodes.tau2.scoring``), kept
    apart from this project's components: tau2's reward (None when a component of its basis
    was not judged, e.g. NL assertions without a judge), its components and how it ended."""

    model_config = _CLOSED

    task_id: str = Field(description="the task's id in tau2's tasks.json")
    reward: float | None = Field(description="tau2's reward; None: not judged")
    reward_scope: str = Field(description="'tau2' when the record's reward is tau2's; else "
                              "which components the record's reward covers")
    reward_basis: list[str]
    components: dict[str, float | None] = Field(description="each component of the basis: "
                                                "1, 0, or None (not judged)")
    db_match: bool = Field(strict=True)
    communicate: list[bool] = Field(description="per communicate_info string: said or not")
    nl_assertions: list[bool] | None = Field(description="per NL assertion, or None: not "
                                             "judged")
    termination: str = Field(description="user_stop, agent_stop, max_steps, "
                             "too_many_errors or agent_idle")
    note: str = ""
    failed_gold_calls: list[GoldFailure] = Field(
        default_factory=list, description="gold actions the tools refused on replay (tau2's "
        "DB check skips them; its own data has tasks whose gold holds such calls)")


class Rollout(BaseModel):
    """One episode, as one JSONL line (``docs/tasks.md`` and the README, "Records")."""

    model_config = ConfigDict(extra="forbid", title="Rollout")

    schema_version: int = Field(default=ROLLOUT_SCHEMA_VERSION, description=(
        f"the record format; this reader reads {READABLE_SCHEMA_VERSIONS}"))
    rollout_id: str = Field(min_length=1, description="stable per (task, policy, trial)")
    group_id: str = Field(min_length=1, description="rollouts of the same task (for GRPO/DPO)")
    task_id: str = Field(min_length=1)
    family: str = Field(min_length=1)
    difficulty: int = Field(ge=0, le=20)
    seed: int = Field(ge=0)
    trial: int = Field(ge=0)
    env_version: str
    policy: str = Field(description="the agent's name")
    messages: list[RolloutMessage] = Field(min_length=1)
    tools: list[FunctionTool] = Field(description="the tools the agent was offered")
    reward: float = Field(allow_inf_nan=False, strict=True)
    reward_mode: Literal["sparse", "shaped", "dense"]
    reward_components: list[Component]
    success: bool = Field(strict=True)
    metrics: RolloutMetrics
    terminated: bool = Field(strict=True, description="the task ended (shopper or agent)")
    truncated: bool = Field(strict=True, description="a budget ran out")
    stop_reason: StopReason
    trace: list[TraceEntry] = Field(description="the server's record of every tool call")
    curriculum: CurriculumMark | None = Field(default=None, description="curriculum runs only")
    tau2: Tau2Outcome | None = Field(default=None, description="tau2 retail episodes only: "
                                     "tau2's own verdict")

    @model_validator(mode="after")
    def _consistent(self) -> Rollout:
        if self.terminated == self.truncated:
            raise ValueError("exactly one of 'terminated' and 'truncated' must be true")
        return self

    @model_serializer(mode="wrap")
    def _without_absent_curriculum(self, handler: SerializerFunctionWrapHandler
                                   ) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        for optional in ("curriculum", "tau2"):
            if out.get(optional) is None:
                out.pop(optional, None)
        return out

    def to_record(self) -> dict[str, Any]:
        """The record as JSON-ready data (what one JSONL line holds)."""
        return self.model_dump(mode="json")


def rollout_id(group_id: str, policy: str, trial: int) -> str:
    """The stable id of a rollout: one per (task group, agent, trial)."""
    return hashlib.sha256(f"{group_id}:{policy}:{trial}".encode()).hexdigest()[:16]


def rollout_schema() -> dict[str, Any]:
    """The JSON schema of a rollout record (``docs/rollout.schema.json``)."""
    schema = Rollout.model_json_schema()
    schema["$id"] = f"https://mcp-shop/rollout.schema.json#v{ROLLOUT_SCHEMA_VERSION}"
    return schema


# -- reading -----------------------------------------------------------------------------------

_TYPE_WORDS = {
    "int_type": "must be an integer", "int_parsing": "must be an integer",
    "int_from_float": "must be an integer", "bool_type": "must be true or false",
    "bool_parsing": "must be true or false", "float_type": "must be a number",
    "float_parsing": "must be a number", "finite_number": "must be a finite number",
    "string_type": "must be text", "list_type": "must be a list",
    "dict_type": "must be a JSON object", "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object", "tuple_type": "must be a list",
    "extra_forbidden": "is not a field of a rollout record",
}


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(error: ErrorDetails) -> str:
    words = _TYPE_WORDS.get(error["type"])
    if error["type"] == "missing":
        words = "missing"
    elif error["type"] == "literal_error":
        words = f"must be {error.get('ctx', {}).get('expected', 'one of the listed values')}"
    elif words is None:
        words = error["msg"].removeprefix("Value error, ")
        words = words[0].lower() + words[1:] if words else words
    got = error.get("input")
    if error["type"] in _TYPE_WORDS and error["type"] != "extra_forbidden":
        shown = json.dumps(got, default=str)
        words += f" (got {shown if len(shown) <= 40 else shown[:37] + '...'})"
    path = _path(tuple(error["loc"]))
    if not path:
        return words
    if "." in path or "[" in path:
        return f"{path}: {words}"
    return f"'{path}' {words}"


def parse_record(data: Any, where: str) -> Rollout:
    """``data`` (a decoded JSONL line) as a ``Rollout``; ``RecordError`` saying where and what
    is wrong otherwise (every missing field, else the first problem)."""
    if not isinstance(data, dict):
        raise RecordError(f"{where}: expected a JSON object (one rollout record per line), "
                          f"got {type(data).__name__}")
    version = data.get("schema_version", ROLLOUT_SCHEMA_VERSION)
    if isinstance(version, bool) or version not in READABLE_SCHEMA_VERSIONS:
        raise RecordError(f"{where}: schema_version {version!r} is not one this reader knows "
                          f"(it reads {' and '.join(map(str, READABLE_SCHEMA_VERSIONS))}); "
                          "upgrade mcp-shop to read it")
    try:
        return Rollout.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        missing = [_path(tuple(e["loc"])) for e in errors
                   if e["type"] == "missing" and len(e["loc"]) == 1]
        if missing:
            raise RecordError(f"{where}: not a rollout record: missing {', '.join(missing)}"
                              ) from None
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise RecordError(f"{where}: {_describe(errors[0])}{more}") from None


# -- the command ----------------------------------------------------------------------------


def cmd_records(args: argparse.Namespace) -> int:
    """Print the schema, or check rollout files line by line."""
    if args.schema:
        print(json.dumps(rollout_schema(), indent=2, sort_keys=True))
        return 0
    if not args.paths:
        raise RecordError("give rollout files to check, or --schema")
    from episodes.report import ReportError, read_rollouts

    count = 0
    try:
        for _ in read_rollouts(args.paths):
            count += 1
    except ReportError as exc:
        raise RecordError(str(exc)) from None
    print(f"{count} rollout record(s), all valid", file=sys.stderr)
    return 0


def add_records_command(sub: Any) -> None:
    """Add ``records`` (``--schema``, or check files) to a ``shop-episodes`` sub-parser set."""
    p = sub.add_parser("records", help="the rollout record's JSON schema, or check rollout "
                       "files")
    p.add_argument("paths", nargs="*", help="rollout JSONL files or directories to check")
    p.add_argument("--schema", action="store_true", help="print the rollout JSON schema")
    p.set_defaults(fn=cmd_records)
