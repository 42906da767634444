"""The shop env's OpenEnv server: ``shop-episodes serve-env`` (``episodes.openenv_env.server``).

    uv run server                                  (in this directory: port 8000, localhost)
    uv run server --host 0.0.0.0 --allowed-host my.host --tasks tasks.jsonl
    SHOP_ENV_ARGS="--db sqlite:////data/shop.db" uvicorn server.app:app --port 8000

``main`` takes serve-env's options (``--help``) and listens on the manifest's port, 8000, unless
``--port`` says otherwise; ``app`` builds the server on its first event from ``$SHOP_ENV_ARGS``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from episodes.openenv_env.server import app
from episodes.openenv_env.server import main as serve_env

__all__ = ["PORT", "app", "main"]

PORT = 8000  # openenv.yaml's port, the one OpenEnv's providers map


def main(argv: Sequence[str] | None = None) -> int:
    """``shop-episodes serve-env [options]``, on port 8000 unless ``--port`` is given."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not any(a == "--port" or a.startswith("--port=") for a in args):
        args += ["--port", str(PORT)]
    return serve_env(args)


if __name__ == "__main__":
    sys.exit(main())
