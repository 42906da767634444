"""Runs fuzzed tool calls (``fuzz_strategies``) against a server through an MCP client and
counts what must never happen:

- internal errors: a call answered with the generic "Error executing tool <name>" or an error
  without a typed code, or traced with code ``internal_error`` (or an untyped ``tool_error``);
- unrecorded calls: a call addressed to a session that does not add exactly one record to its
  trace (and, per block, the trace's tools not in the order the calls were made);
- state changes from rejected calls: the session's rows (``Shop.snapshot``) before and after a
  rejected call differ (also counted: accepted read-only calls that changed state, and any
  change to another session's rows);
- transport failures: the client itself raising instead of getting a tool result.

Used by ``bench/fuzz_tools.py`` (10,000+ calls per backend) and by
``tests/protocol/test_reliability.py`` (a short run).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from mcp import Client
from sqlalchemy import Engine, func, select

from mcp_shop import Shop
from mcp_shop.ids import product_of
from mcp_shop.models import TraceEvent
from mcp_shop.search import SearchQuery
from mcp_shop.state import snapshot_bytes
from mcp_shop.tool_catalog import CATALOGUE
from mcp_shop.trace import (
    MAX_ARGUMENTS_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_RESULT_CHARS,
    MAX_STRING,
    TraceRecord,
    storable_text,
)
from tests.protocol.fuzz_strategies import Call, Pools, Schema, call_strategy, draw_calls
from tests.protocol.raw_http import RawClient, RawDeep

WIRE = [10**5000, -10**5000, RawDeep(), RawDeep(300), float("nan"), "\ud800", "a\udfffb"]

TYPED_CODES = frozenset({"not_found", "invalid_input", "out_of_stock", "invalid_code",
                         "ineligible", "invalid_state", "payment_declined",
                         "invalid_arguments", "unknown_tool"})
# the tau2-retail surface's refusals: tau2_<kind> (mcp_shop.tau2.tools_common)
TYPED_PREFIXES = ("tau2_",)
# every surface's (a tool's name means one kind on every surface)
READ_TOOLS = frozenset(t.name for tools in CATALOGUE.values() for t in tools if t.kind == "read")
# JSON-RPC answers to a request no tool saw: a body the server cannot parse, or params that
# are not a tools/call's (from raw_http.RawClient); such a request addresses no session
UNPARSED = ("jsonrpc error -32700:", "jsonrpc error -32602:")
_CODE = re.compile(r"([a-z0-9_]+): ")
MAX_ERROR_TEXT = 2000  # an error answer stays short, whatever the size of the input
_T = TraceEvent.__table__  # type: ignore[attr-defined]


@dataclass
class FuzzStats:
    """What a fuzzing run counted; ``faults`` must be 0."""

    calls: int = 0
    accepted: int = 0
    rejected: int = 0
    addressed: int = 0  # calls carrying the fuzzed session's handle
    internal_errors: int = 0
    unrecorded: int = 0
    misordered_blocks: int = 0
    rejected_changed_state: int = 0
    read_changed_state: int = 0
    other_session_changed: int = 0
    transport_failures: int = 0
    code_mismatches: int = 0  # the client's error code differs from the traced one
    unparsed: int = 0  # refused by the transport before any tool ran (JSON-RPC parse error)
    long_errors: int = 0  # an error text over MAX_ERROR_TEXT characters (inputs echoed whole)
    long_unknown_tool_errors: int = 0  # the same, answering a call of an unknown tool
    oversized_records: int = 0  # a trace record past the bounds mcp_shop.trace documents
    slowest: tuple[float, str] = (0.0, "")  # the slowest call: seconds, tool
    seconds: float = 0.0
    codes: Counter[str] = field(default_factory=Counter)
    tools: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    @property
    def faults(self) -> int:
        return (self.internal_errors + self.unrecorded + self.misordered_blocks
                + self.rejected_changed_state + self.read_changed_state
                + self.other_session_changed + self.transport_failures + self.code_mismatches
                + self.long_errors + self.long_unknown_tool_errors + self.oversized_records)

    def note(self, what: str, tool: str, args: dict[str, Any], detail: str = "") -> None:
        if len(self.examples) < 30:
            shown = {k: (repr(v)[:80] if len(repr(v)) > 80 else v) for k, v in args.items()}
            self.examples.append(f"{what}: {tool[:40]!r} {shown} {detail[:300]}")

    def merge(self, other: FuzzStats) -> None:
        for name in ("calls", "accepted", "rejected", "addressed", "internal_errors",
                     "unrecorded", "misordered_blocks", "rejected_changed_state",
                     "read_changed_state", "other_session_changed", "transport_failures",
                     "code_mismatches", "unparsed", "long_errors", "long_unknown_tool_errors",
                     "oversized_records", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.slowest = max(self.slowest, other.slowest)
        self.codes.update(other.codes)
        self.tools.update(other.tools)
        self.examples += other.examples[:max(0, 30 - len(self.examples))]


def error_code(tool: str, text: str) -> str | None:
    """The typed code a tool error's text starts with; None for an untyped error."""
    if text.startswith(UNPARSED):
        return "unparsed"
    if text.startswith("Unknown tool"):
        return "unknown_tool"
    rest = text.removeprefix(f"Error executing tool {tool}: ")
    if rest.startswith("invalid arguments: "):
        return "invalid_arguments"
    match = _CODE.match(rest)
    if match is None:
        return None
    code = match.group(1)
    return code if code in TYPED_CODES or code.startswith(TYPED_PREFIXES) else None


# -- the world a block of calls works in ---------------------------------------------------

_CATALOG: dict[int, dict[str, Any]] = {}


def _catalog_pools(shop: Shop, sid: str) -> dict[str, Any]:
    """Product, variant, category, brand and attribute values of the catalog (cached)."""
    if id(shop) in _CATALOG:
        return _CATALOG[id(shop)]
    page = shop.search(sid, SearchQuery(in_stock_only=True, sort="popularity", page_size=40))
    products: list[str] = []
    variants: list[str] = []
    stocked: list[str] = []
    cats: set[str] = set()
    brands: set[str] = set()
    attributes: dict[str, list[Any]] = {}
    for hit in page.hits:
        p = shop.get_product(sid, hit.product_id)
        products.append(p.product_id)
        variants += [v.variant_id for v in p.variants]
        stocked += [v.variant_id for v in p.variants if v.stock >= 20]
        parts = p.category_slug.split("/")
        cats.update("/".join(parts[:i + 1]) for i in range(len(parts)))
        brands.add(p.brand)
        for k, v in p.attributes.items():
            attributes.setdefault(k, []).append(v)
    out = dict(products=products, variants=variants, stocked=stocked, categories=sorted(cats),
               brands=sorted(brands), attributes=attributes)
    _CATALOG[id(shop)] = out
    return out


def make_world(shop: Shop, seed: int) -> tuple[Pools, str]:
    """A fuzzed session (a pending order, two cart lines, its history) and another session
    whose ids it must not reach; returns the pools and the other session's handle."""
    a = shop.open_session(seed=seed).session_id
    b = shop.open_session(seed=seed + 500_000, history_orders=7).session_id
    cat = _catalog_pools(shop, a)
    v1, v2, v3 = cat["stocked"][seed % 5], cat["stocked"][5 + seed % 5], cat["stocked"][10]
    shop.add_to_cart(a, v1, 1)
    shop.checkout(a, payment_method_id="PM-1")
    shop.add_to_cart(a, v2, 2)
    shop.add_to_cart(a, v3, 1)
    shop.add_to_cart(b, v1, 1)
    shop.checkout(b, payment_method_id="PM-1")
    orders = [o.order_id for o in shop.list_orders(a)]
    ordered = [line.variant_id for o in orders for line in shop.get_order(a, o).lines]
    customer = shop.get_customer(a)
    codes = [r["code"] for r in shop.snapshot(a)["discount_code"]]
    foreign = [o.order_id for o in shop.list_orders(b) if o.order_id not in orders]
    pools = Pools(
        products=cat["products"] + [product_of(v) for v in ordered],
        variants=cat["variants"] + ordered, orders=orders,
        payments=[m.payment_method_id for m in customer.payment_methods],
        addresses=[x.address_id for x in customer.addresses],
        codes=codes + ["FREESHIP", "WELCOME10", "nosuchcode"], categories=cat["categories"],
        brands=cat["brands"], attributes=cat["attributes"], foreign=foreign + [b], handle=a)
    return pools, b


# -- running calls and checking them --------------------------------------------------------

def _count(engine: Engine, sid: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(_T)
                                .where(_T.c.session_id == sid)).scalar_one())


def _last_code(engine: Engine, sid: str) -> tuple[bool, str | None]:
    with engine.connect() as conn:
        row = conn.execute(select(_T.c.ok, _T.c.error_code).where(_T.c.session_id == sid)
                           .order_by(_T.c.seq.desc()).limit(1)).one()
        return bool(row[0]), row[1]


class ToolCaller(Protocol):
    """What ``run_calls`` needs of a client (the SDK's ``Client``, ``RawClient``, a stub)."""

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any: ...


async def run_calls(client: ToolCaller, shop: Shop, calls: list[Call], pools: Pools,
                    other: str, *, default_session: bool = False) -> FuzzStats:
    """Make ``calls`` one after another on ``client`` and check each (see the module doc).

    ``default_session``: the server's default session is the fuzzed one (as on stdio), so a
    call without a handle (or with null) addresses it too."""
    stats = FuzzStats()
    engine, sid = shop.engine, pools.handle
    other_before = snapshot_bytes(shop.snapshot(other))
    sent: list[str] = []
    started = time.perf_counter()
    # calls run one at a time and only they touch the session: the state after one call is
    # the state before the next
    after, count_after = snapshot_bytes(shop.snapshot(sid)), _count(engine, sid)
    for tool, args in calls:
        given = args.get("session_id")
        addressed = (given == sid and isinstance(given, str)) or (
            default_session and given is None)
        before, count = after, count_after
        stats.calls += 1
        stats.tools[tool if tool in shop_tools() else "<unknown tool>"] += 1
        began = time.perf_counter()
        try:
            result = await client.call_tool(tool, args)
        except Exception as exc:  # noqa: BLE001 - the client itself failed: counted
            stats.transport_failures += 1
            stats.note("transport", tool, args, f"{type(exc).__name__}: {exc}")
            after, count_after = snapshot_bytes(shop.snapshot(sid)), _count(engine, sid)
            continue
        stats.slowest = max(stats.slowest, (time.perf_counter() - began, tool[:40]))
        text = result.content[0].text if result.content and hasattr(result.content[0],
                                                                    "text") else ""
        after, count_after = snapshot_bytes(shop.snapshot(sid)), _count(engine, sid)
        recorded = count_after - count
        if text.startswith(UNPARSED) and getattr(result, "status", 400) < 500:
            addressed = False
            stats.unparsed += 1
        if tool == "open_session" and not result.is_error:
            addressed = False  # recorded in the session it opened (checked below)
        stats.addressed += addressed
        if addressed:
            sent.append(tool)
        if recorded != (1 if addressed else 0):
            stats.unrecorded += 1
            stats.note("unrecorded", tool, args, f"{recorded} records; {text}")
        if not result.is_error:
            stats.accepted += 1
            stats.codes["ok"] += 1
            if tool in READ_TOOLS and before != after:
                stats.read_changed_state += 1
                stats.note("read changed state", tool, args)
            if tool == "open_session" and "session_id" not in args:
                opened = (result.structured_content or {}).get("session_id", "")
                if _count(engine, opened) != 1:
                    stats.unrecorded += 1
                    stats.note("open_session unrecorded", tool, args)
            continue
        stats.rejected += 1
        code = error_code(tool, text)
        traced = _last_code(engine, sid)[1] if addressed and recorded == 1 else code
        stats.codes[str(traced)] += 1
        if code is None or traced in (None, "internal_error", "tool_error") \
                or getattr(result, "status", 200) >= 500:
            stats.internal_errors += 1
            stats.note("internal error", tool, args, f"{traced}: {text}")
        elif traced != code:
            stats.code_mismatches += 1
            stats.note("code mismatch", tool, args, f"traced {traced}, said {text}")
        if len(text) > MAX_ERROR_TEXT and code == "unknown_tool":
            stats.long_unknown_tool_errors += 1
            stats.note("long error text", tool, args, f"{len(text)} characters: {text}")
        elif len(text) > MAX_ERROR_TEXT:
            stats.long_errors += 1
            stats.note("long error text", tool, args, f"{len(text)} characters: {text}")
        if before != after:
            stats.rejected_changed_state += 1
            stats.note("rejected call changed state", tool, args, text)
    trace = shop.trace(sid)
    for record in trace:
        if not _bounded(record):
            stats.oversized_records += 1
            stats.note("oversized trace record", record.tool[:40], {},
                       f"seq {record.seq}: {len(record.model_dump_json())} characters")
    traced_tools = [t.tool for t in trace]
    if traced_tools[-len(sent):] != [storable_text(t) for t in sent] if sent else False:
        stats.misordered_blocks += 1
        stats.note("trace order", "-", {}, f"{len(traced_tools)} records, {len(sent)} sent")
    if snapshot_bytes(shop.snapshot(other)) != other_before:
        stats.other_session_changed += 1
        stats.note("other session changed", "-", {})
    stats.seconds = time.perf_counter() - started
    return stats


_SHOP_TOOLS = frozenset(t.name for tools in CATALOGUE.values() for t in tools)


def _bounded(record: TraceRecord) -> bool:
    """Whether a stored record keeps within the bounds ``mcp_shop.trace`` documents."""
    return (len(json.dumps(record.arguments)) <= MAX_ARGUMENTS_CHARS
            and len(record.error_message or "") <= MAX_MESSAGE_CHARS + 100
            and len(record.tool) <= MAX_STRING + 200
            and len(json.dumps(record.result)) <= MAX_RESULT_CHARS)


def shop_tools() -> frozenset[str]:
    return _SHOP_TOOLS


async def tool_schemas(client: Client | RawClient) -> dict[str, Schema]:
    """Every tool's input schema, as ``tools/list`` gives it."""
    listed = await client.list_tools()
    return {t.name: t.input_schema for t in listed.tools}


async def fuzz_default_session(shop: Shop, *, calls: int, block: int = 250,
                               seed: int = 0) -> FuzzStats:
    """Like :func:`fuzz`, on a server whose default session is the fuzzed one (as a stdio
    connection's), in memory; about half the calls leave the handle out."""
    from mcp_shop.server import build_server

    total = FuzzStats()
    done = 0
    while done < calls:
        n = min(block, calls - done)
        pools, other = make_world(shop, seed * 10_000 + done)
        server = build_server(shop, default_session=pools.handle, log_level="CRITICAL")
        async with Client(server) as client:
            schemas = await tool_schemas(client)
            drawn = draw_calls(call_strategy(schemas, pools), n, seed * 10_000 + done)
            drawn = [(tool, {k: v for k, v in args.items()
                             if not (k == "session_id" and v == pools.handle and i % 2)})
                     for i, (tool, args) in enumerate(drawn)]
            total.merge(await run_calls(client, shop, drawn, pools, other,
                                        default_session=True))
        done += n
    return total


async def fuzz(client: Client | RawClient, shop: Shop, *, calls: int, block: int = 250,
               seed: int = 0) -> FuzzStats:
    """``calls`` fuzzed calls in blocks of ``block``, each block on a fresh world (with a
    ``RawClient``, values only it can send are mixed in)."""
    schemas = await tool_schemas(client)
    total = FuzzStats()
    done = 0
    while done < calls:
        n = min(block, calls - done)
        pools, other = make_world(shop, seed * 10_000 + done)
        wire = WIRE if isinstance(client, RawClient) else None
        drawn = draw_calls(call_strategy(schemas, pools, wire), n, seed * 10_000 + done)
        total.merge(await run_calls(client, shop, drawn, pools, other))
        done += n
    return total
