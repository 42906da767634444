"""Runs README Python blocks for tests/test_readme.py, each in a fresh forked process.

Started once in the README's work directory, it imports the heavy modules the blocks use, then
for every request (a JSON line on stdin: ``{"source", "stdout", "stderr", "timeout"}``) forks
a child that runs the block as ``python -c`` would, as ``__main__`` with its output in the
named files, and answers with the child's exit status (a JSON line on stdout). Each block
starts from this same state, and none sees another's globals or changes; forking only skips
importing the project again for every block.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback

import mcp  # noqa: F401

import episodes  # noqa: F401 - imported once here so that every forked block finds it loaded
import mcp_shop.server  # noqa: F401


def run_child(source: str, out: str, err: str, timeout: int) -> int:
    """In the forked child: the block as ``__main__``; its exit status. Killed by SIGALRM
    after ``timeout`` seconds."""
    signal.alarm(timeout)
    for fd, path, flags in ((0, os.devnull, os.O_RDONLY),
                            (1, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                            (2, err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
        handle = os.open(path, flags, 0o644)
        os.dup2(handle, fd)
        os.close(handle)
    sys.stdin = open(os.devnull)  # noqa: SIM115 - the block gets no input, as under pytest
    sys.argv = ["-c"]
    sys.path[0] = ""  # as under python -c (this runner is started that way too)
    main = type(sys)("__main__")
    sys.modules["__main__"] = main
    try:
        exec(compile(source, "<README block>", "exec"), main.__dict__)
        return 0
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported as python -c would, then exit 1
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def serve() -> None:
    """Answer requests until stdin closes."""
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            os._exit(run_child(request["source"], request["stdout"], request["stderr"],
                               request["timeout"]))
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), flush=True)


if __name__ == "__main__":
    serve()
