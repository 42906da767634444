"""The fixture's gold trajectories under the reference of tau2's tool rules
(tests/mcp_shop/tau2_reference.py), and tau2's DB check (state after a trajectory versus state
after the gold, by db_hash) on single-write perturbations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcp_shop.tau2 import load_tau2_retail
from mcp_shop.tau2.loader import Tau2Retail
from mcp_shop.tau2.records import WRITE_TOOLS, GiftCard, Task
from mcp_shop.tau2.world import db_hash
from tests.fixtures.tau2_retail import make_fixture
from tests.mcp_shop.tau2_reference import Reference, ToolFailed, replay
from tests.mcp_shop.tau2_trajectories import perturbations

FIXTURE = Path(make_fixture.__file__).resolve().parent


@pytest.fixture(scope="module")
def world() -> Tau2Retail:
    return load_tau2_retail(FIXTURE)


def _calls(task: Task) -> list[tuple[str, dict[str, Any]]]:
    return [(a.name, a.arguments) for a in task.gold_actions()]


def _balance(world_db: Any, user_id: str) -> float:
    return next(m.balance for m in world_db.users[user_id].payment_methods.values()
                if isinstance(m, GiftCard))


def test_every_gold_trajectory_replays_without_a_failure(world: Tau2Retail) -> None:
    start = db_hash(world.db)
    for task in world.tasks:
        after, failures = replay(world.db, _calls(task))
        assert failures == [], task.id
        writes = any(name in WRITE_TOOLS for name, _ in _calls(task))
        assert (db_hash(after) != start) == writes, task.id


def test_communicated_amounts_are_what_the_gold_produces(world: Tau2Retail) -> None:
    def said(task_id: str) -> str:
        crit = world.task(task_id).evaluation_criteria
        assert crit is not None and crit.communicate_info
        return crit.communicate_info[0]

    uid = {t.id: t.gold_actions()[-1].arguments for t in world.tasks}
    after0, _ = replay(world.db, _calls(world.task("0")))
    user0 = after0.orders[uid["0"]["order_id"]].user_id
    assert f"{_balance(after0, user0):.2f}" == said("0")
    after3, _ = replay(world.db, _calls(world.task("3")))
    user3 = after3.orders[uid["3"]["order_id"]].user_id
    assert f"{_balance(after3, user3):.2f}" == said("3")
    after5, _ = replay(world.db, _calls(world.task("5")))
    assert f"{after5.orders[uid['5']['order_id']].exchange_price_difference:.2f}" == said("5")
    after2, _ = replay(world.db, _calls(world.task("2")))
    assert f"{after2.orders[uid['2']['order_id']].payment_history[-1].amount:.2f}" == said("2")
    returned = world.task("13").gold_actions()[-1].arguments
    lines = world.db.orders[returned["order_id"]].items
    refund = sum(next(i.price for i in lines if i.item_id == x) for x in returned["item_ids"])
    assert f"{refund:.2f}" == said("13")
    ref = Reference(world.db)
    calc = next(a for a in world.task("8").gold_actions() if a.name == "calculate")
    assert ref.call("calculate", calc.arguments) == said("8")
    item = next(a for a in world.task("7").gold_actions() if a.name == "get_item_details")
    assert f"{ref.call('get_item_details', item.arguments)['price']:.2f}" == said("7")


def test_item_change_takes_the_last_new_items_price_for_every_line(world: Tau2Retail) -> None:
    """tau2's behaviour the DB check depends on: the order of the pairs matters."""
    gold = world.task("2").gold_actions()[-1].arguments
    after, _ = replay(world.db, [("modify_pending_order_items", gold)])
    lines = after.orders[gold["order_id"]].items
    assert [i.item_id for i in lines] == gold["new_item_ids"]
    assert lines[0].price == lines[1].price  # both the speaker's price
    swapped = {**gold, "item_ids": gold["item_ids"][::-1],
               "new_item_ids": gold["new_item_ids"][::-1]}
    other, _ = replay(world.db, [("modify_pending_order_items", swapped)])
    assert db_hash(other) != db_hash(after)


def test_tau2s_db_check_fails_every_single_write_perturbation(world: Tau2Retail) -> None:
    checked = 0
    for task in world.tasks:
        gold, _ = replay(world.db, _calls(task))
        for label, calls in perturbations(world.db, task):
            after, failures = replay(world.db, calls)
            if label.endswith("there and back"):  # the change back is refused: two payments
                assert len(failures) == 1 and db_hash(after) == db_hash(gold), (task.id, label)
                continue
            assert db_hash(after) != db_hash(gold), (task.id, label)
            checked += 1
    assert checked >= 50


def test_failed_calls_change_nothing(world: Tau2Retail) -> None:
    ref = Reference(world.db)
    start = db_hash(ref.db)
    processed = next(o for o in world.db.orders.values() if o.status == "processed")
    modified = next(o for o in world.db.orders.values() if o.status == "pending (item modified)")
    bad = [
        ("cancel_pending_order", {"order_id": processed.order_id, "reason": "no longer needed"}),
        ("cancel_pending_order", {"order_id": modified.order_id, "reason": "no longer needed"}),
        ("cancel_pending_order", {"order_id": "#W0000000", "reason": "no longer needed"}),
        ("modify_pending_order_payment", {"order_id": modified.order_id,
                                          "payment_method_id": modified.payment_history[0]
                                          .payment_method_id}),
        ("get_order_details", {"order": processed.order_id}),
        ("refund_everything", {}),
        ("calculate", {"expression": "__import__('os')"}),
        ("calculate", {"expression": "1 / 0"}),
    ]
    for name, args in bad:
        with pytest.raises(ToolFailed):
            ref.call(name, args)
        assert db_hash(ref.db) == start, name
    assert ref.call("calculate", {"expression": "(2 + 3) * 1.5"}) == "7.5"


def test_the_tool_allows_what_the_policy_refuses(world: Tau2Retail) -> None:
    """Task 12: the address tool accepts an order whose items were modified (tau2's tool only
    asks for 'pending' in the status), so an agent that obeys the user there fails the DB
    check, whose gold has no write."""
    task = world.task("12")
    order_id = task.gold_actions()[-1].arguments["order_id"]
    gold, _ = replay(world.db, _calls(task))
    address = {"address1": "2201 Rio Grande Blvd", "address2": "", "city": "Albuquerque",
               "state": "NM", "country": "USA", "zip": "87107"}
    agent, failures = replay(world.db, _calls(task) + [
        ("modify_pending_order_address", {"order_id": order_id, **address})])
    assert failures == [] and db_hash(agent) != db_hash(gold)
