"""The controller removes the sessions of finished episodes: ``run`` in batches of
``REMOVAL_BATCH`` (never more left at once, all gone when it returns or raises),
``run_episode`` at once; on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from episodes import controller as controller_module
from episodes.agents import make_agent
from episodes.controller import EpisodeController
from episodes.generate import generate_task
from mcp_shop import Shop

CASES = [("purchase", 1), ("return", 3), ("cart", 2), ("cancel", 4), ("discovery", 5)]


def _sessions(shop: Shop) -> int:
    with shop.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM shop_session")).scalar_one())


@pytest.fixture
def tasks(shop: Shop) -> list[Any]:
    return [generate_task(shop, family, 2, seed) for family, seed in CASES]


async def test_run_removes_sessions_in_bounded_batches(shop: Shop, tasks: list[Any],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(controller_module, "REMOVAL_BATCH", 2)
    before = _sessions(shop)
    seen: list[int] = []
    async with EpisodeController(shop, connect="direct") as controller:
        records = await controller.run(make_agent("oracle"), tasks,
                                       on_done=lambda r: seen.append(_sessions(shop)))
        assert _sessions(shop) == before  # all gone when run returns, not at exit
    assert len(records) == len(tasks) and all(r["success"] for r in records)
    # one episode at a time: a batch fills up to 2 finished sessions, then goes
    assert seen == [before + 1, before, before + 1, before, before + 1]


async def test_run_removes_every_session_when_it_raises(shop: Shop, tasks: list[Any],
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.setattr(controller_module, "REMOVAL_BATCH", 10)
    before = _sessions(shop)

    def stop_after_three(record: dict[str, Any]) -> None:
        if len(done) == 2:
            raise RuntimeError("the trainer stopped")
        done.append(record)

    done: list[dict[str, Any]] = []
    async with EpisodeController(shop, connect="direct") as controller:
        with pytest.raises(BaseException) as raised:
            await controller.run(make_agent("oracle"), tasks, on_done=stop_after_three)
        assert "the trainer stopped" in repr(raised.value)
        assert _sessions(shop) == before


async def test_run_episode_removes_its_session_at_once(shop: Shop, tasks: list[Any]) -> None:
    before = _sessions(shop)
    async with EpisodeController(shop, connect="direct") as controller:
        record = await controller.run_episode(make_agent("oracle"), tasks[0])
        assert _sessions(shop) == before and record["success"]
