"""``row_problems`` and ``validate``: exported rows checked against the documented fields,
message shapes, tool-call pairing and tool specs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from episodes.export.conversations import _arguments_object
from episodes.export.formats import (
    FIELDS,
    KINDS,
    METADATA_FIELDS,
    ArgumentsForm,
    ExportError,
)

__all__ = ["ROLES", "row_problems", "validate"]

ROLES = ("system", "user", "assistant", "tool")
_MESSAGE_KEYS = {
    "system": {"role", "content"},
    "user": {"role", "content"},
    "assistant": {"role", "content", "tool_calls"},
    "tool": {"role", "tool_call_id", "name", "content"},
}
_MAX_LISTED_PROBLEMS = 5


def _call_problems(call: Any, at: str, arguments: ArgumentsForm) -> list[str]:
    if not isinstance(call, dict) or set(call) != {"id", "type", "function"}:
        return [f"{at}: a tool call must have exactly 'id', 'type' and 'function'"]
    out = []
    if not isinstance(call["id"], str) or not call["id"]:
        out.append(f"{at}.id: must be a non-empty string")
    if call["type"] != "function":
        out.append(f"{at}.type: must be 'function'")
    fn = call["function"]
    if not isinstance(fn, dict) or set(fn) != {"name", "arguments"}:
        return [*out, f"{at}.function: must have exactly 'name' and 'arguments'"]
    if not isinstance(fn["name"], str) or not fn["name"]:
        out.append(f"{at}.function.name: must be a non-empty string")
    args = fn["arguments"]
    if arguments == "dict" and not isinstance(args, dict):
        out.append(f"{at}.function.arguments: must be a JSON object (dict), got "
                   f"{type(args).__name__}")
    elif arguments == "json":
        try:
            _arguments_object(args, at)
        except ExportError as exc:
            out.append(f"{at}.function.arguments: {str(exc).split(': ', 1)[1]}")
    return out


def _conversation_problems(parts: Sequence[tuple[str, Any]], arguments: ArgumentsForm
                           ) -> list[str]:
    """Problems of one conversation given as labelled lists of messages (e.g. ``prompt`` then
    ``chosen``): message shapes, system first, a user message before any assistant one, and
    every tool message answering a call of the assistant message before it."""
    out: list[str] = []
    pending: dict[str, str] = {}  # unanswered calls of the last assistant message: id -> name
    position = 0
    seen_user = False
    for label, messages in parts:
        for i, msg in enumerate(messages):
            at = f"{label}[{i}]"
            position += 1
            if not isinstance(msg, dict) or msg.get("role") not in ROLES:
                out.append(f"{at}: must be a message with a role of {', '.join(ROLES)}")
                continue
            role = msg["role"]
            extra = set(msg) - _MESSAGE_KEYS[role]
            if extra:
                out.append(f"{at}: unexpected keys for a {role} message: "
                           f"{', '.join(sorted(extra))}")
            if role != "tool" and pending:
                out.append(f"{at}: tool call(s) {', '.join(sorted(pending))} of the assistant "
                           "message before have no tool message")
                pending = {}
            content = msg.get("content")
            if not isinstance(content, str):
                out.append(f"{at}.content: must be a string")
            if role == "system":
                if position != 1:
                    out.append(f"{at}: a system message may only come first")
            elif role == "user":
                seen_user = True
            elif role == "assistant":
                if not seen_user:
                    out.append(f"{at}: an assistant message before any user message")
                calls = msg.get("tool_calls")
                if calls is None:
                    if not content:
                        out.append(f"{at}: an assistant message needs content or tool_calls")
                    continue
                if not isinstance(calls, list) or not calls:
                    out.append(f"{at}.tool_calls: must be a non-empty list")
                    continue
                for k, call in enumerate(calls):
                    problems = _call_problems(call, f"{at}.tool_calls[{k}]", arguments)
                    out += problems
                    if not problems:
                        if call["id"] in pending:
                            out.append(f"{at}.tool_calls[{k}].id: {call['id']!r} repeated")
                        pending[call["id"]] = call["function"]["name"]
            else:  # tool
                call_id, name = msg.get("tool_call_id"), msg.get("name")
                if not isinstance(call_id, str) or not isinstance(name, str):
                    out.append(f"{at}: a tool message needs 'tool_call_id' and 'name' strings")
                elif call_id not in pending:
                    out.append(f"{at}: tool_call_id {call_id!r} answers no call of the "
                               "assistant message before it")
                elif pending.pop(call_id) != name:
                    out.append(f"{at}.name: {name!r} is not the name of call {call_id!r}")
    if pending:
        out.append(f"tool call(s) {', '.join(sorted(pending))} at the end have no tool message")
    return out


def _tools_problems(tools: Any) -> list[str]:
    if not isinstance(tools, list):
        return ["tools: must be a list of function specs"]
    out = []
    for i, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if (not isinstance(fn, dict) or tool.get("type") != "function"
                or not isinstance(fn.get("name"), str)
                or not isinstance(fn.get("parameters"), dict)):
            out.append(f"tools[{i}]: must be {{'type': 'function', 'function': {{'name', "
                       "'description', 'parameters'}}")
    return out


def _messages_list(row: dict[str, Any], field: str) -> list[str]:
    value = row.get(field)
    if not isinstance(value, list) or not value:
        return [f"{field}: must be a non-empty list of messages"]
    return []


def _starts_with_assistant(row: dict[str, Any], field: str) -> list[str]:
    first = row[field][0]
    if not isinstance(first, dict) or first.get("role") != "assistant":
        return [f"{field}[0]: must be an assistant message (the completion starts there)"]
    return []


def row_problems(row: Any, kind: str, *, arguments: ArgumentsForm = "dict") -> list[str]:
    """What is wrong with one exported row of ``kind`` (``sft``, ``dpo`` or ``kto``): the
    documented fields and optional metadata and no others, message shapes and tool-call
    pairing, tool specs; an empty list for a good row."""
    if kind not in FIELDS:
        raise ExportError(f"unknown kind {kind!r}; kinds are {', '.join(KINDS)}")
    if not isinstance(row, dict):
        return ["a row must be a JSON object"]
    out = [f"missing field {f!r}" for f in FIELDS[kind] if f not in row]
    allowed = set(FIELDS[kind]) | set(METADATA_FIELDS[kind])
    out += [f"unexpected field {f!r}" for f in row if f not in allowed]
    if out:
        return out
    out += _tools_problems(row["tools"])
    if kind == "sft":
        out += _messages_list(row, "messages")
        if not out:
            out += _conversation_problems([("messages", row["messages"])], arguments)
            if not any(isinstance(m, dict) and m.get("role") == "assistant"
                       for m in row["messages"]):
                out.append("messages: no assistant message")
    elif kind == "dpo":
        lists = [p for f in ("prompt", "chosen", "rejected") for p in _messages_list(row, f)]
        out += lists
        if not lists:
            out += _starts_with_assistant(row, "chosen") + _starts_with_assistant(row, "rejected")
            out += _conversation_problems([("prompt", row["prompt"]), ("chosen", row["chosen"])],
                                          arguments)
            out += _conversation_problems(
                [("prompt", row["prompt"]), ("rejected", row["rejected"])], arguments)
            if row["chosen"] == row["rejected"]:
                out.append("chosen and rejected are the same")
    else:
        lists = _messages_list(row, "prompt") + _messages_list(row, "completion")
        out += lists
        if not lists:
            out += _starts_with_assistant(row, "completion")
            out += _conversation_problems(
                [("prompt", row["prompt"]), ("completion", row["completion"])], arguments)
        if not isinstance(row["label"], bool):
            out.append("label: must be true or false")
    return list(dict.fromkeys(out))  # a problem seen through both DPO branches, once


def validate(rows: Iterable[Any], kind: str, *, arguments: ArgumentsForm = "dict") -> int:
    """Check every row with ``row_problems``; return the number of rows, or raise
    ``ExportError`` listing the first problems (``row N: ...``, N from 1)."""
    problems: list[str] = []
    count = 0
    for count, row in enumerate(rows, 1):
        problems += [f"row {count}: {p}" for p in row_problems(row, kind, arguments=arguments)]
    if problems:
        listed = "; ".join(problems[:_MAX_LISTED_PROBLEMS])
        more = len(problems) - _MAX_LISTED_PROBLEMS
        raise ExportError(f"not valid {kind} rows: {listed}"
                          + (f" (+{more} more)" if more > 0 else ""))
    return count
