"""What the tau2-retail surface tests share: the fixture world (tests/fixtures/tau2_retail)
installed in a database, the state of a session in tau2's layout, the state a list of calls
must give (from the test reference of tau2's rules, tests/mcp_shop/tau2_reference.py, and from
the domain's own replay), tau2 calls over an MCP client, and the fuzzed session's pools.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from mcp_shop import Shop
from mcp_shop.db import make_engine, read_tx
from mcp_shop.tau2.install import import_tau2_world
from mcp_shop.tau2.loader import Tau2Retail, load_tau2_retail
from mcp_shop.tau2.projection import project_session
from mcp_shop.tau2.records import CANCEL_REASONS, TOOL_PARAMS, RetailDB
from mcp_shop.tau2.replay import replay_calls
from mcp_shop.tau2.session_world import open_tau2_session
from mcp_shop.tau2.world import db_hash
from tests.mcp_shop.tau2_reference import Calls, gold_calls, replay
from tests.protocol.fuzz_runner import WIRE, FuzzStats, run_calls, tool_schemas
from tests.protocol.fuzz_strategies import Pools, call_strategy, draw_calls
from tests.protocol.journey import assert_trace_matches
from tests.protocol.raw_http import RawClient

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "tau2_retail"
SURFACE = ["--surface", "tau2-retail"]


def fixture_world() -> Tau2Retail:
    return load_tau2_retail(FIXTURE)


def install_fixture(url: str, *, schema: str | None = None) -> str:
    """Import the fixture world's catalog and install its users and orders; its key."""
    engine = make_engine(url, schema=schema)
    try:
        return import_tau2_world(engine, fixture_world()).key
    finally:
        engine.dispose()


def projection(engine: Engine, session_id: str) -> RetailDB:
    with read_tx(engine) as conn:
        return project_session(conn, session_id)


def state_hash(engine: Engine, session_id: str) -> str:
    return db_hash(projection(engine, session_id))


def rounded(value: Any) -> Any:
    """``value`` with every float rounded to cents (the reference keeps tau2's unrounded
    floats where the shop keeps cents)."""
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def reference_state(world: Tau2Retail, calls: Calls) -> Any:
    """The state ``calls`` give from the world by the test reference (floats to cents)."""
    return rounded(replay(world.db, calls)[0].model_dump())


def domain_replay(engine: Engine, key: str, calls: Calls) -> RetailDB:
    """The state ``calls`` give in a new session through the domain functions, without MCP
    (a refused call skipped, as tau2 skips a failing gold action)."""
    sid = open_tau2_session(engine, key)
    replay_calls(engine, sid, calls)
    return projection(engine, sid)


@dataclass
class Tau2Calls:
    """tau2 tool calls on one session over an MCP client: every call and its result kept
    (as ``journey.Recorder`` keeps them, for ``assert_trace_matches``), refusals too."""

    client: Any
    session_id: str | None = None
    calls: list[tuple[str, dict[str, Any], Any]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, tool: str, args: dict[str, Any]) -> Any:
        sent = dict(args)
        if self.session_id is not None:
            sent["session_id"] = self.session_id
        result = await self.client.call_tool(tool, sent)
        if result.is_error:
            self.refused.append((tool, str(getattr(result.content[0], "text", ""))))
            return None
        self.calls.append((tool, args, result.structured_content))
        return result.structured_content

    async def open(self) -> str:
        opened = await self("open_session", {})
        assert opened is not None, self.refused
        self.session_id = str(opened["session_id"])
        self.calls.clear()  # recorded in the session it opened, not counted as one of its calls
        return self.session_id

    async def play(self, calls: Calls) -> None:
        for name, args in calls:
            await self(name, args)


def task_calls(world: Tau2Retail, task_id: str) -> Calls:
    return gold_calls(world.task(task_id))


# -- many sessions at once ----------------------------------------------------------------

async def run_tasks_at_once(connect: Callable[..., Any], shop: Shop, world: Tau2Retail, *,
                            sessions: int, concurrency: int) -> list[str]:
    """``sessions`` sessions, session ``i`` playing the gold of the world's task ``i`` (modulo
    the number of tasks) over its own client ``connect(mode=...)``, ``concurrency`` at a time;
    returns the problems found (each session's final state must be its task's, its trace
    exactly its calls)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> tuple[str, Tau2Calls]:
        task_id = world.tasks[i % len(world.tasks)].id
        async with gate, connect(mode="legacy" if i % 3 == 0 else "2026-07-28") as client:
            play = Tau2Calls(client)
            await play.open()
            for name, args in task_calls(world, task_id):
                await play(name, args)
                await asyncio.sleep(0)  # let the other sessions interleave
            return task_id, play

    done = await asyncio.gather(*(one(i) for i in range(sessions)))
    problems = []
    if len({p.session_id for _, p in done}) != sessions:
        problems.append("two sessions got the same handle")
    for task_id, play in done:
        sid = str(play.session_id)
        got = rounded(projection(shop.engine, sid).model_dump())
        if play.refused or got != reference_state(world, task_calls(world, task_id)):
            problems.append(f"task {task_id} in {sid}: refused {play.refused[:2]} or state")
        try:
            assert_trace_matches(shop.trace(sid)[1:], play.calls)
        except AssertionError as exc:
            problems.append(f"task {task_id} in {sid}: trace {str(exc)[:200]}")
    return problems


# -- fuzzing ------------------------------------------------------------------------------

def fuzz_world(shop: Shop, key: str, world: Tau2Retail) -> Callable[[Shop, int],
                                                                     tuple[Pools, str]]:
    """A ``make_world`` for the fuzz runner: a fresh tau2 session (pools of the world's ids)
    and another one it must not reach."""
    db = world.db

    def make(_: Shop, seed: int) -> tuple[Pools, str]:
        a = open_tau2_session(shop.engine, key)
        b = open_tau2_session(shop.engine, key)
        items = sorted(db.item_product())
        return Pools(products=sorted(db.products), variants=items, orders=sorted(db.orders),
                     payments=sorted({m for u in db.users.values() for m in u.payment_methods}),
                     addresses=[], codes=[], categories=[], brands=[], attributes={},
                     foreign=[b], handle=a), b

    return make


def valid_calls(world: Tau2Retail, rng: random.Random, count: int,
                handle: str) -> list[tuple[str, dict[str, Any]]]:
    """``count`` well-formed calls of random tools with ids of the world (many still refused
    by tau2's rules: a delivered order cannot be cancelled, ...)."""
    db = world.db
    users = sorted(db.users.values(), key=lambda u: u.user_id)
    item_product = db.item_product()
    out = []
    for _ in range(count):
        user = rng.choice(users)
        order = db.orders[rng.choice(user.orders)] if user.orders else None
        owned = [i.item_id for i in order.items] if order else []
        olds = rng.sample(owned, k=min(len(owned), rng.randint(1, 2)))
        news = [rng.choice(sorted(db.products[item_product[i]].variants)) for i in olds]
        address = dict(address1=f"{rng.randint(1, 999)} Fuzz Road", address2="",
                       city="Testville", state="OR", country="USA", zip="97000")
        values: dict[str, Any] = dict(
            email=user.email, first_name=user.name.first_name, last_name=user.name.last_name,
            user_id=user.user_id,
            order_id=order.order_id if order else "#W0000000",
            product_id=rng.choice(sorted(db.products)), item_id=rng.choice(sorted(item_product)),
            reason=rng.choice(CANCEL_REASONS), item_ids=olds, new_item_ids=news,
            payment_method_id=rng.choice(sorted(user.payment_methods)),
            expression=f"{rng.randint(1, 99)}.5 * {rng.randint(1, 9)}",
            summary="the customer asks for a person", **address)
        name = rng.choice(sorted(TOOL_PARAMS))
        if name == "find_user_id_by_name_zip":
            values["zip"] = user.address.zip
        out.append((name, {p: values[p] for p in TOOL_PARAMS[name]} | {"session_id": handle}))
    return out


async def fuzz_tau2(client: Any, shop: Shop, key: str, world: Tau2Retail, *,
                    blocks: int, seed: int = 0) -> FuzzStats:
    """``blocks`` blocks of 150 calls, each on a fresh session: 100 fuzzed calls of the
    tools' schemas (about a quarter well-formed, ids from the pools; with a ``RawClient``,
    values only it can send mixed in) and 50 well-formed calls of the world's ids, shuffled,
    through the native fuzz runner's checks."""
    make = fuzz_world(shop, key, world)
    schemas = await tool_schemas(client)
    total = FuzzStats()
    for block in range(blocks):
        pools, other = make(shop, block)
        wire = WIRE if isinstance(client, RawClient) else None  # values only it can send
        drawn = draw_calls(call_strategy(schemas, pools, wire), 100,
                           seed * 1000 + 7_000 + block)
        rng = random.Random(seed * 1000 + block)
        calls = drawn + valid_calls(world, rng, 50, pools.handle)
        rng.shuffle(calls)
        total.merge(await run_calls(client, shop, calls, pools, other))
    return total
