"""The per-session trace of tool calls, written by the server and read by the episode
controller. The shop itself never reads it.

Every record is bounded and storable on every backend, whatever a client sent:

- a string longer than ``MAX_STRING`` characters keeps its first 200 and a marker
  ``'...[truncated: N characters, sha256:<hex>]'``; a list or object keeps its first
  ``MAX_ITEMS`` items and ends with a marker item ``'...[truncated: N more items]'`` (for an
  object, the key ``'...[truncated]'`` with value ``'N more keys'``);
- a list or object nested deeper than ``MAX_DEPTH`` levels becomes the string
  ``'...[truncated: nested deeper than MAX_DEPTH levels]'``;
- the arguments take at most ``MAX_ARGUMENTS_CHARS`` characters of JSON: past that, the rest
  of each open list or object is replaced by one marker ``'...[truncated: size limit]'``
  (in an object, the key ``'...[truncated]'`` with value ``'size limit'``);
- a result whose JSON is longer than ``MAX_RESULT_CHARS`` is kept by digest only (``result``
  null, ``result_digest`` set), and an error message keeps its first ``MAX_MESSAGE_CHARS``
  characters and a marker;
- characters no backend stores (NUL, which PostgreSQL text cannot hold, and lone UTF-16
  surrogates) are written as the six characters of their JSON escape, e.g. ``'\\u0000'``, in
  tool names, messages, arguments and results; numbers JSON cannot hold become strings
  (``'NaN'``, ``'Infinity'``, ``'-Infinity'``, ``'...[truncated: integer of N digits]'``).

Every marker starts with ``TRUNCATED``; a record holds none unless something was cut.
Normal calls are far inside these bounds and are stored as given.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection

from mcp_shop.errors import NotFound
from mcp_shop.models import ShopSession, TraceEvent
from mcp_shop.sql import Sql, as_bool, as_datetime, fetch_all, fetch_one, run

__all__ = [
    "MAX_ARGUMENTS_CHARS",
    "MAX_DEPTH",
    "MAX_ITEMS",
    "MAX_MESSAGE_CHARS",
    "MAX_RECORD_CHARS",
    "MAX_RESULT_CHARS",
    "MAX_STRING",
    "TRUNCATED",
    "TraceRecord",
    "bound_arguments",
    "read_trace",
    "record_call",
    "storable_text",
]

MAX_STRING = 1000  # longest string (tool name, argument, key) kept verbatim
MAX_ITEMS = 100  # most items kept of one list or object in the arguments
MAX_DEPTH = 12  # deepest nesting of lists and objects kept (a normal call's is at most 4)
MAX_ARGUMENTS_CHARS = 16_384  # longest JSON of a call's arguments
MAX_RESULT_CHARS = 65_536  # longest JSON of a result kept in full (else digest only)
MAX_MESSAGE_CHARS = 4_000  # longest error message
# everything a record holds, with room for its fixed fields (tool, code, digest, numbers)
MAX_RECORD_CHARS = MAX_ARGUMENTS_CHARS + MAX_RESULT_CHARS + MAX_MESSAGE_CHARS + 2 * MAX_STRING
TRUNCATED = "...[truncated"

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# what makes JSON text written elsewhere unfit to store as it is: lone surrogates, NUL
# escapes (stored escaped, see above), NaN and Infinity (not JSON); a string holding such
# text only costs a second serialisation
_NON_JSON = re.compile(r"[:,\[]\s*-?(?:NaN|Infinity)\b")
_MARK_ROOM = 64  # JSON characters a marker (or an object's marker entry) may take
_INT_BITS = 3300  # integers longer than this (about 1000 digits) are stored as a marker

T = TraceEvent.__table__  # type: ignore[attr-defined]
S = ShopSession.__table__  # type: ignore[attr-defined]


class TraceRecord(BaseModel):
    """One recorded call."""

    seq: int
    tool: str
    arguments: dict[str, Any]
    ok: bool
    error_code: str | None
    error_message: str | None
    result: Any
    result_digest: str | None
    latency_ms: float
    clock: Any


def storable_text(text: str, limit: int | None = MAX_STRING) -> str:
    """``text`` as a trace stores it: cut past ``limit`` characters (first 200 kept, then a
    marker with the length and digest), unstorable characters escaped as ``\\uXXXX``."""
    if limit is not None and len(text) > limit:
        sha = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        text = f"{text[:200]}{TRUNCATED}: {len(text)} characters, sha256:{sha}]"
    if text.isascii() and "\x00" not in text:
        return text
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _message(text: str) -> str:
    if len(text) > MAX_MESSAGE_CHARS:
        text = f"{text[:MAX_MESSAGE_CHARS - 100]}{TRUNCATED}: {len(text)} characters]"
    return storable_text(text, None)


class _Bounder:
    """Copies a JSON-like value within limits, visiting only what it keeps (so bounding a
    100 MB structure costs about as much as the record it yields)."""

    def __init__(self, *, items: int | None, strings: int | None) -> None:
        self.items, self.strings = items, strings
        self.cut = False

    def mark(self, what: str) -> str:
        self.cut = True
        return f"{TRUNCATED}: {what}]"

    def value(self, v: Any, depth: int, room: int) -> tuple[Any, int]:
        """``v`` bounded, and the length of its JSON; at most ``room`` characters (given
        ``room >= _MARK_ROOM``)."""
        if isinstance(v, (dict, list, tuple)):
            if depth >= MAX_DEPTH:
                s = self.mark(f"nested deeper than {MAX_DEPTH} levels")
                return s, len(json.dumps(s))
            return self.container(v, depth, room)
        out = self.scalar(v)
        cost = len(json.dumps(out))
        if cost > room:
            out = self.mark("size limit")
            cost = len(json.dumps(out))
        return out, cost

    def scalar(self, v: Any) -> Any:
        if v is None or isinstance(v, bool):
            return v
        if isinstance(v, int):
            if v.bit_length() <= _INT_BITS:
                return int(v)
            return self.mark(f"integer of {int(v.bit_length() * math.log10(2)) + 1} digits")
        if isinstance(v, float):
            if math.isfinite(v):
                return v
            return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
        text = v if isinstance(v, str) else str(v)
        if self.strings is not None and len(text) > self.strings:
            self.cut = True
        return storable_text(text, self.strings)

    def container(self, v: dict[Any, Any] | list[Any] | tuple[Any, ...], depth: int,
                  room: int) -> tuple[Any, int]:
        """Items are kept while they fit in ``room`` less space for a closing marker."""
        source = iter(v.items()) if isinstance(v, dict) else iter(v)
        if self.items is not None:
            source = itertools.islice(source, self.items)
        out_d: dict[str, Any] = {}
        out_l: list[Any] = []
        used, kept, full = 2, 0, False  # JSON characters so far: the brackets
        for item in source:
            sep = 2 if kept else 0
            left = room - used - sep - _MARK_ROOM
            key_cost = 0
            if isinstance(v, dict):
                key = storable_text(str(item[0]), self.strings)
                key_cost = len(json.dumps(key)) + 2
                left -= key_cost
            if left < _MARK_ROOM:
                full = True
                break
            bounded, cost = self.value(item[1] if isinstance(v, dict) else item, depth + 1,
                                       left)
            if isinstance(v, dict):
                out_d[key] = bounded
            else:
                out_l.append(bounded)
            used += sep + key_cost + cost
            kept += 1
        rest = len(v) - kept
        if rest <= 0:
            return (out_d if isinstance(v, dict) else out_l), used
        what = "size limit" if full else f"{rest} more items"
        if isinstance(v, dict):
            out_d[f"{TRUNCATED}]"] = what if full else f"{rest} more keys"
            self.cut = True
            used += (2 if kept else 0) + len(json.dumps(f"{TRUNCATED}]")) + 2 \
                + len(json.dumps(out_d[f"{TRUNCATED}]"]))
            return out_d, used
        out_l.append(self.mark(what))
        return out_l, used + (2 if kept else 0) + len(json.dumps(out_l[-1]))


def bound_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """A call's arguments as its trace record keeps them (see the module docstring)."""
    bounder = _Bounder(items=MAX_ITEMS, strings=MAX_STRING)
    value, _ = bounder.container(arguments, 0, MAX_ARGUMENTS_CHARS)
    return dict(value)


def _unsafe_json(text: str) -> bool:
    """Whether JSON ``text`` holds something not to store as it is (cheap substring tests
    first: this runs on every result)."""
    if "\\u0000" in text:
        return True
    if ("NaN" in text or "Infinity" in text) and _NON_JSON.search(text):
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")  # fails on lone surrogates only; far faster than a regex
    except UnicodeEncodeError:
        return True
    return False


def _result_json(result: Any, result_json: str | None) -> str | None:
    """The stored JSON of a result: the caller's text when it is storable as it is, else a
    storable copy; None when longer than ``MAX_RESULT_CHARS`` (the record keeps the digest)."""
    if result_json is not None and len(result_json) > MAX_RESULT_CHARS:
        return None
    if result_json is not None and not _unsafe_json(result_json):
        return result_json
    bounder = _Bounder(items=None, strings=None)
    value, cost = bounder.value(result, 0, MAX_RESULT_CHARS + 1)
    return None if bounder.cut or cost > MAX_RESULT_CHARS else json.dumps(value)


_BUMP = Sql("UPDATE shop_session SET trace_seq = trace_seq + 1 WHERE id = ? "
            "RETURNING trace_seq, clock")
_EVENT = Sql("""INSERT INTO trace_event (session_id, seq, tool, arguments, ok, error_code,
                error_message, result, result_digest, latency_ms, clock)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""")


def record_call(conn: Connection, session_id: str, *, tool: str, arguments: dict[str, Any],
                ok: bool, error_code: str | None = None, error_message: str | None = None,
                result: Any = None, result_digest: str | None = None,
                latency_ms: float = 0.0, result_json: str | None = None) -> int:
    """Append a call to the session's trace; returns its sequence number.

    The record is bounded and made storable as the module docstring says. ``result_json``,
    when given, is ``result`` already serialised (the server has that text from computing the
    digest). Raises NotFound for an unknown session (nothing is written then).
    """
    row = fetch_one(conn, _BUMP, (session_id,))
    if row is None:
        raise NotFound("unknown session_id: open a session with open_session first")
    seq, clock = row
    stored = None if result is None and result_json is None else _result_json(result,
                                                                               result_json)
    run(conn, _EVENT, (
        session_id, seq, storable_text(tool), json.dumps(bound_arguments(arguments)), ok,
        None if error_code is None else storable_text(error_code),
        None if error_message is None else _message(error_message),
        stored, None if result_digest is None else storable_text(result_digest),
        latency_ms, clock))
    return int(seq)


_READ = Sql("""SELECT seq, tool, arguments, ok, error_code, error_message, result,
               result_digest, latency_ms, clock FROM trace_event WHERE session_id = ?
               ORDER BY seq""")


def read_trace(conn: Connection, session_id: str) -> list[TraceRecord]:
    """The session's calls in order."""
    sqlite = conn.dialect.name == "sqlite"  # JSON comes back as text there, parsed elsewhere
    return [TraceRecord(
        seq=r.seq, tool=r.tool, ok=as_bool(r.ok), error_code=r.error_code,
        error_message=r.error_message, result_digest=r.result_digest, latency_ms=r.latency_ms,
        clock=as_datetime(r.clock),
        arguments=json.loads(r.arguments) if sqlite else r.arguments,
        result=None if r.result is None else (json.loads(r.result) if sqlite else r.result))
        for r in fetch_all(conn, _READ, (session_id,))]
