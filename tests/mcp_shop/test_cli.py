"""The main job: `mcp-shop build` and `mcp-shop tour` on a fresh SQLite file."""

from __future__ import annotations

import pytest

from mcp_shop.cli import main


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
