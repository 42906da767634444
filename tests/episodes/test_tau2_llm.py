"""The LLM agent and the LLM user of tau2 retail episodes against a stub OpenAI-compatible
endpoint on 127.0.0.1 (tests/episodes/chat_stub.py): the agent is told tau2's policy and
offered tau2's sixteen tools; the user is told its scenario, answers, and its stop token ends
the episode. The stub's agent replays the oracle's actions through tool calls, so every
episode must earn the oracle's verdict."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from episodes import cli
from episodes.records import parse_record
from episodes.tau2.agents import oracle_actions
from episodes.tau2.users import GREETING, STOP
from mcp_shop.tau2 import load_tau2_retail
from mcp_shop.tau2.records import TOOL_PARAMS
from tests.episodes.chat_stub import ChatStub, Reply, gold_policy, text_reply
from tests.fixtures.tau2_retail import make_fixture

FIXTURE = Path(make_fixture.__file__).resolve().parent
TASKS = ("0", "3", "9")


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.output, "console", Console(width=250, no_color=True,
                                                       highlight=False))
    monkeypatch.setattr(cli.output, "err", Console(width=250, stderr=True, no_color=True,
                                                   highlight=False))


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No endpoint settings from outside; the ones the run sets are undone afterwards."""
    for name in ("BASE_URL", "MODEL", "API_KEY_ENV", "TEMPERATURE", "MAX_CALLS", "MAX_TOKENS"):
        monkeypatch.setenv(f"MCP_SHOP_LLM_{name}", "")
        monkeypatch.delenv(f"MCP_SHOP_LLM_{name}")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture
def stub() -> Iterator[ChatStub]:
    with ChatStub() as s:
        yield s


def _opening(tid: str) -> str:
    return f"Hello, this is about my request number {tid}."


def _stub_policy() -> Any:
    """Agent requests (they carry tools): the oracle's actions of the task the user's opening
    names. User requests: the opening, then yes to a question, the stop token otherwise."""
    world = load_tau2_retail(FIXTURE)
    agent = gold_policy({_opening(t): oracle_actions(world.task(t)) for t in TASKS})
    reasons = {world.task(t).user_scenario.instructions.reason_for_call: t  # type: ignore[union-attr]
               for t in TASKS}

    def policy(body: dict[str, Any]) -> Reply:
        if body.get("tools"):
            return agent(body)
        messages = body["messages"]
        if not any(m["role"] == "assistant" for m in messages):
            tid = next(t for reason, t in reasons.items() if reason in messages[0]["content"])
            return text_reply(_opening(tid))
        heard = messages[-1]["content"]
        return text_reply("Yes, please go ahead." if "?" in heard else f"Thanks! {STOP}")

    return policy


def test_llm_agent_and_llm_user_through_the_cli(tmp_path: Path, stub: ChatStub,
                                                 clean_env: None,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    stub.policy = _stub_policy()
    out = tmp_path / "llm.jsonl"
    assert cli.main(["run", "--suite", "tau2-retail", "--tau2-path", str(FIXTURE),
                     "--task-ids", ",".join(TASKS), "--agent", "llm", "--user", "llm",
                     "--llm-base-url", stub.url, "--llm-model", "stub-model",
                     "--tau2-db", f"sqlite:///{tmp_path / 'tau2.db'}", "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["task_id"] for r in records] == [f"tau2-retail/{t}" for t in TASKS]
    for r in records:
        parse_record(r, r["task_id"])
        assert r["policy"] == "llm"
        assert r["tau2"]["db_match"] is True and r["reward"] == 1.0, r["task_id"]
        assert r["stop_reason"] == "shopper_done" and r["tau2"]["termination"] == "user_stop"
        assert r["messages"][0] == {"role": "user",
                                    "content": _opening(r["tau2"]["task_id"])}
        assert r["messages"][-1]["content"] == f"Thanks! {STOP}"
    world = load_tau2_retail(FIXTURE)
    agent_bodies = [b for b in stub.bodies if b.get("tools")]
    user_bodies = [b for b in stub.bodies if not b.get("tools")]
    assert agent_bodies and user_bodies
    for body in agent_bodies:
        assert body["messages"][0] == {"role": "system", "content": world.policy}
        assert {t["function"]["name"] for t in body["tools"]} == set(TOOL_PARAMS)
        assert body["model"] == "stub-model"
    for body in user_bodies:
        system, greeting = body["messages"][:2]
        assert system["role"] == "system" and "###STOP###" in system["content"]
        assert any(world.task(t).user_scenario.instructions.reason_for_call  # type: ignore[union-attr]
                   in system["content"] for t in TASKS)
        assert greeting == {"role": "user", "content": GREETING}
    assert "Rollouts written to" in capsys.readouterr().err


def test_the_llm_user_needs_an_endpoint(tmp_path: Path, clean_env: None,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--suite", "tau2-retail", "--tau2-path", str(FIXTURE),
                     "--agent", "oracle", "--user", "llm"]) == 2
    assert "--user llm: the llm agent needs an endpoint" in capsys.readouterr().err


def _judge_policy(refuse: str) -> Any:
    """The judge: every assertion met, except in the conversation mentioning ``refuse``;
    anything else asked of the stub is an error."""
    from episodes.tau2.judge import JUDGE_PROMPT

    def policy(body: dict[str, Any]) -> Reply:
        system, asked = body["messages"]
        assert system == {"role": "system", "content": JUDGE_PROMPT} and not body.get("tools")
        count = asked["content"].split("The expectations:\n", 1)[1].count("\n") + 1
        met = refuse not in asked["content"]
        return text_reply(json.dumps({"results": [
            {"index": k, "met": met, "why": "stub"} for k in range(1, count + 1)]}))

    return policy


def test_a_judge_decides_the_nl_assertions(tmp_path: Path, stub: ChatStub, clean_env: None,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    stub.policy = _judge_policy(refuse="#W8302444")  # task 12's order
    out = tmp_path / "judged.jsonl"
    assert cli.main(["run", "--suite", "tau2-retail", "--tau2-path", str(FIXTURE),
                     "--task-ids", "4,9,12,0", "--agent", "oracle", "--judge", "llm",
                     "--judge-llm-base-url", stub.url, "--judge-llm-model", "judge-model",
                     "--tau2-db", f"sqlite:///{tmp_path / 'tau2.db'}", "--out", str(out)]) == 0
    records = {r["tau2"]["task_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    # the fixture's NL assertions: one for task 4, two for task 9, one for task 12
    assert [records[t]["tau2"]["nl_assertions"] for t in ("4", "9", "12")] == [
        [True], [True, True], [False]]
    assert [records[t]["tau2"]["reward"] for t in ("4", "9", "12", "0")] == [1.0, 1.0, 0.0, 1.0]
    assert [records[t]["reward"] for t in ("4", "9", "12", "0")] == [1.0, 1.0, 0.0, 1.0]
    assert all(records[t]["tau2"]["reward_scope"] == "tau2" for t in records)
    assert len(stub.bodies) == 3  # task 0 has no assertion: the judge is not asked
    assert {b["model"] for b in stub.bodies} == {"judge-model"}
    assert "tau2 reward: 4 episode(s) judged in full" in capsys.readouterr().err


def test_an_unusable_judgement_leaves_the_assertions_unjudged(
        tmp_path: Path, stub: ChatStub, clean_env: None) -> None:
    stub.policy = lambda body: text_reply("They all look fine to me.")
    out = tmp_path / "unjudged.jsonl"
    assert cli.main(["run", "--suite", "tau2-retail", "--tau2-path", str(FIXTURE),
                     "--task-ids", "4", "--agent", "oracle", "--judge", "llm",
                     "--judge-llm-base-url", stub.url, "--judge-llm-model", "judge-model",
                     "--tau2-db", f"sqlite:///{tmp_path / 'tau2.db'}", "--out", str(out)]) == 0
    [r] = map(json.loads, out.read_text().splitlines())
    assert r["tau2"]["reward"] is None and r["tau2"]["nl_assertions"] is None
    assert "the judge's answer was not the asked JSON" in r["tau2"]["note"]
    assert r["reward"] == 1.0 and r["tau2"]["reward_scope"].startswith("judged components")


def test_llm_agent_with_the_scripted_user(tmp_path: Path, stub: ChatStub,
                                          clean_env: None) -> None:
    import anyio

    from episodes.tau2.users import ScriptedUser

    world = load_tau2_retail(FIXTURE)
    scripts = {}
    for t in TASKS:
        opening = anyio.run(ScriptedUser(world.task(t)).opening)  # routes the stub only
        scripts[opening] = oracle_actions(world.task(t))
    stub.policy = gold_policy(scripts)
    out = tmp_path / "llm.jsonl"
    assert cli.main(["run", "--suite", "tau2-retail", "--tau2-path", str(FIXTURE),
                     "--task-ids", ",".join(TASKS), "--agent", "llm", "--direct",
                     "--llm-base-url", stub.url, "--llm-model", "stub-model",
                     "--tau2-db", f"sqlite:///{tmp_path / 'tau2.db'}", "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["reward"] for r in records] == [1.0, 1.0, 1.0]
    assert all(r["tau2"]["db_match"] and r["stop_reason"] == "shopper_done" for r in records)
    assert all(b["messages"][0]["content"] == world.policy for b in stub.bodies)
