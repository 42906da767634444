"""An HTTP server as a subprocess on an ephemeral port (``mcp-shop serve --http`` by default,
``shop-episodes serve-env`` too), for the HTTP, persistence and episode-env tests: start, wait
until ``/health`` answers, stop or kill; usable as a context manager."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

_URL = re.compile(r"serving MCP at (http://\S+)/mcp")
MCP_SHOP = ("mcp_shop.cli", "serve", "--http", "--port", "0", "--log-level", "WARNING")


class ServerProcess:
    """One HTTP server process; ``base`` is its ``http://127.0.0.1:PORT`` once started.

    Args:
        args: arguments after ``python -m <command>``.
        log: the file its stderr goes to (where it announces its address).
        command: the module and its leading arguments (``mcp-shop serve --http`` by default).
        announce: the pattern of the stderr line that gives its base URL (first group).
    """

    def __init__(self, args: list[str], *, log: Path, command: Sequence[str] = MCP_SHOP,
                 announce: re.Pattern[str] = _URL) -> None:
        self.args = args
        self.log = log
        self.command = list(command)
        self.announce = announce
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = ""

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def mcp_url(self) -> str:
        return f"{self.base}/mcp"

    def start(self, timeout: float = 60) -> ServerProcess:
        """Launch the server and wait until ``/health`` answers."""
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", *self.command, *self.args],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n"
                                   + self.log.read_text())
            found = self.announce.findall(self.log.read_text())
            if found:
                self.base = found[-1]
                if self._healthy():
                    return self
            time.sleep(0.05)
        self.kill()
        raise TimeoutError("server did not start:\n" + self.log.read_text())

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base}/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()
