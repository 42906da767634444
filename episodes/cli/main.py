"""``shop-episodes``' entry point: parse, run the command, and turn the errors a user can fix
into one line on stderr (exit 2)."""

from __future__ import annotations

from collections.abc import Sequence

from episodes.cli import output
from episodes.cli.parser import build_parser
from mcp_shop.errors import ShopError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``shop-episodes`` with ``argv`` (default: the process's); the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except (ValueError, OSError, ShopError) as exc:
        output.err.print(f"[red]error:[/] {exc}")
        return 2
    except BaseExceptionGroup as group:  # a failure inside a run: its endpoint, a bad task
        from episodes.agents.llm import LLMEndpointError

        failed, _ = group.split((LLMEndpointError, ShopError, ValueError))
        if failed is None:
            raise
        cause: BaseException = failed
        while isinstance(cause, BaseExceptionGroup):
            cause = cause.exceptions[0]
        output.err.print(f"[red]error:[/] {cause}")
        return 2
