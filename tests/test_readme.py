"""The README's code, run as written, so that it stays true.

Every ``python`` and ``bash`` block of README.md has a marker: an HTML comment on the line
just above its fence.

- ``<!-- test: run -->``: run. A Python block runs as ``python -c`` would; a bash block runs
  as one ``bash -e`` script without its ``pip install`` lines (the test runs in the installed
  project). Python blocks and the ``shop-episodes`` and ``mcp-shop`` commands run in fresh
  processes forked from one that has imported the project (``tests/readme_runner.py``), which
  saves a second of importing for each. Blocks run in README order in one work directory, as
  a reader's shell would, which starts as the quick start leaves it: ``shop.db`` (the default
  catalog, seed 0, 10,000 products) and ``runs/demo.jsonl`` (the quick-start command with 2
  episodes instead of 200); ``examples/``, ``deploy/`` and ``tests/fixtures/`` are the
  repository's. ``MCP_SHOP_*`` variables are cleared.
- ``<!-- test: run with server -->``: the same, with ``mcp-shop serve --http`` serving that
  ``shop.db`` on a free port; the block's ``http://127.0.0.1:8000`` becomes that address.
- ``<!-- test: output -->`` above a ``text`` block: what the run block just before prints.
  Compared with whitespace ignored; ``...`` stands for anything (the rest of the text must
  appear in order).
- ``<!-- test: skip: REASON -->``: not run. The README says how many such blocks there are
  ("The N blocks it does not run"), and the count is checked, so no block drops out unseen.

``json`` blocks must parse; every other block is ``text``. Running one block
(``-k L123``) runs the blocks before it first, since later blocks use their files.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.protocol.procs import ServerProcess

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"^( *)```(\S*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*test:\s*(.*?)\s*-->\s*$")
RUN_KINDS = ("run", "run with server")
CODE = ("python", "bash")
TIMEOUT = 180
QUICK_START_EPISODES = "2"


@dataclass(frozen=True)
class Block:
    """One fenced block of the README: where it starts, its language, text and marker."""

    line: int
    info: str
    text: str
    marker: str | None

    @property
    def id(self) -> str:
        return f"L{self.line}-{self.info or 'plain'}"


def read_blocks(text: str) -> list[Block]:
    """Every fenced block, with the marker comment just above it (blank lines skipped)."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opened = FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        indent, info = len(opened.group(1)), opened.group(2)
        body: list[str] = []
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        assert j < len(lines), f"README.md:{i + 1}: the block is never closed"
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        found = MARKER.match(lines[k]) if k >= 0 else None
        blocks.append(Block(i + 1, info, "\n".join(body) + "\n",
                            found.group(1) if found else None))
        i = j + 1
    return blocks


BLOCKS = read_blocks(README.read_text(encoding="utf-8"))
RUNNABLE = [b for b in BLOCKS if b.marker in RUN_KINDS]


def expected_output(block: Block) -> Block | None:
    """The ``output`` block right after ``block``, if there is one."""
    after = BLOCKS.index(block) + 1
    if after < len(BLOCKS) and BLOCKS[after].marker == "output":
        return BLOCKS[after]
    return None


def matches(expected: str, actual: str) -> str | None:
    """None when ``actual`` holds every part of ``expected`` between ``...`` in order
    (whitespace ignored), else the first part it lacks and where the search stood."""
    squeeze = re.compile(r"\s+")
    have = squeeze.sub("", actual)
    at = 0
    for part in (squeeze.sub("", p) for p in expected.split("...")):
        if not part:
            continue
        found = have.find(part, at)
        if found < 0:
            return _divergence(part, have, at)
        at = found + len(part)
    return None


def _divergence(part: str, have: str, at: int) -> str:
    """Where the longest start of ``part`` found after ``at`` stops matching."""
    size = 0
    while size < len(part) and have.find(part[:size + 1], at) >= 0:
        size += 1
    where = have.find(part[:size], at) + size
    return (f"after {part[max(0, size - 60):size]!r} the README shows "
            f"{part[size:size + 80]!r} but the block printed {have[where:where + 80]!r}")


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_SHOP_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def bash_script(text: str) -> str:
    """The block as a script: continuations joined, ``pip install`` lines left out."""
    joined = text.replace("\\\n", " ")
    kept = [line for line in joined.splitlines() if not line.lstrip().startswith("pip install")]
    return "set -euo pipefail\n" + "\n".join(kept) + "\n"


@dataclass(frozen=True)
class Result:
    """How a block ended and what it printed."""

    returncode: int
    stdout: str
    stderr: str


SHIM = """#!{python} -S
import json, os, socket, sys
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
conn.connect({socket!r})
socket.send_fds(conn, [b"."], [0, 1, 2])
conn.sendall(json.dumps({{"command": {name!r}, "argv": sys.argv[1:], "cwd": os.getcwd(),
                         "env": dict(os.environ), "timeout": {timeout}}}).encode() + b"\\n")
answer = conn.makefile("r").readline()
sys.exit(json.loads(answer)["returncode"] if answer else 1)
"""


class Workdir:
    """The shared directory and the results of the blocks run so far, in README order.

    Python blocks, and the project's commands in bash blocks (through a shim of each on the
    ``PATH``), run in ``tests/readme_runner.py``, started once here, which forks a fresh
    process for each, so that each does not pay for importing the project again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.results: dict[int, Result] = {}
        self.socket = str(path.parent / "runner.sock")
        shims = path.parent / "bin"
        shims.mkdir()
        for name in ("shop-episodes", "mcp-shop"):
            shim = shims / name
            shim.write_text(SHIM.format(python=sys.executable, socket=self.socket, name=name,
                                        timeout=TIMEOUT))
            shim.chmod(0o755)
        self.env = clean_env()
        self.env["PATH"] = f"{shims}{os.pathsep}{self.env['PATH']}"
        self.runner = subprocess.Popen(
            [sys.executable, "-c", Path(__file__).with_name("readme_runner.py").read_text(),
             self.socket], cwd=path, env=clean_env(), stdin=subprocess.DEVNULL,
            stderr=(path.parent / "runner.log").open("w"))
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(self.socket):
            assert self.runner.poll() is None, (path.parent / "runner.log").read_text()
            assert time.monotonic() < deadline, "tests/readme_runner.py did not start"
            time.sleep(0.05)

    def close(self) -> None:
        self.runner.kill()
        self.runner.wait(TIMEOUT)

    def run(self, args: list[str]) -> Result:
        done = subprocess.run(args, cwd=self.path, env=self.env, stdin=subprocess.DEVNULL,
                              text=True, capture_output=True, timeout=TIMEOUT, check=False)
        return Result(done.returncode, done.stdout, done.stderr)

    def run_python(self, source: str) -> Result:
        out, err = self.path.parent / "block.out", self.path.parent / "block.err"
        with (open(os.devnull) as nothing, out.open("w") as stdout, err.open("w") as stderr,
              socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn):
            conn.connect(self.socket)
            socket.send_fds(conn, [b"."], [nothing.fileno(), stdout.fileno(), stderr.fileno()])
            conn.sendall(json.dumps({"source": source, "timeout": TIMEOUT}).encode() + b"\n")
            answer = conn.makefile("r").readline()
        assert answer, "tests/readme_runner.py stopped: " + (
            self.path.parent / "runner.log").read_text()
        return Result(json.loads(answer)["returncode"], out.read_text(), err.read_text())

    def quick_start(self) -> None:
        """The quick start's command with fewer episodes: its catalog and rollout file."""
        for shared in ("examples", "deploy", "tests/fixtures"):
            (self.path / shared).parent.mkdir(exist_ok=True)
            (self.path / shared).symlink_to(ROOT / shared)
        command = next(line for line in BLOCKS[0].text.splitlines() if "shop-episodes run" in line)
        command = command.split("&&", 1)[1]
        assert "--episodes 200" in command, command
        done = self.run(["bash", "-c", command.replace("--episodes 200",
                                                       f"--episodes {QUICK_START_EPISODES}")])
        assert done.returncode == 0, done.stderr[-3000:]

    def result(self, block: Block) -> Result:
        """Run every runnable block up to ``block`` not run yet; ``block``'s result."""
        for earlier in RUNNABLE[:RUNNABLE.index(block) + 1]:
            if earlier.line not in self.results:
                self.results[earlier.line] = self._run(earlier)
        return self.results[block.line]

    def _run(self, block: Block) -> Result:
        if block.info == "bash":
            script = self.path.parent / "block.sh"
            script.write_text(bash_script(block.text))
            return self.run(["bash", str(script)])
        if block.marker == "run with server":
            with ServerProcess(["--db", f"sqlite:///{self.path / 'shop.db'}"],
                               log=self.path.parent / "server.log") as server:
                return self.run_python(block.text.replace("http://127.0.0.1:8000", server.base))
        return self.run_python(block.text)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workdir]:
    base = tmp_path_factory.mktemp("readme")
    (base / "work").mkdir()
    work = Workdir(base / "work")
    try:
        work.quick_start()
        yield work
    finally:
        work.close()


def test_every_code_block_says_whether_it_runs() -> None:
    unmarked = [b.id for b in BLOCKS if b.info in CODE and b.marker is None]
    assert not unmarked, f"python and bash blocks need a <!-- test: ... --> marker: {unmarked}"
    kinds = {b.info for b in BLOCKS}
    assert kinds <= {*CODE, "json", "text"}, f"unexpected block kinds: {kinds}"
    for block in BLOCKS:
        if block.marker is None:
            continue
        if block.marker == "output":
            before = BLOCKS[BLOCKS.index(block) - 1]
            assert block.info == "text" and before.marker in RUN_KINDS, block.id
        elif block.marker.startswith("skip:"):
            assert block.info in CODE and block.marker[5:].strip(), block.id
        else:
            assert block.marker in RUN_KINDS and block.info in CODE, (block.id, block.marker)


def test_the_readme_counts_the_blocks_not_run() -> None:
    said = re.search(r"The (\d+) blocks it does\s+not run", README.read_text(encoding="utf-8"))
    assert said, "README.md should say how many blocks tests/test_readme.py does not run"
    skipped = [b for b in BLOCKS if b.marker and b.marker.startswith("skip:")]
    assert len(skipped) == int(said.group(1)), [b.id for b in skipped]


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.info == "json"], ids=lambda b: b.id)
def test_json_blocks_parse(block: Block) -> None:
    json.loads(block.text)


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.id)
def test_block_runs_as_written(block: Block, workdir: Workdir) -> None:
    done = workdir.result(block)
    assert done.returncode == 0, (f"README.md:{block.line} exited {done.returncode}\n"
                                  f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    shown = expected_output(block)
    if shown is not None:
        problem = matches(shown.text, done.stdout)
        assert problem is None, (f"README.md:{shown.line} does not show what README.md:"
                                 f"{block.line} prints: {problem}\nprinted:\n{done.stdout}")


def test_matching_ignores_whitespace_and_skips_ellipses() -> None:
    assert matches('{"a": 1, ...,\n "c": 3}', '{"a":1,"b":2,"c":3}') is None
    assert matches('{"a": 1, ..., "c": 4}', '{"a":1,"b":2,"c":3}') is not None
    assert matches('"c": 3, ... "a": 1', '{"a":1,"b":2,"c":3}') is not None
