"""The policies of the catalog in a database: one source for every rule the shop applies.

A generated catalog (and any database made before imported catalogs existed) has no
``catalog_policies`` row and uses ``DEFAULT_POLICIES``, exactly as before; an imported catalog
stores its own (per-department return terms, see :mod:`mcp_shop.importers.policy_config`).
The catalog is immutable, so the policies are read once per engine.
"""

from __future__ import annotations

import json
import threading
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, inspect, select

from mcp_shop.models import CatalogPolicies
from mcp_shop.policies import DEFAULT_POLICIES, Policies

__all__ = ["forget_policies", "policies_for", "read_policies"]

_CACHE: WeakKeyDictionary[Engine, Policies] = WeakKeyDictionary()
_LOCK = threading.Lock()


def read_policies(conn: Connection) -> Policies:
    """The stored policies of the catalog on ``conn``, else ``DEFAULT_POLICIES`` (no query
    error: a missing table is checked for first, so a PostgreSQL transaction stays usable)."""
    table = CatalogPolicies.__table__  # type: ignore[attr-defined]
    if not inspect(conn).has_table(table.name):
        return DEFAULT_POLICIES
    data = conn.execute(select(table.c.policies).where(table.c.id == 1)).scalar()
    if data is None:
        return DEFAULT_POLICIES
    return Policies.model_validate(json.loads(data) if isinstance(data, str) else data)


def policies_for(conn: Connection) -> Policies:
    """The policies of the catalog on ``conn``'s database (read once per engine)."""
    engine = conn.engine
    with _LOCK:
        cached = _CACHE.get(engine)
    if cached is None:
        cached = read_policies(conn)
        with _LOCK:
            _CACHE[engine] = cached
    return cached


def forget_policies(engine: Engine) -> None:
    """Drop the cached policies of ``engine`` (after a catalog was imported into it)."""
    with _LOCK:
        _CACHE.pop(engine, None)
