"""``shop-episodes`` for a new user: what is wrong is said in one line before any work (no
traceback), ``--db`` defaults to ``$MCP_SHOP_DB``, ``--version``, ``check --workers``, and
tables that keep their full width when piped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy.engine import make_url

from episodes import cli
from tests.conftest import PG_URL, TEST_SEED, TEST_SIZE, require_pg
from tests.episodes.records import untimed

SHOP = ["--catalog-seed", str(TEST_SEED), "--catalog-size", str(TEST_SIZE)]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    from mcp_shop import Shop

    url = f"sqlite:///{tmp_path_factory.mktemp('cli-errors') / 'shop.db'}"
    Shop.open(url, seed=TEST_SEED, size=TEST_SIZE).engine.dispose()
    return url


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(cli.output, "console", Console(width=250, no_color=True,
                                                       highlight=False))
    monkeypatch.setattr(cli.output, "err", Console(width=250, stderr=True, no_color=True,
                                                   highlight=False))
    yield


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("error: "), err
    return lines[0]


def _pg(**parts: object) -> str:
    return make_url(PG_URL).set(**parts).render_as_string(hide_password=False)


# -- the database -----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "tasks", "check"])
def test_postgresql_down_is_one_line(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = _pg(host="127.0.0.1", port=1)
    extra = ["--seeds", "1"] if command == "check" else ["--episodes", "2"]
    assert cli.main([command, *extra, "--db", url, *SHOP]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"cannot use the database {url}" in line and "Connection refused" in line


@pytest.mark.parametrize("part", ["username", "database"])
def test_an_unknown_role_or_database_is_one_line(part: str, pg_reason: str | None,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    require_pg(pg_reason)
    url = _pg(**{part: "no_such_thing_x"})
    assert cli.main(["tasks", "--episodes", "2", "--db", url, *SHOP]) == 2
    line = one_error_line(capsys.readouterr().err)
    what = "role" if part == "username" else "database"
    assert f'{what} "no_such_thing_x" does not exist' in line
    assert ("name an existing role" if what == "role" else "createdb no_such_thing_x") in line


@pytest.mark.parametrize("url", ["shop.db", "runs/shop.db"])
def test_a_db_without_a_scheme_says_what_a_url_looks_like(
        url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "--db", url])
    assert exit_.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "argument --db" in err and f"sqlite:///{url}" in err
    assert "postgresql+psycopg://user@host:5432/dbname" in err
    assert list(tmp_path.iterdir()) == []


def test_a_sqlite_file_in_a_missing_directory_is_not_created(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "typo" / "shop.db"
    assert cli.main(["tasks", "--episodes", "2", "--db", f"sqlite:///{db}", *SHOP]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "does not exist" in line and str(db.parent) in line
    assert not db.parent.exists()


def test_mcp_shop_db_is_the_default(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Without --db every command uses $MCP_SHOP_DB: no new catalog in the working
    directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MCP_SHOP_DB", db)
    monkeypatch.setenv("COLUMNS", "250")  # argparse would break the long URL in the help
    assert cli.main(["tasks", "--episodes", "2", *SHOP]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert list(tmp_path.iterdir()) == []
    for command in ("run", "tasks", "check", "audit", "serve-env"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "$MCP_SHOP_DB" in text and db in text, command


# -- options checked before any work ----------------------------------------------------------


def _unbuilt(tmp_path: Path) -> tuple[str, Path]:
    """A database URL whose file does not exist yet: a command that opens the shop builds
    it, one that refuses first does not."""
    path = tmp_path / "unbuilt.db"
    return f"sqlite:///{path}", path


@pytest.mark.parametrize("command", ["run", "tasks", "check"])
def test_an_out_that_is_a_directory_is_refused_first(
        command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, path = _unbuilt(tmp_path)
    out = tmp_path / "runs"
    out.mkdir()
    extra = ["--seeds", "1"] if command == "check" else ["--episodes", "2"]
    assert cli.main([command, *extra, "--out", str(out), "--db", url, *SHOP]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"--out '{out}' is a directory" in line and "rollouts.jsonl" in line
    assert not path.exists()  # the shop was not even opened


def test_an_out_below_a_file_is_refused_first(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    url, path = _unbuilt(tmp_path)
    (tmp_path / "notes").write_text("x")
    assert cli.main(["run", "--out", str(tmp_path / "notes" / "r.jsonl"), "--db", url,
                     *SHOP]) == 2
    assert "is a file, not a directory" in one_error_line(capsys.readouterr().err)
    assert not path.exists()


def test_an_unknown_agent_is_refused_before_any_task(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, path = _unbuilt(tmp_path)
    assert cli.main(["run", "--agent", "gpt-9", "--episodes", "500", "--db", url, *SHOP]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "unknown agent 'gpt-9'" in line and "heuristic" in line
    assert not path.exists()  # no catalog built, no task generated


# -- --version, help, check --workers ---------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"shop-episodes {version('mcp-shop')}"


def test_concurrency_and_workers_have_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("run", "check"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--concurrency N episodes played at once in each process (default 8)" in text
        assert "--workers WORKERS worker processes (default 1" in text


def test_check_in_worker_processes(db: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """``check --workers 2`` replays the same tasks with the same records as one process."""
    base = ["check", "--seeds", "1", "--difficulty", "0-1", "--db", db, *SHOP]
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert cli.main([*base, "--out", str(one)]) == 0
    assert cli.main([*base, "--workers", "2", "--out", str(two)]) == 0
    records = [json.loads(line) for line in two.read_text().splitlines()]
    assert len(records) > 10 and all(r["success"] for r in records)
    assert [untimed(r) for r in records] == [
        untimed(json.loads(line)) for line in one.read_text().splitlines()]
    assert "2 processes" in capsys.readouterr().err


# -- piped output -----------------------------------------------------------------------------


def test_piped_tables_keep_their_width(db: str) -> None:
    """Piped (not a terminal, no $COLUMNS), the summary table is not cut to 80 columns."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR")}
    done = subprocess.run(
        [sys.executable, "-m", "episodes.cli", "run", "--agent", "oracle", "--families",
         "substitution", "--difficulty", "0", "--episodes", "1", "--db", db, *SHOP],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, env=env)
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout, done.stdout
    header = next(line for line in done.stdout.splitlines() if "family" in line)
    for column in ("difficulty", "episodes", "success", "mean reward", "turns", "tool calls"):
        assert column in header, done.stdout
    assert any("│ substitution │" in line for line in done.stdout.splitlines()), done.stdout


def test_audit_refuses_an_unknown_agent_before_any_work(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    """``audit --agents oracle`` (a reference, not an audited agent) was a KeyError traceback
    after every task was generated; now a usage error that lists the valid names."""
    url, path = _unbuilt(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["audit", "--agents", "oracle", "--db", url, *SHOP])
    assert exit_.value.code == 2
    text = " ".join(capsys.readouterr().err.split())
    assert "unknown audited agent 'oracle'" in text and "policy_dump" in text
    assert not path.exists()
    with pytest.raises(SystemExit):
        cli.main(["audit", "--help"])
    assert "episodes in flight" in " ".join(capsys.readouterr().out.split())


def test_serve_env_refuses_a_port_in_use_before_opening_the_shop(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    url, path = _unbuilt(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["serve-env", "--port", str(port), "--db", url, *SHOP]) == 2
    text = " ".join(capsys.readouterr().err.split())
    assert f"cannot listen on 127.0.0.1:{port}" in text and "--port" in text
    assert "Traceback" not in text and not path.exists()
