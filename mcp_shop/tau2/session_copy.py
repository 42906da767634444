"""Writing a session's rows with keys of our choosing, and copying a whole session.

A tau2 world is some 8,400 rows (users, addresses, payment methods, orders, lines, payments,
shipments, requests); a session is made for every episode, so the rows are written once into
a template session and each new session copies the template with one ``INSERT ... SELECT``
per table. Rows point at each other by key (an order's customer, address, lines ...), so the
copy gives every row a fresh key and rewrites the references with the same mapping:

- SQLite: writers hold the database lock (``BEGIN IMMEDIATE``), so the fresh keys are a
  block above the table's largest key: ``new = old + offset``.
- PostgreSQL: the keys are drawn from the table's own sequence (``nextval``, safe beside
  concurrent writers without locking anything) and paired with the old ones in order
  (``unnest`` of the two arrays), so the copy keeps the template's row order.

Either way the copy keeps the relative order of keys, which the projection reads as tau2's
order (payment history, a user's payment methods and orders).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from mcp_shop import models
from mcp_shop.sql import insert

__all__ = ["COPIED", "copy_session_rows", "reserve_ids", "write_rows"]

COPIED: tuple[tuple[Any, dict[str, str]], ...] = (
    (models.Customer, {}),
    (models.Address, {"customer_id": "customer"}),
    (models.PaymentMethod, {"customer_id": "customer"}),
    (models.Order, {"customer_id": "customer", "address_id": "address",
                    "exchange_payment_method_id": "payment_method"}),
    (models.OrderLine, {"order_id": "shop_order"}),
    (models.Payment, {"order_id": "shop_order", "payment_method_id": "payment_method"}),
    (models.ReturnRequest, {"order_id": "shop_order", "payment_method_id": "payment_method"}),
    (models.ReturnLine, {"return_id": "return_request", "order_line_id": "order_line"}),
    (models.ExchangeRequest, {"order_id": "shop_order", "order_line_id": "order_line"}),
    (models.Shipment, {"order_id": "shop_order", "exchange_id": "exchange_request"}),
)
"""The per-session tables a tau2 session holds, parents first, and the key columns of each
that name a row of another of them."""


def _table(model: Any) -> Any:
    return model.__table__


def reserve_ids(conn: Connection, table: str, n: int) -> list[int]:
    """``n`` fresh keys for rows of ``table``, ascending (inside a write transaction)."""
    if n <= 0:
        return []
    if conn.dialect.name == "sqlite":
        top = conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar_one()
        return list(range(top + 1, top + 1 + n))
    got = _driver_rows(conn, f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
                       "FROM generate_series(1, %s)", (n,))
    return sorted(r[0] for r in got)


def write_rows(conn: Connection, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Insert rows whose ``id`` and reference columns are local numbers (0, 1, ... per table,
    as in ``COPIED``'s references): each table gets fresh keys and the references follow."""
    keys: dict[str, list[int]] = {}
    for model, refs in COPIED:
        name = _table(model).name
        batch = rows.get(name, [])
        keys[name] = reserve_ids(conn, name, len(batch))
        columns = list(dict.fromkeys(k for row in batch for k in row))  # insert() takes
        batch = [{k: row.get(k) for k in columns} for row in batch]  # the first row's keys
        out = []
        for row in batch:
            row = dict(row, id=keys[name][row["id"]])
            for column, target in refs.items():
                if row.get(column) is not None:
                    row[column] = keys[target][row[column]]
            out.append(row)
        if out:
            insert(conn, _table(model), out)


def _param(conn: Connection) -> str:
    return "?" if conn.dialect.name == "sqlite" else "%s"


def _driver_rows(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """Rows straight from the driver (a few thousand keys: SQLAlchemy's result rows would
    cost more than the copy's own statements)."""
    cursor = conn.connection.dbapi_connection.execute(sql, params)  # type: ignore[union-attr]
    return list(cursor.fetchall())


def _old_ids(conn: Connection, table: str, session_id: str) -> list[int]:
    return [r[0] for r in _driver_rows(
        conn, f"SELECT id FROM {table} WHERE session_id = {_param(conn)} ORDER BY id",
        (session_id,))]


def copy_session_rows(conn: Connection, source: str, target: str) -> dict[str, int]:
    """Copy every row of ``COPIED``'s tables from session ``source`` to session ``target``
    (whose ``shop_session`` row exists), with fresh keys; returns the rows copied per table."""
    if conn.dialect.name == "sqlite":
        return _copy_sqlite(conn, source, target)
    pairs: dict[str, tuple[str, str]] = {}  # old keys, new keys (array literals)
    counts: dict[str, int] = {}
    for model, refs in COPIED:
        table = _table(model)
        name = table.name
        old = _old_ids(conn, name, source)
        counts[name] = len(old)
        pairs[name] = (_array(old), _array(reserve_ids(conn, name, len(old))))
        if not old:
            continue
        columns = [c.name for c in table.columns if c.name not in ("id", "session_id")]
        params: list[Any] = [target, *pairs[name]]
        joins = ["JOIN unnest(%s::bigint[], %s::bigint[]) AS m(old, new) ON m.old = t.id"]
        values = ["m.new", "%s"]
        for c in columns:
            if c not in refs:
                values.append(f"t.{c}")
                continue
            joins.append(f"LEFT JOIN unnest(%s::bigint[], %s::bigint[]) AS m_{c}(old, new) "
                         f"ON m_{c}.old = t.{c}")
            params.extend(pairs[refs[c]])
            values.append(f"m_{c}.new")
        sql = (f"INSERT INTO {name} (id, session_id, {', '.join(columns)}) "
               f"SELECT {', '.join(values)} FROM {name} t {' '.join(joins)} "
               "WHERE t.session_id = %s")
        # in statement order: the target handle (SELECT list), the arrays (joins), the source
        conn.connection.dbapi_connection.execute(  # type: ignore[union-attr]
            sql, (*params, source))
    return counts


def _array(keys: list[int]) -> str:
    """A PostgreSQL array literal of keys, for a ``%s::bigint[]`` parameter (the driver would
    adapt a list element by element, which costs more than the copy's statements)."""
    return "{" + ",".join(map(str, keys)) + "}"


def _copy_sqlite(conn: Connection, source: str, target: str) -> dict[str, int]:
    """SQLite: the writer holds the database lock, so each table's copies take the keys a
    block above its largest key, ``new = old + offset`` (only the source's smallest key and
    the table's largest are read)."""
    offsets: dict[str, int] = {}
    counts: dict[str, int] = {}
    for model, refs in COPIED:
        table = _table(model)
        name = table.name
        (low, count), = _driver_rows(
            conn, f"SELECT min(id), count(*) FROM {name} WHERE session_id = ?", (source,))
        counts[name] = count
        if not count:
            offsets[name] = 0
            continue
        (top,), = _driver_rows(conn, f"SELECT coalesce(max(id), 0) FROM {name}", ())
        offsets[name] = top + 1 - low
        columns = [c.name for c in table.columns if c.name not in ("id", "session_id")]
        values = [f"t.id + {offsets[name]}", "?"] + [
            f"t.{c} + {offsets[refs[c]]}" if c in refs else f"t.{c}" for c in columns]
        conn.exec_driver_sql(f"INSERT INTO {name} (id, session_id, {', '.join(columns)}) "
                             f"SELECT {', '.join(values)} FROM {name} t "
                             "WHERE t.session_id = ?", (target, source))
    return counts
