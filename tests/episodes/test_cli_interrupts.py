"""Ctrl-C (SIGINT to the process group, as a terminal sends it) ends ``shop-episodes``
cleanly: what finished is in the output file as complete lines, one line says how much, exit
130, no traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TEST_SEED, TEST_SIZE
from verifiers.types import TaskSpec

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    from mcp_shop import Shop

    url = f"sqlite:///{tmp_path_factory.mktemp('cli-interrupts') / 'shop.db'}"
    Shop.open(url, seed=TEST_SEED, size=TEST_SIZE).engine.dispose()
    return url


def _default_sigint() -> None:
    # A shell starts background jobs with SIGINT ignored, which a child would inherit.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_when_written(argv: list[str], out: Path, timeout: float = 240
                           ) -> subprocess.CompletedProcess[str]:
    """Run ``shop-episodes argv`` in its own process group; once ``out`` holds data, send
    SIGINT to the whole group (the workers too) and wait for the end."""
    proc = subprocess.Popen([sys.executable, "-m", "episodes.cli", *argv], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=_default_sigint)
    try:
        deadline = time.monotonic() + timeout
        while not (out.exists() and out.stat().st_size > 0):
            if proc.poll() is not None or time.monotonic() > deadline:
                stdout, stderr = proc.communicate()
                pytest.fail(f"nothing written before the end ({proc.returncode}): {stderr}")
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def last_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    return stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_interrupted_run_keeps_its_finished_episodes(workers: str, db: str,
                                                        tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    done = interrupt_when_written(
        ["run", "--agent", "oracle", "--episodes", "200", "--workers", workers,
         "--concurrency", "4", "--out", str(out), "--db", db, "--catalog-seed",
         str(TEST_SEED), "--catalog-size", str(TEST_SIZE)], out)
    assert done.returncode == 130, done.stderr
    text = out.read_text()
    assert text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]  # complete lines only
    assert last_line(done.stderr) == f"interrupted: {len(records)} episodes written to {out}"
    assert 0 < len(records) < 200
    assert all(r["success"] and r["stop_reason"] == "shopper_done" for r in records)
    assert len({r["task_id"] for r in records}) == len(records)
    assert done.stdout == ""  # no summary of a partial run


def test_interrupted_tasks_keeps_the_tasks_generated(db: str, tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    done = interrupt_when_written(
        ["tasks", "--episodes", "5000", "--out", str(out), "--db", db, "--catalog-seed",
         str(TEST_SEED), "--catalog-size", str(TEST_SIZE)], out)
    assert done.returncode == 130, done.stderr
    lines = out.read_text().splitlines()
    tasks = [TaskSpec.model_validate_json(line) for line in lines]
    assert 0 < len(tasks) < 5000
    assert last_line(done.stderr) == f"interrupted: {len(tasks)} tasks written to {out}"


def test_ctrl_c_turned_into_another_error_still_counts_as_ctrl_c() -> None:
    """The interrupt lands anywhere in the main thread; where a library catches it and raises
    its own error (pydantic does in a serializer callback), the command still knows."""
    from episodes.cli.output import watch_ctrl_c

    def library_call() -> None:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the handler runs before this returns
        except BaseException as exc:  # what a wholesale catch does
            raise ValueError("serialization failed") from exc.__cause__

    with watch_ctrl_c() as ctrl_c:
        try:
            library_call()
        except ValueError as exc:
            caught: BaseException = exc
    assert ctrl_c.pressed and ctrl_c.interrupted(caught)
    with watch_ctrl_c() as quiet:
        assert not quiet.interrupted(ValueError("a real failure"))
        assert quiet.interrupted(KeyboardInterrupt())
