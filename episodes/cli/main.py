"""``shop-episodes``' entry point: parse, run the command, and turn the errors a user can fix
into one line on stderr (exit 2), Ctrl-C into one line saying what was kept (exit 130)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import DBAPIError

from episodes.cli import output
from episodes.cli.output import Interrupted
from episodes.cli.parser import build_parser
from mcp_shop.cli_support import EXIT_INTERRUPTED, EXIT_USAGE, database_problem, print_error
from mcp_shop.errors import ShopError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``shop-episodes`` with ``argv`` (default: the process's); the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except Interrupted as done:
        output.err.print(f"interrupted: {done}", soft_wrap=True, markup=False)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        output.err.print("interrupted", soft_wrap=True)
        return EXIT_INTERRUPTED
    except (ValueError, OSError, ShopError) as exc:
        print_error(output.err, exc)
    except DBAPIError as exc:
        print_error(output.err, database_problem(exc, getattr(args, "db", "")))
    except BaseExceptionGroup as group:  # a failure inside a run: its endpoint, a bad task
        from episodes.agents.llm import LLMEndpointError

        failed, _ = group.split((LLMEndpointError, ShopError, ValueError, DBAPIError))
        if failed is None:
            raise
        cause: BaseException = failed
        while isinstance(cause, BaseExceptionGroup):
            cause = cause.exceptions[0]
        if isinstance(cause, DBAPIError):
            cause = ValueError(database_problem(cause, getattr(args, "db", "")))
        print_error(output.err, cause)
    return EXIT_USAGE
