"""What the tau2 tool tests share: the fixture world, and a database holding its catalog and
world on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from mcp_shop.tau2 import load_tau2_retail
from mcp_shop.tau2.install import import_tau2_world
from mcp_shop.tau2.loader import Tau2Retail
from tests.conftest import engine_for
from tests.fixtures.tau2_retail import make_fixture

__all__ = ["FIXTURE", "shop", "world", "world_database"]

FIXTURE = Path(make_fixture.__file__).resolve().parent


@pytest.fixture(scope="module")
def world() -> Tau2Retail:
    return load_tau2_retail(FIXTURE)


def world_database(backend: str, tmp: Path, pg_reason: str | None,
                   world: Tau2Retail) -> Iterator[tuple[Engine, str]]:
    """A fresh database on ``backend`` holding ``world`` (``import_tau2_world``): the engine
    and the world's key; the engine disposed of (and a PostgreSQL schema dropped) after."""
    gen = engine_for(backend, tmp, pg_reason)
    engine = next(gen)
    try:
        yield engine, import_tau2_world(engine, world).key
    finally:
        next(gen, None)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         pg_reason: str | None, world: Tau2Retail) -> Iterator[tuple[Engine, str]]:
    """A database holding the fixture's catalog and world (its key), on each backend."""
    yield from world_database(request.param, tmp_path_factory.mktemp("tau2"), pg_reason, world)
