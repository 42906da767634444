"""pass@k and pass^k: the formulas on hand-checked examples and against brute-force enumeration
of k-subsets of the trials, pass^1 is the mean success, the per-family summary, and the
``shop-episodes run --trials k`` table."""

from __future__ import annotations

import json
import random
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from episodes import cli
from episodes.metrics import pass_at_k, pass_hat_k, trial_counts, trial_summary
from mcp_shop import Shop
from tests.conftest import TEST_SEED, TEST_SIZE


def test_hand_checked_values() -> None:
    # n = 4 trials, c = 2 successes, k = 2: C(2,2)/C(4,2) = 1/6 that both of 2 succeed.
    assert pass_hat_k(4, 2, 2) == pytest.approx(1 / 6)
    assert pass_at_k(4, 2, 2) == pytest.approx(1 - 1 / 6)  # 1 - C(2,2)/C(4,2)
    assert pass_hat_k(5, 3, 2) == pytest.approx(3 / 10)  # C(3,2)/C(5,2)
    assert pass_at_k(5, 3, 2) == pytest.approx(1 - 1 / 10)  # 1 - C(2,2)/C(5,2)
    assert pass_hat_k(4, 4, 4) == 1.0 and pass_hat_k(4, 3, 4) == 0.0
    assert pass_at_k(4, 0, 3) == 0.0 and pass_at_k(4, 1, 4) == 1.0
    assert pass_hat_k(8, 5, 1) == pass_at_k(8, 5, 1) == 5 / 8


@pytest.mark.parametrize("n", range(1, 7))
def test_formulas_match_enumeration(n: int) -> None:
    """Over every k-subset of n trials with c successes: the share where all succeed is pass^k,
    the share where any succeeds is pass@k."""
    for c in range(n + 1):
        trials = [True] * c + [False] * (n - c)
        for k in range(1, n + 1):
            subsets = list(combinations(trials, k))
            assert pass_hat_k(n, c, k) == pytest.approx(
                sum(all(s) for s in subsets) / len(subsets))
            assert pass_at_k(n, c, k) == pytest.approx(
                sum(any(s) for s in subsets) / len(subsets))


@pytest.mark.parametrize(("n", "c", "k", "message"), [
    (2, 1, 3, "k must be from 1 to n = 2"),
    (2, 1, 0, "k must be from 1 to n = 2"),
    (2, 3, 1, "c (successes) must be from 0 to n = 2"),
    (0, 0, 1, "n (trials) must be at least 1"),
])
def test_bad_arguments(n: int, c: int, k: int, message: str) -> None:
    for fn in (pass_at_k, pass_hat_k):
        with pytest.raises(ValueError) as info:
            fn(n, c, k)
        assert message in str(info.value)


def records_of(outcomes: dict[str, tuple[str, list[bool]]]) -> list[dict[str, Any]]:
    """Rollout-like records: per task id, its family and its trials' outcomes."""
    return [{"task_id": task, "family": family, "trial": t, "success": ok}
            for task, (family, oks) in outcomes.items() for t, ok in enumerate(oks)]


def test_summary_on_a_hand_checked_example() -> None:
    records = records_of({
        "cart-1": ("cart", [True, False, True, False]),  # c = 2: pass^2 = 1/6, pass@2 = 5/6
        "cart-2": ("cart", [True, True, True, True]),  # c = 4: 1 and 1
        "return-1": ("return", [False, False, False, False]),  # c = 0: 0 and 0
    })
    random.Random(0).shuffle(records)  # grouping is by task id, not by position
    rows = {r["family"]: r for r in trial_summary(records, 2)}
    assert list(rows) == ["cart", "return", "all"]
    assert rows["cart"]["tasks"] == 2 and rows["cart"]["trials"] == 8
    assert rows["cart"]["pass_hat"][2] == pytest.approx((1 / 6 + 1) / 2)
    assert rows["cart"]["pass_at"][2] == pytest.approx((5 / 6 + 1) / 2)
    assert rows["return"]["pass_hat"] == {1: 0.0, 2: 0.0}
    assert rows["all"]["tasks"] == 3
    assert rows["all"]["pass_hat"][2] == pytest.approx((1 / 6 + 1 + 0) / 3)  # = 7/18
    assert rows["all"]["pass_at"][2] == pytest.approx((5 / 6 + 1 + 0) / 3)
    assert rows["all"]["pass_hat"][1] == rows["all"]["pass_at"][1] == pytest.approx(6 / 12)
    assert trial_counts(records)["cart-1"] == ("cart", 4, 2)


def test_pass_hat_1_is_the_mean_success() -> None:
    rng = random.Random(7)
    outcomes = {f"t{i}": (rng.choice(["cart", "return", "policy"]),
                          [rng.random() < 0.6 for _ in range(5)]) for i in range(40)}
    records = records_of(outcomes)
    mean = sum(r["success"] for r in records) / len(records)
    rows = trial_summary(records, 5)
    overall = rows[-1]
    assert overall["family"] == "all"
    assert overall["pass_hat"][1] == pytest.approx(mean) == overall["success_rate"]
    assert overall["pass_at"][1] == pytest.approx(mean)
    for row in rows:  # reliability falls with k, coverage rises
        hats = [row["pass_hat"][j] for j in range(1, 6)]
        ats = [row["pass_at"][j] for j in range(1, 6)]
        assert hats == sorted(hats, reverse=True) and ats == sorted(ats)


def test_summary_k_and_short_tasks() -> None:
    records = records_of({"a": ("cart", [True, True, False]), "b": ("cart", [True, False])})
    assert set(trial_summary(records)[-1]["pass_hat"]) == {1, 2}  # k: the fewest trials
    with pytest.raises(ValueError, match="task 'b' has 2 trial"):
        trial_summary(records, 3)
    assert trial_summary([], 2) == []


# -- the CLI ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop_args(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('metrics') / 'shop.db'}"
    Shop.open(url, seed=TEST_SEED, size=TEST_SIZE).engine.dispose()
    return ["--db", url, "--catalog-seed", str(TEST_SEED), "--catalog-size", str(TEST_SIZE)]


def trial_rows(stdout: str) -> dict[str, list[str]]:
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃").split("│")]
        if len(cells) == 6 and cells[1].isdigit() and cells[3].endswith("%"):
            rows[cells[0]] = cells
    return rows


def test_run_with_trials_prints_pass_k(tmp_path: Path, shop_args: list[str],
                                       monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "console", Console(width=250, no_color=True, highlight=False))
    out = tmp_path / "r.jsonl"
    assert cli.main(["run", "--agent", "random", "--families", "discovery,cart,policy",
                     "--difficulty", "0-1", "--episodes", "6", "--trials", "2", "--seed", "2",
                     "--out", str(out), *shop_args]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 12
    stdout = capsys.readouterr().out
    assert "2 trials per task: pass@2" in stdout
    rows = trial_rows(stdout)
    expected = trial_summary(records, 2)
    assert set(rows) == {r["family"] for r in expected} == {"discovery", "cart", "policy", "all"}
    for row in expected:
        assert rows[row["family"]] == [
            row["family"], str(row["tasks"]), str(row["trials"]), f"{row['pass_at'][2]:.1%}",
            f"{row['pass_hat'][1]:.1%}", f"{row['pass_hat'][2]:.1%}"]
    assert rows["all"][1:3] == ["6", "12"]


def test_a_single_trial_prints_no_pass_k_table(shop_args: list[str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--agent", "oracle", "--families", "cart", "--difficulty", "0",
                     "--episodes", "1", *shop_args]) == 0
    assert "pass@" not in capsys.readouterr().out
