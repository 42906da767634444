"""What the tau2 tool tests share: the fixture world, and a database holding its catalog and
world on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from mcp_shop.db import create_schema
from mcp_shop.tau2 import load_tau2_retail
from mcp_shop.tau2.loader import Tau2Retail
from mcp_shop.tau2.session_world import install_tau2_world
from mcp_shop.tau2.world import import_tau2_catalog
from tests.conftest import engine_for
from tests.fixtures.tau2_retail import make_fixture

__all__ = ["FIXTURE", "shop", "world"]

FIXTURE = Path(make_fixture.__file__).resolve().parent


@pytest.fixture(scope="module")
def world() -> Tau2Retail:
    return load_tau2_retail(FIXTURE)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         pg_reason: str | None, world: Tau2Retail) -> Iterator[tuple[Engine, str]]:
    """A database holding the fixture's catalog and world (its key), on each backend."""
    gen = engine_for(request.param, tmp_path_factory.mktemp("tau2"), pg_reason)
    engine = next(gen)
    create_schema(engine)
    import_tau2_catalog(engine, world)
    yield engine, install_tau2_world(engine, world)
    next(gen, None)  # dispose of the engine (and drop the PostgreSQL schema)
