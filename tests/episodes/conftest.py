"""Fixtures for episode tests: one SQLite shop over the shared test catalog.

Episodes reach the shop through MCP and the Python API alike on both backends; the episode
logic itself is backend-independent, so these tests run on SQLite (the protocol and shop tests
cover PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_SEED, TEST_SIZE
from tests.episodes.records import oracle_records as run_oracle


@pytest.fixture(scope="session")
def ep_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A ``Shop`` on a SQLite file holding the test catalog, with an in-memory index."""
    from mcp_shop import Shop

    tmp: Path = tmp_path_factory.mktemp("episodes")
    shop = Shop.open(f"sqlite:///{tmp / 'shop.db'}", seed=TEST_SEED, size=TEST_SIZE,
                     index_dir=None)
    yield shop
    shop.engine.dispose()


@pytest.fixture(scope="module")
def tasks(ep_shop: Any, request: pytest.FixtureRequest) -> list[Any]:
    """The tasks of the test module's ``CASES`` (family, difficulty, seed) on ``ep_shop``."""
    from episodes.generate import generate_task

    return [generate_task(ep_shop, f, d, s) for f, d, s in request.module.CASES]


@pytest.fixture(scope="module")
def oracle_records(ep_shop: Any, tasks: list[Any]) -> dict[str, dict[str, Any]]:
    """The controller's own rollouts of those tasks' gold solutions, to compare adapters
    against."""
    return run_oracle(ep_shop, tasks)
