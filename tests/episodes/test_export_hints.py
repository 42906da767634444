"""``shop-episodes export dpo`` on the quick start's output (one agent, one trial per task)
has no pairs to write: it says why and what to do instead of only "no rows"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from episodes import cli
from episodes.agents import make_agent
from episodes.controller import EpisodeController
from episodes.generate import generate_task


@pytest.fixture(scope="module")
def runs(ep_shop: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The heuristic and random agents, one trial each on a few tasks (what the quick start
    runs, per agent)."""
    tasks = [generate_task(ep_shop, family, 2, 5) for family in ("cart", "purchase", "return")]
    out = tmp_path_factory.mktemp("quick")
    paths = {}
    for name in ("heuristic", "random"):
        async def play(name: str = name) -> list[dict[str, Any]]:
            async with EpisodeController(ep_shop) as controller:
                return await controller.run(make_agent(name), tasks, concurrency=4)

        paths[name] = out / f"{name}.jsonl"
        paths[name].write_text("".join(json.dumps(r) + "\n" for r in anyio.run(play)),
                               encoding="utf-8")
    return paths


def test_dpo_without_pairs_says_why_and_what_to_do(runs: dict[str, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dpo.jsonl"
    assert cli.main(["export", "dpo", str(runs["heuristic"]), "--out", str(out)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "no dpo rows to write (3 tasks with a single episode)" in err
    assert "two episodes of the same task whose rewards differ by at least --margin 0.5" in err
    assert "--trials" in err and "two agents" in err
    assert not out.exists()
    # what it suggests works: two agents' files give pairs
    assert cli.main(["export", "dpo", str(runs["heuristic"]), str(runs["random"]), "--out",
                     str(out)]) == 0
    assert out.read_text().count("\n") >= 1


def test_dpo_without_a_reward_gap_also_suggests_a_lower_margin(
        runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["export", "dpo", *map(str, runs.values()), "--margin", "2.5", "--out",
                     str(tmp_path / "dpo.jsonl")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "tasks without a reward gap of 2.5" in err and "lower --margin (now 2.5)" in err


def test_an_out_that_is_a_directory_is_refused_before_reading(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "not-read.jsonl"  # would be an error of its own if it were read
    assert cli.main(["export", "sft", str(missing), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"--out '{tmp_path}' is a directory" in err and "sft.jsonl" in err
    assert "not-read" not in err
