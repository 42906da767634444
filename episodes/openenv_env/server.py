"""OpenEnv's conventional entry points for the shop env, both the server of ``shop-episodes
serve-env``: ``app`` (``uvicorn episodes.openenv_env.server:app``) and ``main`` (``python -m
episodes.openenv_env.server [serve-env options]``). ``deploy/shop_env`` (the env in OpenEnv's
layout: manifest, ``server/app.py``, ``uv.lock``, image) serves these two.

``app`` opens nothing at import: it builds the server on its first event (the lifespan
startup) from serve-env's options in ``$SHOP_ENV_ARGS``, e.g.
``SHOP_ENV_ARGS="--db sqlite:////data/shop.db --tasks /data/tasks.jsonl --allowed-host
my-space.hf.space"`` (host and port are uvicorn's own options then).
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from starlette.types import Receive, Scope, Send

from episodes.http_env.cli import app_from_args, parse_args
from episodes.http_env.cli import main as serve_env_main

__all__ = ["ARGS_VARIABLE", "app", "main"]

ARGS_VARIABLE = "SHOP_ENV_ARGS"


class _LazyApp:
    """An ASGI app that builds the env server on its first event, from ``$SHOP_ENV_ARGS``."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            args = parse_args(shlex.split(os.environ.get(ARGS_VARIABLE, "")))
            self._app, _ = app_from_args(args)
        await self._app(scope, receive, send)


app = _LazyApp()


def main(argv: Sequence[str] | None = None) -> int:
    """``shop-episodes serve-env`` (the same options)."""
    return serve_env_main(argv)


if __name__ == "__main__":
    sys.exit(main())
