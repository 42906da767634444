"""tau2 retail records and loader, on the project's own fixture (tests/fixtures/tau2_retail)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mcp_shop.errors import InvalidInput
from mcp_shop.tau2 import Tau2DataError, load_tau2_retail
from mcp_shop.tau2.records import (
    ORDER_STATUSES,
    TOOL_PARAMS,
    WRITE_TOOLS,
    GiftCard,
)
from tests.fixtures.tau2_retail import make_fixture

FIXTURE = Path(make_fixture.__file__).resolve().parent

# The tools named in issue 13, as the issue lists them.
ISSUE_TOOLS = [
    "find_user_id_by_email", "find_user_id_by_name_zip", "get_user_details", "get_order_details",
    "get_product_details", "get_item_details", "list_all_product_types", "cancel_pending_order",
    "modify_pending_order_address", "modify_pending_order_items", "modify_pending_order_payment",
    "modify_user_address", "exchange_delivered_order_items", "return_delivered_order_items",
    "calculate", "transfer_to_human_agents",
]


@pytest.fixture(scope="module")
def world():
    return load_tau2_retail(FIXTURE)


def test_fixture_loads_with_every_kind_of_record(world):
    db = world.db
    assert db.statistics() == {"products": 6, "items": 24, "users": 8, "orders": 19}
    assert {o.status for o in db.orders.values()} == set(ORDER_STATUSES)
    assert all(len(p.variants) >= 3 for p in db.products.values())
    assert any(not v.available for p in db.products.values() for v in p.variants.values())
    sources = Counter(m.source for u in db.users.values() for m in u.payment_methods.values())
    assert set(sources) == {"credit_card", "paypal", "gift_card"}
    assert all(m.balance > 0 for u in db.users.values() for m in u.payment_methods.values()
               if isinstance(m, GiftCard))
    assert any(max(Counter(m.source for m in u.payment_methods.values()).values()) > 1
               for u in db.users.values())  # two cards
    assert max(len(o.items) for o in db.orders.values()) == 5
    assert any(len({i.item_id for i in o.items}) < len(o.items) for o in db.orders.values())
    # orders ship to addresses other than the user's default one too
    assert any(o.address != db.users[o.user_id].address for o in db.orders.values())
    assert len(world.tasks) >= 12 and world.policy.startswith("# ")
    assert set(world.splits) == {"train", "test", "base"}
    assert [t.id for t in world.tasks_in("base")] == [t.id for t in world.tasks]
    assert set(world.splits["train"]).isdisjoint(world.splits["test"])


def test_every_tool_of_the_issue_is_in_some_gold_trajectory(world):
    assert sorted(ISSUE_TOOLS) == sorted(TOOL_PARAMS)
    used = {a.name for t in world.tasks for a in t.gold_actions()}
    assert used == set(ISSUE_TOOLS)


def test_gold_writes_cover_every_write_tool(world):
    """(That every gold trajectory succeeds under tau2's rules: test_tau2_reference.py.)"""
    writes = Counter(a.name for t in world.tasks for a in t.gold_actions()
                     if a.name in WRITE_TOOLS)
    assert set(writes) == WRITE_TOOLS
    assert any(not (set(t.evaluation_criteria.reward_basis) - {"DB"}) for t in world.tasks)
    assert {"COMMUNICATE", "NL_ASSERTION"} <= {b for t in world.tasks
                                               for b in t.evaluation_criteria.reward_basis}


def test_checkout_root_and_data_dir_layouts_load_the_same(tmp_path, world):
    domain = tmp_path / "tau2-bench" / "data" / "tau2" / "domains" / "retail"
    domain.mkdir(parents=True)
    for name in make_fixture.FILES:
        shutil.copy(FIXTURE / name, domain / name)
    for path in (tmp_path / "tau2-bench", tmp_path / "tau2-bench" / "data", domain):
        loaded = load_tau2_retail(path)
        assert loaded.domain_dir == domain
        assert loaded.db == world.db and loaded.tasks == world.tasks
    (domain / "split_tasks.json").unlink()  # older checkouts: every task in 'base'
    assert load_tau2_retail(domain).splits == {"base": [t.id for t in world.tasks]}


def test_the_writer_is_deterministic_and_the_committed_files_are_its_output(tmp_path):
    first = make_fixture.build()
    assert make_fixture.build() == first
    a, b = tmp_path / "a", tmp_path / "b"
    make_fixture.write(a)
    make_fixture.write(b)
    for name in make_fixture.FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes()
        assert (a / name).read_bytes() == (FIXTURE / name).read_bytes(), (
            f"{name} is stale: run python -m tests.fixtures.tau2_retail.make_fixture")


# --- bad layouts -----------------------------------------------------------------------------


def _copy(tmp_path: Path) -> Path:
    d = tmp_path / "retail"
    d.mkdir()
    for name in make_fixture.FILES:
        shutil.copy(FIXTURE / name, d / name)
    return d


def _edit(d: Path, name: str, change: Any) -> None:
    data = json.loads((d / name).read_text())
    change(data)
    (d / name).write_text(json.dumps(data))


def _first(mapping: dict[str, Any]) -> Any:
    return next(iter(mapping.values()))


def _pick_order(db: dict[str, Any], status: str) -> dict[str, Any]:
    return next(o for o in db["orders"].values() if o["status"] == status)


BAD_DB = {
    "unknown status": (lambda db: _pick_order(db, "processed").update(status="shipped"),
                       ".status", "'pending', 'pending (item modified)'"),
    "price not a number": (
        lambda db: _pick_order(db, "delivered")["items"][0].update(price="cheap"),
        ".items[0].price", "a valid number"),
    "missing field": (lambda db: _first(db["products"]).pop("name"),
                      "].name: is missing", "this field"),
    "field tau2 does not have": (lambda db: _first(db["users"]).update(phone="555"),
                                 ".phone: is not a field", "only tau2's fields"),
    "unknown payment source": (
        lambda db: _first(_first(db["users"])["payment_methods"]).update(source="bitcoin"),
        "has source 'bitcoin'", "'credit_card', 'gift_card', 'paypal'"),
    "gift card balance not a number": (
        lambda db: next(m for u in db["users"].values() for m in u["payment_methods"].values()
                        if m["source"] == "gift_card").update(balance="lots"),
        "'].payment_methods['gift_card_", "].balance: is 'lots' (expected a valid number"),
    "order of no user": (lambda db: _pick_order(db, "pending").update(user_id="nobody_1"),
                         ".user_id: names 'nobody_1'", "a user of users"),
    "item of another product": (
        lambda db: _pick_order(db, "pending")["items"][0].update(product_id="1"),
        ".items[0]: item", "an item of that product"),
    "item id in two products": (
        lambda db: list(db["products"].values())[1]["variants"].update(
            {k: v for k, v in list(_first(db["products"])["variants"].items())[:1]}),
        "repeats an item id of products[", "item ids unique across products"),
    "key and id differ": (lambda db: _first(db["products"]).update(product_id="42"),
                          "holds product_id '42'", "the key and the product_id to be equal"),
}


@pytest.mark.parametrize("case", sorted(BAD_DB))
def test_bad_db_names_file_place_problem_and_expectation(tmp_path, case):
    change, where, expected = BAD_DB[case]
    d = _copy(tmp_path)
    _edit(d, "db.json", change)
    with pytest.raises(Tau2DataError) as exc:
        load_tau2_retail(d)
    err = exc.value
    assert err.code == "tau2_data" and isinstance(err, InvalidInput)
    assert err.context["file"] == str(d / "db.json")
    assert str(err).startswith(f"{d / 'db.json'}: ")
    assert where in str(err) and expected in str(err), str(err)


def test_payment_method_of_another_user_is_refused(tmp_path):
    d = _copy(tmp_path)

    def change(db: dict[str, Any]) -> None:
        order = _pick_order(db, "pending")
        other = next(u for u in db["users"].values() if u["user_id"] != order["user_id"])
        order["payment_history"][0]["payment_method_id"] = next(iter(other["payment_methods"]))

    _edit(d, "db.json", change)
    with pytest.raises(Tau2DataError, match="expected a payment method of user"):
        load_tau2_retail(d)


def _action(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return tasks[0]["evaluation_criteria"]["actions"][0]


BAD_TASKS = {
    "unknown tool": (lambda ts: _action(ts).update(name="refund_everything"),
                     ".name: is 'refund_everything'", "one of tau2 retail's tools"),
    "wrong arguments": (lambda ts: _action(ts).update(arguments={"mail": "x@y.z"}),
                        ".arguments: are ['mail']", "the parameters of find_user_id_by_email"),
    "repeated id": (lambda ts: ts[1].update(id=ts[0]["id"]), "[1].id: repeats '0'",
                    "unique task ids"),
    "unknown reward type": (
        lambda ts: ts[0]["evaluation_criteria"].update(reward_basis=["DB", "VIBES"]),
        "reward_basis[1]: is 'VIBES'", "'DB', 'ENV_ASSERTION'"),
    "no user scenario": (lambda ts: ts[2].pop("user_scenario"),
                         "[2].user_scenario: is missing", "this field"),
}


@pytest.mark.parametrize("case", sorted(BAD_TASKS))
def test_bad_tasks_name_file_place_problem_and_expectation(tmp_path, case):
    change, where, expected = BAD_TASKS[case]
    d = _copy(tmp_path)
    _edit(d, "tasks.json", change)
    with pytest.raises(Tau2DataError) as exc:
        load_tau2_retail(d)
    assert exc.value.context["file"] == str(d / "tasks.json")
    assert where in str(exc.value) and expected in str(exc.value), str(exc.value)


def test_bad_files_and_paths(tmp_path):
    with pytest.raises(Tau2DataError, match="does not exist"):
        load_tau2_retail(tmp_path / "nowhere")
    (tmp_path / "note.txt").write_text("x")
    with pytest.raises(Tau2DataError, match="is a file, not a directory"):
        load_tau2_retail(tmp_path / "note.txt")
    with pytest.raises(Tau2DataError, match="holds no db.json or tasks.json"):
        load_tau2_retail(tmp_path)

    d = _copy(tmp_path)
    (d / "db.json").write_text('{"products": {},\n "users": [}')
    with pytest.raises(Tau2DataError, match=r"db.json: line 2 column 12: .*expected valid JSON"):
        load_tau2_retail(d)
    (d / "db.json").write_text("[]")
    with pytest.raises(Tau2DataError, match="top level: is a JSON list .expected a JSON object"):
        load_tau2_retail(d)
    shutil.copy(FIXTURE / "db.json", d / "db.json")
    (d / "tasks.json").unlink()
    with pytest.raises(Tau2DataError, match=r"tasks.json: file: is missing"):
        load_tau2_retail(d)
    shutil.copy(FIXTURE / "tasks.json", d / "tasks.json")
    _edit(d, "split_tasks.json", lambda s: s["test"].append("999"))
    with pytest.raises(Tau2DataError, match=r"\['test'\]: names \['999'\]"):
        load_tau2_retail(d)
    shutil.copy(FIXTURE / "split_tasks.json", d / "split_tasks.json")
    (d / "policy.md").write_text("  \n")
    with pytest.raises(Tau2DataError, match="policy.md: file: is empty"):
        load_tau2_retail(d)
    (d / "policy.md").unlink()
    with pytest.raises(Tau2DataError, match="policy.md: file: is missing"):
        load_tau2_retail(d)


def test_unknown_split_and_task_are_clear_errors(world):
    with pytest.raises(InvalidInput, match="no split 'dev'; the splits are base, test, train"):
        world.tasks_in("dev")
    with pytest.raises(InvalidInput, match="no task '77'"):
        world.task("77")


def test_many_problems_are_counted_not_all_quoted(tmp_path):
    d = _copy(tmp_path)
    _edit(d, "db.json", lambda db: [o.update(status="lost") for o in db["orders"].values()])
    with pytest.raises(Tau2DataError) as exc:
        load_tau2_retail(d)
    assert exc.value.context["problem_count"] == 19
    assert len(exc.value.context["problems"]) == 5 and "(and 14 more)" in str(exc.value)
