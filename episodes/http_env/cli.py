"""``shop-episodes serve-env`` (and ``python -m episodes.http_env``): the options, opening
the shop and tasks, and serving the app with uvicorn."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from episodes.argtypes import bounded_float, bounded_int
from episodes.http_env.sessions import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_EPISODES, DEFAULT_POOL
from episodes.tasks import load_task_set

__all__ = [
    "DEFAULT_PORT",
    "DESCRIPTION",
    "add_serve_env_command",
    "app_from_args",
    "cmd_serve_env",
    "main",
    "parse_args",
]

DEFAULT_PORT = 8100


def _say(message: str) -> None:
    print(f"shop-episodes: {message}", file=sys.stderr, flush=True)


def app_from_args(args: argparse.Namespace) -> tuple[Any, int]:
    """The server's app for parsed serve-env options (the shop and ``--tasks`` opened), and
    how many tasks were loaded."""
    from mcp_shop.server.run import ServeOptions, open_shop

    try:
        import openenv.core.env_server  # noqa: F401 (the server is openenv-core's)

        from episodes.http_env.app import build_env_app
    except ImportError as exc:
        raise ValueError(f"serve-env needs openenv-core ({exc}); install it with pip install "
                         "'mcp-shop[openenv]'") from None

    shop = open_shop(ServeOptions(db=args.db, seed=args.catalog_seed, size=args.catalog_size,
                                  schema=args.schema))
    tasks = load_task_set(args.tasks, shop) if args.tasks else []
    app = build_env_app(shop, tasks=tasks, reward_mode=args.reward_mode,
                        max_episodes=args.max_episodes, idle_timeout=args.idle_timeout,
                        expose_session=args.expose_session, allowed_hosts=args.allowed_host,
                        allowed_origins=args.allowed_origin, log_level=args.log_level,
                        pool=args.pool, keep_sessions=args.keep_sessions)
    return app, len(tasks)


def _without_gradio() -> bool:
    """Keep openenv-core from importing gradio, for its optional web UI (``/web``), which this
    server does not mount: openenv-core skips the UI when gradio cannot be imported, and the
    import is about half of a server's start-up CPU time (several seconds), paid again by
    every process of a deployment. Only for a server process of its own (``serve-env``), and
    only when nothing imported gradio yet; True when it did keep it out."""
    if "gradio" in sys.modules:
        return False
    sys.modules["gradio"] = None  # type: ignore[assignment]
    return True


def cmd_serve_env(args: argparse.Namespace) -> int:
    """Open the shop (and ``--tasks``), bind the port and serve until SIGINT / SIGTERM."""
    import uvicorn

    from episodes.http_env.protocol import MAX_BODY_BYTES
    from mcp_shop.server.http_app import bind

    sock = bind(args.host, args.port)  # a port in use is said before the shop is opened
    blocked = _without_gradio()
    try:
        app, n_tasks = app_from_args(args)
    except BaseException:
        sock.close()
        if blocked:  # called in a process that goes on (a test): leave it as it was
            del sys.modules["gradio"]
        raise
    port = sock.getsockname()[1]
    shown = f"[{args.host.strip('[]')}]" if ":" in args.host else args.host
    _say(f"serving the episode env at http://{shown}:{port} (OpenEnv: WebSocket /ws, "
         f"/schema; plain HTTP: POST /reset, POST /step, GET /state, GET /record; MCP at /mcp; "
         f"{n_tasks} tasks loaded, reward mode {args.reward_mode}, at most "
         f"{args.max_episodes} episodes)")
    from mcp_shop.server.http_app import KEEP_ALIVE_SECONDS

    # Idle connections outlive clients' and proxies' own idle timeouts (uvicorn's 5 s equals
    # httpx's pool expiry: a request could go out on a connection the server was closing).
    config = uvicorn.Config(app, log_level=args.log_level.lower(), access_log=False,
                            lifespan="on", timeout_graceful_shutdown=5,
                            ws_max_size=MAX_BODY_BYTES, timeout_keep_alive=KEEP_ALIVE_SECONDS)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


_positive = bounded_int(1, what="a positive integer")


_seconds = bounded_float(0.0, what="seconds (> 0)", above=True)


_port = bounded_int(0, 65535, what="a port (0 to 65535)")


def _pool(value: str) -> str:
    if not value or len(value) > 100 or not value.isprintable():
        raise argparse.ArgumentTypeError(f"{value!r} is not a pool name: 1 to 100 printable "
                                         "characters, e.g. 'default' or 'dense-eval'")
    return value


def _add_options(p: argparse.ArgumentParser) -> None:
    from mcp_shop.cli_support import add_db_option

    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port (default "
                   f"{DEFAULT_PORT}; 0 picks a free one, printed on stderr)")
    add_db_option(p, note="; the catalog is generated on first use")
    p.add_argument("--schema", default=None, help="PostgreSQL schema holding the shop tables "
                   "(as mcp-shop serve --schema)")
    p.add_argument("--catalog-seed", type=int, default=0, help="catalog seed (default 0)")
    p.add_argument("--catalog-size", type=_positive, default=10_000,
                   help="products in the catalog (default 10,000)")
    p.add_argument("--tasks", help="a task file (.json/.jsonl) or a directory of them, whose "
                   "tasks POST /reset can name by task_id")
    p.add_argument("--reward-mode", choices=["sparse", "shaped", "dense"], default="sparse")
    p.add_argument("--max-episodes", type=_positive, default=DEFAULT_MAX_EPISODES,
                   help=f"episodes kept at once (default {DEFAULT_MAX_EPISODES}); finished ones "
                   "make room first")
    p.add_argument("--idle-timeout", type=_seconds, default=DEFAULT_IDLE_TIMEOUT,
                   metavar="SECONDS", help="drop episodes without a request for this long "
                   f"(default {DEFAULT_IDLE_TIMEOUT:g})")
    p.add_argument("--pool", type=_pool, default=DEFAULT_POOL, help="the episode pool: "
                   "every serve-env on the same --db and pool serves the same episodes, so "
                   "several processes can stand behind one load balancer (run them with the "
                   f"same options); default {DEFAULT_POOL!r}")
    p.add_argument("--keep-sessions", action="store_true", help="keep each episode's shop "
                   "session in the database (default: removed once the episode is done, or "
                   "with --expose-session once it is closed or expires; the record holds its "
                   "trace)")
    p.add_argument("--expose-session", action="store_true", help="return the shop session_id "
                   "on reset, so agents can call the tools over /mcp themselves (default: "
                   "hidden; /step injects it)")
    p.add_argument("--allowed-host", action="append", default=[], metavar="HOST",
                   help="extra Host header to accept, e.g. gpu-box:* (repeatable; localhost is "
                   "always allowed)")
    p.add_argument("--allowed-origin", action="append", default=[], metavar="ORIGIN",
                   help="extra browser Origin to accept (repeatable)")
    p.add_argument("--log-level", default="WARNING",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])


DESCRIPTION = ("Serve episodes to remote trainers as an OpenEnv environment: OpenEnv's "
               "WebSocket /ws (EnvClient), /schema and /metadata; plain-HTTP POST /reset, "
               "POST /step, GET /state, GET /record, POST /close, GET /health; and the shop's "
               "MCP endpoint at /mcp. Needs the openenv extra.")


def add_serve_env_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``serve-env`` on a ``shop-episodes`` subparsers object; its ``fn`` returns the
    exit code."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "serve-env", help="serve episodes to remote trainers (OpenEnv server: WebSocket and "
        "HTTP reset/step/state)",
        description=DESCRIPTION)
    _add_options(p)
    p.set_defaults(fn=cmd_serve_env)
    return p


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """serve-env's options (``argv``, default the command line), parsed."""
    parser = argparse.ArgumentParser(prog="shop-episodes serve-env", description=DESCRIPTION)
    _add_options(parser)
    parser.set_defaults(fn=cmd_serve_env)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m episodes.http_env [options]``: the same as ``shop-episodes serve-env``."""
    args = parse_args(argv)
    try:
        return int(args.fn(args))
    except (ValueError, OSError) as exc:
        print(f"shop-episodes serve-env: error: {exc}", file=sys.stderr)
        return 2
