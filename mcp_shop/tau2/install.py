"""A tau2 retail world into a shop database, ready to serve: its products as the catalog, the
schema up to date, its users and orders as the template every tau2 session is copied from.

One function for every way in (``mcp-shop import-tau2``, ``shop-episodes run --suite
tau2-retail``): the same steps, the same refusal of a database holding another catalog.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, inspect, make_url, select

from mcp_shop.catalog import load_catalog_info
from mcp_shop.db import create_schema
from mcp_shop.errors import InvalidState
from mcp_shop.models.session import Tau2World
from mcp_shop.tau2.loader import Tau2DataError, Tau2Retail
from mcp_shop.tau2.session_world import install_tau2_world
from mcp_shop.tau2.world import catalog_ids, db_hash, import_tau2_catalog

__all__ = ["Installed", "import_tau2_world"]


@dataclass(frozen=True)
class Installed:
    """What ``import_tau2_world`` did: the world's key, and what it had to write."""

    key: str
    catalog_written: bool
    world_written: bool


def import_tau2_world(engine: Engine, world: Tau2Retail, *, replace: bool = False,
                      remedy: str = "use a new database",
                      step: Callable[[str], None] | None = None) -> Installed:
    """Make the database at ``engine`` hold ``world``; nothing is written for what it holds
    already. ``replace`` drops a catalog that is not the world's (and its sessions) first;
    ``step(text)`` is told each step.

    Raises:
        InvalidState: the database holds another catalog (without ``replace``); the message
            ends with ``remedy``, what the caller's user can do about it.
    """
    say = step or (lambda text: None)
    stats = world.db.statistics()
    info = None if replace or not inspect(engine).has_table("catalog_info") \
        else load_catalog_info(engine)
    if info is None:
        say(f"importing {stats['products']:,} products ({stats['items']:,} items) as the "
            "catalog")
        import_tau2_catalog(engine, world, replace=replace)
    else:
        try:
            with engine.connect() as conn:
                catalog_ids(conn, world)
        except Tau2DataError:
            where = make_url(engine.url).render_as_string(hide_password=True)
            raise InvalidState(
                f"{where} holds another catalog than this tau2 world's products: a tau2 "
                f"world needs a database of its own ({remedy}; it holds a {info.source} "
                f"catalog of {info.product_count:,} products)", url=where,
                catalog_source=info.source, products=info.product_count) from None
        say("the catalog already holds this world's products")
        create_schema(engine)  # a database made before the tau2 tables gains them
    before = _template(engine, db_hash(world.db))
    say(f"installing {stats['users']:,} users and {stats['orders']:,} orders")
    key = install_tau2_world(engine, world)
    written = before is None or _template(engine, key) != before
    if not written:
        say("they were installed already: nothing written")
    return Installed(key=key, catalog_written=info is None, world_written=written)


def _template(engine: Engine, key: str) -> str | None:
    """The template session of the installed world ``key``, if any."""
    if not inspect(engine).has_table("tau2_world"):
        return None
    table = Tau2World.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        found = conn.execute(select(table.c.template_session_id)
                             .where(table.c.key == key)).first()
    return None if found is None else str(found[0])
