"""One episode of the controller (``episodes.controller``): a task played once, from
``reset`` (the world built, the shopper's opening) through ``step``s (the agent's tool calls
made through the controller's link, the shopper's replies, the scenario's events) to the
verdict and the rollout record. The controller's privileged reads (state, trace, products)
go through the Python API, never through the agent's tools."""

from __future__ import annotations

import json
import marshal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import anyio

from episodes.records import (
    ROLLOUT_SCHEMA_VERSION,
    Rollout,
    RolloutMetrics,
    StopReason,
    rollout_id,
)
from episodes.shopper import Shopper
from episodes.steps import Action, Observation, StepResult, ToolRequest, ToolResult
from episodes.world import apply_event, build_world, product_facts
from mcp_shop import Shop, tool_catalog
from mcp_shop.errors import ShopError
from mcp_shop.ids import product_of
from mcp_shop.pruning import remove_session
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

if TYPE_CHECKING:
    from episodes.controller import EpisodeController

__all__ = ["ENV_VERSION", "HIDDEN_TOOLS", "MAX_IDLE_STEPS", "MUTATING_TOOLS", "Episode",
           "RewardMode"]

ENV_VERSION = "mcp-shop-episodes/1"
RewardMode = Literal["sparse", "shaped", "dense"]
HIDDEN_TOOLS = tool_catalog.HIDDEN_TOOLS  # never shown to agents (open_session)
MAX_IDLE_STEPS = 3  # empty actions in a row before the episode is cut off ("agent_idle")
MUTATING_TOOLS = tool_catalog.STATE_CHANGING_TOOLS  # calls after which the state is read again


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
