"""Where ``shop-episodes`` prints: the tables' console (stdout), the messages' console
(stderr) and progress bars on stderr."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["Bar", "console", "err"]

console = Console()
err = Console(stderr=True)


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
