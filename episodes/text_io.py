"""The text doors' grammar (``episodes.gym_env`` and ``episodes.tau2.gym_env``): reading a
text action into an ``Action`` (``parse_action``; see ``episodes.gym_env`` for the syntax) and
writing an observation as ASCII JSON text within a length (``render_observation``)."""

from __future__ import annotations

import json
from typing import Any

from episodes.steps import Action, Observation, ToolRequest, ToolResult

__all__ = ["MIN_OBSERVATION_LENGTH", "ActionError", "parse_action", "render_observation"]

# An observation must hold at least a cut shopper message and the note that results were
# dropped; smaller limits are refused.
MIN_OBSERVATION_LENGTH = 256
_MIN_SHARE = 40
_CUT = " ...[truncated]"
_TOO_LONG = "the tool results are too long for max_observation_length and were dropped"

_ACTION_KEYS = frozenset({"tool_calls", "message", "done"})
_CALL_KEYS = frozenset({"tool", "name", "arguments"})


class ActionError(ValueError):
    """A text action that cannot be read as an ``Action``."""


def parse_action(text: str) -> Action:
    """Read a text action (the syntax is in ``episodes.gym_env``'s docstring); ``ActionError``
    says what is wrong."""
    if not isinstance(text, str):
        raise ActionError(f"an action is text, not {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise ActionError("empty action: send a message, or a JSON tool call such as "
                          '{"tool": "view_cart", "arguments": {}}')
    if not stripped.startswith("{"):
        return Action(message=text)
    try:
        doc = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise ActionError(f"the action starts with '{{' but is not valid JSON ({exc}); wrap a "
                          'message that starts with a brace as {"message": "..."}') from None
    if not isinstance(doc, dict):  # pragma: no cover - a '{' always decodes to a dict
        raise ActionError("a JSON action must be an object")
    if "tool" in doc or "name" in doc:
        return Action(tool_calls=[_tool_request(doc)])
    if not doc:
        raise ActionError('empty JSON action: it needs "tool", "tool_calls", "message" or '
                          '"done"')
    unknown = sorted(set(doc) - _ACTION_KEYS)
    if unknown:
        raise ActionError(f"unknown key(s) {', '.join(map(repr, unknown))} in the action: "
                          'expected {"tool", "arguments"} for one tool call, or any of '
                          '"tool_calls", "message" and "done"')
    calls = doc.get("tool_calls") or []
    if not isinstance(calls, list):
        raise ActionError('"tool_calls" must be a list of {"name", "arguments"} objects')
    message = doc.get("message")
    if message is not None and not isinstance(message, str):
        raise ActionError('"message" must be a string')
    done = doc.get("done", False)
    if not isinstance(done, bool):
        raise ActionError('"done" must be true or false')
    if not calls and message is None and not done:
        raise ActionError("the action does nothing: give tool calls, a message, or done")
    return Action(tool_calls=[_tool_request(c) for c in calls], message=message, done=done)


def _tool_request(doc: Any) -> ToolRequest:
    if not isinstance(doc, dict):
        raise ActionError('a tool call must be an object {"tool": NAME, "arguments": {...}}')
    unknown = sorted(set(doc) - _CALL_KEYS)
    if unknown:
        raise ActionError(f"unknown key(s) {', '.join(map(repr, unknown))} in a tool call: "
                          'expected "tool" (or "name") and "arguments"')
    name = doc.get("tool", doc.get("name"))
    if not isinstance(name, str) or not name:
        raise ActionError("a tool call needs the tool's name as a string")
    args = doc.get("arguments", {})
    if isinstance(args, str):  # OpenAI tool calls carry their arguments as JSON text
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as exc:
            raise ActionError(f"the arguments of {name} are not valid JSON ({exc})") from None
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ActionError(f"the arguments of {name} must be an object")
    return ToolRequest(name=name, arguments=args)


def render_observation(obs: Observation, limit: int, *, error: str | None = None) -> str:
    """The observation as ASCII JSON within ``limit`` characters: long tool results
    are cut first (each keeping its head); if that is not enough they are dropped (the
    ``error`` says so), and the shopper's message and the error are cut to fit."""
    results = [_result_doc(r) for r in obs.tool_results]
    doc: dict[str, Any] = {"shopper_message": obs.shopper_message,
                           "tool_results": results, "turn": obs.turn, "done": obs.done}
    if error is not None:
        doc["error"] = error
    text = _dump(doc)
    if len(text) <= limit:
        return text
    if results:
        share = max(_MIN_SHARE, limit // (4 * len(results)))
        for r in results:
            for key in ("content", "arguments"):
                full = json.dumps(r[key], ensure_ascii=True)
                if len(full) > share:
                    r[key] = full[:share] + _CUT
        text = _dump(doc)
        if len(text) <= limit:
            return text
        doc["tool_results"] = []
        doc["error"] = f"{_TOO_LONG}; {error}" if error else _TOO_LONG
    # cut the free texts: the error gets at most half the room when there is a message
    message, note = doc["shopper_message"], doc.get("error")
    base = dict(doc, shopper_message="" if message is not None else None)
    if note is not None:
        base["error"] = ""
    room = max(0, limit - len(_dump(base)))
    if note is not None:
        base["error"] = _fit(note, room // 2 if message else room)
        room -= _escaped_len(base["error"])
    if message is not None:
        base["shopper_message"] = _fit(message, room)
    return _dump(base)


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=True)


def _escaped_len(text: str) -> int:
    """The length of ``text`` as an ASCII JSON string, without the quotes."""
    return len(json.dumps(text, ensure_ascii=True)) - 2


def _fit(text: str, room: int) -> str:
    """``text``, or its longest head marked as cut, whose ASCII JSON form fits in ``room``
    characters (without the quotes); "" when not even the mark fits."""
    if _escaped_len(text) <= room:
        return text
    lo, hi = 0, len(text)  # the longest head that fits lies in [lo, hi)
    if _escaped_len(_CUT) > room:
        return ""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _escaped_len(text[:mid] + _CUT) <= room:
            lo = mid
        else:
            hi = mid
    return text[:lo] + _CUT


def _result_doc(result: ToolResult) -> dict[str, Any]:
    return {"name": result.name, "arguments": result.arguments, "ok": result.ok,
            "content": result.content}
