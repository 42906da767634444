"""Where ``shop-episodes`` prints: the tables' console (stdout), the messages' console
(stderr, where errors are one line), progress bars on stderr; and ``Interrupted``, what a
command raises on Ctrl-C once it has saved what it finished."""

from __future__ import annotations

from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mcp_shop.cli_support import make_console

__all__ = ["Bar", "Interrupted", "console", "err"]

console = make_console()  # full width when piped, so tables are not cut
err = make_console(stderr=True)


class Interrupted(Exception):  # noqa: N818 - the user's act, not an error
    """Ctrl-C, after the command saved what it finished; the message says what that is
    (``"12 episodes written to runs/r.jsonl"``)."""


class Bar:
    """A progress bar on stderr, as a context manager that yields its ``advance(note="")``."""

    def __init__(self, label: str, total: int) -> None:
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.fields[note]}"), console=err)
        self.task = self.progress.add_task(label, total=total, note="")

    def __enter__(self) -> Any:
        self.progress.start()

        def advance(note: str = "") -> None:
            self.progress.update(self.task, advance=1, note=note)

        return advance

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()
