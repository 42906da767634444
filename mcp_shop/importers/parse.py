"""Reading and checking the source records, here or in a child process.

Big imports parse in a child process (the reader and :func:`~.rows.prepare`), handing
batches of plain tuples to the importing process through a pipe, so the two cores of a small
machine split the work: one parses, the other gathers statistics and writes. The records and
their order are the same either way.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import threading
from collections.abc import Generator, Iterator
from typing import Any

from mcp_shop.errors import InvalidInput
from mcp_shop.importers.formats import Reader, reader
from mcp_shop.importers.records import BadRow, SourceProduct, Where
from mcp_shop.importers.rows import Prepared, prepare
from mcp_shop.importers.stats import Tree

__all__ = ["CHILD_THRESHOLD", "ImportFailed", "Parsed", "parse"]

CHILD_THRESHOLD = 32 * 2**20  # bytes of input from which a child process parses
_BATCH = 500

Parsed = tuple[Where, str, tuple[str, ...], Prepared | None, list[str]] | BadRow
"""A bad row, or ``(where, key, cleaned category path, prepared product or None, problems)``."""


class ImportFailed(InvalidInput):
    """The import stopped (``--strict`` and a bad row, nothing usable, unreadable files); the
    database is unchanged."""

    code = "import_failed"


def _records(read: Reader, paths: list[str]) -> Iterator[SourceProduct | BadRow]:
    for path in paths:
        try:
            yield from read(path)
        except OSError as exc:
            raise ImportFailed(f"cannot read {path!r}: {exc.strerror or exc}",
                               file=path) from None


def _parse_here(read: Reader, paths: list[str]) -> Iterator[Any]:
    """Parsed records as plain values (``Prepared`` as a tuple: what the pipe carries)."""
    for rec in _records(read, paths):
        if isinstance(rec, BadRow):
            yield rec
            continue
        prep, problems = prepare(rec)
        yield (rec.where, rec.key, Tree.clean_path(rec.category_path),
               None if prep is None else tuple(prep), problems)


def _child(conn: Any, fmt: str, paths: list[str]) -> None:
    """The child: parse and send batches; then None, or ('error', kind, message)."""
    try:
        batch: list[Any] = []
        for item in _parse_here(reader(fmt), paths):
            batch.append(item)
            if len(batch) >= _BATCH:
                conn.send_bytes(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
                batch = []
        if batch:
            conn.send_bytes(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
        conn.send_bytes(pickle.dumps(None))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
        kind = "reader" if isinstance(exc, ImportFailed) else type(exc).__name__
        with contextlib.suppress(OSError):
            conn.send_bytes(pickle.dumps(("error", kind, str(exc))))
    finally:
        conn.close()


def _parse_child(fmt: str, paths: list[str]) -> Iterator[Any]:
    method = ("fork" if "fork" in multiprocessing.get_all_start_methods()
              and threading.active_count() == 1 else "spawn")
    ctx: Any = multiprocessing.get_context(method)
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, fmt, paths), daemon=True,
                       name="mcp-shop-import-reader")
    proc.start()
    send.close()
    try:
        while True:
            try:
                message = pickle.loads(receive.recv_bytes())
            except EOFError:
                raise ImportFailed("the reader process stopped without finishing "
                                   f"(exit code {proc.exitcode})") from None
            if message is None:
                return
            if isinstance(message, tuple) and message and message[0] == "error":
                _, kind, text = message
                if kind == "reader":
                    raise ImportFailed(text)
                raise RuntimeError(f"the {fmt} reader failed: {kind}: {text}")
            yield from message
    finally:
        receive.close()
        if proc.is_alive():
            proc.terminate()
        proc.join()


def parse(fmt: str | Reader, paths: list[str], child: bool | None = None
          ) -> Generator[Parsed]:
    """Every record of ``paths`` parsed and checked, in order.

    Args:
        fmt: a format name or a reader function (a function is always read here).
        child: parse in a child process (default: when the files hold more than
            ``CHILD_THRESHOLD`` bytes and ``fmt`` is a format name).
    """
    if child is None:
        child = isinstance(fmt, str) and sum(os.path.getsize(p) for p in paths) > CHILD_THRESHOLD
    items = (_parse_child(fmt, paths) if child and isinstance(fmt, str)
             else _parse_here(reader(fmt) if isinstance(fmt, str) else fmt, paths))
    for item in items:
        if isinstance(item, BadRow):
            yield item
        else:
            where, key, path, prep, problems = item
            yield where, key, path, None if prep is None else Prepared._make(prep), problems
