"""``shop-episodes export``: training data for TRL from rollout files.

    shop-episodes export sft runs/*.jsonl --out sft.jsonl [--min-reward R] [--include-failures]
    shop-episodes export dpo runs/*.jsonl --out dpo.jsonl [--margin 0.5]
        [--max-pairs-per-group 4]
    shop-episodes export kto runs/*.jsonl --out kto.jsonl [--threshold R]
    (all three) [--policy NAME ...] [--system-prompt TEXT] [--with-metadata]
        [--arguments dict|json]

Every output file is JSONL, one row a line, in TRL's *conversational* dataset formats:

* ``sft``: ``messages``, ``tools`` (conversational language modeling with tool calling, for
  ``SFTTrainer``);
* ``dpo``: ``prompt``, ``chosen``, ``rejected``, ``tools`` (conversational preference with an
  explicit prompt, for ``DPOTrainer``);
* ``kto``: ``prompt``, ``completion``, ``label``, ``tools`` (conversational unpaired
  preference, for ``KTOTrainer``).

``messages``, ``prompt``, ``chosen``, ``rejected`` and ``completion`` are lists of messages,
each of one of these shapes (no other keys)::

    {"role": "system", "content": str}                 # only first (e.g. --system-prompt)
    {"role": "user", "content": str}                   # the shopper
    {"role": "assistant", "content": str}              # the agent's message to the shopper
    {"role": "assistant", "content": "",               # the agent's tool calls
     "tool_calls": [{"id": str, "type": "function",
                     "function": {"name": str, "arguments": {...}}}]}
    {"role": "tool", "tool_call_id": str, "name": str, "content": str}   # a call's result

Tool-call ``arguments`` are JSON objects (dicts), as Hugging Face chat templates and TRL's
tool-calling format expect; the rollouts keep them as JSON text (the OpenAI wire format), which
``--arguments json`` keeps instead, for templates that print them as given. Tool-call messages
carry an empty ``content`` (some templates concatenate it unconditionally). Every tool message
answers a call of the assistant message just before it (same ``tool_call_id``, same ``name``),
and every call is answered before the next assistant message. ``tools`` is the episode's list
of OpenAI function specs (``{"type": "function", "function": {"name", "description",
"parameters"}}``), which chat templates render into the system prompt. ``label`` is a bool.

Opt-in metadata columns (``--with-metadata``), after the fields above:

* ``sft`` and ``kto``: ``rollout_id``, ``task_id``, ``family``, ``difficulty``, ``policy``,
  ``trial``, ``reward``, ``success``;
* ``dpo``: ``task_id``, ``family``, ``difficulty``, ``chosen_rollout_id``,
  ``rejected_rollout_id``, ``chosen_policy``, ``rejected_policy``, ``chosen_reward``,
  ``rejected_reward``.

How episodes become rows:

* Every conversation is converted message by message as above; the shopper's messages after
  the agent's last message are dropped (the agent never writes them), and ``--system-prompt``
  puts a system message first. Identical rows are written once.
* ``sft``: episodes with ``success`` true (unless ``--include-failures``) and ``reward >=
  --min-reward`` (default 0).
* ``dpo``: episodes are grouped by ``group_id`` (the task). In a group, ordered by reward (best
  first, ties in input order), each episode is paired with every episode whose reward is at
  least ``--margin`` lower, worst first; pairs are taken in that order, at most
  ``--max-pairs-per-group`` distinct ones per group. ``prompt`` is the two conversations'
  longest common prefix, cut back so that ``chosen`` and ``rejected`` (the rest of each) both
  start with an assistant message and are not empty. Only episodes with the same ``tools`` are
  paired.
* ``kto``: ``prompt`` is the opening (the system message, if any, and the shopper's first
  message), ``completion`` the rest, ``label`` the episode's ``success`` (or ``reward >=
  --threshold`` when given).

Completions of multi-turn episodes hold the shopper's and the tools' messages too: trainers
that compute the loss over the whole completion learn those tokens as well.

``validate(rows, kind)`` checks rows against these field lists and message shapes. Loading
the files with ``datasets`` keeps them exact from ``datasets`` 4.7 on (its ``Json`` type holds
the arguments and schemas, whose keys differ from row to row; older versions pad every dict
with the keys of all the others, set to null). Nothing here needs ``datasets`` or TRL.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from episodes.argtypes import bounded_float, bounded_int
from episodes.records import RecordError, parse_record
from episodes.report import ReportError, read_rollouts

__all__ = [
    "FIELDS",
    "KINDS",
    "METADATA_FIELDS",
    "ExportError",
    "add_export_command",
    "chat_messages",
    "export_dpo",
    "export_kto",
    "export_sft",
    "load_rollouts",
    "read_rows",
    "row_problems",
    "validate",
    "write_rows",
]

Kind = Literal["sft", "dpo", "kto"]
ArgumentsForm = Literal["dict", "json"]

KINDS: tuple[Kind, ...] = ("sft", "dpo", "kto")
FIELDS: dict[str, tuple[str, ...]] = {
    "sft": ("messages", "tools"),
    "dpo": ("prompt", "chosen", "rejected", "tools"),
    "kto": ("prompt", "completion", "label", "tools"),
}
_EPISODE_METADATA = ("rollout_id", "task_id", "family", "difficulty", "policy", "trial",
                     "reward", "success")
METADATA_FIELDS: dict[str, tuple[str, ...]] = {
    "sft": _EPISODE_METADATA,
    "dpo": ("task_id", "family", "difficulty", "chosen_rollout_id", "rejected_rollout_id",
            "chosen_policy", "rejected_policy", "chosen_reward", "rejected_reward"),
    "kto": _EPISODE_METADATA,
}
ROLES = ("system", "user", "assistant", "tool")
_MESSAGE_KEYS = {
    "system": {"role", "content"},
    "user": {"role", "content"},
    "assistant": {"role", "content", "tool_calls"},
    "tool": {"role", "tool_call_id", "name", "content"},
}
DEFAULT_MARGIN = 0.5
DEFAULT_MAX_PAIRS = 4
_MAX_LISTED_PROBLEMS = 5


class ExportError(ValueError):
    """Bad input for an export (missing or malformed files or records, bad options, no rows)
    or rows that do not have the documented shape."""


# -- reading rollouts ------------------------------------------------------------------------


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


def load_rollouts(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """The rollout records of ``paths`` (JSONL files, or directories of ``*.jsonl``) in file
    and line order. Raises ``ExportError`` naming the file and line of anything missing,
    unreadable or malformed (including tool-call arguments that are not a JSON object)."""
    records: list[dict[str, Any]] = []
    try:
        for _, _, record in read_rollouts(paths):  # each validated as a Rollout
            records.append(record)
    except ReportError as exc:
        raise ExportError(str(exc)) from None
    return records


# -- conversations ---------------------------------------------------------------------------


def chat_messages(messages: Sequence[dict[str, Any]], *, arguments: ArgumentsForm = "dict"
                  ) -> list[dict[str, Any]]:
    """A rollout's messages in the export's shapes (see the module docstring): tool-call
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


# -- the three exports -----------------------------------------------------------------------


def export_sft(records: Iterable[dict[str, Any]], *, min_reward: float = 0.0,
               require_success: bool = True, system_prompt: str | None = None,
               policies: Collection[str] | None = None, with_metadata: bool = False,
               arguments: ArgumentsForm = "dict", skipped: Counter[str] | None = None,
               ) -> list[dict[str, Any]]:
    """SFT rows (``messages``, ``tools``) of the episodes with ``success`` (unless not
    ``require_success``) and ``reward >= min_reward``, in input order, each distinct
    conversation once. Episodes left out are counted by reason in ``skipped``."""
    skipped = skipped if skipped is not None else Counter()
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for ep in _episodes(records, policies=policies, system_prompt=system_prompt,
                        arguments=arguments, skipped=skipped):
        if require_success and not ep.success:
            skipped["failed episodes"] += 1
            continue
        if ep.reward < min_reward:
            skipped[f"episodes with reward below {min_reward:g}"] += 1
            continue
        key = _key(ep.messages, ep.tools)
        if key in seen:
            skipped["duplicate conversations"] += 1
            continue
        seen.add(key)
        row: dict[str, Any] = {"messages": ep.messages, "tools": ep.tools}
        if with_metadata:
            row.update(_metadata(ep.record))
        rows.append(row)
    return rows


def _split(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> int | None:
    """Where two conversations of one task part: the length of their longest common prefix,
    cut back until both rests start with an assistant message; None if there is no such point
    after a shopper's message."""
    k = 0
    while k < len(a) and k < len(b) and a[k] == b[k]:
        k += 1
    while k > 0:
        if (k < len(a) and k < len(b) and a[k]["role"] == "assistant"
                and b[k]["role"] == "assistant"):
            return k if any(m["role"] == "user" for m in a[:k]) else None
        k -= 1
    return None


def export_dpo(records: Iterable[dict[str, Any]], *, margin: float = DEFAULT_MARGIN,
               max_pairs_per_group: int | None = DEFAULT_MAX_PAIRS,
               system_prompt: str | None = None, policies: Collection[str] | None = None,
               with_metadata: bool = False, arguments: ArgumentsForm = "dict",
               skipped: Counter[str] | None = None) -> list[dict[str, Any]]:
    """DPO rows (``prompt``, ``chosen``, ``rejected``, ``tools``): pairs of episodes of one
    task whose rewards differ by at least ``margin``, by the rule in the module docstring.
    Groups are taken in order of first appearance. What is left out is counted in
    ``skipped``."""
    if not margin > 0:
        raise ExportError(f"the margin must be above 0, got {margin:g}")
    if max_pairs_per_group is not None and max_pairs_per_group < 1:
        raise ExportError(f"--max-pairs-per-group must be 1 or more, got {max_pairs_per_group}")
    skipped = skipped if skipped is not None else Counter()
    groups: dict[str, list[_Episode]] = {}
    seen: set[str] = set()
    for ep in _episodes(records, policies=policies, system_prompt=system_prompt,
                        arguments=arguments, skipped=skipped):
        key = _key(ep.group, ep.messages, ep.tools, ep.reward)
        if key in seen:
            skipped["duplicate conversations"] += 1
            continue
        seen.add(key)
        groups.setdefault(ep.group, []).append(ep)
    rows: list[dict[str, Any]] = []
    for group in groups.values():
        if len(group) < 2:
            skipped["tasks with a single episode"] += 1
            continue
        ranked = sorted(group, key=lambda e: (-e.reward, e.index))
        emitted: set[str] = set()
        found = False
        for chosen in ranked:
            worse = sorted((e for e in group if e.reward <= chosen.reward - margin),
                           key=lambda e: (e.reward, e.index))
            for rejected in worse:
                found = True
                if _key(chosen.tools) != _key(rejected.tools):
                    skipped["pairs with different tool lists"] += 1
                    continue
                cut = _split(chosen.messages, rejected.messages)
                if cut is None:
                    skipped["pairs with no common opening"] += 1
                    continue
                prompt = chosen.messages[:cut]
                pair = (prompt, chosen.messages[cut:], rejected.messages[cut:])
                key = _key(*pair)
                if key in emitted:
                    skipped["duplicate pairs"] += 1
                    continue
                if max_pairs_per_group is not None and len(emitted) >= max_pairs_per_group:
                    skipped["pairs beyond --max-pairs-per-group"] += 1
                    continue
                emitted.add(key)
                row: dict[str, Any] = {"prompt": pair[0], "chosen": pair[1],
                                       "rejected": pair[2], "tools": chosen.tools}
                if with_metadata:
                    c, r = chosen.record, rejected.record
                    row.update(task_id=c.get("task_id"), family=c.get("family"),
                               difficulty=c.get("difficulty"),
                               chosen_rollout_id=c.get("rollout_id"),
                               rejected_rollout_id=r.get("rollout_id"),
                               chosen_policy=c.get("policy"), rejected_policy=r.get("policy"),
                               chosen_reward=c["reward"], rejected_reward=r["reward"])
                rows.append(row)
        if not found:
            skipped[f"tasks without a reward gap of {margin:g}"] += 1
    return rows


def export_kto(records: Iterable[dict[str, Any]], *, threshold: float | None = None,
               system_prompt: str | None = None, policies: Collection[str] | None = None,
               with_metadata: bool = False, arguments: ArgumentsForm = "dict",
               skipped: Counter[str] | None = None) -> list[dict[str, Any]]:
    """KTO rows (``prompt``, ``completion``, ``label``, ``tools``), one per episode in input
    order: the opening as the prompt, the rest as the completion, labelled by ``success`` (or
    ``reward >= threshold``); identical rows once. Left-out episodes are counted in
    ``skipped``."""
    skipped = skipped if skipped is not None else Counter()
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for ep in _episodes(records, policies=policies, system_prompt=system_prompt,
                        arguments=arguments, skipped=skipped):
        first_user = next(i for i, m in enumerate(ep.messages) if m["role"] == "user")
        prompt, completion = ep.messages[:first_user + 1], ep.messages[first_user + 1:]
        if not completion or completion[0]["role"] != "assistant":
            skipped["episodes where the agent did nothing"] += 1
            continue
        label = ep.success if threshold is None else ep.reward >= threshold
        key = _key(prompt, completion, label, ep.tools)
        if key in seen:
            skipped["duplicate conversations"] += 1
            continue
        seen.add(key)
        row: dict[str, Any] = {"prompt": prompt, "completion": completion, "label": label,
                               "tools": ep.tools}
        if with_metadata:
            row.update(_metadata(ep.record))
        rows.append(row)
    return rows


# -- validation ------------------------------------------------------------------------------


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


# -- files -----------------------------------------------------------------------------------


def write_rows(rows: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Write rows as JSONL (UTF-8, one row a line), creating the parent directory; returns
    the number of rows."""
    path = Path(path)
    count = 0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
    except OSError as exc:
        raise ExportError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return count


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of an exported JSONL file (blank lines skipped); ``ExportError`` with the file
    and line of anything that is not a JSON object."""
    path = Path(path)
    rows: list[dict[str, Any]] = []
    try:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise ExportError(f"{path}:{number}: not valid JSON ({exc})") from None
                if not isinstance(row, dict):
                    raise ExportError(f"{path}:{number}: expected a JSON object")
                rows.append(row)
    except OSError as exc:
        raise ExportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ExportError(f"{path}: not UTF-8 text ({exc.reason})") from None
    return rows


# -- command line ----------------------------------------------------------------------------


_number = bounded_float(what="a finite number")


_positive_number = bounded_float(0.0, what="a number above 0", above=True)


_positive_int = bounded_int(1, what="an integer >= 1")


def _summary(skipped: Counter[str]) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in skipped.items())


def cmd_export(args: argparse.Namespace) -> int:
    """``shop-episodes export sft|dpo|kto``: write the rows and print what was read, written
    and left out (on stderr); 2 with a message on bad input or when there is nothing to
    write."""
    kind: Kind = args.kind
    skipped: Counter[str] = Counter()
    common: dict[str, Any] = dict(system_prompt=args.system_prompt, policies=args.policy,
                                  with_metadata=args.with_metadata, arguments=args.arguments,
                                  skipped=skipped)
    try:
        records = load_rollouts(args.rollouts)
        if kind == "sft":
            rows = export_sft(records, min_reward=args.min_reward,
                              require_success=not args.include_failures, **common)
        elif kind == "dpo":
            rows = export_dpo(records, margin=args.margin,
                              max_pairs_per_group=args.max_pairs_per_group, **common)
        else:
            rows = export_kto(records, threshold=args.threshold, **common)
        print(f"read {len(records)} episodes from {len(args.rollouts)} path(s)",
              file=sys.stderr)
        if skipped:
            print(f"left out: {_summary(skipped)}", file=sys.stderr)
        if not rows:
            raise ExportError(f"no {kind} rows to write" + (
                f" ({_summary(skipped)})" if skipped else " (no episodes)"))
        validate(rows, kind, arguments=args.arguments)
        written = write_rows(rows, args.out)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    extra = ""
    if kind == "kto":
        good = sum(1 for r in rows if r["label"])
        extra = f" ({good} desirable, {written - good} undesirable)"
    print(f"wrote {written} {kind} rows{extra} to {args.out}", file=sys.stderr)
    return 0


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("rollouts", nargs="+", help="rollout JSONL files (or directories of them)")
    p.add_argument("--out", required=True, help="the JSONL file to write")
    p.add_argument("--policy", action="append", metavar="NAME",
                   help="only episodes of this policy (repeatable; default: all)")
    p.add_argument("--system-prompt", metavar="TEXT",
                   help="put this system message first in every conversation")
    p.add_argument("--with-metadata", action="store_true",
                   help="add task, policy and reward columns (see the docs for the list)")
    p.add_argument("--arguments", choices=["dict", "json"], default="dict",
                   help="tool-call arguments as JSON objects (default; what chat templates "
                        "and TRL expect) or as JSON text (the OpenAI wire format)")
    p.set_defaults(fn=cmd_export)


def add_export_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``export`` (with the modes ``sft``, ``dpo`` and ``kto``) on a
    ``shop-episodes`` subparsers object; its ``fn`` returns the exit code."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "export", help="training data for TRL (SFT, DPO, KTO) from rollout files",
        description="Write rollout episodes as JSONL in TRL's conversational formats: sft "
                    "(messages, tools), dpo (prompt, chosen, rejected, tools), kto (prompt, "
                    "completion, label, tools). Tool-call arguments are JSON objects.")
    modes = p.add_subparsers(dest="kind", required=True, metavar="{sft,dpo,kto}")
    sft = modes.add_parser("sft", help="successful episodes as conversations (SFTTrainer)")
    _common_options(sft)
    sft.add_argument("--min-reward", type=_number, default=0.0,
                     help="only episodes with at least this reward (default 0)")
    sft.add_argument("--include-failures", action="store_true",
                     help="do not require success (only --min-reward selects)")
    dpo = modes.add_parser("dpo", help="preference pairs of one task's episodes (DPOTrainer)")
    _common_options(dpo)
    dpo.add_argument("--margin", type=_positive_number, default=DEFAULT_MARGIN,
                     help=f"the least reward gap of a pair (default {DEFAULT_MARGIN:g})")
    dpo.add_argument("--max-pairs-per-group", type=_positive_int, default=DEFAULT_MAX_PAIRS,
                     metavar="N", help=f"pairs per task at most (default {DEFAULT_MAX_PAIRS})")
    kto = modes.add_parser("kto", help="episodes labelled good or bad (KTOTrainer)")
    _common_options(kto)
    kto.add_argument("--threshold", type=_number, metavar="R",
                     help="label = reward >= R (default: label = success)")
    return p
