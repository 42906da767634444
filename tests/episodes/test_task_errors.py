"""Hand-written tasks whose world does not fit the shop get one clear error (exit 2), never a
traceback, and change nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from episodes import cli
from episodes.generate import generate_task
from tests.conftest import TEST_SEED, TEST_SIZE


@pytest.fixture
def base_task(ep_shop: Any) -> dict[str, Any]:
    return generate_task(ep_shop, "purchase", 1, 5).model_dump(mode="json")


@pytest.mark.parametrize(("patch", "expected"), [
    ({"cart": {"V-999999-1": 1}}, "V-999999-1 does not exist"),
    ({"codes": [{"foo": 1}]}, "world.codes[0] needs a 'code'"),
    ({"past_orders": [{"lines": {}, "days_ago": 3}]}, "past_orders[0].lines"),
    ({"past_orders": [{"lines": {"V-000001-1": 1}, "days_ago": "soon"}]}, "days_ago"),
    ({"advance_hours": 1e300}, "advance_hours"),
])
def test_a_world_that_does_not_fit_is_a_clear_error(
        ep_shop: Any, base_task: dict[str, Any], tmp_path: Path, patch: dict[str, Any],
        expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    base_task["world"].update(patch)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(base_task))
    out = tmp_path / "out.jsonl"
    code = cli.main(["run", "--agent", "oracle", "--tasks", str(path), "--out", str(out),
                     "--db", str(ep_shop.engine.url), "--catalog-seed", str(TEST_SEED),
                     "--catalog-size", str(TEST_SIZE)])
    err = capsys.readouterr().err
    assert code == 2
    assert expected in " ".join(err.split()), err
    assert "Traceback" not in err


def test_a_task_from_another_catalog_is_refused(
        ep_shop: Any, base_task: dict[str, Any], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    base_task["catalog"] = {"seed": 7, "size": 500}
    path = tmp_path / "other.json"
    path.write_text(json.dumps(base_task))
    code = cli.main(["run", "--agent", "oracle", "--tasks", str(path),
                     "--db", str(ep_shop.engine.url), "--catalog-seed", str(TEST_SEED),
                     "--catalog-size", str(TEST_SIZE)])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "catalog with seed 7" in err
