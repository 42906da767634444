"""``mcp-shop serve --http`` as a subprocess on an ephemeral port, for the HTTP and persistence
tests: start, wait until healthy, stop or kill."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

_URL = re.compile(r"serving MCP at (http://\S+)/mcp")


class ServerProcess:
    """One HTTP server process; ``base`` is its ``http://127.0.0.1:PORT`` once started."""

    def __init__(self, args: list[str], *, log: Path) -> None:
        self.args = args
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = ""

    @property
    def mcp_url(self) -> str:
        return f"{self.base}/mcp"

    def start(self, timeout: float = 60) -> ServerProcess:
        """Launch the server and wait until ``/health`` answers."""
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mcp_shop.cli", "serve", "--http", "--port", "0",
                 "--log-level", "WARNING", *self.args],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n"
                                   + self.log.read_text())
            found = _URL.findall(self.log.read_text())
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
