"""The hand-written example tasks in examples/tasks: they load, validate, and the oracle solves
every one of them on the default catalog (seed 0, 10,000 products) they were written for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from episodes.tasks import TaskFileError, load_tasks
from verifiers.types import TaskSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tasks"
DEFAULT_SEED, DEFAULT_SIZE = 0, 10_000

# the six shopper requests the examples cover, by task id
EXPECTED = {
    "example-headphones-anc": "discovery",
    "example-dinosaur-gift": "bundle",
    "example-exchange-shoe-size": "exchange",
    "example-running-shoes-purchase": "purchase",
    "example-discount-code-purchase": "purchase",
    "example-out-of-stock-substitute": "substitution",
}
# components that must be perfect in the gold replay (efficiency is 1 by construction too)
CLEAN = ("task", "hallucination", "errors", "policy", "unintended", "safety")


@pytest.fixture(scope="module")
def default_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The default catalog the examples target, in a scratch SQLite file."""
    from mcp_shop import Shop

    tmp = tmp_path_factory.mktemp("examples")
    shop = Shop.open(f"sqlite:///{tmp / 'shop.db'}", seed=DEFAULT_SEED, size=DEFAULT_SIZE,
                     index_dir=None)
    yield shop
    shop.engine.dispose()


@pytest.fixture(scope="module")
def tasks() -> list[TaskSpec]:
    return load_tasks(EXAMPLES)


def _run(shop: Any, agent: Any, tasks: list[TaskSpec]) -> dict[str, dict[str, Any]]:
    import anyio

    from episodes.controller import EpisodeController

    async def run() -> list[dict[str, Any]]:
        async with EpisodeController(shop) as controller:
            return await controller.run(agent, tasks, concurrency=1)

    return {r["task_id"]: r for r in anyio.run(run)}


@pytest.fixture(scope="module")
def oracle_records(default_shop: Any, tasks: list[TaskSpec]) -> dict[str, dict[str, Any]]:
    from episodes.agents.oracle import OracleAgent

    return _run(default_shop, OracleAgent(), tasks)


def _summary(rec: dict[str, Any]) -> str:
    parts = [f"{c['name']}={c['value']:g} ({c['reason']})" for c in rec["reward_components"]]
    said = [f"{m['role']}: {m.get('content')}" for m in rec["messages"]
            if m["role"] in ("user", "assistant") and m.get("content")]
    return "\n".join([rec["task_id"], rec["stop_reason"], *parts, *said])


# -- the files ------------------------------------------------------------------------------


def test_every_file_is_one_pretty_printed_task() -> None:
    files = sorted(EXAMPLES.glob("*.json"))
    assert len(files) == len(EXPECTED)
    for f in files:
        text = f.read_text(encoding="utf-8")
        doc = json.loads(text)
        assert isinstance(doc, dict), f"{f.name}: one task per file"
        assert "\n  " in text, f"{f.name}: pretty-printed"
    assert (EXAMPLES / "README.md").exists()


def test_all_six_requests_are_present(tasks: list[TaskSpec]) -> None:
    assert {t.task_id: t.family for t in tasks} == EXPECTED
    for t in tasks:
        assert t.catalog == {"seed": DEFAULT_SEED, "size": DEFAULT_SIZE}, t.task_id
        assert 1 <= t.difficulty <= 2, t.task_id
        assert t.description and t.opening and t.gold, t.task_id


def test_each_validates(tasks: list[TaskSpec]) -> None:
    """Round-trips through the schema; params and limits followed from the difficulty."""
    from episodes.difficulty import difficulty_params

    for t in tasks:
        again = TaskSpec.model_validate_json(t.model_dump_json())
        assert again == t
        params = difficulty_params(t.difficulty)
        assert t.params == params
        assert (t.limits.max_turns, t.limits.max_tool_calls) == (params.max_turns,
                                                                 params.max_tool_calls)
        # the gold ends with a message, and asks before any consequential call
        assert t.gold[-1].say is not None, t.task_id
        for i, step in enumerate(t.gold):
            if step.tool in ("checkout", "request_exchange", "request_return", "cancel_order"):
                assert any(s.say and "Shall I" in s.say for s in t.gold[:i]), t.task_id


def test_the_specific_set_ups(tasks: list[TaskSpec]) -> None:
    by_id = {t.task_id: t for t in tasks}
    anc = by_id["example-headphones-anc"].intents[0]
    assert anc.change is not None and anc.change.accept is not None
    assert anc.change.accept.attributes.get("noise_cancelling") is True
    assert "noise_cancelling" not in (anc.accept.attributes if anc.accept else {})
    gift = by_id["example-dinosaur-gift"].intents[0]
    assert gift.budget_cents == 3000 and len(gift.items) == 1
    assert gift.items[0].match.attributes == {"theme": "dinosaurs"}
    swap = by_id["example-exchange-shoe-size"]
    assert swap.world.past_orders and 6 <= swap.world.past_orders[0]["days_ago"] <= 8
    assert swap.intents[0].order_id == f"O-{1001 + swap.world.history_orders}"
    shoes = by_id["example-running-shoes-purchase"].intents[0]
    assert shoes.items[0].match.options == {"size": "10", "color": "blue"}
    assert (shoes.payment_kind, shoes.shipping_option) == ("card", "standard")
    assert by_id["example-discount-code-purchase"].intents[0].code in ("WELCOME10", "SAVE20")
    sub = by_id["example-out-of-stock-substitute"]
    wanted = sub.intents[0].accept.exclude_product_ids  # type: ignore[union-attr]
    assert wanted and sub.world.stock and all(v == 0 for v in sub.world.stock.values())


# -- solvable -------------------------------------------------------------------------------


def test_oracle_solves_every_example(oracle_records: dict[str, dict[str, Any]]) -> None:
    assert set(oracle_records) == set(EXPECTED)
    for rec in oracle_records.values():
        assert rec["success"] and rec["reward"] == 1.0, _summary(rec)
        assert rec["stop_reason"] == "shopper_done", _summary(rec)
        values = {c["name"]: c["value"] for c in rec["reward_components"]}
        for name in CLEAN:
            assert values[name] == 1.0, _summary(rec)
        assert rec["metrics"]["errors"] == 0, _summary(rec)


def test_the_world_is_as_described(default_shop: Any, tasks: list[TaskSpec]) -> None:
    """The facts the examples' wording relies on hold in their worlds."""
    from episodes.world import build_world

    by_id = {t.task_id: t for t in tasks}
    swap = by_id["example-exchange-shoe-size"]
    sid = build_world(default_shop, swap.world)
    order = default_shop.get_order(sid, swap.intents[0].order_id)
    assert order.status == "delivered"
    (line,) = order.lines
    assert line.options == {"size": "9", "color": "black"}
    sub = by_id["example-out-of-stock-substitute"]
    sid = build_world(default_shop, sub.world)
    gone = default_shop.get_product(sid, sub.intents[0].slots[0].value)
    assert gone.variants and all(v.stock == 0 for v in gone.variants)


def test_heuristic_runs_on_every_example(default_shop: Any, tasks: list[TaskSpec]) -> None:
    """The heuristic agent finishes every example without crashing (how many it solves is
    reported, not asserted: it is not privileged and some examples need a question first)."""
    from episodes.agents import make_agent

    records = _run(default_shop, make_agent("heuristic"), tasks)
    assert set(records) == set(EXPECTED)
    solved = sorted(k for k, r in records.items() if r["success"])
    print(f"\nheuristic solves {len(solved)}/{len(records)}: {solved}")
    for rec in records.values():
        print(_summary(rec).splitlines()[0:3])


# -- malformed files ------------------------------------------------------------------------


def test_bad_json_is_a_clear_error(tmp_path: Path) -> None:
    text = (EXAMPLES / "headphones-anc.json").read_text(encoding="utf-8")
    bad = tmp_path / "broken.json"
    bad.write_text(text.rstrip().rstrip("}"), encoding="utf-8")  # cut off the closing brace
    with pytest.raises(TaskFileError, match=r"broken\.json: not valid JSON"):
        load_tasks(bad)
    with pytest.raises(TaskFileError, match=r"broken\.json"):
        load_tasks(tmp_path)  # the directory form names the bad file too


def test_missing_field_is_a_clear_error(tmp_path: Path) -> None:
    doc = json.loads((EXAMPLES / "dinosaur-gift.json").read_text(encoding="utf-8"))
    del doc["opening"]
    bad = tmp_path / "no-opening.json"
    bad.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    with pytest.raises(TaskFileError, match=r"no-opening\.json:1: not a valid task: opening"):
        load_tasks(bad)


def test_a_task_with_answer_phrases_is_refused_with_the_way_forward(tmp_path: Path) -> None:
    doc = json.loads((EXAMPLES / "dinosaur-gift.json").read_text(encoding="utf-8"))
    doc["schema_version"] = 1
    doc["intents"][0]["answers"] = [["30 days"]]
    old = tmp_path / "old.jsonl"
    old.write_text("\n" + json.dumps(doc) + "\n", encoding="utf-8")
    with pytest.raises(TaskFileError, match=r"old\.jsonl:2: a task of schema version 1: .*"
                                            r"'facts'.*regenerate"):
        load_tasks(old)
