"""What the import tests share: an empty database on each backend, and reading rows back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.conftest import engine_for

__all__ = ["engine", "json_value", "rows"]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path,
           pg_reason: str | None) -> Iterator[Engine]:
    """An empty database on SQLite, then on PostgreSQL (skipped or failed as the suite says)."""
    gen = engine_for(request.param, tmp_path, pg_reason)
    yield next(gen)
    gen.close()


def rows(engine: Engine, sql: str) -> list[dict[str, Any]]:
    """The rows of ``sql`` as dicts."""
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql)).mappings()]


def json_value(value: Any) -> Any:
    """A JSON column's value: PostgreSQL gives it parsed, SQLite as text."""
    return json.loads(value) if isinstance(value, str) else value
