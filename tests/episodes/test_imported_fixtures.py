"""Every task family on the catalogs the importers make of the import fixtures: the five files of
tests/fixtures/import (Shopify CSV, Google Merchant Center TSV/RSS/Atom) and the Amazon JSONL of
tests/mcp_shop/test_import_amazon.py. On each, the families the catalog supports at difficulties
0-10 are solved by the oracle on every task, the ones it does not support say why, and the
heuristic and random agents play a sample of tasks through; the heuristic beats random."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from episodes.families.support import Support, shop_support
from episodes.generate import generate_task
from episodes.records import parse_record
from tests.mcp_shop.test_import_amazon import write_fixture

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "import"
CATALOGS = [("shopify", "shopify_products.csv"), ("shopify", "shopify_old_cp1252.csv"),
            ("gmc", "gmc_feed.tsv"), ("gmc", "gmc_feed.xml"), ("gmc", "gmc_atom.xml"),
            ("amazon", "meta.jsonl")]
DIFFICULTIES = range(11)
SEEDS = (0, 1)
SAMPLE = 24  # tasks per catalog for the heuristic and random agents
# Families whose needs every catalog with one stocked product meets.
ALWAYS = {"discovery", "return", "order_status", "cancel", "policy"}
# What the reason of a family left out (wholly or at some difficulties) speaks of.
REASON_WORDS = {
    "substitution": "no leaf category holds two products or more",
    "price_compare": "no leaf category holds two products or more",
    "exchange": "differ only in size or colour",
    "bundle": "no kits",
    "cart": "distinct products with two units in stock or more; the catalog has",
    "purchase": "distinct products with two units in stock or more; the catalog has",
    "multi": "multi chains an order or policy request",
}


NAMES = [name for _, name in CATALOGS]


@pytest.fixture(scope="module")
def shops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """{fixture file name: a ``Shop`` over a SQLite catalog imported from it}."""
    from mcp_shop.db import make_engine
    from mcp_shop.importers import import_catalog
    from mcp_shop.shop import Shop

    out: dict[str, Any] = {}
    for fmt, name in CATALOGS:
        tmp = tmp_path_factory.mktemp("imported")
        path = write_fixture(tmp / name) if fmt == "amazon" else FIXTURES / name
        url = f"sqlite:///{tmp / 'shop.db'}"
        engine = make_engine(url)
        try:
            report = import_catalog(engine, fmt, [str(path)], seed=3)
        finally:
            engine.dispose()
        assert report.info.product_count >= 2, name
        out[name] = Shop(make_engine(url), index_dir=None)
    yield out
    for shop in out.values():
        shop.engine.dispose()


def _tasks(shop: Any, seeds: Sequence[int]) -> list[Any]:
    support = shop_support(shop)
    return [generate_task(shop, f, d, s) for f, sup in support.items()
            for d in DIFFICULTIES if sup.at(d) for s in seeds]


def _play(shop: Any, agent: Any, tasks: list[Any]) -> list[dict[str, Any]]:
    from episodes.controller import EpisodeController

    async def run() -> list[dict[str, Any]]:
        async with EpisodeController(shop) as controller:
            return list(await controller.run(agent, tasks, concurrency=4))

    return anyio.run(run)


@pytest.mark.parametrize("name", NAMES)
def test_support_is_broad_and_says_why_not(shops: dict[str, Any], name: str) -> None:
    shop = shops[name]
    support: dict[str, Support] = shop_support(shop)
    supported = {f for f, s in support.items() if s.supported}
    print(f"\n{name}: {len(supported)} families supported: {sorted(supported)}")
    assert len(supported) >= 7, support
    assert {f for f, s in support.items() if s.difficulties == tuple(range(21))} >= ALWAYS
    for family, s in support.items():
        if not all(s.at(d) for d in DIFFICULTIES):
            assert family in REASON_WORDS, (family, s)
            assert REASON_WORDS[family] in s.reason, (family, s.reason)
        if not s.supported:
            assert s.notes == ()
    if name == "meta.jsonl":  # two headphones in one leaf, no options
        assert support["substitution"].supported and support["price_compare"].supported
        assert not support["exchange"].supported


@pytest.mark.parametrize("name", NAMES)
def test_oracle_solves_every_supported_task(shops: dict[str, Any], name: str) -> None:
    """The gold solution of every supported family at difficulties 0-10 solves its task."""
    shop = shops[name]
    from episodes.agents import OracleAgent

    tasks = _tasks(shop, SEEDS)
    records = _play(shop, OracleAgent(), tasks)
    failed = [(r["task_id"], r["reward"]) for r in records if not r["success"]]
    print(f"\n{name}: oracle solved {len(records) - len(failed)}/{len(tasks)}")
    assert len(records) == len(tasks) >= len(ALWAYS) * len(DIFFICULTIES) * len(SEEDS)
    assert not failed, failed


@pytest.fixture(scope="module")
def sampled(shops: dict[str, Any]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """{agent: {catalog: records}}: the heuristic and random agents on up to ``SAMPLE``
    supported tasks (seed 2, spread over families and difficulties) of each catalog."""
    from episodes.agents import make_agent

    out: dict[str, dict[str, list[dict[str, Any]]]] = {"heuristic": {}, "random": {}}
    for name, shop in shops.items():
        tasks = _tasks(shop, (2,))
        sample = tasks[::max(1, len(tasks) // SAMPLE)][:SAMPLE]
        for agent_name, by_catalog in out.items():
            by_catalog[name] = _play(shop, make_agent(agent_name), sample)
    return out


@pytest.mark.parametrize("agent_name", ["heuristic", "random"])
@pytest.mark.parametrize("name", NAMES)
def test_agents_play_a_sample(sampled: dict[str, dict[str, list[dict[str, Any]]]],
                              shops: dict[str, Any], name: str, agent_name: str) -> None:
    """The heuristic and random agents run every sampled task to a valid record (an agent
    error would raise out of the controller)."""
    records = sampled[agent_name][name]
    expected = _tasks(shops[name], (2,))
    assert len(records) == min(SAMPLE, len(expected))
    assert {r["task_id"] for r in records} <= {t.task_id for t in expected}
    for r in records:
        parse_record(r, r["task_id"])
        assert r["policy"] == agent_name
        # verifiers.reward: a success earns 0.5-1, a failure at most 0.6 (shaped), down to -1
        assert -1.0 <= r["reward"] <= 1.0, (r["task_id"], r["reward"])
        assert r["reward"] >= 0.5 if r["success"] else r["reward"] < 1.0, r["task_id"]


def test_heuristic_beats_random_over_all_catalogs(
        sampled: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    h = [r["success"] for records in sampled["heuristic"].values() for r in records]
    r = [r["success"] for records in sampled["random"].values() for r in records]
    assert len(h) == len(r) == len(CATALOGS) * SAMPLE
    rate_h, rate_r = sum(h) / len(h), sum(r) / len(r)
    print(f"\nheuristic {sum(h)}/{len(h)} = {rate_h:.2f}, random {sum(r)}/{len(r)} = {rate_r:.2f}")
    assert rate_h > rate_r
