"""Trajectories for checking the tau2 tools against the reference (tau2_reference.py): the
single-write perturbations of a task's gold, and random plausible calls on a world as it is
now. Tests only."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from mcp_shop.tau2.records import CANCEL_REASONS, WRITE_TOOLS, RetailDB, Task
from tests.mcp_shop.tau2_reference import Calls, gold_calls

__all__ = ["perturbations", "random_call"]


def _other_items(db: RetailDB, args: dict[str, Any]) -> list[tuple[str, Any]]:
    """(argument, value) variants of an item change or return: each old item replaced by
    another item of the order, each new item by another item of the same product, and the
    pairs of an item change listed in reverse."""
    order = db.orders.get(args.get("order_id", ""))
    if order is None or "item_ids" not in args:
        return []
    out: list[tuple[str, Any]] = []
    olds, owned = args["item_ids"], list(dict.fromkeys(i.item_id for i in order.items))
    for k, old in enumerate(olds):
        out += [("item_ids", [*olds[:k], o, *olds[k + 1:]]) for o in owned if o != old][:1]
    news = args.get("new_item_ids")
    if news is not None:
        product = db.item_product()
        for k, new in enumerate(news):
            variants = db.products[product[new]].variants
            siblings = [i for i in variants if i != new]
            picked = siblings[:2] + [i for i in siblings[2:] if not variants[i].available][:1]
            out += [("new_item_ids", [*news[:k], i, *news[k + 1:]]) for i in picked]
        if len(olds) > 1:
            out.append(("pairs", (olds[::-1], news[::-1])))
    return out


def perturbations(db: RetailDB, task: Task) -> list[tuple[str, Calls]]:
    """Single-write changes of a task's gold trajectory: each write dropped; each write with one
    argument changed (another payment method of the user, another order of the user, another
    city or zip, the other cancel reason, another item of the order or of the product, the
    pairs of an item change reversed); and, for a change of payment method, the payment
    method swapped (the new one paid first, then the change back)."""
    calls = gold_calls(task)
    out: list[tuple[str, Calls]] = []
    for j, (name, args) in enumerate(calls):
        if name not in WRITE_TOOLS:
            continue
        out.append((f"drop {name}", calls[:j] + calls[j + 1:]))
        order = db.orders.get(args.get("order_id", ""))
        user = db.users[order.user_id if order else args["user_id"]]
        variants: list[tuple[str, Any]] = []
        if "payment_method_id" in args:
            variants += [("payment_method_id", m) for m in user.payment_methods
                         if m != args["payment_method_id"]]
        if order is not None:
            variants += [("order_id", o) for o in user.orders if o != args["order_id"]]
        if "city" in args:
            variants += [("city", args["city"] + " Heights"), ("zip", "00000")]
        if "reason" in args:
            variants += [("reason", r) for r in CANCEL_REASONS if r != args["reason"]]
        variants += _other_items(db, args)
        for key, value in variants:
            if key == "pairs":
                changed_args = {**args, "item_ids": value[0], "new_item_ids": value[1]}
            else:
                changed_args = {**args, key: value}
            changed = calls[:j] + [(name, changed_args)] + calls[j + 1:]
            out.append((f"{name} with {key}={value}", changed))
        if name == "modify_pending_order_payment" and order is not None:
            first = order.payment_history[0].payment_method_id
            swap = [(name, {**args, "payment_method_id": args["payment_method_id"]}),
                    (name, {**args, "payment_method_id": first})]
            out.append((f"{name} swapped there and back", calls[:j] + swap + calls[j + 1:]))
    return out


_WEIGHTS = {"cancel_pending_order": 3, "modify_pending_order_address": 2,
            "modify_pending_order_items": 4, "modify_pending_order_payment": 3,
            "modify_user_address": 1, "exchange_delivered_order_items": 3,
            "return_delivered_order_items": 3, "get_order_details": 1, "get_user_details": 1,
            "find_user_id_by_email": 1, "find_user_id_by_name_zip": 1, "get_item_details": 1,
            "get_product_details": 1}


def random_call(db: RetailDB, rng: random.Random) -> tuple[str, dict[str, Any]]:
    """A plausible call on world ``db`` as it is now: a random order and its user, some of its
    units (now and then a unit named twice), new items mostly of the same products (now and
    then any item), one of the user's payment methods (now and then an unknown one), a cancel
    reason now and then invalid. Many such calls are refused, in every way the rules refuse."""
    order = db.orders[rng.choice(sorted(db.orders))]
    user = db.users[order.user_id]
    method = rng.choice([*user.payment_methods, "gift_card_0000000"]
                        if rng.random() < 0.05 else list(user.payment_methods))
    units = [i.item_id for i in order.items]
    olds = (rng.sample(units, rng.randrange(1, len(units) + 1)) if rng.random() < 0.9
            else units[:1] * 2)
    product = db.item_product()
    news = [rng.choice(sorted(db.products[product[o]].variants)) if rng.random() < 0.95
            else rng.choice(sorted(product)) for o in olds]
    address = {"address1": "1 Elm Street", "address2": rng.choice(["", "Apt 2"]),
               "city": rng.choice(["Dayton", "Akron"]), "state": "OH", "country": "USA",
               "zip": rng.choice(["45402", "44308"])}
    name = rng.choices(list(_WEIGHTS), weights=list(_WEIGHTS.values()))[0]
    oid, uid = order.order_id, user.user_id
    builders: dict[str, Callable[[], dict[str, Any]]] = {
        "cancel_pending_order": lambda: {"order_id": oid, "reason": rng.choice(
            [*CANCEL_REASONS, "changed my mind"])},
        "modify_pending_order_address": lambda: {"order_id": oid, **address},
        "modify_user_address": lambda: {"user_id": uid, **address},
        "modify_pending_order_items": lambda: {"order_id": oid, "item_ids": olds,
                                               "new_item_ids": news,
                                               "payment_method_id": method},
        "exchange_delivered_order_items": lambda: {"order_id": oid, "item_ids": olds,
                                                   "new_item_ids": news,
                                                   "payment_method_id": method},
        "modify_pending_order_payment": lambda: {"order_id": oid, "payment_method_id": method},
        "return_delivered_order_items": lambda: {"order_id": oid, "item_ids": olds,
                                                 "payment_method_id": method},
        "get_order_details": lambda: {"order_id": oid},
        "get_user_details": lambda: {"user_id": uid},
        "find_user_id_by_email": lambda: {"email": user.email.upper()},
        "find_user_id_by_name_zip": lambda: {"first_name": user.name.first_name,
                                             "last_name": user.name.last_name,
                                             "zip": user.address.zip},
        "get_item_details": lambda: {"item_id": olds[0]},
        "get_product_details": lambda: {"product_id": product[olds[0]]},
    }
    return name, builders[name]()
