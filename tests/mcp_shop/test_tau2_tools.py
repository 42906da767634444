"""tau2 retail's tools over shop sessions (mcp_shop.tau2.tools) against the reference of tau2's
rules (tests/mcp_shop/tau2_reference.py) on the fixture world: the same results, the same
failures and messages, the same state (hash for hash, amounts in whole cents), and the same DB
verdict (mcp_shop.tau2.replay.db_check) for every task and every single-write perturbation
(the refusals: test_tau2_tool_errors.py)."""

from __future__ import annotations

import json
import random
from typing import Any

from sqlalchemy import Engine

from mcp_shop.db import read_tx, write_tx
from mcp_shop.tau2.loader import Tau2Retail
from mcp_shop.tau2.projection import project_session
from mcp_shop.tau2.records import TOOL_PARAMS, RetailDB
from mcp_shop.tau2.replay import db_check, replay_calls, replay_gold, session_hash
from mcp_shop.tau2.session_world import open_tau2_session
from mcp_shop.tau2.tools import TAU2_TOOLS, call_tau2_tool
from mcp_shop.tau2.tools_common import Tau2ToolError
from mcp_shop.tau2.world import db_hash
from tests.mcp_shop import tau2_shop
from tests.mcp_shop.tau2_reference import (
    Calls,
    Reference,
    ToolFailed,
    gold_calls,
    in_cents,
)
from tests.mcp_shop.tau2_trajectories import perturbations, random_call

shop, world = tau2_shop.shop, tau2_shop.world  # the fixtures



def _ref_run(db: RetailDB, calls: Calls) -> tuple[RetailDB, list[tuple[int, str]]]:
    """The reference's world after ``calls`` and its failures (index, tau2's message)."""
    ref = Reference(db)
    failures = []
    for k, (name, args) in enumerate(calls):
        try:
            ref.call(name, args)
        except ToolFailed as exc:
            failures.append((k, str(exc)))
    return ref.db, failures


def _shop_state(engine: Engine, sid: str) -> RetailDB:
    with read_tx(engine) as conn:
        return project_session(conn, sid)


# --- gold trajectories -----------------------------------------------------------------------


def test_the_table_holds_every_tool(world: Tau2Retail) -> None:
    assert set(TAU2_TOOLS) == set(TOOL_PARAMS)


def test_every_gold_replays_to_the_references_state(shop: tuple[Engine, str],
                                                    world: Tau2Retail) -> None:
    engine, key = shop
    for task in world.tasks:
        gold = replay_gold(engine, key, task)
        assert gold.failures == (), task.id
        expected, failures = _ref_run(world.db, gold_calls(task))
        assert failures == [], task.id
        state = _shop_state(engine, gold.session_id)
        assert state == in_cents(expected), task.id
        assert db_hash(state) == db_hash(in_cents(expected)), task.id


def test_the_item_change_difference_is_kept_inin_cents(shop: tuple[Engine, str],
                                                     world: Tau2Retail) -> None:
    """Task 2: tau2 stores 51.58000000000001; the shop 5158 cents, read back as 51.58."""
    engine, key = shop
    task = world.task("2")
    order_id = gold_calls(task)[-1][1]["order_id"]
    expected, _ = _ref_run(world.db, gold_calls(task))
    tau2_amount = expected.orders[order_id].payment_history[-1].amount
    gold = replay_gold(engine, key, task)
    shop_amount = _shop_state(engine, gold.session_id).orders[order_id].payment_history[-1]
    assert tau2_amount != round(tau2_amount, 2)  # the fixture exercises the difference
    assert shop_amount.amount == round(tau2_amount, 2) == 51.58


def _normal(value: Any) -> Any:
    """A tool's result with its amounts in cents (payment amounts, exchange difference)."""
    if isinstance(value, dict) and "payment_history" in value:
        value = {**value, "payment_history": [
            {**p, "amount": round(p["amount"], 2)} for p in value["payment_history"]]}
        if value.get("exchange_price_difference") is not None:
            value["exchange_price_difference"] = round(value["exchange_price_difference"], 2)
    return value


def test_every_gold_calls_results_equal_the_references(shop: tuple[Engine, str],
                                                       world: Tau2Retail) -> None:
    engine, key = shop
    for task in world.tasks:
        sid = open_tau2_session(engine, key)
        ref = Reference(world.db)
        for name, args in gold_calls(task):
            with write_tx(engine) as conn:
                got = call_tau2_tool(conn, sid, name, args)
            want = ref.call(name, args)
            if name == "list_all_product_types":  # tau2 gives the JSON text of this object
                assert list(got) == sorted(got) and json.dumps(got) == want
            else:
                assert _normal(got) == _normal(want), (task.id, name)


def test_random_call_sequences_agree_with_the_reference(shop: tuple[Engine, str],
                                                       world: Tau2Retail) -> None:
    """Random calls on the fixture world (small, so calls collide: an order changed twice, a
    cancel after a change of payment, ...): every result or refusal message, and the state
    after each sequence, are the reference's."""
    engine, key = shop
    rng = random.Random(7)
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(8):
        sid = open_tau2_session(engine, key)
        ref = Reference(world.db)
        for _ in range(30):
            name, args = random_call(ref.db, rng)
            try:
                want: tuple[str, Any] = ("ok", _normal(ref.call(name, args)))
            except ToolFailed as exc:
                want = ("refused", str(exc))
            try:
                with write_tx(engine) as conn:
                    got: tuple[str, Any] = ("ok", _normal(call_tau2_tool(conn, sid, name,
                                                                         args)))
            except Tau2ToolError as exc:
                got = ("refused", exc.message)
            assert got == want, (name, args)
            outcomes[want[0]] += 1
        assert session_hash(engine, sid) == db_hash(in_cents(ref.db))
    assert outcomes["ok"] >= 50 and outcomes["refused"] >= 50, outcomes


# --- perturbations: the DB verdict -----------------------------------------------------------


def test_db_verdicts_of_every_single_write_perturbation_equal_the_references(
        shop: tuple[Engine, str], world: Tau2Retail) -> None:
    engine, key = shop
    checked = matched = 0
    for task in world.tasks:
        ref_gold, _ = _ref_run(world.db, gold_calls(task))
        for label, calls in [("gold", gold_calls(task)), *perturbations(world.db, task)]:
            sid = open_tau2_session(engine, key)
            failed = replay_calls(engine, sid, calls)
            ref_after, ref_failed = _ref_run(world.db, calls)
            assert [(f.index, f.message) for f in failed] == ref_failed, (task.id, label)
            assert all(f.code.startswith("tau2_") for f in failed)
            check = db_check(engine, sid, task)
            assert check.failed_gold_calls == ()
            assert check.match == (db_hash(ref_after) == db_hash(ref_gold)), (task.id, label)
            assert check.actual == db_hash(in_cents(ref_after)), (task.id, label)
            checked += 1
            matched += check.match
    assert checked >= 55 + len(world.tasks)
    assert matched == len(world.tasks) + 1  # every gold, and the payment change there and back


def test_db_check_reports_failed_gold_calls_and_skips_them(shop: tuple[Engine, str],
                                                           world: Tau2Retail) -> None:
    """A gold trajectory with a refused call (tau2's own data has some): skipped, reported,
    and the target is what the other calls produce."""
    engine, key = shop
    task = world.task("0")
    order_id = gold_calls(task)[-1][1]["order_id"]
    bad = {"id": "x", "user_scenario": task.user_scenario.model_dump(),
           "evaluation_criteria": {"actions": [
               {"action_id": "x_0", "name": "cancel_pending_order",
                "arguments": {"order_id": order_id, "reason": "too expensive"}},
               {"action_id": "x_1", "name": "cancel_pending_order",
                "arguments": {"order_id": order_id, "reason": "no longer needed"}}]}}
    weird = type(task).model_validate(bad)
    sid = open_tau2_session(engine, key)
    replay_calls(engine, sid, gold_calls(task)[-1:])
    check = db_check(engine, sid, weird)
    assert check.match and check.actual == check.expected
    assert [(f.index, f.code, f.message) for f in check.failed_gold_calls] == [
        (0, "tau2_invalid_reason", "Invalid reason")]
    untouched = open_tau2_session(engine, key)
    assert not db_check(engine, untouched, weird).match
    assert session_hash(engine, untouched) == db_hash(world.db)
