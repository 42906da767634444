"""Runs README blocks for tests/test_readme.py, each in a fresh forked process.

Started once (``python -c`` with this file's text, in the README's work directory, with the
path of a Unix socket as its argument), it imports the project, then serves one request per
connection: a byte carrying the caller's stdin, stdout and stderr file descriptors, then a JSON
line, either ``{"source": ..., "timeout": ...}`` (a Python block, run as ``python -c`` would
run it, as ``__main__``) or ``{"command": "shop-episodes", "argv": [...], "cwd": ...,
"env": {...}, "timeout": ...}`` (a console script of the project, run as its installed script
would run it; ``readme_shim`` stands in for the script on the ``PATH`` of a bash block). For
each it forks a child on those descriptors and answers with its exit status as a JSON line.
Every child starts from the same state, freshly imported, and none sees another's globals or
changes: forking only saves importing the project again for every block and command.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import traceback
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import mcp  # noqa: F401 - imported once here so that every forked block finds it loaded

import episodes  # noqa: F401
import mcp_shop.server  # noqa: F401

SCRIPTS: dict[str, Callable[[], Any]] = {
    ep.name: ep.load() for ep in entry_points(group="console_scripts")
    if ep.name in ("shop-episodes", "mcp-shop")}


def run_child(request: dict[str, Any], fds: list[int]) -> int:
    """In the forked child: the block or command on the caller's descriptors; its exit
    status. SIGALRM ends it after the request's timeout."""
    signal.alarm(int(request["timeout"]))
    for fd, passed in zip((0, 1, 2), fds, strict=True):
        os.dup2(passed, fd)
        os.close(passed)
    if "command" in request:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = [request["command"], *request["argv"]]
    else:
        sys.argv = ["-c"]
        sys.path[0] = ""  # as under python -c (this runner is started that way too)
    try:
        if "command" in request:
            status = SCRIPTS[request["command"]]()
            return status if isinstance(status, int) else 0
        main = type(sys)("__main__")
        sys.modules["__main__"] = main
        exec(compile(request["source"], "<README block>", "exec"), main.__dict__)
        return 0
    except SystemExit as stop:
        code = stop.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001 - reported as python would, then exit 1
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def serve(path: str) -> None:
    """Answer requests on the Unix socket at ``path``, one connection at a time."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen()
    while True:
        conn, _ = listener.accept()
        with conn:
            _, fds, _, _ = socket.recv_fds(conn, 1, 3)
            with conn.makefile("r") as lines:
                request = json.loads(lines.readline())
            pid = os.fork()
            if pid == 0:
                listener.close()
                os._exit(run_child(request, fds))
            for fd in fds:
                os.close(fd)
            _, status = os.waitpid(pid, 0)
            conn.sendall(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}).encode()
                         + b"\n")


if __name__ == "__main__":
    serve(sys.argv[1])
