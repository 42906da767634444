"""The same tasks and the same rollouts on SQLite and on PostgreSQL: generation, the shop's
answers, the shopper, the verifiers and the records do not depend on the backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from episodes.agents import make_agent
from episodes.controller import EpisodeController
from episodes.generate import generate_task
from mcp_shop import Shop
from mcp_shop.catalog import build_catalog
from tests.conftest import TEST_SEED, TEST_SIZE, engine_for
from tests.episodes.records import untimed
from verifiers.types import FAMILIES


def _run(shop: Shop, agent: str, tasks: list[Any]) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        async with EpisodeController(shop) as controller:
            return await controller.run(make_agent(agent), tasks, concurrency=4)
    return anyio.run(go)


def test_rollouts_are_identical_on_sqlite_and_postgresql(ep_shop: Shop, tmp_path: Path,
                                                         pg_reason: str | None) -> None:
    engines = engine_for("postgresql", tmp_path, pg_reason)
    engine = next(engines)
    try:
        build_catalog(engine, seed=TEST_SEED, size=TEST_SIZE)
        pg = Shop(engine, index_dir=None)
        cells = [(f, d, s) for f in FAMILIES for d in (1, 4, 7) for s in (0, 1)]
        tasks = [generate_task(ep_shop, *cell) for cell in cells]
        assert [generate_task(pg, *cell) for cell in cells] == tasks
        for agent in ("oracle", "heuristic"):
            lite, post = _run(ep_shop, agent, tasks), _run(pg, agent, tasks)
            assert [r["task_id"] for r in post] == [t.task_id for t in tasks]
            for a, b in zip(lite, post, strict=True):
                assert untimed(b) == untimed(a), (agent, a["task_id"])
        assert all(r["success"] for r in _run(pg, "oracle", tasks))
    finally:
        engines.close()
