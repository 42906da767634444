"""The main job: `mcp-shop build` and `mcp-shop tour` on a fresh SQLite file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from importlib.metadata import version

import pytest

from mcp_shop.cli import main
from tests.conftest import require_pg


def test_tour_builds_then_reuses_the_catalog_and_runs_a_journey(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'shop.db'}"
    assert main(["tour", "--db", db, "--size", "2000", "--seed", "3"]) == 0
    first = capsys.readouterr()
    assert "2,000 products" in first.out
    assert "Catalog and search index built" in first.err
    for step in ("search 'wireless headphones'", "Placed O-", "delivered", "Returned it: R-1"):
        assert step in first.out
    assert (tmp_path / "shop.db.search").is_dir()
    assert main(["tour", "--db", db, "--size", "2000", "--seed", "3"]) == 0
    assert "built" not in capsys.readouterr().err


def test_tour_on_an_imported_catalog_searches_its_own_categories(tmp_path, capsys):
    """The tour's fixed searches name the generated catalog's categories ('toys'); on an
    imported store it searches the store's largest leaf categories and buys from them."""
    fixture = os.path.join(os.path.dirname(__file__), "..", "fixtures", "import",
                           "shopify_products.csv")
    db = f"sqlite:///{tmp_path / 'store.db'}"
    assert main(["import", "--format", "shopify", fixture, "--db", db]) == 0
    capsys.readouterr()
    assert main(["tour", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "'toys'" not in out and "wireless headphones" not in out
    for step in ("search '", "Placed O-", "delivered", "Return eligibility"):
        assert step in out


def test_build_refuses_a_different_catalog_in_the_same_database(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'shop.db'}"
    assert main(["build", "--db", db, "--size", "300"]) == 0
    capsys.readouterr()
    assert main(["build", "--db", db, "--size", "400"]) == 2
    err = capsys.readouterr().err
    assert "300" in err and "400" in err


@pytest.mark.parametrize("size", ["0", "-5", "5000001", "ten"])
def test_bad_sizes_are_refused_with_the_valid_range(tmp_path, capsys, size):
    db = tmp_path / "shop.db"
    with pytest.raises(SystemExit) as exit_:
        main(["build", "--db", f"sqlite:///{db}", "--size", size])
    assert exit_.value.code == 2
    assert "--size" in capsys.readouterr().err
    assert not db.exists()


# -- one line, no traceback, for what a new user gets wrong -------------------------------


def one_error_line(err: str) -> str:
    """The single ``error:`` line of ``err`` (there must be exactly one line, no traceback)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("error: "), err
    return lines[0]


def _pg(**parts: object) -> str:
    from sqlalchemy.engine import make_url

    from tests.conftest import PG_URL

    return make_url(PG_URL).set(**parts).render_as_string(hide_password=False)


@pytest.mark.parametrize("case", ["closed-port", "no-such-role", "no-such-database"])
def test_an_unusable_postgresql_is_one_line(case, capsys, pg_reason):
    if case == "closed-port":
        url, expected = _pg(host="127.0.0.1", port=1), ["127.0.0.1", "port 1",
                                                        "Connection refused"]
    else:
        require_pg(pg_reason)
        if case == "no-such-role":
            url = _pg(username="no_such_role_x")
            expected = ['role "no_such_role_x" does not exist', "name an existing role"]
        else:
            url = _pg(database="no_such_db_x")
            expected = ['database "no_such_db_x" does not exist', "createdb no_such_db_x"]
    assert main(["build", "--db", url, "--size", "300"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "cannot use the database" in line
    for fragment in expected:
        assert fragment in line, (fragment, line)


@pytest.mark.parametrize("url", ["shop.db", "/tmp/shop.db", "mysql://u@h/db"])
def test_a_db_that_is_not_a_url_is_a_usage_error(url, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["build", "--db", url, "--size", "300"])
    assert exit_.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "argument --db" in err and "Traceback" not in err
    assert "sqlite:///shop.db" in err and "postgresql+psycopg://user@host:5432/dbname" in err
    if "://" not in url:
        assert f"sqlite:///{url}" in err  # what the user probably meant
    assert list(tmp_path.iterdir()) == []


def test_a_sqlite_file_in_a_missing_directory_is_refused_not_created(tmp_path, capsys):
    db = tmp_path / "no" / "such" / "shop.db"
    assert main(["build", "--db", f"sqlite:///{db}", "--size", "300"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(db.parent) in line and "does not exist" in line
    assert not (tmp_path / "no").exists()


def test_a_directory_as_the_sqlite_file_is_refused(tmp_path, capsys):
    assert main(["build", "--db", f"sqlite:///{tmp_path}", "--size", "300"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "names a directory" in line and f"sqlite:///{tmp_path / 'shop.db'}" in line


def test_an_unwritable_directory_is_one_line(capsys):
    """/proc exists and refuses new files, even to root."""
    if not os.path.isdir("/proc"):
        pytest.skip("needs Linux's /proc")
    assert main(["build", "--db", "sqlite:////proc/shop.db", "--size", "300"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "unable to open database file" in line and "writable directory" in line


def test_serve_refuses_a_port_in_use_before_opening_the_shop(tmp_path, capsys):
    db = tmp_path / "shop.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--http", "--port", str(port), "--db", f"sqlite:///{db}"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"cannot listen on 127.0.0.1:{port}" in line and "--port" in line
    assert not db.exists()  # checked before any catalog was built


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_serve_refuses_a_port_out_of_range(port, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--http", "--port", port])
    assert exit_.value.code == 2
    assert "argument --port" in capsys.readouterr().err


def test_version_from_the_package_metadata(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"mcp-shop {version('mcp-shop')}"


def test_mcp_shop_db_is_the_default_database(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MCP_SHOP_DB", f"sqlite:///{tmp_path / 'env.db'}")
    assert main(["build", "--size", "300"]) == 0
    assert "env.db" in capsys.readouterr().out
    assert (tmp_path / "env.db").is_file() and not (tmp_path / "shop.db").exists()
    with pytest.raises(SystemExit):
        main(["build", "--help"])
    assert "$MCP_SHOP_DB" in " ".join(capsys.readouterr().out.split())


def test_a_bad_mcp_shop_db_names_the_variable(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MCP_SHOP_DB", "shop.db")
    with pytest.raises(SystemExit) as exit_:
        main(["build", "--size", "300"])
    assert exit_.value.code == 2
    assert "(from $MCP_SHOP_DB)" in " ".join(capsys.readouterr().err.split())


def test_ctrl_c_ends_serve_without_a_traceback(tmp_path):
    """SIGINT to the process group (a terminal's Ctrl-C) while serving stdio: exit 130."""
    db = f"sqlite:///{tmp_path / 'shop.db'}"
    assert main(["build", "--db", db, "--size", "300"]) == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcp_shop.cli", "serve", "--db", db], text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        seen = []
        for line in proc.stderr:  # wait until it serves
            seen.append(line)
            if "default session" in line:
                break
        os.killpg(proc.pid, signal.SIGINT)
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = "".join(seen) + rest
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "interrupted"
