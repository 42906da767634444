"""Where ``shop-episodes`` prints: the tables' console (stdout), the messages' console
(stderr, where errors are one line), progress bars on stderr; and ``Interrupted``, what a
command raises on Ctrl-C once it has saved what it finished."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mcp_shop.cli_support import make_console

__all__ = ["Bar", "CtrlC", "Interrupted", "console", "ctrl_c_held", "err", "watch_ctrl_c"]

console = make_console()  # full width when piped, so tables are not cut
err = make_console(stderr=True)


class Interrupted(Exception):  # noqa: N818 - the user's act, not an error
    """Ctrl-C, after the command saved what it finished; the message says what that is
    (``"12 episodes written to runs/r.jsonl"``)."""


class CtrlC:
    """Whether Ctrl-C was pressed while ``watch_ctrl_c`` was active."""

    pressed = False
    handler: Any = None

    @contextlib.contextmanager
    def asyncio_owned(self) -> Iterator[None]:
        """Python's own handler for the duration (around ``anyio.run``): asyncio installs its
        handler only over the default one, and it turns Ctrl-C into a cancellation of the main
        task, which arrives at an await and never inside a library's callback."""
        if self.handler is None:
            yield
            return
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, self.handler)

    def interrupted(self, exc: BaseException) -> bool:
        """``exc`` is what Ctrl-C became: a KeyboardInterrupt, or any exception raised after
        the key was pressed. The interrupt lands between two bytecodes anywhere in the main
        thread, and code that catches exceptions wholesale turns it into something else (a
        serializer callback inside pydantic raises PydanticSerializationError, for one)."""
        return isinstance(exc, KeyboardInterrupt) or self.pressed


class _Held:
    depth = 0
    deferred = False


_HELD = _Held()


@contextlib.contextmanager
def ctrl_c_held() -> Iterator[None]:
    """In the main thread under ``watch_ctrl_c``: a Ctrl-C during the block is raised as the
    block ends, not between two of its steps (e.g. a line written and not yet counted). The
    signal may reach any thread, but its handler runs in the main thread, so blocking the
    signal there is not enough. Elsewhere, nothing is held."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _HELD.depth += 1
    try:
        yield
    finally:
        _HELD.depth -= 1
        deferred = _HELD.deferred and not _HELD.depth
        if deferred:
            _HELD.deferred = False
    if deferred:
        raise KeyboardInterrupt


@contextlib.contextmanager
def watch_ctrl_c() -> Iterator[CtrlC]:
    """Note a Ctrl-C (SIGINT) and raise KeyboardInterrupt as Python does by default; outside
    the main thread, nothing is installed and only a KeyboardInterrupt counts."""
    watch = CtrlC()
    if threading.current_thread() is not threading.main_thread():
        yield watch
        return

    def pressed(signum: int, frame: Any) -> None:
        watch.pressed = True
        if _HELD.depth:  # raised as the held block ends
            _HELD.deferred = True
            return
        signal.default_int_handler(signum, frame)

    watch.handler = pressed
    before = signal.signal(signal.SIGINT, pressed)
    try:
        yield watch
    finally:
        signal.signal(signal.SIGINT, before)


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
