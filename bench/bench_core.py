"""Benchmark of the shop core at several catalog sizes; prints figures, asserts nothing.

For each size: catalog generation + load time, database size, search index build time,
session creation time, search p50/p95 over a fixed query mix (single common terms matching at
least 5% of the catalog, multi-word queries, filtered queries), and add-to-cart / checkout
latency. Then the ratio of session creation time at the largest size to the smallest.

    python bench/bench_core.py --sizes 10000,100000,1000000 --db-dir /tmp/mcp-shop-bench
    python bench/bench_core.py --backend postgresql --sizes 10000,100000

Catalogs already in --db-dir are reused (pass --rebuild to time generation again).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from mcp_shop import Shop
from mcp_shop.catalog import build_catalog, load_catalog_info
from mcp_shop.db import create_schema, make_engine
from mcp_shop.models import Category, Product
from mcp_shop.search import SearchQuery

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - started, out


def query_mix(shop: Shop, rng: random.Random, n_sample: int = 3000) -> dict[str, list[Any]]:
    """Queries drawn from the catalog itself (so the mix works for any generated catalog)."""
    P, C = Product.__table__, Category.__table__  # noqa: N806
    total = shop.catalog.product_count
    pks = sorted(rng.sample(range(1, total + 1), min(n_sample, total)))
    with shop.engine.connect() as conn:
        rows = conn.execute(select(P.c.id, P.c.title, P.c.brand, P.c.price_min_cents, C.c.slug)
                            .join(C, C.c.id == P.c.category_id).where(P.c.id.in_(pks))).all()
        departments = conn.execute(select(C.c.slug).where(C.c.parent_id.is_(None))).scalars().all()
    df: Counter[str] = Counter()
    for r in rows:
        df.update(set(re.findall(r"[a-z]+", f"{r.title} {r.slug}".lower())))
    # Single terms that match at least 5% of the catalog, judged by the search itself.
    sid = shop.open_session(seed=0).session_id
    common = []
    for word, _ in df.most_common(80):
        if len(word) > 3 and shop.search(sid, SearchQuery(text=word)).total >= 0.05 * total:
            common.append(word)
        if len(common) == 6:
            break
    multi = []
    for r in rng.sample(rows, 40):
        words = [w for w in re.findall(r"[A-Za-z]+", r.title) if w.lower() != r.brand.lower()]
        multi.append(" ".join([r.brand.split()[0]] + rng.sample(words, min(2, len(words)))))
    multi += [" ".join(rng.sample(common, 2)) for _ in range(10) if len(common) >= 2]
    filtered = []
    for r in rng.sample(rows, 40):
        words = re.findall(r"[A-Za-z]+", r.title)
        filtered.append(SearchQuery(
            text=rng.choice([rng.choice(words), rng.choice(common), ""]),
            category=rng.choice([r.slug, r.slug.split("/")[0], rng.choice(departments)]),
            max_price_cents=rng.choice([None, r.price_min_cents * 2, 10_000]),
            in_stock_only=rng.random() < 0.7,
            sort=rng.choice(["relevance", "price_asc", "rating", "popularity"]),
        ))
    return {
        "common_terms": [SearchQuery(text=t) for t in common],
        "multi_word": [SearchQuery(text=t) for t in multi],
        "filtered": filtered,
    }


def bench_size(args: argparse.Namespace, size: int) -> dict[str, Any]:
    out: dict[str, Any] = {"size": size, "backend": args.backend}
    schema = None
    if args.backend == "sqlite":
        path = Path(args.db_dir) / f"shop-{size}.db"
        if args.rebuild:
            for p in path.parent.glob(path.name + "*"):
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        url = f"sqlite:///{path}"
    else:
        url, schema = PG_URL, f"bench_{size}"
        if args.rebuild:
            admin = make_engine(PG_URL)
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine = make_engine(url, schema=schema)
    create_schema(engine)
    if load_catalog_info(engine) is None:
        t, _ = timed(build_catalog, engine, seed=args.seed, size=size)
        out["generation_s"] = round(t, 2)
    else:
        out["generation_s"] = "reused"
    if args.backend == "sqlite":
        files = list(Path(args.db_dir).glob(f"shop-{size}.db*"))
        out["db_mb"] = round(sum(f.stat().st_size for f in files if f.is_file()) / 2**20, 1)
    else:
        with engine.connect() as conn:
            out["db_mb"] = round(float(conn.exec_driver_sql(
                "SELECT sum(pg_total_relation_size(quote_ident(schemaname)||'.'||"
                f"quote_ident(tablename))) FROM pg_tables WHERE schemaname='{schema}'"
            ).scalar()) / 2**20, 1)
    index_dir = Path(args.db_dir) / f"index-{args.backend}-{size}"
    t, shop = timed(Shop, engine, index_dir=index_dir)
    out["index_open_or_build_s"] = round(t, 2)

    rng = random.Random(args.seed)
    open_times = [timed(shop.open_session, seed=i)[0] for i in range(args.sessions)]
    out["session_create_ms_p50"] = ms(statistics.median(open_times))
    out["session_create_ms_p95"] = ms(pct(open_times, 95))

    sid = shop.open_session(seed=1).session_id
    mix = query_mix(shop, rng)
    all_times: list[float] = []
    for name, queries in mix.items():
        times = []
        totals = []
        for _ in range(args.rounds):
            for q in queries:
                t, page = timed(shop.search, sid, q)
                times.append(t)
                totals.append(page.total)
        all_times += times
        out[f"search_{name}_ms_p50"] = ms(statistics.median(times))
        out[f"search_{name}_ms_p95"] = ms(pct(times, 95))
        if name == "common_terms":
            out["common_terms"] = {q.text: f"{t / size:.1%}" for q, t in
                                   zip(queries, totals[:len(queries)], strict=True)}
    out["search_all_ms_p50"] = ms(statistics.median(all_times))
    out["search_all_ms_p95"] = ms(pct(all_times, 95))

    hits = [h for q in mix["filtered"] for h in shop.search(sid, q.model_copy(
        update={"in_stock_only": True})).hits]
    variants = []
    for h in hits[:200]:
        p = shop.get_product(sid, h.product_id)
        variants += [v.variant_id for v in p.variants if v.stock >= 5][:1]
    add_times, checkout_times = [], []
    for i in range(0, min(len(variants), 150), 3):
        s = shop.open_session(seed=i, history_orders=0).session_id
        for v in variants[i:i + 3]:
            add_times.append(timed(shop.add_to_cart, s, v, 1)[0])
        checkout_times.append(timed(shop.checkout, s, payment_method_id="PM-1")[0])
    out["add_to_cart_ms_p50"] = ms(statistics.median(add_times))
    out["add_to_cart_ms_p95"] = ms(pct(add_times, 95))
    out["checkout_ms_p50"] = ms(statistics.median(checkout_times))
    out["checkout_ms_p95"] = ms(pct(checkout_times, 95))
    view_times = [timed(shop.view_cart, sid)[0] for _ in range(200)]
    out["view_cart_ms_p50"] = ms(statistics.median(view_times))
    with engine.connect() as conn:
        out["products"] = conn.execute(select(func.count()).select_from(Product)).scalar()
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--db-dir", default="/tmp/mcp-shop-bench")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5, help="passes over the query mix")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    Path(args.db_dir).mkdir(parents=True, exist_ok=True)
    results = []
    for size in [int(s) for s in args.sizes.split(",")]:
        r = bench_size(args, size)
        results.append(r)
        print(json.dumps(r, indent=1), flush=True)
    if len(results) > 1:
        ratio = results[-1]["session_create_ms_p50"] / results[0]["session_create_ms_p50"]
        print(f"session creation p50 ratio {results[-1]['size']:,} / {results[0]['size']:,} "
              f"products: {ratio:.2f} (target < 2)")
    keys = [k for k in results[0] if k not in ("size", "backend", "common_terms")]
    print("\n| figure | " + " | ".join(f"{r['size']:,}" for r in results) + " |")
    print("|---|" + "---|" * len(results))
    for k in keys:
        print(f"| {k} | " + " | ".join(str(r.get(k)) for r in results) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
