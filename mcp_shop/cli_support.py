"""What the two command lines (``mcp-shop`` and ``shop-episodes``) share: the ``--db`` option
(default ``$MCP_SHOP_DB``), ``--version``, consoles that use a generous width when piped, and
one-line messages for a database that cannot be used.

Exit codes of both: 0 done, 1 the command ran and found failures (``check``, ``audit``),
2 it cannot run as given (a bad option, a database or server that cannot be reached, an
unusable path), 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import IO

from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from mcp_shop.db import DB_ENV_VAR, DEFAULT_DB_URL, check_db_url, default_db_url
from mcp_shop.errors import InvalidInput

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "PIPE_WIDTH",
    "add_db_option",
    "add_version_option",
    "bounded",
    "database_problem",
    "db_url",
    "make_console",
    "package_version",
    "print_error",
]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C

# Columns of a console whose stream is not a terminal (a pipe, a file): rich would otherwise
# assume 80 and cut table cells short. $COLUMNS, when set, still wins.
PIPE_WIDTH = 250


def make_console(*, stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr): the terminal's width on a terminal, else
    ``$COLUMNS`` or ``PIPE_WIDTH``."""
    stream: IO[str] = sys.stderr if stderr else sys.stdout
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        terminal = False
    wide = not terminal and not os.environ.get("COLUMNS", "").strip().isdigit()
    return Console(stderr=stderr, width=PIPE_WIDTH if wide else None)


def print_error(console: Console, message: object) -> None:
    """``error: MESSAGE`` on ``console`` as one line (never wrapped, no markup read from the
    message)."""
    console.print(f"[red]error:[/] {escape(str(message))}", soft_wrap=True)


def package_version() -> str:
    """The installed version of the ``mcp-shop`` distribution."""
    try:
        return version("mcp-shop")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def add_version_option(parser: argparse.ArgumentParser) -> None:
    """``--version``: print ``PROG VERSION`` and exit 0."""
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {package_version()}")


def db_url(text: str) -> str:
    """An argparse type: a SQLite or PostgreSQL URL (a usage error says what a valid one
    looks like, and that the value came from ``$MCP_SHOP_DB`` when it did)."""
    try:
        check_db_url(text)
    except InvalidInput as exc:
        source = f" (from ${DB_ENV_VAR})" if text == os.environ.get(DB_ENV_VAR, "").strip() \
            else ""
        raise argparse.ArgumentTypeError(f"{exc}{source}") from None
    return text


def add_db_option(p: argparse.ArgumentParser, *, note: str = "") -> None:
    """``--db URL``, default ``$MCP_SHOP_DB`` (else ``sqlite:///shop.db``); ``note`` ends
    the help text."""
    current = default_db_url()
    now = "" if current == DEFAULT_DB_URL else f"; now {current}"
    p.add_argument("--db", type=db_url, default=current, metavar="URL",
                   help=f"shop database URL: sqlite:///path.db or "
                   f"postgresql+psycopg://user@host:5432/dbname (default: ${DB_ENV_VAR} if "
                   f"set{now}, else {DEFAULT_DB_URL}){note}")


def _shown(url: str) -> str:
    """``url`` without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - shown as given when it does not parse
        return url


def database_problem(exc: DBAPIError, url: str) -> str:
    """One line saying why the database at ``url`` cannot be used (from the driver's error)
    and what to do about it."""
    driver = " ".join(str(exc.orig if exc.orig is not None else exc).split())
    low = driver.lower()
    u = make_url(url) if "://" in url else None
    hint = ""
    if u is not None and u.get_backend_name() == "sqlite":
        hint = ("; the file must be in an existing, writable directory"
                if "unable to open" in low or "readonly" in low else "")
    elif re.search(r'role "[^"]*" does not exist', low):
        hint = "; name an existing role: postgresql+psycopg://ROLE@host:port/dbname"
    elif re.search(r'database "[^"]*" does not exist', low):
        name = u.database if u is not None else "DBNAME"
        hint = f"; create it first (createdb {name}) or name an existing database"
    elif "password" in low or "authentication" in low:
        hint = "; check the user and password in the URL"
    elif "is the server running" in low:
        hint = ""  # the driver's own hint says it
    elif "refused" in low or "timeout" in low or "timed out" in low or "resolve" in low:
        hint = "; check the host and port, and that PostgreSQL is running there"
    return f"cannot use the database {_shown(url)}: {driver}{hint}"


def bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low:,} to {high:,}, got {value:,}")
        return value
    return parse
