"""``shop-episodes tasks --suite tau2-retail``: the fixture world's tasks as TRL rows (those of
``tau2_rows``) or as ``Tau2Task`` JSON lines that read back to the same tasks; a missing path,
an unknown split or task id, and the shop's own task options are refused (exit 2, no file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from episodes import cli
from episodes.tau2.tasks import Tau2Task, select_tasks
from episodes.tau2.trl_env import tau2_rows
from mcp_shop.tau2 import load_tau2_retail
from tests.episodes.tau2_doors import FIXTURE


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_trl_rows_are_tau2_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rows" / "test.jsonl"
    assert cli.main(["tasks", "--suite", "tau2-retail", "--tau2-path", str(FIXTURE),
                     "--split", "test", "--format", "trl", "--out", str(out)]) == 0
    world = load_tau2_retail(FIXTURE)
    rows = _lines(out)
    assert rows == tau2_rows(world, split="test")
    assert [r["task_id"] for r in rows] == [f"tau2-retail/{i}" for i in range(9, 14)]
    assert rows[0]["prompt"][0] == {"role": "system", "content": world.policy}
    assert "5 rows written to" in capsys.readouterr().err


def test_jsonl_lines_read_back_to_the_tasks(tmp_path: Path) -> None:
    out = tmp_path / "tasks.jsonl"
    assert cli.main(["tasks", "--suite", "tau2-retail", "--tau2-path", str(FIXTURE),
                     "--task-ids", "11,tau2-retail/2", "--format", "jsonl",
                     "--out", str(out)]) == 0
    world = load_tau2_retail(FIXTURE)
    lines = _lines(out)
    assert [line["task_id"] for line in lines] == ["tau2-retail/11", "tau2-retail/2"]
    assert [Tau2Task.from_json(line) for line in lines] == select_tasks(world, ids=["11", "2"])
    # the fields as the rollout records name them; task 11 has two gold writes
    assert set(lines[0]) == {"task_id", "family", "difficulty", "seed", "world", "task"}
    assert lines[0]["family"] == "tau2_retail" and lines[0]["difficulty"] == 2
    assert lines[0]["task"]["id"] == "11"


def test_every_task_to_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["tasks", "--suite", "tau2-retail", "--tau2-path", str(FIXTURE)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["task_id"] for line in lines] == [f"tau2-retail/{i}" for i in range(14)]


@pytest.mark.parametrize(("argv", "message"), [
    (["--suite", "tau2-retail"], "--suite tau2-retail needs --tau2-path"),
    (["--suite", "tau2-retail", "--tau2-path", "/nonexistent/tau2"],
     "/nonexistent/tau2: path: does not exist"),
    (["--suite", "tau2-retail", "--tau2-path", "{fixture}", "--split", "dev"],
     "no split 'dev'; the splits are base, test, train"),
    (["--suite", "tau2-retail", "--tau2-path", "{fixture}", "--split", "test",
      "--task-ids", "1"], "no task '1' in split 'test'; its task ids are 9, 10, 11, 12, 13"),
    (["--suite", "tau2-retail", "--tau2-path", "{fixture}", "--families", "cart"],
     "--families and --difficulty choose the shop's own tasks"),
    (["--suite", "tau2-retail", "--tau2-path", "{fixture}", "--tasks", "x.jsonl"],
     "--tasks applies to the shop's own tasks"),
    (["--split", "test"], "--split applies to --suite tau2-retail only"),
])
def test_bad_options_exit_2_and_write_nothing(argv: list[str], message: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.jsonl"
    argv = [a.replace("{fixture}", str(FIXTURE)) for a in argv]
    assert cli.main(["tasks", *argv, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
