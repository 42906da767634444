"""``shop-episodes``: ``run`` writes rollout JSONL in task order with a summary table, runs are
deterministic whatever the concurrency, ``tasks`` exports tasks that ``run --tasks`` replays,
``check`` replays every gold solution, and bad input exits 2 with a clear message and no file."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from episodes import cli
from episodes.generate import families, task_id
from episodes.tasks import plan
from mcp_shop import Shop
from tests.conftest import TEST_SEED, TEST_SIZE
from tests.episodes.records import untimed
from verifiers.types import TaskSpec

ROLLOUT_FIELDS = {
    "schema_version", "rollout_id", "group_id", "task_id", "family", "difficulty", "seed",
    "env_version", "policy", "messages", "tools", "reward", "reward_components", "success",
    "metrics", "terminated", "truncated", "stop_reason", "trace",
}
METRICS = {"turns", "tool_calls", "errors", "wall_time_s"}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file holding the test catalog (and its search index beside it)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'shop.db'}"
    Shop.open(url, seed=TEST_SEED, size=TEST_SIZE).engine.dispose()
    return url


@pytest.fixture
def shop_args(db: str) -> list[str]:
    return ["--db", db, "--catalog-seed", str(TEST_SEED), "--catalog-size", str(TEST_SIZE)]


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Wide consoles, so tables and messages are not wrapped (both still print to the captured
    sys.stdout / sys.stderr)."""
    monkeypatch.setattr(cli.output, "console", Console(width=250, no_color=True,
                                                       highlight=False))
    monkeypatch.setattr(cli.output, "err", Console(width=250, stderr=True, no_color=True,
                                                   highlight=False))
    yield


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


strip_timing = untimed

def table_rows(stdout: str) -> dict[tuple[str, str], list[str]]:
    """The summary table's rows by (family, difficulty)."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃").split("│")]
        if len(cells) == 7 and cells[2].isdigit():
            rows[(cells[0], cells[1])] = cells
    return rows


# -- run --------------------------------------------------------------------------------------


def test_run_oracle_writes_rollouts_in_task_order(tmp_path: Path, shop_args: list[str],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "runs" / "oracle.jsonl"  # the directory is created
    code = cli.main(["run", "--agent", "oracle", "--families", "all", "--difficulty", "0-2",
                     "--episodes", "24", "--concurrency", "4", "--seed", "3", "--out", str(out),
                     *shop_args])
    assert code == 0
    records = read_jsonl(out)
    assert len(records) == 24
    expected = [task_id(f, d, s) for f, d, s in plan(families(), [0, 1, 2], 24, 3)]
    assert [r["task_id"] for r in records] == expected
    for r in records:
        assert r.keys() >= ROLLOUT_FIELDS, ROLLOUT_FIELDS - r.keys()
        assert r["metrics"].keys() >= METRICS
        assert r["success"] is True and r["reward"] == 1.0, r["task_id"]
        assert r["policy"] == "oracle" and r["group_id"] == r["task_id"]
        assert r["terminated"] and not r["truncated"] and r["stop_reason"] == "shopper_done"
        assert r["messages"][0]["role"] == "user" and r["tools"] and r["trace"]
        assert r["metrics"]["tool_calls"] == len(r["trace"])
    assert len({r["rollout_id"] for r in records}) == 24

    stdout = capsys.readouterr().out
    assert "oracle: 24 episodes" in stdout
    rows = table_rows(stdout)
    assert {f for f, _ in rows} == {*families(), "all"}
    assert {d for f, d in rows if f != "all"} == {"0", "1"}
    assert rows[("all", "all")][2:4] == ["24", "100%"]
    assert all(cells[3] == "100%" for cells in rows.values())


def test_heuristic_runs_are_deterministic(tmp_path: Path, shop_args: list[str]) -> None:
    """The same command twice, and at concurrency 1 and 8: identical rollouts but for timing."""
    base = ["run", "--agent", "heuristic", "--families", "discovery,purchase,return,exchange",
            "--difficulty", "2,5,7", "--episodes", "12", "--seed", "9", *shop_args]
    runs = {}
    for name, concurrency in (("a", "8"), ("b", "8"), ("c", "1")):
        out = tmp_path / f"{name}.jsonl"
        assert cli.main([*base, "--concurrency", concurrency, "--out", str(out)]) == 0
        runs[name] = [strip_timing(r) for r in read_jsonl(out)]
    assert len(runs["a"]) == 12
    assert {r["difficulty"] for r in runs["a"]} == {2, 5, 7}
    assert runs["a"] == runs["b"]
    assert runs["a"] == runs["c"]


def test_exported_tasks_run_back(tmp_path: Path, shop_args: list[str],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    tasks_file = tmp_path / "T.jsonl"
    assert cli.main(["tasks", "--episodes", "10", "--seed", "4", "--out", str(tasks_file),
                     *shop_args]) == 0
    tasks = [TaskSpec.model_validate_json(line)
             for line in tasks_file.read_text().splitlines()]
    assert len(tasks) == 10
    assert "10 tasks written" in capsys.readouterr().err

    out = tmp_path / "R.jsonl"
    assert cli.main(["run", "--agent", "oracle", "--tasks", str(tasks_file), "--out", str(out),
                     *shop_args]) == 0
    records = read_jsonl(out)
    assert [r["task_id"] for r in records] == [t.task_id for t in tasks]
    assert all(r["success"] for r in records)
    assert table_rows(capsys.readouterr().out)[("all", "all")][2:4] == ["10", "100%"]


def test_tasks_to_stdout(shop_args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["tasks", "--families", "policy,cart", "--difficulty", "3",
                     "--episodes", "2", *shop_args]) == 0
    lines = capsys.readouterr().out.splitlines()
    tasks = [TaskSpec.model_validate_json(line) for line in lines]
    assert [(t.family, t.difficulty) for t in tasks] == [("policy", 3), ("cart", 3)]


def test_tasks_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["tasks", "--schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert set(TaskSpec.model_fields) <= set(schema["properties"])
    assert {"task_id", "family", "difficulty", "world", "intents", "gold"} <= set(
        schema["required"])
    assert schema["properties"]["difficulty"]["maximum"] == 20


def test_check_solves_every_task(shop_args: list[str],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "--seeds", "2", "--difficulty", "0-3", *shop_args]) == 0
    out = capsys.readouterr().out
    n = 2 * 4 * len(families())
    assert f"Every one of {n} tasks was solved by its gold solution." in out
    assert table_rows(out)[("all", "all")][2:4] == [str(n), "100%"]


def test_a_wrong_gold_is_reported_not_fatal(tmp_path: Path, shop_args: list[str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """``run --tasks`` with a task whose gold presents the wrong product: the episode fails, the
    run still exits 0 and the summary shows it."""
    tasks_file = tmp_path / "T.jsonl"
    assert cli.main(["tasks", "--families", "discovery,purchase", "--difficulty", "1",
                     "--episodes", "2", "--out", str(tasks_file), *shop_args]) == 0
    discovery, purchase = (json.loads(line) for line in tasks_file.read_text().splitlines())
    right = discovery["gold"][-2]["args"]["product_ids"][0]
    wrong = purchase["intents"][0]["slots"][0]["value"]  # a product of another category
    assert right != wrong and wrong.startswith("P-")
    broken = json.loads(json.dumps(discovery).replace(right, wrong))
    broken["task_id"] += "-broken"
    tasks_file.write_text(json.dumps(discovery) + "\n" + json.dumps(broken) + "\n")
    capsys.readouterr()

    out = tmp_path / "R.jsonl"
    assert cli.main(["run", "--agent", "oracle", "--tasks", str(tasks_file), "--out", str(out),
                     *shop_args]) == 0
    good, bad = read_jsonl(out)
    assert good["success"] and not bad["success"]
    assert bad["task_id"].endswith("-broken") and bad["reward"] < good["reward"]
    assert any(c["value"] < 1 for c in bad["reward_components"])
    presented = [e["arguments"]["product_ids"] for e in bad["trace"]
                 if e["tool"] == "present_products"]
    assert presented == [[wrong]]
    rows = table_rows(capsys.readouterr().out)
    assert rows[("discovery", "1")][2:4] == ["2", "50%"]
    assert rows[("all", "all")][2:4] == ["2", "50%"]


def test_trials_and_a_stdio_server(tmp_path: Path, db: str, shop_args: list[str]) -> None:
    """``--trials 2`` writes each task's trials together, in order; a stdio server on the same
    database (its command line quoted as a shell would) gives the in-memory records."""
    base = ["run", "--agent", "oracle", "--families", "cart,cancel", "--difficulty", "3",
            "--episodes", "2", "--trials", "2", "--seed", "6", *shop_args]
    memory, stdio = tmp_path / "memory.jsonl", tmp_path / "stdio.jsonl"
    assert cli.main([*base, "--out", str(memory)]) == 0
    assert cli.main([*base, "--stdio", _stdio_command(db), "--out", str(stdio)]) == 0
    records = read_jsonl(memory)
    assert [(r["family"], r["trial"]) for r in records] == [
        ("cart", 0), ("cart", 1), ("cancel", 0), ("cancel", 1)]
    assert len({r["rollout_id"] for r in records}) == 4
    assert records[0]["group_id"] == records[1]["group_id"] != records[2]["group_id"]
    assert all(r["success"] for r in records)
    assert [strip_timing(r) for r in read_jsonl(stdio)] == [strip_timing(r) for r in records]


# -- bad input --------------------------------------------------------------------------------


BAD_RUNS = {
    "unknown-agent": (["--agent", "gpt-9"], ["unknown agent 'gpt-9'", "oracle", "heuristic",
                                             "random"]),
    "unknown-family": (["--families", "purchase,shopping"],
                       ["unknown family 'shopping'", "'all'", "purchase", "discovery"]),
    "reversed-range": (["--difficulty", "5-2"], ["'5-2'", "0-5"]),
    "not-a-number": (["--difficulty", "abc"], ["'abc'", "0-5"]),
    "too-hard": (["--difficulty", "99"], ["from 0 to 20", "99"]),
    "direct-connect": (["--direct", "--connect", "http://127.0.0.1:9/mcp"],
                       ["--direct", "cannot be combined with --connect or --stdio"]),
}


@pytest.mark.parametrize("case", BAD_RUNS)
def test_bad_options_exit_2(case: str, tmp_path: Path, shop_args: list[str],
                            capsys: pytest.CaptureFixture[str]) -> None:
    extra, expected = BAD_RUNS[case]
    out = tmp_path / "out" / "r.jsonl"
    code = cli.main(["run", "--episodes", "2", "--out", str(out), *extra, *shop_args])
    assert code == 2
    message = " ".join(capsys.readouterr().err.split())
    assert "error:" in message
    for fragment in expected:
        assert fragment in message, (fragment, message)
    assert not out.exists()


def _write_bad_tasks(tmp_path: Path, kind: str, shop_args: list[str]
                     ) -> tuple[Path, list[str]]:
    if kind == "missing":
        return tmp_path / "nope.jsonl", ["nope.jsonl", "no such task file"]
    if kind == "empty-dir":
        (tmp_path / "d").mkdir()
        return tmp_path / "d", ["no .json or .jsonl task files"]
    path = tmp_path / "bad.jsonl"
    if kind == "empty":
        path.write_text("\n")
        return path, ["bad.jsonl", "no tasks"]
    if kind == "duplicate":
        assert cli.main(["tasks", "--episodes", "2", "--out", str(path), *shop_args]) == 0
        first = path.read_text().splitlines()[0]
        path.write_text(path.read_text() + first + "\n")
        tid = json.loads(first)["task_id"]
        return path, [f"task '{tid}' appears more than once", "--trials"]
    if kind == "not-json":
        path.write_text('{"task_id": "x", \n')
        return path, ["bad.jsonl", "not valid JSON"]
    if kind == "not-utf8":
        path.write_bytes(b'{"task_id": "caf\xe9"}\n')
        return path, ["bad.jsonl", "not UTF-8"]
    if kind == "too-deep":
        path.write_text("{}\n" + "[" * 100_000 + "]" * 100_000 + "\n")
        return path, ["bad.jsonl:2", "nested too deeply"]
    if kind in ("infinite-difficulty", "fractional-difficulty"):
        level = "1e999" if kind == "infinite-difficulty" else "2.5"
        path.write_text('{"task_id": "x", "family": "purchase", "difficulty": ' + level
                        + ', "seed": 1, "opening": "hi"}\n')
        return path, ["bad.jsonl:1", "not a valid task", "difficulty"]
    path.write_text(json.dumps({"task_id": "x", "family": "purchase", "difficulty": 2,
                                "seed": 1, "opening": "hi"}) + "\n")
    return path, ["bad.jsonl:1", "not a valid task", "tasks --schema"]


@pytest.mark.parametrize("kind", ["missing", "empty-dir", "not-json", "not-a-task", "empty",
                                  "duplicate", "not-utf8", "too-deep", "infinite-difficulty",
                                  "fractional-difficulty"])
def test_bad_task_files_exit_2(kind: str, tmp_path: Path, shop_args: list[str],
                               capsys: pytest.CaptureFixture[str]) -> None:
    path, expected = _write_bad_tasks(tmp_path, kind, shop_args)
    capsys.readouterr()
    out = tmp_path / "r.jsonl"
    code = cli.main(["run", "--agent", "oracle", "--tasks", str(path), "--out", str(out),
                     *shop_args])
    assert code == 2
    message = " ".join(capsys.readouterr().err.split())
    for fragment in expected:
        assert fragment in message, (fragment, message)
    assert not out.exists()


def _stdio_command(db: str, *extra: str) -> str:
    return shlex.join([sys.executable, "-m", "mcp_shop.cli", "serve", "--db", db, "--seed",
                       str(TEST_SEED), "--size", str(TEST_SIZE), "--log-level", "WARNING",
                       *extra])


@pytest.mark.parametrize("server", ["unreachable-http", "missing-command", "wrong-catalog"])
def test_unreachable_server_exits_2(server: str, tmp_path: Path, db: str,
                                    shop_args: list[str],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A server that cannot be reached is reported in one line (no traceback) before any
    output file is created."""
    option = {"unreachable-http": ["--connect", "http://127.0.0.1:9/mcp"],
              "missing-command": ["--stdio", "no-such-shop-server --db x"],
              "wrong-catalog": ["--stdio", _stdio_command(db).replace(str(TEST_SIZE), "999")],
              }[server]
    out = tmp_path / "r.jsonl"
    code = cli.main(["run", "--agent", "oracle", "--episodes", "2", *option, "--out", str(out),
                     *shop_args])
    assert code == 2
    message = " ".join(capsys.readouterr().err.split())
    assert "error: cannot reach the shop server" in message
    assert option[1].split()[0] in message
    assert "Traceback" not in message
    assert not out.exists()


@pytest.mark.parametrize("argv", [["run", "--episodes", "0"], ["run", "--concurrency", "x"],
                                  ["check", "--seeds", "-1"], ["frobnicate"]])
def test_argparse_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "shop-episodes" in capsys.readouterr().err


# -- workers and the entry point --------------------------------------------------------------


def _run_options() -> set[str]:
    import argparse

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices["run"]._option_string_actions)


def test_run_in_worker_processes(tmp_path: Path, shop_args: list[str]) -> None:
    """``--workers 2`` gives the same rollouts, in the same order, as one process."""
    if "--workers" not in _run_options():
        pytest.skip("shop-episodes run has no --workers option yet")
    base = ["run", "--agent", "heuristic", "--families", "purchase,return,cart",
            "--difficulty", "1,3", "--episodes", "6", "--seed", "2", *shop_args]
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert cli.main([*base, "--out", str(one)]) == 0
    assert cli.main([*base, "--workers", "2", "--out", str(two)]) == 0
    assert [strip_timing(r) for r in read_jsonl(two)] == \
        [strip_timing(r) for r in read_jsonl(one)]


def test_entry_point_help() -> None:
    exe = Path(sys.executable).parent / "shop-episodes"
    argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "episodes.cli"]
    done = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert "usage: shop-episodes" in done.stdout
    for command in ("run", "tasks", "check"):
        assert command in done.stdout
    sub = subprocess.run([sys.executable, "-m", "episodes.cli", "run", "--help"],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert sub.returncode == 0 and "--agent" in sub.stdout and "--tasks" in sub.stdout


def _sessions(db: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM shop_session")).scalar_one())
    finally:
        engine.dispose()


def test_direct_path_and_session_removal(tmp_path: Path, db: str,
                                         shop_args: list[str]) -> None:
    """``--direct`` (in this process and in ``--workers``) writes the file of the in-memory MCP
    server but for timing; every run removes its episodes' sessions unless
    ``--keep-sessions``, which keeps one per episode."""
    base = ["run", "--agent", "heuristic", "--families", "purchase,return,cart,cancel",
            "--difficulty", "1,4", "--episodes", "6", "--seed", "5", *shop_args]
    runs = {}
    for name, extra in (("mcp", []), ("direct", ["--direct"]),
                        ("workers", ["--direct", "--workers", "2"])):
        before = _sessions(db)
        out = tmp_path / f"{name}.jsonl"
        assert cli.main([*base, *extra, "--out", str(out)]) == 0
        assert _sessions(db) == before, f"{name}: the run left sessions behind"
        runs[name] = [strip_timing(r) for r in read_jsonl(out)]
    assert len(runs["mcp"]) == 6
    assert runs["direct"] == runs["mcp"]
    assert runs["workers"] == runs["mcp"]
    before = _sessions(db)
    kept = tmp_path / "kept.jsonl"
    assert cli.main([*base, "--keep-sessions", "--out", str(kept)]) == 0
    assert _sessions(db) == before + 6
    assert [strip_timing(r) for r in read_jsonl(kept)] == runs["mcp"]
