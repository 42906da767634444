"""A tau2 retail world's users and orders as the rows of a shop session, copied per episode.

``install_tau2_world`` writes the world's rows (:mod:`mcp_shop.tau2.session_rows`: customers,
addresses, payment methods, orders with their lines, payments, shipments and requests) into a
*template* session (surface ``tau2-retail-template``, which no server serves), once per
database and world (keyed by the world's database hash). ``open_tau2_session`` makes a
``tau2-retail`` session holding an exact copy of the template
(:mod:`mcp_shop.tau2.session_copy`). :mod:`mcp_shop.tau2.projection` reads the rows back into
tau2's layout, which gives the world unchanged. ``/work/notes/tau2-contract.md`` lists the
rows and their meaning.

Nothing here follows the clock: every time is ``sessions.SIM_EPOCH`` and every order has
``follows_clock`` False.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from sqlalchemy import Connection, Engine, select

from mcp_shop.db import write_tx
from mcp_shop.errors import InvalidState, NotFound
from mcp_shop.ids import FIRST_ORDER_NUMBER
from mcp_shop.models import CatalogInfo, ShopSession
from mcp_shop.models import Variant as CatalogVariant
from mcp_shop.models.session import Tau2World
from mcp_shop.sessions import SIM_EPOCH, new_handle
from mcp_shop.sql import Sql, as_json, fetch_one, insert
from mcp_shop.tau2.loader import Tau2Retail
from mcp_shop.tau2.session_copy import copy_session_rows, write_rows
from mcp_shop.tau2.session_rows import order_key, order_number, template_rows
from mcp_shop.tau2.world import CatalogIds, db_hash

__all__ = ["SURFACE", "TEMPLATE_SURFACE", "WorldCache", "install_tau2_world",
           "open_tau2_session", "open_tau2_session_in", "order_key", "order_number",
           "world_cache", "world_ids", "world_of"]

SURFACE = "tau2-retail"
TEMPLATE_SURFACE = "tau2-retail-template"


def _catalog_fingerprint(conn: Connection) -> str:
    CI = CatalogInfo.__table__  # type: ignore[attr-defined]  # noqa: N806
    info = conn.execute(select(CI.c.fingerprint)).scalar()
    if info is None:
        raise InvalidState("the database has no catalog yet: import the tau2 world's products "
                           "first (mcp_shop.tau2.world.import_tau2_catalog)")
    return str(info)


def _session_row(sid: str, *, surface: str, world: str, fingerprint: str,
                 returns: int = 1, exchanges: int = 1) -> dict[str, Any]:
    return dict(id=sid, seed=0, catalog_fingerprint=fingerprint, clock=SIM_EPOCH,
                started_at=SIM_EPOCH, customer_id=None, next_order_number=FIRST_ORDER_NUMBER,
                next_return_number=returns, next_exchange_number=exchanges, trace_seq=0,
                surface=surface, world=world)


def _exists(conn: Connection, session_id: str) -> bool:
    S = ShopSession.__table__  # type: ignore[attr-defined]  # noqa: N806
    return conn.execute(select(S.c.id).where(S.c.id == session_id)).first() is not None


def install_tau2_world(engine: Engine, world: Tau2Retail) -> str:
    """Write ``world``'s users and orders as a template session (once: the same world again
    reuses it) and return the world's key (its database hash) for ``open_tau2_session``.

    The world's products must be the database's catalog (``import_tau2_catalog``). Raises
    ``Tau2DataError`` (nothing written) when the world cannot be held exactly: an order id not
    shaped '#W' + seven digits, an amount that is not a whole number of cents, a request that
    names units the order does not hold or item lists that are not sorted as tau2 keeps them.
    """
    key = db_hash(world.db)
    W = Tau2World.__table__  # type: ignore[attr-defined]  # noqa: N806
    with write_tx(engine) as conn:
        if conn.dialect.name == "postgresql":  # concurrent installs of one world: one writes
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext(%(k)s))",
                                 {"k": f"tau2_world:{key}"})
        fingerprint = _catalog_fingerprint(conn)
        found = conn.execute(select(W.c.template_session_id, W.c.catalog_fingerprint)
                             .where(W.c.key == key)).first()
        if found is not None and found[1] != fingerprint:
            raise InvalidState(f"tau2 world {key[:12]}... was installed over another catalog; "
                               "import its products into a fresh database",
                               world=key)
        if found is not None:
            if _exists(conn, found[0]):
                return key
            conn.execute(W.delete().where(W.c.key == key))  # its template was removed
        sid = new_handle()
        rows = template_rows(conn, world, sid)
        insert(conn, ShopSession.__table__, _session_row(  # type: ignore[attr-defined]
            sid, surface=TEMPLATE_SURFACE, world=key, fingerprint=fingerprint,
            returns=rows.counters["return"] + 1, exchanges=rows.counters["exchange"] + 1))
        write_rows(conn, rows.tables)
        insert(conn, W, dict(key=key, template_session_id=sid, catalog_fingerprint=fingerprint,
                             product_ids=rows.ids.product_pk))
    return key


def open_tau2_session(engine: Engine, world_key: str) -> str:
    """A new ``tau2-retail`` session holding an exact copy of the world's template; returns
    its handle. NotFound when the world was not installed in this database."""
    with write_tx(engine) as conn:
        return open_tau2_session_in(conn, world_key)


def open_tau2_session_in(conn: Connection, world_key: str) -> str:
    """``open_tau2_session`` inside the caller's write transaction."""
    W = Tau2World.__table__  # type: ignore[attr-defined]  # noqa: N806
    S = ShopSession.__table__  # type: ignore[attr-defined]  # noqa: N806
    found = conn.execute(select(W.c.template_session_id, W.c.catalog_fingerprint)
                         .where(W.c.key == world_key)).first()
    if found is None:
        raise NotFound(f"no tau2 world {world_key!r} in this database: install it with "
                       "install_tau2_world first", world=world_key)
    template, fingerprint = found
    if not _exists(conn, template):
        raise NotFound(f"the template of tau2 world {world_key!r} was removed (by a "
                       "prune?): install the world again with install_tau2_world",
                       world=world_key)
    if _catalog_fingerprint(conn) != fingerprint:
        raise InvalidState("the catalog changed since this tau2 world was installed; "
                           "install the world again over its own catalog", world=world_key)
    t = conn.execute(select(S.c.next_return_number, S.c.next_exchange_number)
                     .where(S.c.id == template)).one()
    sid = new_handle()
    insert(conn, S, _session_row(sid, surface=SURFACE, world=world_key,
                                 fingerprint=fingerprint, returns=t[0], exchanges=t[1]))
    copy_session_rows(conn, template, sid)
    return sid


_KIND = Sql(f"SELECT surface, world, catalog_fingerprint FROM {ShopSession.__tablename__} "
            "WHERE id = ?")


def _world_row(conn: Connection, session_id: str) -> tuple[str, str]:
    """(world key, catalog fingerprint) of a tau2 session or template; NotFound/InvalidState
    otherwise."""
    row = fetch_one(conn, _KIND, (session_id,))
    if row is None:
        raise NotFound("unknown session_id: open a tau2 session with open_tau2_session first")
    if row[0] not in (SURFACE, TEMPLATE_SURFACE) or row[1] is None:
        raise InvalidState(f"session is a {row[0]} session, not a tau2 retail one",
                           surface=row[0])
    return str(row[1]), str(row[2])


def world_of(conn: Connection, session_id: str) -> str:
    """The world key of a tau2 session (or template); NotFound/InvalidState otherwise."""
    return _world_row(conn, session_id)[0]


class WorldCache:
    """What never changes for one world in one database: the tau2 ids of its catalog keys,
    and ``memo``, where readers keep what they derive from the immutable catalog (the
    projection keeps the products in tau2's layout there)."""

    __slots__ = ("ids", "key", "memo")

    def __init__(self, key: str, ids: CatalogIds) -> None:
        self.key, self.ids = key, ids
        self.memo: dict[str, Any] = {}


# Per engine (a PostgreSQL schema is part of the engine, not of its URL), then per world and
# catalog fingerprint: two databases never share an entry, nor one database's catalogs.
_WORLDS: weakref.WeakKeyDictionary[Engine, dict[tuple[str, str], WorldCache]] = \
    weakref.WeakKeyDictionary()
_WORLDS_LOCK = threading.Lock()
_PRODUCT_IDS = Sql(f"SELECT product_ids FROM {Tau2World.__tablename__} WHERE \"key\" = ?")


def world_cache(conn: Connection, session_id: str) -> WorldCache:
    """The cached immutable half of the world a tau2 session (or template) holds."""
    key = _world_row(conn, session_id)
    with _WORLDS_LOCK:
        cache = _WORLDS.get(conn.engine)
        if cache is None:
            cache = _WORLDS[conn.engine] = {}
        found = cache.get(key)
    if found is not None:
        return found
    V = CatalogVariant.__table__  # type: ignore[attr-defined]  # noqa: N806
    row = fetch_one(conn, _PRODUCT_IDS, (key[0],))
    if row is None:
        raise NotFound(f"no tau2 world {key[0]!r} in this database: install it with "
                       "install_tau2_world first", world=key[0])
    products = as_json(row[0])
    variants = {sku: vid for vid, sku in conn.execute(
        select(V.c.id, V.c.sku).where(V.c.product_id.in_(list(products.values()))))}
    made = WorldCache(key[0], CatalogIds.of(dict(products), variants))
    with _WORLDS_LOCK:
        return cache.setdefault(key, made)


def world_ids(conn: Connection, session_id: str) -> CatalogIds:
    """tau2 product and item ids <-> catalog keys for the session's world (cached per engine,
    world and catalog fingerprint: the catalog is immutable)."""
    return world_cache(conn, session_id).ids
