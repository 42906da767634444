"""``python -m mcp_shop.tau2``: check a tau2-bench retail checkout, or import its products.

    python -m mcp_shop.tau2 check PATH          what the checkout holds, or what is wrong with it
    python -m mcp_shop.tau2 catalog PATH --db URL [--replace]
                                                its products as the catalog of a new database

PATH is the checkout's root or its data/tau2/domains/retail directory. Exit status 0 on
success, 2 with a one-line error on stderr otherwise.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from mcp_shop.errors import ShopError
from mcp_shop.tau2.loader import Tau2Retail, load_tau2_retail


def summary(world: Tau2Retail) -> list[str]:
    """Lines describing a loaded world."""
    stats = world.db.statistics()
    statuses = Counter(o.status for o in world.db.orders.values())
    sources = Counter(m.source for u in world.db.users.values()
                      for m in u.payment_methods.values())
    tools = Counter(a.name for t in world.tasks for a in t.gold_actions())
    bases = Counter("+".join(t.evaluation_criteria.reward_basis) for t in world.tasks
                    if t.evaluation_criteria is not None)
    return [
        f"tau2 retail world at {world.domain_dir}",
        f"products {stats['products']}, items {stats['items']}, users {stats['users']}, "
        f"orders {stats['orders']}",
        "orders by status: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())),
        "payment methods: " + ", ".join(f"{k} {v}" for k, v in sorted(sources.items())),
        f"tasks {len(world.tasks)}; splits: "
        + ", ".join(f"{k} {len(v)}" for k, v in sorted(world.splits.items())),
        "reward bases: " + ", ".join(f"{k} {v}" for k, v in sorted(bases.items())),
        "gold calls by tool: " + ", ".join(f"{k} {v}" for k, v in sorted(tools.items())),
        f"policy: {len(world.policy.split())} words",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mcp_shop.tau2",
                                 description="tau2-bench retail checkouts")
    sub = ap.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="load and validate a checkout; print what it holds")
    check.add_argument("path")
    cat = sub.add_parser("catalog", help="import a checkout's products as a catalog")
    cat.add_argument("path")
    cat.add_argument("--db", required=True, help="database URL, e.g. sqlite:///tau2.db")
    cat.add_argument("--replace", action="store_true",
                     help="replace the catalog (and every session) the database holds")
    args = ap.parse_args(argv)
    try:
        world = load_tau2_retail(args.path)
        if args.command == "check":
            print("\n".join(summary(world)))
            return 0
        from mcp_shop.db import make_engine
        from mcp_shop.tau2.world import import_tau2_catalog

        engine = make_engine(args.db)
        try:
            report = import_tau2_catalog(engine, world, replace=args.replace)
        finally:
            engine.dispose()
        print(f"imported {report.info.product_count} products, {report.info.variant_count} "
              f"items into {args.db} in {report.seconds:.2f} s")
        return 0
    except ShopError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
