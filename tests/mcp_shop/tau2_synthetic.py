"""A synthetic tau2-layout retail world of any size, invented here from a seed (no tau2 data):
for measuring sessions at the size of tau2-bench's own world (50 product types, ~590 items,
500 users, 1,000 orders, ~3,000 order items) and for round-trip tests at that size.

Every order status occurs; cancelled orders carry a refund and a reason, modified ones two
payments, delivered ones fulfillments, requested returns and exchanges their item lists
(sorted, as tau2 keeps them), payment methods and price difference.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from mcp_shop.tau2.loader import Tau2Retail
from mcp_shop.tau2.records import ORDER_STATUSES, RetailDB

__all__ = ["synthetic_world"]

_FIRST = ["ada", "bo", "cyd", "dev", "eli", "fay", "gus", "hal", "ivy", "jon", "kai", "lu"]
_LAST = ["ash", "birch", "cole", "dale", "east", "frost", "gale", "hart", "isle", "jett"]
_COLORS = ["red", "blue", "green", "black", "white", "grey", "teal", "navy"]
_SIZES = ["XS", "S", "M", "L", "XL", "XXL"]


def _digits(rng: random.Random, n: int, seen: set[str]) -> str:
    while True:
        text = str(rng.randrange(10 ** (n - 1), 10 ** n))
        if text not in seen:
            seen.add(text)
            return text


def synthetic_world(where: Path, *, products: int = 50, users: int = 500, orders: int = 1000,
                    seed: int = 0) -> Tau2Retail:
    """A world of ``products`` product types (8 to 16 items each), ``users`` users and
    ``orders`` orders (1 to 5 units each), the same for the same arguments; its ``db.json``
    is written into the directory ``where`` (the catalog import reads from a file's name)."""
    rng = random.Random(f"tau2-synthetic:{seed}")
    seen: set[str] = set()
    prods: dict[str, dict[str, Any]] = {}
    for p in range(products):
        pid = _digits(rng, 10, seen)
        combos = [(c, s) for c in _COLORS for s in _SIZES]
        rng.shuffle(combos)
        variants = {}
        for color, size in combos[:rng.randrange(8, 17)]:
            iid = _digits(rng, 10, seen)
            variants[iid] = {"item_id": iid, "options": {"color": color, "size": size},
                             "available": rng.random() < 0.8,
                             "price": rng.randrange(500, 50000) / 100}
        prods[pid] = {"name": f"Product type {p + 1}", "product_id": pid, "variants": variants}
    user_list: dict[str, dict[str, Any]] = {}
    for u in range(users):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        uid = f"{first}_{last}_{_digits(rng, 4, seen)}"
        methods: dict[str, dict[str, Any]] = {}
        for _ in range(rng.choice([1, 1, 2])):
            mid = f"credit_card_{_digits(rng, 7, seen)}"
            methods[mid] = {"source": "credit_card", "id": mid,
                            "brand": rng.choice(["visa", "mastercard"]),
                            "last_four": f"{rng.randrange(10000):04d}"}
        if rng.random() < 0.3:
            mid = f"paypal_{_digits(rng, 7, seen)}"
            methods[mid] = {"source": "paypal", "id": mid}
        if rng.random() < 0.4:
            mid = f"gift_card_{_digits(rng, 7, seen)}"
            methods[mid] = {"source": "gift_card", "id": mid,
                            "balance": rng.randrange(0, 30000) / 100}
        user_list[uid] = {
            "user_id": uid, "name": {"first_name": first.title(), "last_name": last.title()},
            "address": _address(rng, u), "email": f"{uid}@example.com",
            "payment_methods": methods, "orders": []}
    uids = list(user_list)
    order_list: dict[str, dict[str, Any]] = {}
    for n in range(orders):
        uid = uids[n % len(uids)] if n < len(uids) else rng.choice(uids)
        user = user_list[uid]
        oid = f"#W{_digits(rng, 7, seen)}"
        status = ORDER_STATUSES[n % len(ORDER_STATUSES)]
        items = []
        for _ in range(rng.randrange(1, 6)):
            product = prods[rng.choice(list(prods))]
            v = product["variants"][rng.choice(list(product["variants"]))]
            items.append({"name": product["name"], "product_id": product["product_id"],
                          "item_id": v["item_id"], "price": v["price"],
                          "options": dict(v["options"])})
        total = sum(round(i["price"] * 100) for i in items)
        method = rng.choice(list(user["payment_methods"]))
        history = [{"transaction_type": "payment", "amount": total / 100,
                    "payment_method_id": method}]
        order: dict[str, Any] = {
            "order_id": oid, "user_id": uid, "address": _address(rng, n + users),
            "items": items, "status": status, "fulfillments": [], "payment_history": history}
        if status == "cancelled":
            history.append({"transaction_type": "refund", "amount": total / 100,
                            "payment_method_id": method})
            order["cancel_reason"] = rng.choice(["no longer needed", "ordered by mistake"])
        if status == "pending (item modified)":
            history.append({"transaction_type": "payment", "amount": rng.randrange(1, 999) / 100,
                            "payment_method_id": method})
        if status in ("processed", "delivered", "return requested", "exchange requested"):
            order["fulfillments"] = [{"tracking_id": [_digits(rng, 12, seen)],
                                      "item_ids": [i["item_id"] for i in items]}]
        units = [i["item_id"] for i in items[:rng.randrange(1, len(items) + 1)]]
        if status == "return requested":
            order["return_items"] = sorted(units)
            order["return_payment_method_id"] = method
        if status == "exchange requested":
            news, diff = [], 0
            for item in items[:len(units)]:
                variants = prods[item["product_id"]]["variants"]
                new = variants[rng.choice(list(variants))]
                news.append(new["item_id"])
                diff += round(new["price"] * 100) - round(item["price"] * 100)
            order.update(exchange_items=sorted(units), exchange_new_items=sorted(news),
                         exchange_payment_method_id=method, exchange_price_difference=diff / 100)
        order_list[oid] = order
        user["orders"].append(oid)
    db = RetailDB.model_validate({"products": prods, "users": user_list, "orders": order_list})
    where.mkdir(parents=True, exist_ok=True)
    (where / "db.json").write_text(json.dumps(db.model_dump(), indent=1), encoding="utf-8")
    return Tau2Retail(domain_dir=where, db=db, tasks=[], splits={}, policy="")


def _address(rng: random.Random, n: int) -> dict[str, str]:
    return {"address1": f"{rng.randrange(1, 9999)} Synthetic Road",
            "address2": rng.choice(["", f"Suite {rng.randrange(1, 999)}"]),
            "city": f"Town {n % 97}", "country": "USA", "state": rng.choice(["CA", "NY", "TX"]),
            "zip": f"{rng.randrange(10000, 99999)}"}
