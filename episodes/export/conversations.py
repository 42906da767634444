"""Rollouts as conversations of the export's message shapes: tool-call arguments, the
checks and filters every kind shares, and the keys that make rows distinct."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from episodes.export.formats import _EPISODE_METADATA, ArgumentsForm, ExportError
from episodes.records import RecordError, parse_record

__all__ = ["chat_messages"]


def _arguments_object(value: Any, where: str) -> dict[str, Any]:
    """A tool call's arguments as a dict: JSON text of an object (the rollout form) or a dict."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise ExportError(f"{where}: tool-call arguments must be JSON text of an object, got "
                          f"{type(value).__name__}")
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise ExportError(f"{where}: tool-call arguments are not valid JSON ({exc})") from None
    if not isinstance(parsed, dict):
        raise ExportError(f"{where}: tool-call arguments must be a JSON object, got "
                          f"{type(parsed).__name__}")
    return parsed


def _check_rollout(record: Any, where: str) -> dict[str, Any]:
    """``record`` validated as a ``Rollout`` (``episodes.records``: the one check of a rollout
    record), in its JSON form; ``ExportError`` saying where and what is wrong otherwise."""
    try:
        return parse_record(record, where).to_record()
    except RecordError as exc:
        raise ExportError(str(exc)) from None


def chat_messages(messages: Sequence[dict[str, Any]], *, arguments: ArgumentsForm = "dict"
                  ) -> list[dict[str, Any]]:
    """A rollout's messages in the export's shapes (see the package docstring): tool-call
    arguments as dicts (``arguments="dict"``) or as the rollout's JSON text (``"json"``), an
    empty ``content`` on tool-call messages, tool results as text."""
    if arguments not in ("dict", "json"):
        raise ExportError(f"arguments must be 'dict' or 'json', not {arguments!r}")
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for i, msg in enumerate(messages):
        role = msg["role"]
        if role == "assistant" and msg.get("tool_calls"):
            calls = []
            for k, call in enumerate(msg["tool_calls"]):
                fn = call["function"]
                args = _arguments_object(fn.get("arguments"),
                                         f"messages[{i}].tool_calls[{k}]")
                value: Any = (dict(args) if arguments == "dict"
                              else fn["arguments"] if isinstance(fn["arguments"], str)
                              else json.dumps(args, sort_keys=True))
                names[call["id"]] = fn["name"]
                calls.append({"id": call["id"], "type": "function",
                              "function": {"name": fn["name"], "arguments": value}})
            out.append({"role": "assistant", "content": msg.get("content") or "",
                        "tool_calls": calls})
        elif role == "tool":
            content = msg.get("content")
            text = content if isinstance(content, str) else json.dumps(
                content, sort_keys=True, default=str)
            out.append({"role": "tool", "tool_call_id": msg["tool_call_id"],
                        "name": msg.get("name") or names.get(msg["tool_call_id"], ""),
                        "content": text})
        else:
            out.append({"role": role, "content": msg.get("content") or ""})
    return out


@dataclass
class _Episode:
    """One rollout, ready to export: its converted conversation and what selects it."""

    index: int
    record: dict[str, Any]
    group: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]

    @property
    def reward(self) -> float:
        return float(self.record["reward"])

    @property
    def success(self) -> bool:
        return bool(self.record["success"])


def _episodes(records: Iterable[dict[str, Any]], *, policies: Collection[str] | None,
              system_prompt: str | None, arguments: ArgumentsForm,
              skipped: Counter[str]) -> list[_Episode]:
    """Check, filter and convert records; count the ones left out in ``skipped``."""
    wanted = set(policies) if policies else None
    out: list[_Episode] = []
    for index, record in enumerate(records):
        where = f"record {index + 1}"
        if isinstance(record, dict) and record.get("rollout_id"):
            where += f" (rollout {record['rollout_id']})"
        record = _check_rollout(record, where)
        if wanted is not None and record.get("policy") not in wanted:
            skipped["episodes of other policies"] += 1
            continue
        messages = chat_messages(record["messages"], arguments=arguments)
        while messages and messages[-1]["role"] == "user":
            messages.pop()  # the shopper's closing words: nothing the agent writes
        roles = [m["role"] for m in messages]
        if "assistant" not in roles:
            skipped["episodes where the agent did nothing"] += 1
            continue
        if "user" not in roles[:roles.index("assistant")]:
            skipped["episodes without the shopper's opening"] += 1
            continue
        if system_prompt is not None:
            if messages[0]["role"] == "system":
                messages = messages[1:]
            messages.insert(0, {"role": "system", "content": system_prompt})
        group = str(record.get("group_id") or record.get("task_id"))
        out.append(_Episode(index, record, group, messages, record["tools"]))
    return out


def _metadata(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record.get(key) for key in _EPISODE_METADATA}


def _key(*parts: Any) -> str:
    return json.dumps(parts, sort_keys=True, ensure_ascii=False)
