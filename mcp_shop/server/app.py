"""``ShopServer``: an ``MCPServer`` over one ``Shop`` that resolves session handles, runs the
blocking shop calls off the event loop, maps shop errors to tool errors and traces every call.

Every ``tools/call`` goes through :meth:`ShopServer.call_tool`, which times the call and, once
the session it addressed is known, appends it to that session's trace (accepted or rejected:
arguments, outcome, error code and message, result digest, the result when small, latency).
A tool that is one shop call (:meth:`ShopServer.shop_call`) writes its record in the same
transaction as the call's changes, so the two commit together and records are numbered in
commit order; the other tools and rejected calls are recorded after the call, in a
transaction of their own.

A server serves one tool surface (``mcp_shop.tool_catalog``): the native tools, or tau2-bench
retail's (``tools_tau2``). Every session serves one surface too, and a call naming a session
of another surface is refused before its tool runs (``surfaces.SurfaceGuard``).
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import inspect
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import anyio
import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, Icon, TextContent, ToolAnnotations
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python

from mcp_shop import __version__, catalog_views, search, sessions
from mcp_shop.catalog_views import CategoryTree
from mcp_shop.db import backend_name, read_tx, unit_tx
from mcp_shop.errors import InvalidInput, ShopError
from mcp_shop.server.annotations import annotations_for
from mcp_shop.server.call_errors import (
    InvalidArguments,
    ShopToolError,
    classify,
    invalid_arguments,
    short,
)
from mcp_shop.server.schemas import compact_schema
from mcp_shop.server.surfaces import INSTRUCTIONS, SurfaceGuard, WrongSurface, describe
from mcp_shop.shop import Shop
from mcp_shop.tool_catalog import Surface
from mcp_shop.trace import record_call

__all__ = ["HANDLE_REQUIRED", "INSTRUCTIONS", "InvalidArguments", "ShopServer", "ShopToolError",
           "digest"]

log = logging.getLogger("mcp_shop.server")
T = TypeVar("T")

HANDLE_REQUIRED = (
    "session_id is required on this connection: call open_session once and pass the "
    "session_id it returns to every other tool"
)


@dataclass
class _CallInfo:
    """The call in progress; the tool body fills in which session it addresses."""

    tool: str
    arguments: dict[str, Any]
    started: float
    session_id: str | None = None
    recorded: bool = False  # the body wrote the call's trace record itself
    dumped: tuple[Any, Any] | None = None  # (the body's model, its JSON-mode dump) as traced


_AS_SENT = TypeAdapter(dict[str, Any])

_CURRENT: contextvars.ContextVar[_CallInfo | None] = contextvars.ContextVar(
    "mcp_shop_call", default=None)


def digest(value: Any) -> tuple[str, str]:
    """The canonical JSON text of ``value`` and its sha256 (``'sha256:<hex>'``)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return text, "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _check_session(shop: Shop, session_id: str) -> None:
    with read_tx(shop.engine) as conn:
        sessions.read_session(conn, session_id)


class ShopServer(MCPServer):
    """The shop's MCP server.

    Args:
        shop: the shop every tool works on.
        surface: the tools it serves: ``native`` (the shop's own) or ``tau2-retail``; it
            serves only sessions of that surface.
        default_session: the session used when a call omits ``session_id`` (stdio); ``None``
            makes ``session_id`` required (HTTP).
        offload: run shop calls in worker threads (True) or on the event loop (False); None
            (the default) picks threads on PostgreSQL, where calls wait on the network and
            overlap, and the event loop on SQLite, where calls are CPU-bound under the GIL and
            a thread hop only adds latency (see bench/bench_mcp.py).
        db_threads: most shop calls running at once in worker threads.
        trace_result_limit: results whose JSON is longer than this are traced by digest only.
        log_level: level of the server's log (on stderr).
    """

    def __init__(self, shop: Shop, *, surface: Surface = "native",
                 default_session: str | None = None, offload: bool | None = None,
                 db_threads: int = 8, trace_result_limit: int = 65_536,
                 log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO",
                 ) -> None:
        instructions, description = describe(surface)
        super().__init__("mcp-shop", title="mcp-shop", version=__version__,
                         description=description, instructions=instructions,
                         log_level=log_level)
        self.shop = shop
        self.surface: Surface = surface
        self._surfaces = SurfaceGuard(self, surface)
        self.default_session = default_session
        self.offload = (backend_name(shop.engine) != "sqlite") if offload is None else offload
        self.trace_result_limit = trace_result_limit
        self._limiter = anyio.CapacityLimiter(db_threads)
        self._trees: dict[tuple[str | None, int], CategoryTree] = {}
        self._forest: list[search.CategoryNode] | None = None
        self._arg_names: dict[str, frozenset[str]] = {}

    def add_tool(self, fn: Callable[..., Any], name: str | None = None,
                 title: str | None = None, description: str | None = None,
                 annotations: ToolAnnotations | None = None, icons: list[Icon] | None = None,
                 meta: dict[str, Any] | None = None, structured_output: bool | None = None,
                 ) -> None:
        """Register a tool with the annotations its tool-catalogue entry declares (tools are
        declared once, in ``mcp_shop.tool_catalog``; a tool missing there is refused, and so
        are annotations given here that disagree with it). The description (the docstring
        when none is given) is published without the source's indentation."""
        tool_name = name or fn.__name__
        text = description if description is not None else fn.__doc__
        description = inspect.cleandoc(text) if text else None
        derived = annotations_for(tool_name, self.surface)
        if annotations is not None and annotations != derived:
            raise ValueError(f"{tool_name}: annotations {annotations} differ from the tool "
                             f"catalogue's {derived}; change mcp_shop/tool_catalog.py instead")
        super().add_tool(fn, name, title, description, derived, icons, meta,
                         structured_output)

    # -- helpers for tool bodies --------------------------------------------------------------

    def session(self, session_id: str | None) -> str:
        """The handle a call addresses: the given one, else the default session.

        Raises:
            ShopToolError: when no handle is given and the connection has no default session.
        """
        sid = session_id if session_id is not None else self.default_session
        if sid is None:
            raise ShopToolError(InvalidInput(HANDLE_REQUIRED))
        info = _CURRENT.get()
        if info is not None:
            info.session_id = sid
        return sid

    def note_session(self, session_id: str) -> None:
        """Record that the current call belongs to ``session_id`` (e.g. one it just opened)."""
        info = _CURRENT.get()
        if info is not None:
            info.session_id = session_id

    async def run_db(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a blocking shop call (in a worker thread if ``offload``); shop errors become
        tool errors."""
        try:
            if self.offload:
                return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs),
                                                      limiter=self._limiter)
            return fn(*args, **kwargs)
        except ShopError as exc:
            raise ShopToolError(exc) from exc

    async def shop_call(self, method: Callable[..., Any], session_id: str | None, /, *args: Any,
                        **kwargs: Any) -> Any:
        """``method(sid, *args, **kwargs)`` on the call's session, via :meth:`run_db`.

        Inside a tool call the method runs in a unit of work (``db.unit_tx``) that also writes
        the call's trace record; ``method`` must then return the tool's whole result (a
        pydantic model, or a JSON value for a tool whose return type says so), which is what
        the trace records (as the client receives it: wrapped in ``{"result": ...}`` when the
        SDK wraps it).
        """
        sid = self.session(session_id)
        info = _CURRENT.get()
        if info is None:
            return await self.run_db(method, sid, *args, **kwargs)
        return await self.run_db(self._unit, info, sid, functools.partial(method, sid, *args,
                                                                           **kwargs))

    def _unit(self, info: _CallInfo, session_id: str, body: Callable[[], Any]) -> Any:
        """Run ``body`` and record the call in one transaction; returns ``body``'s result.

        The model goes back to the SDK as it is: the SDK would validate a ready-made
        ``CallToolResult``'s structured content against the output model again, which costs
        more than dumping the model a second time."""
        with unit_tx(self.shop.engine) as conn:
            if conn.dialect.name == "postgresql":
                # Hold the session's row lock from the start, as writers do: no other call on
                # this session commits between this call's statements, so a read sees one
                # state (what REPEATABLE READ gave the reads before they joined a unit).
                sessions.lock_session(conn, session_id)
            value = body()
            structured = self._structured(info.tool, value)
            event = self._event(info.tool, info.arguments, ok=True, result=structured,
                                latency_ms=(time.perf_counter() - info.started) * 1000)
            record_call(conn, session_id, **event)
        info.recorded = True
        info.dumped = (value, structured)
        return value

    def _structured(self, tool: str, value: Any) -> Any:
        """``value`` as the structured content a client receives from ``tool``."""
        if isinstance(value, BaseModel):
            return value.model_dump(mode="json", by_alias=True)
        structured = to_jsonable_python(value)
        registered = self._tool_manager.get_tool(tool)
        if registered is not None and registered.fn_metadata.wrap_output:
            return {"result": structured}
        return structured

    async def require_session(self, session_id: str | None) -> str:
        """Resolve the call's session and check that it exists (for catalog-only tools)."""
        sid = self.session(session_id)
        await self.run_db(_check_session, self.shop, sid)
        return sid

    def category_tree(self, parent: str | None, depth: int) -> CategoryTree:
        """The category tree under ``parent`` (cached: the catalog never changes)."""
        key = (parent, depth)
        tree = self._trees.get(key)
        if tree is None:
            if self._forest is None:
                with read_tx(self.shop.engine) as conn:
                    self._forest = search.category_tree(conn, self.shop.index)
            tree = catalog_views.category_tree(self._forest, parent, depth)
            if len(self._trees) < 1024:
                self._trees[key] = tree
        return tree

    def compact_output_schemas(self) -> None:
        """Publish every registered tool's output schema in its compact, equivalent form
        (``schemas.compact_schema``): smaller in the tool list, cheaper for a client to check
        each result against."""
        for tool in self._tool_manager.list_tools():
            if tool.fn_metadata.output_schema is not None:
                tool.fn_metadata.output_schema = compact_schema(tool.fn_metadata.output_schema)

    # -- the traced entry point of every tool call --------------------------------------------

    async def call_tool(self, name: str, arguments: dict[str, Any],
                        context: Any = None) -> Any:
        """Run a tool and record the call in its session's trace, whatever the outcome."""
        return await self._traced_call(name, arguments, context, direct=False)

    async def _traced_call(self, name: str, arguments: dict[str, Any], context: Any, *,
                           direct: bool) -> Any:
        """``call_tool``'s body; ``direct``: the tool is run by :meth:`_run_direct`."""
        started = time.perf_counter()
        info = _CallInfo(name, arguments, started)
        token = _CURRENT.set(info)
        try:
            try:
                await self._check_argument_names(name, arguments)
                try:
                    await self._surfaces.check(name, self._guess_session(arguments))
                except WrongSurface as refused:
                    info.recorded = refused.template  # nothing may change a template
                    raise
                result: Any
                if direct:
                    result = await self._run_direct(name, arguments, info)
                else:
                    result = await super().call_tool(name, arguments, context)
            except ToolError as exc:
                if isinstance(exc.__cause__, ValidationError):
                    tool = self._tool_manager.get_tool(name)
                    raise InvalidArguments(invalid_arguments(
                        name, exc.__cause__, tool.parameters if tool else None)) \
                        from exc.__cause__
                raise
        except BaseException as exc:
            latency = (time.perf_counter() - started) * 1000
            code, message = classify(name, exc)
            sid = info.session_id or self._guess_session(arguments)
            if sid is not None and not info.recorded:
                with anyio.CancelScope(shield=True):
                    await self._record(sid, name, arguments, ok=False, error_code=code,
                                       error_message=message, latency_ms=latency)
            raise
        finally:
            _CURRENT.reset(token)
        latency = (time.perf_counter() - started) * 1000
        if info.session_id is not None and not info.recorded:
            payload = result.structured_content if isinstance(result, CallToolResult) else None
            with anyio.CancelScope(shield=True):
                await self._record(info.session_id, name, arguments, ok=True, result=payload,
                                   latency_ms=latency)
        return result

    async def call_in_process(self, name: str, arguments: dict[str, Any] | None
                              ) -> CallToolResult:
        """What a client's ``tools/call`` gets from this server, without the protocol: for
        trainers in the same process (``EpisodeController(shop, connect="direct")``).

        The arguments are first made what an MCP client sends (the JSON-mode dump of its
        request: tuples become lists, NaN and infinities null, ...), then go through the same
        :meth:`call_tool` as every request (argument validation against the tool's input
        schema, the shop call, the trace record); a failure becomes the error result the
        SDK's request handler makes of it (its message as text, ``is_error``). A structured
        result comes without its text rendering (``content`` is empty). Arguments a
        client could not serialise, and an ``MCPError`` (a protocol-level error, which a client
        raises), are raised.
        """
        sent = _AS_SENT.dump_python(arguments or {}, mode="json")  # raises as a client does
        try:
            return await self._traced_call(name, sent, None, direct=True)
        except MCPError:
            raise
        except Exception as exc:
            return CallToolResult(content=[TextContent(type="text", text=str(exc))],
                                  is_error=True)

    async def _run_direct(self, name: str, arguments: dict[str, Any],
                          info: _CallInfo) -> Any:
        """What ``MCPServer.call_tool`` does (the SDK tool's ``run``: argument validation, the
        call, errors wrapped the same way), except that a result the call's unit of work has
        already dumped for the trace is not validated and dumped again, nor rendered as text
        (a client of the direct path reads the structured result)."""
        tool = self._tool_manager.get_tool(name)
        if tool is None:
            raise ToolError(f"Unknown tool: {name}")
        context: Any = None  # built only for a tool that takes one, as the SDK would build it
        if tool.context_kwarg is not None or tool.resolved_params:
            context = Context(mcp_server=self, subscriptions=self._subscriptions)
        value = await tool.run(arguments, context, convert_result=False)
        meta = tool.fn_metadata
        if (info.dumped is not None and info.dumped[0] is value and not meta.wrap_output
                and meta.output_schema is not None and type(value) is meta.output_model):
            return CallToolResult(content=[], structured_content=info.dumped[1])
        try:
            return meta.convert_result(value)
        except MCPError:
            raise
        except Exception as exc:  # as the SDK's run: a failed conversion is a crash
            raise UnexpectedToolError(f"Error executing tool {name}") from exc

    async def _check_argument_names(self, name: str, arguments: dict[str, Any]) -> None:
        """Reject misspelled arguments, which would otherwise be ignored silently."""
        if name not in self._arg_names:
            self._arg_names = {t.name: frozenset(t.input_schema.get("properties", {}))
                               for t in await self.list_tools()}
        known = self._arg_names.get(name)
        if known is None:
            # an unknown tool, named as the SDK names it but quoted shortly when long (the
            # SDK's own message repeats a name of any length)
            raise ToolError(f"Unknown tool: {name if len(name) <= 100 else short(name)}")
        unknown = sorted(set(arguments or {}) - known)
        if unknown:
            valid = ", ".join(sorted(known)) or "none"
            given = ", ".join(short(u) for u in unknown[:5])
            raise InvalidArguments(f"Error executing tool {name}: invalid arguments: unknown "
                                   f"argument(s) {given}; valid arguments: {valid}")

    def _guess_session(self, arguments: dict[str, Any]) -> str | None:
        """The session of a call rejected before its body ran (bad arguments, unknown tool)."""
        given = arguments.get("session_id") if isinstance(arguments, dict) else None
        if isinstance(given, str):
            return given
        return self.default_session if given is None else None

    async def _record(self, session_id: str, tool: str, arguments: dict[str, Any], *, ok: bool,
                      latency_ms: float, result: Any = None, error_code: str | None = None,
                      error_message: str | None = None) -> None:
        event = self._event(tool, arguments, ok=ok, latency_ms=latency_ms, result=result,
                            error_code=error_code, error_message=error_message)
        try:
            if self.offload:
                await anyio.to_thread.run_sync(
                    functools.partial(self.shop.record_call, session_id, **event),
                    limiter=self._limiter)
            else:
                self.shop.record_call(session_id, **event)
        except ShopError:
            pass  # unknown or malformed handle: the call belongs to no session
        except Exception:
            log.exception("could not record a %s call in the trace of a session", tool)

    def _event(self, tool: str, arguments: dict[str, Any], *, ok: bool, latency_ms: float,
               result: Any = None, error_code: str | None = None,
               error_message: str | None = None) -> dict[str, Any]:
        """The trace record of a call, as ``trace.record_call`` takes it (which bounds it)."""
        args = {k: v for k, v in (arguments or {}).items() if k != "session_id"}
        event: dict[str, Any] = dict(tool=tool, arguments=args, ok=ok,
                                     error_code=error_code, error_message=error_message,
                                     latency_ms=round(latency_ms, 3))
        if ok:
            text, event["result_digest"] = digest(result)
            if len(text) <= self.trace_result_limit:
                event["result"], event["result_json"] = result, text
        return event
