"""The episode controller: seeds a task's world, plays the shopper, lets an agent act through the
shop's MCP tools, reads the server's trace and scores the outcome with the verifiers.

    controller = EpisodeController(shop)                # in-memory MCP server over ``shop``
    async with controller:
        episode = controller.episode(task)
        obs = await episode.reset()
        while not (step := await episode.step(action)).done: ...
        records = await controller.run(agent, tasks, concurrency=16)

The agent only ever reaches the shop through its MCP tools: over an MCP client (in memory by
default, or the URL of a running HTTP server, or a stdio command), or, for trainers in the same
process, called directly without the protocol (``EpisodeController(shop, connect="direct")``:
same results, errors, validation and trace records; see ``episodes.links``). The controller
injects the session handle into every call, so agents never see it. The controller itself uses
the Python API for what the agent must not do: building the world, reading state and the trace.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import marshal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio

from episodes.links import Connect, make_link, openai_tool
from episodes.records import (
    ROLLOUT_SCHEMA_VERSION,
    FunctionTool,
    Rollout,
    RolloutMetrics,
    StopReason,
    rollout_id,
)
from episodes.shopper import Shopper
from episodes.steps import (
    Action,
    Agent,
    Observation,
    Policy,
    StepResult,
    ToolRequest,
    ToolResult,
    start_policy,
)
from episodes.world import apply_event, build_world, product_facts
from mcp_shop import Shop, tool_catalog
from mcp_shop.db import write_tx
from mcp_shop.errors import ShopError
from mcp_shop.ids import product_of
from mcp_shop.pruning import delete_sessions, remove_session
from verifiers import normalize, progress_score, score
from verifiers.types import (
    Breakdown,
    Confirmation,
    EpisodeInput,
    IntentSnapshot,
    Message,
    ProductFacts,
    ShopState,
    TaskSpec,
    ToolCall,
    TraceEntry,
)

__all__ = [
    "ENV_VERSION",
    "Action",
    "Agent",
    "EpisodeController",
    "Observation",
    "Policy",
    "StepResult",
    "ToolRequest",
    "ToolResult",
    "play_in_order",
    "start_policy",
]

ENV_VERSION = "mcp-shop-episodes/1"
RewardMode = Literal["sparse", "shaped", "dense"]
HIDDEN_TOOLS = tool_catalog.HIDDEN_TOOLS  # never shown to agents (open_session)
MAX_IDLE_STEPS = 3  # empty actions in a row before the episode is cut off ("agent_idle")
MUTATING_TOOLS = tool_catalog.STATE_CHANGING_TOOLS  # calls after which the state is read again
# Sessions of finished episodes that ``run`` removes together, in one transaction: most left
# in the database at once (a crash leaves at most these, ordinary sessions that ``mcp-shop
# prune`` removes); one removal per session costs about three times as much CPU
REMOVAL_BATCH = 32


# -- the controller ---------------------------------------------------------------------------


_FROZEN = [0]  # controllers open in this process (see _freeze_gc)


def _freeze_gc() -> None:
    """While controllers are open, keep the objects that existed when the first one opened
    (the catalog, the server, the modules: most of the process's objects, all long-lived) out
    of Python's cyclic garbage collection: a full collection would walk them all for nothing
    every few hundred episodes (about 5-10% of an episode's CPU time on the direct path).
    The last controller to close gives them back (``gc.unfreeze``), so nothing is kept for
    good."""
    if _FROZEN[0] == 0:
        gc.freeze()
    _FROZEN[0] += 1


def _unfreeze_gc() -> None:
    if _FROZEN[0] > 0:
        _FROZEN[0] -= 1
        if _FROZEN[0] == 0:
            gc.unfreeze()


async def play_in_order(play: Callable[..., Awaitable[dict[str, Any]]], tasks: Sequence[Any],
                        *, concurrency: int = 1, trials: int = 1,
                        on_done: Callable[[dict[str, Any]], Any] | None = None,
                        ) -> list[dict[str, Any]]:
    """``await play(task, trial=t)`` for every task ``trials`` times, up to ``concurrency`` at
    once; ``on_done(record)`` (awaited if it returns an awaitable) as each ends; the records in
    task order, the trials of a task together."""
    jobs = [(task, t) for task in tasks for t in range(trials)]
    records: list[dict[str, Any] | None] = [None] * len(jobs)
    limiter = anyio.CapacityLimiter(max(1, concurrency))

    async def one(k: int, task: Any, trial: int) -> None:
        async with limiter:
            records[k] = await play(task, trial=trial)
        if on_done is not None:
            result = on_done(records[k])  # type: ignore[arg-type]
            if isinstance(result, Awaitable):
                await result

    async with anyio.create_task_group() as tg:
        for k, (task, trial) in enumerate(jobs):
            tg.start_soon(one, k, task, trial)
    return [r for r in records if r is not None]


class EpisodeController:
    """Runs episodes against one shop, through one MCP connection (or the direct path)."""

    def __init__(self, shop: Shop, *, connect: Connect = None,
                 reward_mode: RewardMode = "sparse",
                 rephraser: Callable[[str, str], str] | None = None,
                 keep_sessions: bool = False) -> None:
        """``connect``: None for an in-memory MCP server over ``shop``; ``"direct"`` for that
        server's tools called in process without the MCP protocol (same results, errors,
        validation and trace records; for trainers); an ``http(s)://`` URL of a running server
        on the same database; or a stdio command (list of words).
        ``keep_sessions``: keep each episode's shop session in the database after the episode
        (by default it is removed, with every row it owns, once the record is built: the record
        holds its trace; ``run`` removes its episodes' sessions in batches, see ``run``)."""
        self.shop = shop
        self.keep_sessions = keep_sessions
        self.reward_mode: RewardMode = reward_mode
        self.rephraser = rephraser
        self._link = make_link(shop, connect)
        self.tools: list[dict[str, Any]] = []
        self._record_tools: tuple[list[dict[str, Any]], list[FunctionTool], bytes] | None = None
        self._gc_frozen = False
        self._runs = 0  # run() calls in progress: their episodes' sessions go in batches
        self._finished: list[str] = []  # sessions of their finished episodes not removed yet

    async def __aenter__(self) -> EpisodeController:
        await self._link.__aenter__()
        listed = await self._link.list_tools()
        self.tools = [openai_tool(t) for t in listed if t.name not in HIDDEN_TOOLS]
        if not self._gc_frozen:
            _freeze_gc()
            self._gc_frozen = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            self._remove_finished()
            await self._link.__aexit__(*exc)
        finally:
            if self._gc_frozen:
                self._gc_frozen = False
                _unfreeze_gc()

    def record_tools(self) -> tuple[list[FunctionTool], bytes]:
        """``tools`` as every record holds them: validated once, and their record data (JSON
        values) held ``marshal``-ed, from which each record gets its own copy (a third of the
        cost of parsing it from JSON), rather than validated and serialised per episode. The
        bytes never leave the process."""
        held = self._record_tools
        if held is None or held[0] is not self.tools:
            validated = [FunctionTool.model_validate(t) for t in self.tools]
            held = self._record_tools = (self.tools, validated, marshal.dumps(
                [t.model_dump(mode="json") for t in validated]))
        return held[1], held[2]

    def episode(self, task: TaskSpec, *, policy: str = "", trial: int = 0) -> Episode:
        return Episode(self, task, policy=policy, trial=trial)

    def release(self, episode: Episode) -> None:
        """Done with ``episode``: remove its shop session unless ``keep_sessions`` (call it
        after the record is built; environments that step episodes themselves call it when
        an episode is replaced or closed)."""
        if not self.keep_sessions:
            episode.close()

    async def run(self, agent: Agent, tasks: Sequence[TaskSpec], *, concurrency: int = 1,
                  trials: int = 1, on_done: Callable[[dict[str, Any]], Any] | None = None,
                  ) -> list[dict[str, Any]]:
        """Run ``agent`` on every task (``trials`` times each) with up to ``concurrency``
        episodes in flight; returns the rollout records in task order.

        The sessions of finished episodes are removed ``REMOVAL_BATCH`` at a time, and all of
        them by the time this returns or raises (unless ``keep_sessions``)."""
        self._runs += 1
        try:
            return await play_in_order(functools.partial(self.run_episode, agent), tasks,
                                       concurrency=concurrency, trials=trials, on_done=on_done)
        finally:
            self._runs -= 1
            self._remove_finished()

    def _retire(self, episode: Episode) -> None:
        """``release`` for an episode ``run`` played: its session joins the batch removed
        next (at once when no ``run`` is in progress)."""
        if self.keep_sessions or self._runs == 0:
            self.release(episode)
            return
        if episode.session_id and not episode.closed:
            self._finished.append(episode.session_id)
        episode.closed = True
        if len(self._finished) >= REMOVAL_BATCH:
            self._remove_finished()

    def _remove_finished(self) -> None:
        """Remove the sessions ``_retire`` set aside, in one transaction."""
        if self._finished:
            ids, self._finished = self._finished, []
            with write_tx(self.shop.engine) as conn:
                delete_sessions(conn, ids)

    async def run_episode(self, agent: Agent, task: TaskSpec, *, trial: int = 0
                          ) -> dict[str, Any]:
        """One full episode of ``agent`` on ``task``; returns its rollout record."""
        episode = self.episode(task, policy=agent.name, trial=trial)
        try:
            obs = await episode.reset()
            seed = int.from_bytes(hashlib.sha256(
                f"{task.task_id}:{task.seed}:{trial}".encode()).digest()[:4], "big")
            policy = start_policy(agent, task, obs, seed=seed, trial=trial)
            while True:
                action = await policy.act(obs)
                step = await episode.step(action)
                obs = step.observation
                if step.done:
                    break
            return episode.record()  # built before the session goes (it holds the trace)
        finally:
            self._retire(episode)


@dataclass
class _Call:
    turn: int
    name: str
    arguments: dict[str, Any]
    ok: bool
    content: Any
    sent: bool = True  # False: refused here (a hidden tool), so the server never saw it


@dataclass
class Episode:
    """One task played once: reset, then steps until done."""

    controller: EpisodeController
    task: TaskSpec
    policy: str = ""
    trial: int = 0
    session_id: str = ""
    shopper: Shopper | None = None
    messages: list[Message] = field(default_factory=list)
    calls: list[_Call] = field(default_factory=list)
    confirmations: list[Confirmation] = field(default_factory=list)
    snapshots: list[IntentSnapshot] = field(default_factory=list)  # intents accepted, moved on
    products: dict[str, ProductFacts] = field(default_factory=dict)
    before: ShopState | None = None
    state: ShopState | None = None
    turn: int = 0
    event_index: int = 0
    done: bool = False
    terminated: bool = False
    truncated: bool = False
    stop_reason: str = ""
    breakdown: Breakdown | None = None
    progress: list[float] = field(default_factory=list)
    last_progress: float = 0.0
    started: float = 0.0
    wall: float = 0.0
    stale: bool = True
    idle: int = 0
    closed: bool = False

    @property
    def shop(self) -> Shop:
        return self.controller.shop

    # -- reset ------------------------------------------------------------------------------

    async def reset(self) -> Observation:
        """Build the world, open the conversation, and return the first observation."""
        self.started = time.perf_counter()
        self.session_id = build_world(self.shop, self.task.world)
        self.shopper = Shopper(self.task, rephrase=self.controller.rephraser)
        self.before = self.state = self._read_state()
        opening = await self._off_loop(self.shopper.opening)
        self.messages = [Message(role="user", content=opening)]
        if self.reward_mode == "dense":  # what the world already holds is not progress
            self.last_progress = self._progress_now()
        self.wall += time.perf_counter() - self.started
        return Observation(shopper_message=opening, turn=0, tools=self.controller.tools)

    # -- step -------------------------------------------------------------------------------

    async def step(self, action: Action) -> StepResult:
        """Make the action's tool calls, then deliver its message to the shopper (or end)."""
        if self.shopper is None:
            raise RuntimeError("call reset() before step()")
        if self.done:
            raise RuntimeError("the episode is over: reset() a new one")
        t0 = time.perf_counter()
        turn = self.turn + 1
        results: list[ToolResult] = []
        limits = self.task.limits
        if action.tool_calls:
            ids = [f"call_{turn}_{len(self.calls) + k}" for k in range(len(action.tool_calls))]
            self.messages.append(Message(role="assistant", content=None, tool_calls=[
                ToolCall(id=i, function={"name": r.name,
                                         "arguments": json.dumps(r.arguments, sort_keys=True)})
                for i, r in zip(ids, action.tool_calls, strict=True)]))
            for call_id, req in zip(ids, action.tool_calls, strict=True):
                if len(self.calls) >= limits.max_tool_calls:
                    self._stop("tool_budget", truncated=True)
                    content: Any = "tool-call budget exhausted"
                    self.messages.append(Message(role="tool", tool_call_id=call_id,
                                                 name=req.name, content=content))
                    continue
                ok, content = await self._call(req)
                self.stale = self.stale or (ok and req.name in MUTATING_TOOLS)
                self.calls.append(_Call(turn, req.name, req.arguments, ok, content,
                                        sent=req.name not in HIDDEN_TOOLS))
                results.append(ToolResult(name=req.name, arguments=req.arguments, ok=ok,
                                          content=content))
                self.messages.append(Message(
                    role="tool", tool_call_id=call_id, name=req.name,
                    content=json.dumps(content, sort_keys=True, default=str)
                    if not isinstance(content, str) else content))

        reply_text: str | None = None
        if not self.done and action.message is not None:
            self.turn = turn
            self.messages.append(Message(role="assistant", content=action.message))
            reply_text = await self._off_loop(self._shopper_turn, turn, action.message)
        if not self.done and action.done:
            self._stop("agent_done", truncated=False)
        idle = not (action.tool_calls or action.message is not None or action.done)
        self.idle = self.idle + 1 if idle else 0
        if not self.done and self.idle >= MAX_IDLE_STEPS:
            self._stop("agent_idle", truncated=True)
        if not self.done and self.turn >= limits.max_turns:
            self._stop("turn_budget", truncated=True)
        if not self.done and self.reward_mode == "dense":
            self._track_progress()
        reward = 0.0
        info: dict[str, Any] = {"turn": self.turn, "tool_calls": len(self.calls)}
        if self.done:
            self.breakdown = self._verdict()
            reward = self.breakdown.reward
            info.update(success=self.breakdown.success, stop_reason=self.stop_reason,
                        breakdown=self.breakdown.model_dump())
        elif self.reward_mode == "dense" and self.progress:
            reward = self.progress[-1]
        self.wall += time.perf_counter() - t0
        obs = Observation(shopper_message=reply_text, tool_results=results, turn=self.turn,
                          tool_calls=len(self.calls), done=self.done)
        return StepResult(obs, reward, self.terminated, self.truncated, info)

    @property
    def reward_mode(self) -> RewardMode:
        return self.controller.reward_mode

    async def _call(self, req: ToolRequest) -> tuple[bool, Any]:
        if req.name in HIDDEN_TOOLS:
            return False, (f"{req.name} is not available here: the episode's session is "
                           "already open and is used automatically")
        args = {k: v for k, v in req.arguments.items() if k != "session_id"}
        args["session_id"] = self.session_id
        return await self.controller._link.call(req.name, args)

    async def _off_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` here, or in a worker thread when the shopper's words come from a network
        call (the rephraser), so other episodes keep going meanwhile."""
        if self.controller.rephraser is None:
            return fn(*args)
        return await anyio.to_thread.run_sync(fn, *args)

    def _shopper_turn(self, turn: int, message: str) -> str:
        assert self.shopper is not None and self.before is not None
        new = [c for c in self.calls if c.turn == turn]
        if self.stale or self.state is None:
            self.state = self._read_state()
        self._learn_products(new, message)
        trace = self._local_trace()
        current = self.shopper.p.index
        reply = self.shopper.reply(
            turn=turn, message=message, new_calls=[e for e in trace if e.turn == turn],
            before=self.before, state=self.state, trace=trace, messages=self.messages,
            products=self.products)
        if self.shopper.p.index > current:  # accepted and moved on: judged as it is now
            self.snapshots.append(IntentSnapshot(
                index=current, turn=turn, intent=self.shopper.final[current],
                state=self.state, products=dict(self.products)))
        if reply.confirmation is not None:
            self.confirmations.append(reply.confirmation)
        self.messages.append(Message(role="user", content=reply.text))
        for event in self.task.scenario if not (reply.done or reply.quit) else ():
            if event.turn == turn:
                apply_event(self.shop, self.session_id, event)
                self.stale = True
                self.products.clear()  # prices and stock moved: read them again when needed
        if reply.done:
            self._stop("shopper_done", truncated=False)
        elif reply.quit:
            self._stop("shopper_quit", truncated=False)
        return reply.text

    def _stop(self, reason: StopReason, *, truncated: bool) -> None:
        self.done = True
        self.stop_reason = reason
        self.truncated = truncated
        self.terminated = not truncated

    # -- privileged reads -------------------------------------------------------------------

    def _read_state(self) -> ShopState:
        """The session's state now (read only when a change may have happened since)."""
        self.stale = False
        return normalize(self.shop.snapshot(self.session_id))

    def _learn_products(self, calls: Sequence[_Call], message: str) -> None:
        import re

        wanted: set[str] = set(re.findall(r"\bP-\d{1,9}\b", message))
        for c in calls:
            if c.name == "present_products" and c.ok and isinstance(c.content, dict):
                wanted.update(p["product_id"] for p in c.content.get("presented", []))
        state = self.state
        if state is not None:
            wanted.update(line.product_id for line in state.cart)
            old = {o.order_id for o in self.before.orders} if self.before else set()
            for order in state.orders:
                if order.order_id not in old:  # past orders' products are not judged
                    wanted.update(line.product_id for line in order.lines)
            for exchange in state.exchanges:  # the replacement's options are judged
                wanted.add(product_of(exchange.to_variant_id))
        self._fetch(wanted)

    def _fetch(self, ids: set[str]) -> None:
        for pid in sorted(ids - self.products.keys()):
            try:
                view = self.shop.get_product(self.session_id, pid)
            except ShopError:
                continue
            self.products[pid] = product_facts(view)

    def _local_trace(self) -> list[TraceEntry]:
        return [TraceEntry(seq=i + 1, tool=c.name, arguments=c.arguments, ok=c.ok,
                           result=c.content if c.ok else None,
                           error_message=None if c.ok else str(c.content), turn=c.turn)
                for i, c in enumerate(self.calls)]

    def _server_trace(self) -> list[TraceEntry]:
        """The server's own record of the session's calls, with turns from the call order."""
        out = []
        sent = [c for c in self.calls if c.sent]
        for i, rec in enumerate(self.shop.trace(self.session_id)):
            turn = sent[i].turn if i < len(sent) else self.turn
            args = {k: v for k, v in rec.arguments.items() if k != "session_id"}
            out.append(TraceEntry(seq=rec.seq, tool=rec.tool, arguments=args, ok=rec.ok,
                                  error_code=rec.error_code, error_message=rec.error_message,
                                  result=rec.result, latency_ms=rec.latency_ms, turn=turn))
        return out

    def _progress_now(self) -> float:
        assert self.before is not None and self.shopper is not None
        if self.stale or self.state is None:
            self.state = self._read_state()
        task = self.task.model_copy(update={"intents": self.shopper.current_intents_final()})
        return progress_score(task, self.before, self.state, self._local_trace(),
                              self.messages, self.products,
                              intent_turns=list(self.shopper.since), snapshots=self.snapshots)

    def _track_progress(self) -> None:
        value = self._progress_now()
        self.progress.append(round(value - self.last_progress, 6))
        self.last_progress = value

    def _verdict(self) -> Breakdown:
        assert self.before is not None and self.shopper is not None
        if self.stale or self.state is None:
            self.state = self._read_state()
        after = self.state
        trace = self._server_trace()
        self._learn_products(self.calls, " ".join(
            m.content or "" for m in self.messages if m.role == "assistant"))
        task = self.task.model_copy(update={"intents": self.shopper.current_intents_final()})
        inp = EpisodeInput(task=task, before=self.before, after=after, trace=trace,
                           messages=self.messages, products=self.products,
                           confirmations=self.confirmations, turns=self.turn,
                           intent_turns=list(self.shopper.since),
                           stop_reason=self.stop_reason, snapshots=self.snapshots)
        self.input = inp
        return score(inp, mode=self.reward_mode, progress=self.progress or None)

    # -- the record -------------------------------------------------------------------------

    def rollout(self) -> Rollout:
        """The rollout record (``episodes.records.Rollout``) of a finished episode."""
        if self.breakdown is None:
            raise RuntimeError("the episode has not finished")
        task = self.task
        group = f"{task.task_id}"
        rollout = rollout_id(group, self.policy, self.trial)
        errors = sum(1 for c in self.calls if not c.ok)
        return Rollout(
            schema_version=ROLLOUT_SCHEMA_VERSION, rollout_id=rollout, group_id=group,
            task_id=task.task_id, family=task.family, difficulty=task.difficulty,
            seed=task.seed, trial=self.trial, env_version=ENV_VERSION, policy=self.policy,
            messages=[m.model_dump(exclude_none=True) for m in self.messages],
            tools=self.controller.record_tools()[0], reward=self.breakdown.reward,
            reward_mode=self.breakdown.mode, reward_components=self.breakdown.components,
            success=self.breakdown.success,
            metrics=RolloutMetrics(turns=self.turn, tool_calls=len(self.calls), errors=errors,
                                   wall_time_s=round(self.wall, 6)),
            terminated=self.terminated, truncated=self.truncated,
            stop_reason=self.stop_reason, trace=self.input.trace)

    def record(self) -> dict[str, Any]:
        """The rollout record (one JSONL line) of a finished episode, as JSON-ready data."""
        out = self.rollout().model_copy(update={"tools": []}).to_record()
        tools = marshal.loads(self.controller.record_tools()[1])
        return {k: tools if k == "tools" else v for k, v in out.items()}

    def close(self) -> None:
        """Remove the episode's shop session and every row it owns (idempotent). The record
        reads nothing from the shop once the episode has finished, so ``rollout()`` and
        ``record()`` still work after this; ``reset()`` and ``step()`` do not."""
        if self.session_id and not self.closed:
            remove_session(self.shop.engine, self.session_id, missing_ok=True)
        self.closed = True
