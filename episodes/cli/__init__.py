"""The ``shop-episodes`` command line (entry point ``episodes.cli:main``); see
``episodes.cli.parser`` for the commands and examples.

By concern: ``main`` (the entry point and its one-line errors), ``parser`` (every command's
options), ``options`` (the shop and task-mix options, opening the shop, the task list),
``run`` (``run``: in this process, in worker processes or on Ray), ``writer`` (the rollout file),
``curriculum_steps`` (``run --curriculum``), ``tasks`` (``tasks``), ``check`` (``check``),
``summary`` (the tables), ``output`` (the consoles and progress bars).
"""

from __future__ import annotations

from episodes.cli import output
from episodes.cli.main import main
from episodes.cli.options import add_shop_options as _add_shop_options
from episodes.cli.options import open_shop as _open_shop
from episodes.cli.options import positive as _positive
from episodes.cli.output import Bar as _bar
from episodes.cli.output import console, err
from episodes.cli.parser import build_parser
from episodes.cli.summary import summarize

__all__ = ["build_parser", "main", "summarize"]

# For the commands registered from other modules (``episodes.audit``): the shared options,
# consoles and progress bar.
__all__ += ["_add_shop_options", "_bar", "_open_shop", "_positive", "console", "err", "output"]
