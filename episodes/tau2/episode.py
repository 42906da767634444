"""tau2 retail episodes: a user, an agent and the tau2 tools, played and recorded as rollouts.

    env = Tau2Env.open(load_tau2_retail(path), "sqlite:///tau2.db")
    async with Tau2Runner(env) as runner:
        records = await runner.run(Tau2Oracle(), select_tasks(env.world), trials=2)

The loop is the episode controller's (``episodes.controller``) for a tau2 world: agents are the
same ``Agent``/``Policy`` objects and receive the same ``Observation``s; an ``Action``'s tool
calls go to the tau2 surface (the runner injects the session handle), its message goes to the
user (``episodes.tau2.users``), ``done`` ends the episode. The episode ends:

- when the user's message holds a stop token (tau2 ``user_stop``; record ``shopper_done``);
- when the agent ends it (``agent_stop``; ``agent_done``);
- after ``MAX_STEPS`` messages (tau2's default 200: ``max_steps``; ``turn_budget``) or
  ``MAX_ERRORS`` failed tool calls (tau2's 10: ``too_many_errors``; ``tool_budget``);
- after ``MAX_IDLE`` empty actions in a row (``agent_idle``, ours), as the controller does.

The record is an ``episodes.records.Rollout`` (family ``tau2_retail``, task id
``tau2-retail/<id>``) whose reward is tau2's and whose ``tau2`` field holds tau2's verdict
(``episodes.tau2.scoring``). The episode's session is removed once its record is built unless
the runner keeps sessions.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from episodes.controller import (
    Action,
    Agent,
    Observation,
    StepResult,
    ToolRequest,
    ToolResult,
    play_in_order,
    start_policy,
)
from episodes.links import Link
from episodes.records import (
    ROLLOUT_SCHEMA_VERSION,
    FunctionTool,
    GoldFailure,
    Rollout,
    RolloutMetrics,
    StopReason,
    Tau2Outcome,
    rollout_id,
)
from episodes.tau2.env import HIDDEN, Backend, agent_tools
from episodes.tau2.judge import NLJudge
from episodes.tau2.scoring import (
    NORMAL_STOPS,
    Tau2Call,
    Tau2Score,
    Termination,
    score_episode,
)
from episodes.tau2.tasks import Tau2Task
from episodes.tau2.users import ScriptedUser, User
from verifiers.types import Message, ToolCall, TraceEntry

__all__ = ["ENV_VERSION", "MAX_ERRORS", "MAX_IDLE", "MAX_STEPS", "Tau2Episode", "Tau2Runner",
           "UserFactory"]

ENV_VERSION = "mcp-shop-tau2-retail/1"
MAX_STEPS = 200
MAX_ERRORS = 10
MAX_IDLE = 3
_STOP_REASON: dict[Termination, StopReason] = {
    "user_stop": "shopper_done", "agent_stop": "agent_done", "max_steps": "turn_budget",
    "too_many_errors": "tool_budget", "agent_idle": "agent_idle"}

UserFactory = Callable[[Tau2Task, int], User]
"""Makes the user of one episode from the task and the episode's seed."""


def scripted_users(task: Tau2Task, seed: int) -> User:
    return ScriptedUser(task.task)


class Tau2Runner:
    """Runs tau2 episodes on one prepared world, through one link to its tools."""

    def __init__(self, env: Backend, *, users: UserFactory = scripted_users,
                 connect: str | None = None, keep_sessions: bool = False,
                 judge: NLJudge | None = None) -> None:
        """``judge``: judges the tasks' NL assertions (None: they are not judged)."""
        self.env = env
        self.users = users
        self.judge = judge
        self.keep_sessions = keep_sessions
        self._link: Link = env.link(connect)
        self.tools: list[dict[str, Any]] = []
        self.record_tools: list[FunctionTool] = []

    async def __aenter__(self) -> Tau2Runner:
        await self._link.__aenter__()
        self.tools = agent_tools(await self._link.list_tools())
        self.record_tools = [FunctionTool.model_validate(t) for t in self.tools]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._link.__aexit__(*exc)

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[bool, Any]:
        return await self._link.call(name, arguments)

    def episode(self, task: Tau2Task, *, policy: str = "", trial: int = 0) -> Tau2Episode:
        return Tau2Episode(self, task, policy=policy, trial=trial)

    async def run(self, agent: Agent, tasks: Sequence[Tau2Task], *, concurrency: int = 1,
                  trials: int = 1, on_done: Callable[[dict[str, Any]], Any] | None = None,
                  ) -> list[dict[str, Any]]:
        """``agent`` on every task ``trials`` times, up to ``concurrency`` at once; the
        records in task order (as ``EpisodeController.run``)."""
        return await play_in_order(functools.partial(self.run_episode, agent), tasks,
                                   concurrency=concurrency, trials=trials, on_done=on_done)

    async def run_episode(self, agent: Agent, task: Tau2Task, *, trial: int = 0
                          ) -> dict[str, Any]:
        episode = self.episode(task, policy=agent.name, trial=trial)
        try:
            obs = await episode.reset()
            policy = start_policy(agent, task, obs, seed=episode.seed)  # type: ignore[arg-type]
            while not episode.done:
                step = await episode.step(await policy.act(obs))
                obs = step.observation
            return episode.record()
        finally:
            if not self.keep_sessions:
                episode.close()


@dataclass
class Tau2Episode:
    """One tau2 task played once."""

    runner: Tau2Runner
    task: Tau2Task
    policy: str = ""
    trial: int = 0
    session_id: str = ""
    user: User | None = None
    messages: list[Message] = field(default_factory=list)
    calls: list[Tau2Call] = field(default_factory=list)
    unheard: list[tuple[str, bool]] = field(default_factory=list)  # calls since the user spoke
    turn: int = 0
    idle: int = 0
    done: bool = False
    termination: Termination | None = None
    score: Tau2Score | None = None
    hashes: tuple[str, str] = ("", "")
    db_match: bool = False
    trace: list[TraceEntry] = field(default_factory=list)
    judge_note: str = ""
    gold_failures: list[GoldFailure] = field(default_factory=list)
    wall: float = 0.0
    closed: bool = False

    @property
    def seed(self) -> int:
        key = f"{self.task.task_id}:{self.task.seed}:{self.trial}"
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")

    async def reset(self) -> Observation:
        t0 = time.perf_counter()
        self.session_id = await anyio.to_thread.run_sync(self.runner.env.open_session)
        self.user = self.runner.users(self.task, self.seed)
        opening = await self.user.opening()
        self.messages = [Message(role="user", content=opening)]
        from episodes.tau2.users import stop_token

        if stop_token(opening):  # a user that stops before the agent spoke
            await self._finish("user_stop")
        self.wall += time.perf_counter() - t0
        return Observation(shopper_message=opening, turn=0, tools=self.runner.tools,
                           done=self.done)

    async def step(self, action: Action) -> StepResult:
        if self.user is None:
            raise RuntimeError("call reset() before step()")
        if self.done:
            raise RuntimeError("the episode is over: reset() a new one")
        t0 = time.perf_counter()
        results = await self._calls(action.tool_calls) if action.tool_calls else []
        reply: str | None = None
        if not self.done and action.message is not None:
            reply = await self._talk(action.message)
        if not self.done and action.done:
            await self._finish("agent_stop")
        self.idle = 0 if (action.tool_calls or action.message is not None or action.done) \
            else self.idle + 1
        if not self.done and self.idle >= MAX_IDLE:
            await self._finish("agent_idle")
        if not self.done and len(self.messages) >= MAX_STEPS:
            await self._finish("max_steps")
        info: dict[str, Any] = {"turn": self.turn, "tool_calls": len(self.calls)}
        reward = 0.0
        if self.done and self.score is not None:
            reward = self.score.reward
            info.update(success=self.score.success, stop_reason=self.stop_reason,
                        tau2_reward=self.score.verdict.reward)
        self.wall += time.perf_counter() - t0
        obs = Observation(shopper_message=reply, tool_results=results, turn=self.turn,
                          tool_calls=len(self.calls), done=self.done)
        truncated = self.termination in ("max_steps", "too_many_errors", "agent_idle")
        return StepResult(obs, reward, self.done and not truncated, self.done and truncated,
                          info)

    async def _calls(self, requests: list[ToolRequest]) -> list[ToolResult]:
        index = len(self.messages)
        ids = [f"call_{self.turn + 1}_{len(self.calls) + k}" for k in range(len(requests))]
        self.messages.append(Message(role="assistant", content=None, tool_calls=[
            ToolCall(id=i, function={"name": r.name,
                                     "arguments": json.dumps(r.arguments, sort_keys=True)})
            for i, r in zip(ids, requests, strict=True)]))
        results = []
        for call_id, req in zip(ids, requests, strict=True):
            if self.done:  # the error budget ran out earlier in this batch
                self.messages.append(Message(
                    role="tool", tool_call_id=call_id, name=req.name,
                    content=f"not executed: the episode ended after {MAX_ERRORS} failed "
                    "tool calls"))
                continue
            if req.name in HIDDEN:
                ok, content = False, (f"{req.name} is not available here: the episode's "
                                      "session is already open and is used automatically")
            else:
                args = {k: v for k, v in req.arguments.items() if k != "session_id"}
                ok, content = await self.runner.call(req.name,
                                                     {**args, "session_id": self.session_id})
            self.calls.append(Tau2Call(index, req.name, req.arguments, ok, content))
            self.unheard.append((req.name, ok))
            results.append(ToolResult(name=req.name, arguments=req.arguments, ok=ok,
                                      content=content))
            self.messages.append(Message(
                role="tool", tool_call_id=call_id, name=req.name,
                content=content if isinstance(content, str)
                else json.dumps(content, sort_keys=True, default=str)))
            if not ok and sum(1 for c in self.calls if not c.ok) >= MAX_ERRORS:
                await self._finish("too_many_errors")
        return results

    async def _talk(self, message: str) -> str:
        assert self.user is not None
        self.turn += 1
        self.messages.append(Message(role="assistant", content=message))
        heard, self.unheard = self.unheard, []
        reply = await self.user.reply(message, heard)
        self.messages.append(Message(role="user", content=reply.text))
        if reply.stop is not None:
            await self._finish("user_stop")
        return reply.text

    async def _finish(self, termination: Termination) -> None:
        """End the episode and judge it (the DB check replays the gold off the event loop)."""
        self.done = True
        self.termination = termination
        env, sid, task = self.runner.env, self.session_id, self.task.task
        check = await anyio.to_thread.run_sync(env.db_check, sid, task)
        self.db_match, self.hashes = check.match, (check.actual, check.expected)
        self.gold_failures = [GoldFailure(index=f.index, tool=f.tool, code=f.code)
                              for f in check.failed_gold_calls]
        self.trace = await anyio.to_thread.run_sync(self._server_trace)
        crit = task.evaluation_criteria
        assertions = list(crit.nl_assertions or []) if crit is not None else []
        nl = None
        judge = self.runner.judge
        if judge is not None and assertions and termination in NORMAL_STOPS:
            nl = await judge.judge(assertions, self.messages)
            if nl is None:
                self.judge_note = "the judge's answer was not the asked JSON: not judged"
        self.score = score_episode(self.task, db_match=self.db_match, db_hashes=self.hashes,
                                   messages=self.messages, calls=self.calls,
                                   termination=termination, nl_judgement=nl)

    def _server_trace(self) -> list[TraceEntry]:
        """The server's record of the session's calls (turns from the call order)."""
        sent = [c for c in self.calls if c.name not in HIDDEN]
        turns = [sum(1 for m in self.messages[:c.message] if m.role == "assistant" and
                     m.content) + 1 for c in sent]
        out = []
        for i, rec in enumerate(self.runner.env.trace(self.session_id)):
            args = {k: v for k, v in rec.arguments.items() if k != "session_id"}
            out.append(TraceEntry(seq=rec.seq, tool=rec.tool, arguments=args, ok=rec.ok,
                                  error_code=rec.error_code, error_message=rec.error_message,
                                  result=rec.result, latency_ms=rec.latency_ms,
                                  turn=turns[i] if i < len(turns) else self.turn))
        return out

    @property
    def stop_reason(self) -> StopReason:
        assert self.termination is not None
        return _STOP_REASON[self.termination]

    def rollout(self) -> Rollout:
        if self.score is None or self.termination is None:
            raise RuntimeError("the episode has not finished")
        task, score, verdict = self.task, self.score, self.score.verdict
        group = task.task_id
        rollout = rollout_id(group, self.policy, self.trial)
        truncated = self.termination in ("max_steps", "too_many_errors", "agent_idle")
        return Rollout(
            schema_version=ROLLOUT_SCHEMA_VERSION, rollout_id=rollout, group_id=group,
            task_id=task.task_id, family=task.family, difficulty=task.difficulty,
            seed=task.seed, trial=self.trial, env_version=ENV_VERSION, policy=self.policy,
            messages=[m.model_dump(exclude_none=True) for m in self.messages],
            tools=self.runner.record_tools, reward=score.reward, reward_mode="sparse",
            reward_components=score.components, success=score.success,
            metrics=RolloutMetrics(turns=self.turn, tool_calls=len(self.calls),
                                   errors=sum(1 for c in self.calls if not c.ok),
                                   wall_time_s=round(self.wall, 6)),
            terminated=not truncated, truncated=truncated, stop_reason=self.stop_reason,
            trace=self.trace,
            tau2=Tau2Outcome(task_id=task.tau2_id, reward=verdict.reward,
                             reward_scope=score.scope, reward_basis=verdict.basis,
                             components=verdict.components, db_match=self.db_match,
                             communicate=verdict.communicate,
                             nl_assertions=verdict.nl_assertions,
                             termination=self.termination,
                             failed_gold_calls=self.gold_failures,
                             note="; ".join(n for n in (verdict.note, self.judge_note) if n)))

    def record(self) -> dict[str, Any]:
        return self.rollout().to_record()

    def close(self) -> None:
        if self.session_id and not self.closed:
            self.runner.env.close_session(self.session_id)
        self.closed = True
